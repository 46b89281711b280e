"""Every capability at once: the management API (which manages all of them) and the operator CLI."""

from __future__ import annotations

from functools import cached_property

from audience_sync.composition.delivery import Delivery
from audience_sync.composition.export_runner import ExportRunning
from audience_sync.composition.gauges import Gauges
from audience_sync.composition.imports import ImportRunning
from audience_sync.composition.insights import Insights
from audience_sync.composition.management import PlatformApi
from audience_sync.composition.memberships import Memberships
from audience_sync.composition.sweep import Sweeping
from audience_sync.imports.service import ImportService
from audience_sync.sources.segment.steps import SegmentStepSources
from audience_sync.steps.launch import Launcher


class Container(Delivery, Insights, PlatformApi, Memberships, ImportRunning, ExportRunning, Sweeping, Gauges):
    @cached_property
    def launcher(self) -> Launcher:
        return Launcher(
            self.steps,
            self.connections.view,
            self.linkedin,
            self.linkedin.audiences,
            self.session(),
            SegmentStepSources(self.segments, self.reconciliations),
        )

    @cached_property
    def imports(self) -> ImportService:
        return ImportService(self.import_store, self.import_scheduler)
