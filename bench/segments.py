"""Segment benchmarks: the evaluator's speed with 100 segments defined (issue 13), on one core.

A "profile change" is what the profile writer does per changed profile: find the segments that read what changed
(segments/index.py), evaluate them against the profile (segments/filters.py), record the memberships that moved
(segments/membership.py). 100 segments are defined, 10 of them reading the changed attribute, of assorted shapes
(equality, lists, regexes, numbers, with cohort, event and time-based leaves beside). Each pass over 1,000 profiles
sets their plan to the next of gold, gold, silver, free: most changes move the user in or out of several segments,
so recording transitions is measured too.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.hot_path import one_core

SEGMENTS = 100
READING_THE_CHANGE = 10
NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class EvaluationResult:
    changes: int
    seconds: float  # CPU seconds
    segments: int
    evaluated: int  # segment evaluations done (READING_THE_CHANGE a change)
    transitions: int
    core: int | None

    @property
    def changes_per_second(self) -> float:
        return self.changes / self.seconds


def _filters() -> list[dict[str, Any]]:
    reading_plan: list[dict[str, Any]] = [
        {"attribute": "plan", "op": "eq", "value": "gold"},
        {"attribute": "plan", "op": "in", "value": ["gold", "silver", "bronze"]},
        {"attribute": "plan", "op": "matches_regex", "value": "^go"},
        {
            "all": [
                {"attribute": "plan", "op": "ne", "value": "free"},
                {"attribute": "country", "op": "eq", "value": "KR"},
            ]
        },
        {
            "any": [
                {"attribute": "plan", "op": "eq", "value": "gold"},
                {"custom_event": "order", "op": "more_than", "count": 3},
            ]
        },
        {
            "all": [
                {"attribute": "plan", "op": "exists"},
                {"cohort": {"partner": "segment", "cohort_id": "aud_1"}, "op": "in"},
            ]
        },
        {"not": {"attribute": "plan", "op": "eq", "value": "free"}},
        {"all": [{"attribute": "plan", "op": "eq", "value": "gold"}, {"attribute": "score", "op": "gt", "value": 50}]},
        {
            "all": [
                {"attribute": "plan", "op": "eq", "value": "gold"},
                {"custom_event": "login", "op": "more_than", "count": 0, "in_days": 7},
            ]
        },
        {
            "all": [
                {"attribute": "plan", "op": "is_true"},
                {"attribute": "tags", "op": "includes_any", "value": ["vip"]},
            ]
        },
    ]
    others = [
        {"attribute": f"attr_{n}", "op": "eq", "value": n}
        if n % 3
        else {"custom_event": f"event_{n}", "op": "more_than", "count": n}
        for n in range(SEGMENTS - READING_THE_CHANGE)
    ]
    return reading_plan + others


class _Definitions:
    def __init__(self, index: Any):
        self._index = index

    def index(self, fresh: bool = False) -> Any:
        return self._index


class _NoSink:
    def publish(self, transitions: Any) -> None:
        pass


def measure(changes: int = 200_000, progress: Callable[[str], None] | None = None) -> EvaluationResult:
    from audience_sync.profiles.ports import Item
    from audience_sync.segments.definitions import Segment
    from audience_sync.segments.filters import parse
    from audience_sync.segments.index import SegmentIndex
    from audience_sync.segments.memberships import BatchMemberships

    created = "2026-12-01T00:00:00.000+00:00"
    defined = [Segment(f"s{n}", f"s{n}", "", parse(f), created, created, 1) for n, f in enumerate(_filters())]
    session = BatchMemberships(_Definitions(SegmentIndex(defined)), _NoSink(), lambda doc: None)
    assert sum(1 for s in session.index.segments.values() if "a:plan" in s.filter.reads) == READING_THE_CHANGE
    plans = ["gold", "gold", "silver", "free"]  # the plan each pass over the profiles sets
    events = {
        "order": {
            "count": 2,
            "first": "2026-11-01T00:00:00.000Z",
            "last": "2026-12-04T00:00:00.000Z",
            "days": {"2026-12-04": 1},
        },
        "login": {
            "count": 9,
            "first": "2026-11-01T00:00:00.000Z",
            "last": "2026-12-05T09:00:00.000Z",
            "days": {"2026-12-05": 2, "2026-12-01": 1},
        },
    }
    profiles = [
        Item(
            f"u#x:u{n}",
            "p",
            {
                "braze_id": f"{n:024x}",
                "external_id": f"u{n}",
                "created_at": created,
                "fields": {"country": "KR"},
                "custom": {"score": n % 100, "tags": ["vip"]},
                "cohorts": ["segment:aud_1"],
                "segments": {},
            },
            version=1,
        )
        for n in range(1_000)
    ]
    changed = {"a:plan"}
    transitions = 0
    with one_core() as core:
        started = time.process_time()
        for n in range(changes):
            profile = profiles[n % len(profiles)]
            profile.doc["custom"]["plan"] = plans[(n // len(profiles)) % len(plans)]
            transitions += len(session.evaluate(profile, changed, events, {}, NOW, f"t{n}"))
            profile.doc.pop("outbox", None)  # the writer's outbox keeps 10 messages; here every change is new
        seconds = time.process_time() - started
    if progress:
        progress(f"segment evaluation: {changes:,} changes, {transitions:,} transitions in {seconds:.2f} s CPU")
    return EvaluationResult(changes, seconds, SEGMENTS, changes * READING_THE_CHANGE, transitions, core)


@dataclass(frozen=True)
class SegmentCost:
    evaluation: float  # $ per million profile changes: the writer's CPU evaluating 100 segments
    per_million_moves: float  # $ per million memberships moved (entries and exits), worst case
    lines: dict[str, float]


# Lambda gives CPU in proportion to memory, a whole vCPU at 1,769 MB: the writer (512 MB) evaluates this much slower.
LAMBDA_VCPU_MB = 1769
WRITER_MB = 512
MEMBERSHIP_MS_PER_MOVE = 20  # one TransactWriteItems call (~10 ms in DynamoDB) and the handler around it, rounded up


def evaluation_cost(result: EvaluationResult) -> SegmentCost:
    """From the measured evaluation speed and list prices (bench/prices.py); the arithmetic, line by line:
    - evaluating: 1e6 / changes per second CPU seconds, x 1,769 / 512 on a 512 MB Lambda, x 0.5 GB, arm64 GB-s;
    - a membership moved, at worst (alone in its message): one transaction of 2 items (the member, a counts item)
      at 2 write units each, and the fold's transactional delete of the counts item (2 units; its share of the
      total and hour updates is a 48th at worst); moves that share a transaction share its counts item, so a
      backfill's move costs ~2.06 units; the profile write grows by its outbox entry (~250 bytes: at worst one more
      write unit); SQS send, receive and delete if every transition travelled alone (they share messages of up to
      400); the membership function's share of an invocation (batches of 10) and MEMBERSHIP_MS_PER_MOVE at the
      template's MemorySize (a vCPU: the backfill's CPU, bench/backfill.py)."""
    from bench.backfill import MEMBERSHIP_MB
    from bench.prices import PRICES

    cpu_seconds = 1e6 / result.changes_per_second * LAMBDA_VCPU_MB / WRITER_MB
    evaluation = PRICES["lambda_gb_seconds_arm64"].of(cpu_seconds * WRITER_MB / 1024)
    lines = {
        "DynamoDB: transaction of 2 items and the fold's delete, x 2 write units": PRICES["dynamodb_wru"].of(6e6),
        "DynamoDB: the profile's outbox entry (at most 1 write unit)": PRICES["dynamodb_wru"].of(1e6),
        "SQS: send, receive, delete (at worst one message each)": PRICES["sqs_requests"].of(3e6),
        "Lambda: membership function requests (10 a batch)": PRICES["lambda_requests"].of(1e5),
        "Lambda: membership function duration": PRICES["lambda_gb_seconds_arm64"].of(
            1e6 * MEMBERSHIP_MS_PER_MOVE / 1000 * MEMBERSHIP_MB / 1024
        ),
    }
    return SegmentCost(evaluation, sum(lines.values()), lines)
