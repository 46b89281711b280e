"""What the membership function publishes (EMF): per segment, the users who entered and who exited it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Protocol

from audience_sync.observability import emf


class Change(Protocol):
    @property
    def segment_id(self) -> str: ...

    @property
    def entered(self) -> bool: ...


def publish(changed: Sequence[Change]) -> None:
    counts = Counter((t.segment_id, t.entered) for t in changed)
    for segment_id in sorted({s for s, _ in counts}):
        emf.count("SegmentEntered", counts[(segment_id, True)], {"SegmentId": segment_id})
        emf.count("SegmentExited", counts[(segment_id, False)], {"SegmentId": segment_id})
