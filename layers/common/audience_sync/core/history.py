"""Metrics over time: what a step's or a campaign's counters gained in each minute, read back as points for a chart.
Pure: no AWS.

The writers add each change to the counters and to the minute it was written in, in one transaction
(adapters/aws/metrics_table.py `counter_updates`), so the minutes add up to the counters exactly. A point gives
every metric as what it gained in its minute (a flow: entered, synced, ...), except the levels (pending, a
campaign's scheduled), given as they stood at the minute's end: the counters now, less what every later minute
gained. That needs the minutes after the window's first, which is why the window is at most a day and the
minutes are kept two (docs/decisions/0023-metrics-history.md).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

MINUTE_MS = 60_000
# How long a minute is kept, and the longest window a reader may ask for (a day, with a day's margin).
HISTORY_TTL_SECONDS = 2 * 24 * 3600
MAX_WINDOW_MINUTES = 24 * 60

Metrics = Callable[[Mapping[str, Any]], dict[str, int]]


def minute_of(now_ms: int) -> int:
    """The epoch minute (minutes since 1970-01-01T00:00Z) that `now_ms` falls in."""
    return now_ms // MINUTE_MS


def minute_iso(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def points(
    counters: Mapping[str, Any],
    gained: Mapping[int, Mapping[str, int]],
    first_minute: int,
    last_minute: int,
    metrics: Metrics,
    levels: tuple[str, ...],
) -> list[dict[str, Any]]:
    """One point a minute from `first_minute` to `last_minute`, oldest first: {"minute": ISO 8601, metric: n, ...}.

    `counters`: the counters item now; `gained`: minute -> counters gained in it, for every minute from
    `first_minute` on (later than `last_minute` too: a writer's clock a little ahead); `metrics`: the public
    metrics of a counters item (linear in the counters); `levels`: the metrics given as they stood at the end of the
    minute rather than gained in it."""
    numbers = {name: int(n) for name, n in counters.items() if isinstance(n, int | float) and not isinstance(n, bool)}
    at_end: Counter[str] = Counter(numbers)
    shown = list(metrics(numbers))  # every point has the metrics the counters show now
    for minute, counts in gained.items():
        if minute > last_minute:
            at_end.subtract(counts)
    newest_first: list[dict[str, Any]] = []
    for minute in range(last_minute, first_minute - 1, -1):
        counts = gained.get(minute, {})
        flows, standing = metrics(counts), metrics(at_end)
        point: dict[str, Any] = {"minute": minute_iso(minute)}
        point.update({name: standing.get(name, 0) if name in levels else flows.get(name, 0) for name in shown})
        newest_first.append(point)
        at_end.subtract(counts)
    return newest_first[::-1]


class CountersReader(Protocol):
    def current(self, series: str) -> dict[str, Any]:
        """The counters item of `series` as last written (strongly consistent)."""
        ...

    def history(self, series: str, first_minute: int, last_minute: int) -> dict[int, dict[str, int]]:
        """minute -> the counters gained in it, for the minutes of [first, last] that gained any (strongly
        consistent)."""
        ...


def recent(
    reader: CountersReader, series: str, minutes: int, now_ms: int, metrics: Metrics, levels: tuple[str, ...]
) -> dict[str, Any]:
    """The last `minutes` minutes of `series`, the current one last: {"minutes", "points"} (see `points`)."""
    if not 1 <= minutes <= MAX_WINDOW_MINUTES:
        raise ValueError(f"minutes must be 1 to {MAX_WINDOW_MINUTES}")
    last = minute_of(now_ms)
    first = last - minutes + 1
    # The minutes first, then the counters: a change written between the two reads is in the counters and not
    # yet in the minutes read, and the levels come out one change high for a moment; the other order would give
    # a minute more than the counters hold, and a level below zero.
    gained = reader.history(series, first, last + 1)
    counters = reader.current(series)
    return {"minutes": minutes, "points": points(counters, gained, first, last, metrics, levels)}
