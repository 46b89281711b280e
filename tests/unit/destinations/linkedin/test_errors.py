"""linkedin/errors.py: how each LinkedIn status is handled, for whole requests and for single elements."""

from __future__ import annotations

import pytest

from audience_sync.destinations.linkedin.errors import Disposition, LinkedInError, classify, element_disposition

D = Disposition


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, D.OK),
        (201, D.OK),
        (400, D.REJECTED),
        (401, D.REFRESH_TOKEN),
        (403, D.ACCESS_DENIED),
        (404, D.NOT_FOUND),
        (408, D.RETRY),
        (409, D.RETRY),
        (422, D.REJECTED),
        (426, D.RETRY),
        (429, D.RETRY),
        (500, D.RETRY),
        (503, D.RETRY),
        (0, D.RETRY),
    ],
)
def test_classify(status: int, expected: Disposition) -> None:
    assert classify(status) is expected
    assert LinkedInError(status, "c", "m").disposition is expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, D.OK),
        (201, D.OK),
        (400, D.REJECTED),
        (401, D.REJECTED),
        (403, D.REJECTED),
        (404, D.REJECTED),
        (408, D.RETRY),
        (409, D.RETRY),
        (422, D.REJECTED),
        (426, D.REJECTED),
        (429, D.RETRY),
        (500, D.RETRY),
        (503, D.RETRY),
        (0, D.RETRY),
    ],
)
def test_element_disposition(status: int, expected: Disposition) -> None:
    assert element_disposition(status) is expected


def test_reason_format() -> None:
    assert (
        LinkedInError(401, "INVALID_ACCESS_TOKEN", "Invalid access token").reason == "linkedin_401_invalid_access_token"
    )
    assert LinkedInError(0, "timeout", "ReadTimeout").reason == "linkedin_timeout"
    assert LinkedInError(500, "65600", "x").reason == "linkedin_500_65600"


def test_error_fields_and_message() -> None:
    exc = LinkedInError(429, "TOO_MANY_REQUESTS", "slow down")
    assert (exc.status, exc.code, exc.message) == (429, "TOO_MANY_REQUESTS", "slow down")
    assert str(exc) == "LinkedIn 429 TOO_MANY_REQUESTS: slow down"
