"""The membership processor's reconciliation: a launched step's audience made to agree with its own segment, page by
page, the rest of a long shard handed on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from audience_sync.pipeline.ingest import IngestService
from audience_sync.segments.membership import Transition, order_of
from audience_sync.segments.ports import HeldMember, MemberKey, StoredMember
from audience_sync.sources.segment import processor as processor_module
from audience_sync.sources.segment.processor import MembershipProcessor
from audience_sync.sources.segment.router import SegmentRouter
from tests.unit.pipeline import test_ingest as ingest_fakes
from tests.unit.sources.test_segment_router import FakeProfiles, sent, step, user


class PagedIndex:
    """What the index holds for step:s1, handed out a page at a time; what is applied, recorded."""

    def __init__(self, held: list[HeldMember]):
        self.held_members = held
        self.applied: list[tuple[list[Transition], Mapping[MemberKey, Any], Any]] = []

    def held(self, segment_id: str, shard: int, start: Any, limit: int) -> tuple[list[HeldMember], Any]:
        assert (segment_id, shard) == ("step:s1", 3)
        begin = start or 0
        end = begin + limit
        return self.held_members[begin:end], end if end < len(self.held_members) else None

    def lookup(self, keys: Sequence[MemberKey]) -> dict[MemberKey, StoredMember]:
        found = {("step:s1", m.braze_id): m.stored for m in self.held_members}
        return {k: found[k] for k in keys if k in found}

    def apply(self, transitions: Sequence[Transition], hour: str, stored: Any, sent: Any, removed: Any) -> list[Any]:
        self.applied.append((list(transitions), dict(sent or {}), set(removed)))
        return []


def member(n: int, inside: bool, was_sent: bool) -> HeldMember:
    return HeldMember(f"b{n}", f"u#x:u{n}", f"u{n}", StoredMember(order_of(5), inside, sent(n) if was_sent else None))


def test_a_reconciliation_enters_members_never_sent_removes_former_members_still_sent_and_hands_on_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(processor_module, "RECONCILE_PAGE", 2)
    monkeypatch.setattr(processor_module, "RECONCILE_PAGES", 2)
    held = [member(1, True, False), member(2, False, True), member(3, True, True), member(4, False, False)]
    held.append(member(0, True, False))  # on the third page: handed on
    index = PagedIndex(held)
    item = step(backfill=True)
    queue = ingest_fakes.FakeQueue()
    steps = ingest_fakes.FakeStepRepository(item)
    router = SegmentRouter(steps, IngestService(steps, queue), FakeProfiles({f"u#x:u{n}": user(n) for n in range(5)}))
    handed_on: list[dict[str, Any]] = []
    processor = MembershipProcessor(index, router, handed_on.append)  # type: ignore[arg-type]
    processor.reconcile({"step_id": "s1", "shard": 3}, "m-1", "h", "2026-12-05T12:00:00.000Z")
    added = [u["x"] for m in queue.messages() if m.target.action == "add" for u in m.users]
    removed = [u["x"] for m in queue.messages() if m.target.action == "remove" for u in m.users]
    assert (added, removed) == (["u1"], ["u2"])  # u3 is in and sent, u4 out and not: nothing owed
    assert handed_on == [{"step_id": "s1", "shard": 3, "start": 4}]
    ((transitions, sent_now, removed_now),) = index.applied  # the second page owed nothing
    assert [t.order for t in transitions] == [order_of(5), order_of(5)]  # what the index holds: a newer move wins
    assert set(sent_now) == {("step:s1", "b1")} and removed_now == {("step:s1", "b2")}
