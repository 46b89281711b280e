"""bench/profiles.py: the in-memory FIFO stands in for SQS FIFO faithfully, and the profile rows follow their
targets."""

from __future__ import annotations

from audience_sync.profiles.operations import GroupMessage
from bench.profiles import MemoryFifo, TrackHotPath, WriterResult, writer_pipeline
from bench.profiles_stack import ReadYourWrites, UpdateCost
from bench.report import Results, profile_rows


def test_the_fifo_keeps_group_order_and_one_batch_in_flight_per_group() -> None:
    fifo = MemoryFifo()
    fifo.send([GroupMessage("g1", f"a{i}") for i in range(12)] + [GroupMessage("g2", "b0")], "r")
    first = fifo.receive()
    assert [m.body for m in first] == [f"a{i}" for i in range(10)]  # at most 10, in order
    second = fifo.receive()
    assert [m.body for m in second] == ["b0"]  # g1 is busy: only another group's messages
    assert fifo.receive() == []
    fifo.fail(first)  # delivered again, from the same place
    again = fifo.receive()
    assert [m.body for m in again] == [f"a{i}" for i in range(10)] and again[0].receives == 2
    fifo.delete(again)
    fifo.delete(second)
    assert [m.body for m in fifo.receive()] == ["a10", "a11"]


def test_a_small_pipeline_run_loses_and_doubles_nothing_through_redeliveries() -> None:
    result = writer_pipeline(12, users=40, writers=3, latency_ms=0.0, crash_rate=0.3)
    assert result.crashed_batches > 0 and result.redelivered_messages > 0
    assert result.mismatches == 0
    assert result.objects == 12 * 150


def _writer(objects_per_second: float, mismatches: int = 0, objects: int = 1_000_050) -> WriterResult:
    return WriterResult(objects, objects // 150, 100, objects / objects_per_second, 8, 5, 3, 30, mismatches, 1, 1, 1, 1)


def test_profile_rows_pass_and_miss_on_their_targets() -> None:
    good = Results(
        track_hot_path=TrackHotPath(30_000, 1.0, 0),
        writer=_writer(2_500),
        burst=_writer(10_000),
        update_cost=UpdateCost(1, {"API": 0.05, "DynamoDB": 0.9}, {}, {}),
        read_your_writes=ReadYourWrites([0.2] * 99 + [1.0], 5),
    )
    assert {r.mark for r in profile_rows(good)} == {"pass"}
    bad = Results(
        track_hot_path=TrackHotPath(10_000, 1.0, 0),
        writer=_writer(1_500),
        burst=_writer(10_000, mismatches=1),
        update_cost=UpdateCost(1, {"API": 0.05, "DynamoDB": 1.0}, {}, {}),
        read_your_writes=ReadYourWrites([0.2] * 90 + [7.0] * 10, 5),
    )
    assert {r.mark for r in profile_rows(bad)} == {"MISS"}
