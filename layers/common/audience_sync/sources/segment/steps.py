"""A step's source at launch (steps/ports.py, StepSources): a step that follows a segment must name one that exists,
and once active it follows it (segments/service.py, `follow`: its own segment defined and computed); a step that
takes users from webhooks has its consent watched (`watch`)."""

from __future__ import annotations

from typing import Any

from audience_sync.segments.ports import Reconciliations
from audience_sync.segments.service import SegmentService
from audience_sync.steps.records import segment_step


class SegmentStepSources:
    def __init__(self, segments: SegmentService, reconciliations: Reconciliations):
        self.segments = segments
        self.reconciliations = reconciliations

    def problems(self, config: dict[str, Any]) -> list[dict[str, str]]:
        source = segment_step(config)
        if source is None:
            return []
        entry_filters = list(config.get("entry_filters", []))
        return self.segments.problems(source["segment_id"], entry_filters, bool(source.get("sync_exits")))

    def launched(self, step_id: str, config: dict[str, Any]) -> None:
        source = segment_step(config)
        entry_filters = list(config.get("entry_filters", []))
        if source is not None:
            self.segments.follow(step_id, source["segment_id"], entry_filters, bool(source.get("sync_exits")))
            # what a draft did not do, a backfill asked for at a relaunch (sources/segment/processor.py)
            self.reconciliations.reconcile(step_id)
        elif config.get("action", "add") == "add":  # a webhook step: consent withdrawn on a profile removes the user
            self.segments.watch(step_id, entry_filters)
