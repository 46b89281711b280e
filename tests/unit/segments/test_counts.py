"""segments/counts.py: the schedule folds every segment's pending counts, not a consent watch's (it has no members)."""

from __future__ import annotations

from typing import Any

from audience_sync.segments.counts import fold_all


class Store:
    def all(self) -> list[dict[str, Any]]:
        return [{"segment_id": "gold"}, {"segment_id": "consent:s1", "watch": True}, {"segment_id": "step:s1"}]


class Index:
    def __init__(self) -> None:
        self.folded: list[str] = []

    def fold(self, segment_id: str) -> int:
        self.folded.append(segment_id)
        return len(segment_id)


def test_every_segment_with_members_is_folded_and_the_folds_add_up() -> None:
    index = Index()
    assert fold_all(Store(), index) == len("gold") + len("step:s1")  # type: ignore[arg-type]
    assert index.folded == ["gold", "step:s1"]
