"""adapters/aws/fanout.py: independent calls made at once, results in order, the first error raised after all ended."""

from __future__ import annotations

import threading

import pytest

from audience_sync.adapters.aws import fanout


def test_calls_run_at_once_and_answer_in_order() -> None:
    barrier = threading.Barrier(4, timeout=5)  # only passes if four calls are running together

    def call(n: int) -> int:
        barrier.wait()
        return n * n

    assert fanout.each(call, [1, 2, 3, 4]) == [1, 4, 9, 16]


def test_one_item_is_called_on_the_callers_thread() -> None:
    assert fanout.each(lambda _: threading.current_thread(), ["x"]) == [threading.current_thread()]
    assert fanout.each(lambda n: n, []) == []


def test_a_failed_call_is_raised_once_every_call_has_ended() -> None:
    ended: list[int] = []
    release = threading.Event()

    def call(n: int) -> int:
        if n == 0:
            raise ValueError("boom")
        release.wait(5)
        ended.append(n)
        return n

    timer = threading.Timer(0.05, release.set)
    timer.start()
    with pytest.raises(ValueError, match="boom"):
        fanout.each(call, [0, 1, 2])
    timer.join()
    assert sorted(ended) == [1, 2]
