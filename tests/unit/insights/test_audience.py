"""audience: LinkedIn segment statuses and counts in plain words, and when a cached reading is too old."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from audience_sync.insights.audience import (
    EXPLANATIONS,
    MIN_READ_INTERVAL_SECONDS,
    SIZE_NOT_REPORTED,
    SIZE_TOO_SMALL,
    CachedView,
    MalformedSegment,
    Snapshot,
    describe,
    needs_reading,
    public_view,
    snapshot,
    step_error_for,
)
from tests.fakes.sync_fakes import T0, FakeClock

# linkedin-api.md §1.4: every status LinkedIn documents, and the three its FAQ says cannot be targeted.
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
    view = describe(segment(status))
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
        ("ARCHIVED", "BUILDING"),  # BRZ / seed FAQ: streaming into an archived segment puts it back into BUILDING
        ("EXPIRED", "90 days"),  # HELP: unused for 90 days, data gone
        ("UPDATING", "usable"),  # TR: still usable while updates apply
    ],
)
def test_explanations_carry_the_documented_facts(status: str, fact: str) -> None:
    assert fact in EXPLANATIONS[status]


def test_size_is_shown_only_from_300_members_and_otherwise_says_why() -> None:
    not_reported = describe(segment("BUILDING"))
    assert not_reported["audience_size"] is None
    assert not_reported["size_note"] == SIZE_NOT_REPORTED
    too_small = describe(segment("READY", audienceSize=299, matchedCount=299))
    assert too_small["audience_size"] is None
    assert too_small["size_note"] == SIZE_TOO_SMALL
    assert "300" in SIZE_NOT_REPORTED and "300" in SIZE_TOO_SMALL
    view = describe(segment("READY", audienceSize=300, matchedCount=250, input_count=1000))
    assert view["audience_size"] == 300
    assert view["size_note"] is None
    assert view["matched_count"] == 250
    assert view["input_count"] == 1000
    assert view["match_rate"] == 0.25
    assert "7 days" in view["match_note"]


def test_no_counts_yet_and_unknown_status() -> None:
    view = describe(segment("SOMETHING_NEW", input_count=0))
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
    assert reading == Snapshot("7", None, "EXPIRED", 500, None, None)


def test_a_reading_is_needed_when_asked_never_read_or_max_age_old() -> None:
    clock = FakeClock()
    checked_at = clock.now_ms()
    assert needs_reading(None, clock.now_ms(), 60)
    assert needs_reading(None, clock.now_ms(), 60, force=True)
    assert not needs_reading(checked_at, clock.now_ms(), 60)
    clock.sleep(59.999)
    assert not needs_reading(checked_at, clock.now_ms(), 60)
    clock.sleep(0.001)
    assert needs_reading(checked_at, clock.now_ms(), 60)  # exactly max age old
    assert needs_reading(checked_at, checked_at, 0)  # max age 0: every GET reads LinkedIn


def test_a_forced_reading_is_needed_only_once_the_last_attempt_is_the_min_interval_old() -> None:
    clock = FakeClock()
    checked_at = clock.now_ms()
    assert MIN_READ_INTERVAL_SECONDS == 10
    assert not needs_reading(checked_at, clock.now_ms(), 60, force=True)
    clock.sleep(9.999)
    assert not needs_reading(checked_at, clock.now_ms(), 60, force=True)
    assert not needs_reading(checked_at, clock.now_ms(), 60)
    clock.sleep(0.001)
    assert needs_reading(checked_at, clock.now_ms(), 60, force=True)
    assert not needs_reading(checked_at, clock.now_ms(), 60)  # unforced, the max age still rules
    assert needs_reading(checked_at, clock.now_ms(), 60, force=True, min_interval_seconds=10)
    assert not needs_reading(checked_at, clock.now_ms(), 60, force=True, min_interval_seconds=30)


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
    assert reading == Snapshot("7", None, "READY", 450, None, 2000)


def test_cached_view_round_trips_through_dynamodb_numbers() -> None:
    reading = Snapshot("9000001", "Trial users", "READY", 1200, 900, 2000)
    view = CachedView("s1", "9000001", T0, reading, T0 - 5, "linkedin_429_throttled")
    item = view.to_item()
    as_stored = {k: Decimal(v) if isinstance(v, int) else v for k, v in item.items()}
    as_stored["reading"] = {k: Decimal(v) if isinstance(v, int) else v for k, v in item["reading"].items()}
    assert CachedView.from_item(as_stored) == view
    bare = CachedView("s1", "9000001", T0, failure="linkedin_invalid_token")
    assert CachedView.from_item(bare.to_item()) == bare
    assert "reading" not in bare.to_item() and "refreshed_at" not in bare.to_item()


def test_public_view_says_when_it_was_read_and_whether_it_is_stale() -> None:
    reading = Snapshot("9000001", "Trial users", "EXPIRED", 1200, 900, 2000)
    fresh = public_view(CachedView("s1", "9000001", T0, reading, T0))
    assert fresh["refreshed_at"] == T0
    assert (fresh["stale"], fresh["stale_reason"]) == (False, None)
    assert fresh["status"] == "EXPIRED" and fresh["targetable"] is False
    assert fresh["audience_size"] == 1200 and fresh["match_rate"] == 0.45
    stale = public_view(CachedView("s1", "9000001", T0 + 60_000, reading, T0, "linkedin_500_server_error"))
    assert stale["refreshed_at"] == T0
    assert (stale["stale"], stale["stale_reason"]) == (True, "linkedin_500_server_error")
    with pytest.raises(ValueError, match="reading"):
        public_view(CachedView("s1", "9000001", T0, failure="linkedin_invalid_token"))
