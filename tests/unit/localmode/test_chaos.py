"""localmode/chaos.py: a crash armed by one profile writer invocation fires in that invocation, after its k-th write
(also from the writer's worker threads), and a batch received SPARE_AFTER_RECEIVES times is never crashed."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast
from unittest import mock

import pytest

from audience_sync.adapters.aws.profiles_table import DynamoProfileStore
from audience_sync.profiles.ports import Item
from localmode.chaos import SPARE_AFTER_RECEIVES, Chaos, ChaosCrash
from localmode.functions import LocalFunction


class _Function:
    """A stand-in for a LocalFunction whose invocation makes `writes` profile table writes on worker threads."""

    def __init__(self, writes: int):
        self.writes = writes
        self.store = DynamoProfileStore("profiles")
        self.pool = ThreadPoolExecutor(2)

    def invoke(self, event: dict[str, Any]) -> Any:
        for n in range(self.writes):  # one after another, each on a worker in a copy of the invocation's context
            self.pool.submit(contextvars.copy_context().run, self.store.put, Item(f"u{n}", "p", {})).result()
        return {}


def _event(receives: int) -> dict[str, Any]:
    return {"Records": [{"messageId": "m", "attributes": {"ApproximateReceiveCount": str(receives)}}]}


@pytest.fixture
def puts() -> Iterator[list[Any]]:
    written: list[Any] = []
    with mock.patch.object(DynamoProfileStore, "put", lambda store, item: written.append(item)):
        yield written


def _install(chaos: Chaos, writer: _Function) -> None:
    batcher = _Function(0)
    chaos.install(cast(LocalFunction, batcher), cast(LocalFunction, writer))


def test_an_armed_crash_fires_after_the_kth_write_of_its_own_invocation(puts: list[Any]) -> None:
    chaos = Chaos(1.0, seed=7)
    writer = _Function(writes=25)
    _install(chaos, writer)
    try:
        with pytest.raises(ChaosCrash, match="after a profile put"):
            writer.invoke(_event(receives=1))
    finally:
        chaos.uninstall()
    assert 1 <= len(puts) <= 20  # the k-th write happened, then the crash
    assert chaos.crashes["after_profile_write"] == 1


def test_a_batch_received_often_enough_is_spared_so_chaos_alone_never_fills_a_dlq(puts: list[Any]) -> None:
    chaos = Chaos(1.0, seed=7)
    writer = _Function(writes=25)
    _install(chaos, writer)
    try:
        assert writer.invoke(_event(receives=SPARE_AFTER_RECEIVES)) == {}
    finally:
        chaos.uninstall()
    assert len(puts) == 25
    assert chaos.crashes == {"before_ledger": 0, "after_settle": 0, "after_profile_write": 0, "after_profile_batch": 0}


def test_an_arming_that_did_not_fire_is_not_carried_into_the_next_invocation(puts: list[Any]) -> None:
    chaos = Chaos(1.0, seed=7)
    writer = _Function(writes=0)  # nothing written: the armed crash cannot fire, the batch crash does
    _install(chaos, writer)
    try:
        with pytest.raises(ChaosCrash, match="after a batch"):
            writer.invoke(_event(receives=1))
        writer.writes = 25
        assert writer.invoke(_event(receives=SPARE_AFTER_RECEIVES)) == {}
    finally:
        chaos.uninstall()
    assert len(puts) == 25
