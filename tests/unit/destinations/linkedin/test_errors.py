"""linkedin/errors.py: how each LinkedIn status is handled, for whole requests and for single elements."""

from __future__ import annotations

import pytest

from audience_sync.destinations.base import Disposition
from audience_sync.destinations.linkedin.errors import LinkedInError, classify, element_retried

D = Disposition


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, D.RETRY),  # a request refused as a whole waits for a fix until the horizon
        (401, D.RECONNECT),
        (403, D.DENIED),
        (404, D.MISSING),
        (408, D.RETRY),
        (409, D.RETRY),
        (422, D.RETRY),
        (426, D.RETRY),
        (429, D.THROTTLED),
        (500, D.RETRY),
        (503, D.RETRY),
        (0, D.RETRY),
    ],
)
def test_classify(status: int, expected: Disposition) -> None:
    assert classify(status) is expected
    assert LinkedInError(status, "c", "m").disposition is expected


@pytest.mark.parametrize(
    ("status", "retried"),
    [
        (400, False),
        (401, False),
        (403, False),
        (404, False),
        (408, True),
        (409, True),
        (422, False),
        (423, True),
        (426, False),
        (429, True),
        (500, True),
        (503, True),
        (0, True),
    ],
)
def test_element_retried(status: int, retried: bool) -> None:
    assert element_retried(status) is retried


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
