"""Segments for the writer's and the sweep's tests: definitions held in memory, a sink that records what it is
handed (and can fail once), and the members' index as a consumer would keep it (newest transition wins)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from audience_sync.segments.definitions import Segment
from audience_sync.segments.filters import parse
from audience_sync.segments.index import SegmentIndex
from audience_sync.segments.membership import Transition

CREATED = "2026-12-01T00:00:00.000+00:00"


def segment(segment_id: str, filter_: dict[str, Any], revision: int = 1) -> Segment:
    return Segment(segment_id, segment_id, "", parse(filter_), CREATED, CREATED, revision)


@dataclass
class StaticSegments:
    """A SegmentSource whose definitions a test changes between batches."""

    segments: list[Segment] = field(default_factory=list)

    def index(self, fresh: bool = False) -> SegmentIndex:
        return SegmentIndex(self.segments)


class SinkFailed(RuntimeError):
    pass


@dataclass
class RecordingSink:
    published: list[Transition] = field(default_factory=list)
    fail_next: bool = False

    def publish(self, transitions: Sequence[Transition]) -> None:
        if self.fail_next:
            self.fail_next = False
            raise SinkFailed("the queue refused them")
        self.published.extend(transitions)

    def members(self) -> dict[str, set[str]]:
        """Per segment, its members' homes: each (segment, braze_id)'s newest transition decides, as the index does."""
        newest: dict[tuple[str, str], Transition] = {}
        for t in self.published:
            key = (t.segment_id, t.braze_id)
            if key not in newest or newest[key].order < t.order:
                newest[key] = t
        found: dict[str, set[str]] = {}
        for (segment_id, _), t in newest.items():
            if t.entered:
                found.setdefault(segment_id, set()).add(t.home)
        return found
