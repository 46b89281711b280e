"""insights/audience.py: when a cached reading is old enough to read the destination again, and what is stored."""

from __future__ import annotations

from decimal import Decimal

import pytest

from audience_sync.destinations.base import AudienceReading
from audience_sync.destinations.linkedin.audiences import explain
from audience_sync.insights.audience import MIN_READ_INTERVAL_SECONDS, CachedView, needs_reading, public_view
from tests.fakes.sync_fakes import T0, FakeClock


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


def test_cached_view_round_trips_through_dynamodb_numbers() -> None:
    reading = AudienceReading("9000001", "Trial users", "READY", 1200, 900, 2000)
    view = CachedView("s1", "9000001", T0, reading, T0 - 5, "linkedin_429_throttled")
    item = view.to_item()
    as_stored = {k: Decimal(v) if isinstance(v, int) else v for k, v in item.items()}
    as_stored["reading"] = {k: Decimal(v) if isinstance(v, int) else v for k, v in item["reading"].items()}
    assert CachedView.from_item(as_stored) == view
    bare = CachedView("s1", "9000001", T0, failure="linkedin_invalid_token")
    assert CachedView.from_item(bare.to_item()) == bare
    assert "reading" not in bare.to_item() and "refreshed_at" not in bare.to_item()


def test_public_view_says_when_it_was_read_and_whether_it_is_stale() -> None:
    reading = AudienceReading("9000001", "Trial users", "EXPIRED", 1200, 900, 2000)
    fresh = public_view(CachedView("s1", "9000001", T0, reading, T0), explain)
    assert fresh["refreshed_at"] == T0
    assert (fresh["stale"], fresh["stale_reason"]) == (False, None)
    assert fresh["status"] == "EXPIRED" and fresh["targetable"] is False
    assert fresh["audience_size"] == 1200 and fresh["match_rate"] == 0.45
    stale = public_view(CachedView("s1", "9000001", T0 + 60_000, reading, T0, "linkedin_500_server_error"), explain)
    assert stale["refreshed_at"] == T0
    assert (stale["stale"], stale["stale_reason"]) == (True, "linkedin_500_server_error")
    with pytest.raises(ValueError, match="reading"):
        public_view(CachedView("s1", "9000001", T0, failure="linkedin_invalid_token"), explain)
