"""bench/pipeline.py's stand-ins and arithmetic: the queue hands out batches as the event source mapping does,
the ledger keeps its contract, and the results compute fill, rate use and violations."""

from __future__ import annotations

import pytest

from audience_sync.core.metrics import StepDelta
from audience_sync.pipeline.ledger import LedgerEntry, LedgerKey
from bench import pipeline
from bench.pipeline import (
    ESM_MAX_BYTES,
    RECORD_ENVELOPE_BYTES,
    MemoryLedger,
    MemoryQueue,
    PipelineResult,
    max_in_window,
)


def test_batches_stop_at_6_mb_with_the_envelopes() -> None:
    queue = MemoryQueue()
    body = "x" * 100_000
    queue.send([body] * 100)
    batch = queue.batch()
    assert len(batch) == ESM_MAX_BYTES // (len(body) + RECORD_ENVELOPE_BYTES)
    assert all(r["attributes"]["ApproximateReceiveCount"] == "1" for r in batch)


def test_a_batching_window_holds_a_small_batch_until_it_is_old_enough_full_or_the_queue_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(pipeline.time, "time", lambda: now[0])
    queue = MemoryQueue()
    queue.send(["a", "b"])
    assert queue.batch(window_seconds=5) == []  # two small messages, just sent: the window holds them
    assert len(queue.batch(max_records=2, window_seconds=5)) == 2  # a full batch goes at once
    queue.send(["c"])
    now[0] += 5
    assert [r["body"] for r in queue.batch(window_seconds=5)] == ["c"]  # the oldest waited the window
    queue.send(["d"])
    queue.close()
    assert [r["body"] for r in queue.batch(window_seconds=5)] == ["d"]  # nothing more will come
    assert not queue.finished()  # d is in flight
    queue.delete([{"receiptHandle": h} for h in list(queue.in_flight)])
    assert queue.finished()


def test_failed_records_come_back_received_once_more_and_settled_ones_go() -> None:
    queue = MemoryQueue()
    queue.send(["a", "b"])
    first = queue.batch()
    queue.settle(first, failed=[first[1]["messageId"]])
    (again,) = queue.batch()
    assert again["body"] == "b"
    assert again["attributes"]["ApproximateReceiveCount"] == "2"
    assert queue.redelivered_count() == 1
    assert not queue.drained()
    queue.settle([again], failed=[])
    assert queue.drained()


def test_the_batcher_reads_and_deletes_on_its_own() -> None:
    queue = MemoryQueue()
    queue.send(["a", "b", "c"])
    read = queue.receive(2)
    assert [r["body"] for r in read] == ["a", "b"]
    queue.delete(read)
    assert [r["body"] for r in queue.batch()] == ["c"]


def test_the_memory_ledger_counts_once_and_reports_duplicates(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "LEDGER_LATENCY_SECONDS", 0)
    ledger = MemoryLedger()
    synced = StepDelta()
    synced.add("synced", 3)
    assert ledger.record("s", [LedgerEntry("msg:a", "b1", synced, ["k"])]) == set()
    assert ledger.record("s", [LedgerEntry("msg:a", "b1", synced), LedgerEntry("msg:b", "b1", synced)]) == {"msg:a"}
    assert ledger.synced("s") == 3  # nothing of the refused transaction counted
    assert ledger.recorded([LedgerKey("msg:a", "b1"), LedgerKey("msg:b", "b1")]) == {"msg:a": ["k"]}


def test_the_fullest_second() -> None:
    assert max_in_window([0.0, 0.1, 0.2, 1.05, 1.1], 1.0) == 3
    assert max_in_window([0.0, 0.999, 1.0], 1.0) == 2  # [t, t + 1) is half-open
    assert max_in_window([], 1.0) == 0


def result(**overrides: object) -> PipelineResult:
    values: dict[str, object] = {
        "users": 200_000,
        "synced": 200_000,
        "max_elements": 5000,
        "requests": 41,
        "elements": [5000] * 40,
        "throttled": 0,
        "max_in_any_second": 10,
        "rate_limit": 10,
        "first_to_last_seconds": 4.5,
        "timeline": [],
        "invocations": 2,
        "redelivered": 0,
    }
    values.update(overrides)
    return PipelineResult(**values)  # type: ignore[arg-type]


def test_fill_and_rate_use() -> None:
    r = result()
    assert r.ideal_requests == 40
    assert r.fill == pytest.approx(40 / 41)
    assert r.requests_per_second == pytest.approx(40 / 4.5)
    assert r.rate_use == pytest.approx(40 / 4.5 / 10)
