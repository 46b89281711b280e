"""Metrics over time (core/history.py): flows per minute, levels at each minute's end, dense windows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from audience_sync.core.history import MAX_WINDOW_MINUTES, minute_iso, minute_of, points, recent
from audience_sync.core.metrics import STEP_LEVELS, public_metrics

M = minute_of(1_790_000_000_000)  # a minute


def step_metrics(counters: Mapping[str, Any]) -> dict[str, int]:
    return public_metrics(counters)


class Reader:
    """The counters of one series and its minutes, recording the windows read."""

    def __init__(self, counters: dict[str, Any], gained: dict[int, dict[str, int]]):
        self.counters = counters
        self.gained = gained
        self.windows: list[tuple[int, int]] = []

    def current(self, series: str) -> dict[str, Any]:
        return {"step_id": series, **self.counters}

    def history(self, series: str, first_minute: int, last_minute: int) -> dict[int, dict[str, int]]:
        self.windows.append((first_minute, last_minute))
        return {m: c for m, c in self.gained.items() if first_minute <= m <= last_minute}


def test_flows_are_what_each_minute_counted_and_pending_what_stood_at_its_end() -> None:
    gained = {
        M - 2: {"entered": 10},  # 10 pending after it
        M - 1: {"entered": 5, "synced": 8, "not_synced": 1},  # 6 after it
        M: {"synced": 4, "errored": 1, "errored_reason_audience_not_found": 1},  # 1 after it
    }
    counters = {"entered": 15, "synced": 12, "not_synced": 1, "errored": 1, "updated_at": 123}
    out = points(counters, gained, M - 3, M, step_metrics, STEP_LEVELS)
    assert [p["minute"] for p in out] == [minute_iso(m) for m in range(M - 3, M + 1)]
    assert [p["entered"] for p in out] == [0, 10, 5, 0]
    assert [p["synced"] for p in out] == [0, 0, 8, 4]
    assert [p["errored"] for p in out] == [0, 0, 0, 1]
    assert [p["pending"] for p in out] == [0, 10, 6, 1]
    assert out[-1]["pending"] == public_metrics(counters)["pending"]
    assert all(set(p) == {"minute", *public_metrics(counters)} for p in out)


def test_counts_before_the_window_stand_in_its_levels_and_not_in_its_flows() -> None:
    gained = {M: {"synced": 2}}
    counters = {"entered": 7, "synced": 2}  # 7 entered before the window
    out = points(counters, gained, M - 1, M, step_metrics, STEP_LEVELS)
    assert [(p["entered"], p["synced"], p["pending"]) for p in out] == [(0, 0, 7), (0, 2, 5)]


def test_a_minute_after_the_window_a_writer_ahead_of_this_clock_counts_in_no_point_but_in_the_levels() -> None:
    gained = {M: {"entered": 3}, M + 1: {"synced": 3}}
    counters = {"entered": 3, "synced": 3}
    out = points(counters, gained, M, M, step_metrics, STEP_LEVELS)
    assert [(p["entered"], p["synced"], p["pending"]) for p in out] == [(3, 0, 3)]


def test_a_steps_segment_metrics_are_in_every_point_once_the_counters_have_them() -> None:
    gained = {M - 1: {"entered": 2}, M: {"left": 1}}
    counters = {"entered": 2, "left": 1}
    out = points(counters, gained, M - 1, M, step_metrics, STEP_LEVELS)
    assert [(p["left"], p["removed"], p["pending"]) for p in out] == [(0, 0, 2), (1, 0, 3)]


def test_recent_reads_the_window_ending_this_minute_and_one_minute_ahead() -> None:
    reader = Reader({"entered": 4, "synced": 4}, {M: {"entered": 4, "synced": 4}, M - 90: {"entered": 1}})
    now_ms = M * 60_000 + 59_999
    out = recent(reader, "s1", 60, now_ms, step_metrics, STEP_LEVELS)
    assert reader.windows == [(M - 59, M + 1)]
    assert out["minutes"] == 60 and len(out["points"]) == 60
    assert out["points"][-1] == {"minute": minute_iso(M), **{**public_metrics({}), "entered": 4, "synced": 4}}
    assert sum(p["entered"] for p in out["points"]) == 4


@pytest.mark.parametrize("minutes", [0, -1, MAX_WINDOW_MINUTES + 1])
def test_recent_refuses_a_window_out_of_range(minutes: int) -> None:
    with pytest.raises(ValueError, match="minutes"):
        recent(Reader({}, {}), "s1", minutes, M * 60_000, step_metrics, STEP_LEVELS)


def test_minutes_are_utc_epoch_minutes() -> None:
    assert minute_of(59_999) == 0 and minute_of(60_000) == 1
    assert minute_iso(minute_of(1_700_000_000_000)) == "2023-11-14T22:13:00Z"  # 1,700,000,000 s: 22:13:20
