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


def test_a_segment_whose_fold_fails_does_not_stop_the_others() -> None:
    class Failing(Index):
        def fold(self, segment_id: str) -> int:
            if segment_id == "gold":
                raise RuntimeError("throttled")
            return super().fold(segment_id)

    index = Failing()
    assert fold_all(Store(), index) == len("step:s1")  # type: ignore[arg-type]
    assert index.folded == ["step:s1"]
