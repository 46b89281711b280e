"""linkedin/audiences.py: LinkedIn segment statuses and counts in plain words, and how a segment is read."""

from __future__ import annotations

from typing import Any

import pytest

from audience_sync.destinations.base import AudienceReading
from audience_sync.destinations.linkedin.audiences import (
    EXPLANATIONS,
    SIZE_NOT_REPORTED,
    SIZE_TOO_SMALL,
    MalformedSegment,
    explain,
    gone,
    snapshot,
    step_error_for,
)


def explain_segment(segment: Any) -> dict[str, Any]:
    return explain(snapshot(segment))


# docs/integrations/linkedin.md, "Segments": every status LinkedIn documents, and the three its FAQ says cannot
# be targeted.
LINKEDIN_STATUSES = {"BUILDING", "READY", "UPDATING", "ARCHIVED", "EXPIRED", "FAILED", "ERROR"}
NOT_TARGETABLE = {"EXPIRED": "audience_expired", "FAILED": "audience_failed", "ERROR": "audience_error"}


def segment(status: str, **destination: Any) -> dict[str, Any]:
    return {
        "id": 9000001,
        "name": "Trial users",
        "inputCount": destination.pop("input_count", 1000),
        "destinations": [{"destination": "LINKEDIN", "status": status, **destination}],
    }


def test_every_documented_status_has_an_explanation() -> None:
    assert set(EXPLANATIONS) == LINKEDIN_STATUSES


@pytest.mark.parametrize("status", sorted(LINKEDIN_STATUSES))
def test_every_linkedin_status_is_explained(status: str) -> None:
    view = explain_segment(segment(status))
    assert view["status"] == status
    assert view["explanation"] == EXPLANATIONS[status]
    assert view["targetable"] is (status not in NOT_TARGETABLE)
    assert step_error_for(status) == NOT_TARGETABLE.get(status)
    if status in NOT_TARGETABLE:
        assert "cannot be targeted" in view["explanation"]


@pytest.mark.parametrize(
    ("status", "fact"),
    [
        ("BUILDING", "48 hours"),  # HELP, PM, TR: the first build takes up to 48 h
        ("ARCHIVED", "30 days"),  # HELP, FAQ: unused in an active or draft campaign for 30 days
        ("ARCHIVED", "BUILDING"),  # LinkedIn's FAQ: streaming into an archived segment puts it back into BUILDING
        ("EXPIRED", "90 days"),  # HELP: unused for 90 days, data gone
        ("UPDATING", "usable"),  # TR: still usable while updates apply
    ],
)
def test_explanations_carry_the_documented_facts(status: str, fact: str) -> None:
    assert fact in EXPLANATIONS[status]


def test_size_is_shown_only_from_300_members_and_otherwise_says_why() -> None:
    not_reported = explain_segment(segment("BUILDING"))
    assert not_reported["audience_size"] is None
    assert not_reported["size_note"] == SIZE_NOT_REPORTED
    too_small = explain_segment(segment("READY", audienceSize=299, matchedCount=299))
    assert too_small["audience_size"] is None
    assert too_small["size_note"] == SIZE_TOO_SMALL
    assert "300" in SIZE_NOT_REPORTED and "300" in SIZE_TOO_SMALL
    view = explain_segment(segment("READY", audienceSize=300, matchedCount=250, input_count=1000))
    assert view["audience_size"] == 300
    assert view["size_note"] is None
    assert view["matched_count"] == 250
    assert view["input_count"] == 1000
    assert view["match_rate"] == 0.25
    assert "7 days" in view["match_note"]


def test_no_counts_yet_and_unknown_status() -> None:
    view = explain_segment(segment("SOMETHING_NEW", input_count=0))
    assert view["match_rate"] is None and view["matched_count"] is None
    assert "does not know" in view["explanation"]
    assert view["targetable"] is True


def test_status_is_read_from_the_linkedin_destination() -> None:
    reading = snapshot(
        {
            "id": 7,
            "destinations": [
                {"destination": "OTHER", "status": "READY"},
                {"destination": "LINKEDIN", "status": "EXPIRED", "audienceSize": 500},
            ],
        }
    )
    assert reading == AudienceReading("7", None, "EXPIRED", 500, None, None)


@pytest.mark.parametrize(
    "body",
    [
        [{"id": 1}],
        "READY",
        None,
        {"id": 1, "destinations": "LINKEDIN"},
        {"id": 1, "destinations": [None]},
        {"id": 1, "destinations": [{"destination": "LINKEDIN", "status": 7}]},
        {"id": 1, "destinations": [{"destination": "LINKEDIN", "audienceSize": "lots"}]},
        {"id": 1, "destinations": [{"destination": "LINKEDIN", "matchedCount": 1.5}]},
        {"id": 1, "inputCount": {"n": 1}},
    ],
)
def test_a_segment_of_the_wrong_shape_is_malformed_and_the_message_holds_no_value(body: Any) -> None:
    with pytest.raises(MalformedSegment) as raised:
        snapshot(body)
    assert "lots" not in str(raised.value) and "READY" not in str(raised.value)


def test_numbers_linkedin_may_send_as_strings_are_read() -> None:
    reading = snapshot({"id": "7", "inputCount": "2000", "destinations": [{"status": "READY", "audienceSize": 450.0}]})
    assert reading == AudienceReading("7", None, "READY", 450, None, 2000)


def test_the_account_is_read_from_its_urn() -> None:
    reading = snapshot({"id": 7, "account": "urn:li:sponsoredAccount:507", "destinations": [{"status": "READY"}]})
    assert reading.account_id == "507"
    assert snapshot({"id": 7, "destinations": [{"status": "READY"}]}).account_id is None


def test_a_404_means_gone_unless_the_audience_is_new_and_the_retry_young() -> None:
    now = 1_790_000_000_000
    assert gone(None, now)  # not created by the step
    assert not gone(now - 60_000, now)  # created a minute ago: still propagating
    assert gone(now - 10 * 60_000 - 1, now)  # past the grace
    assert gone(now - 60_000, now, attempt=3)  # the retry kept seeing it
