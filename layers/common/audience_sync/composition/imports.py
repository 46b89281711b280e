"""S3 imports: their schedule, and the runner that applies a file's rows through the profile writer (the one writer
of every profile write: docs/imports.md)."""

from __future__ import annotations

from functools import cached_property

from audience_sync.adapters.aws.import_objects import S3ObjectSource
from audience_sync.adapters.aws.imports_table import DynamoImportStore
from audience_sync.adapters.aws.queues import SqsImportQueue
from audience_sync.composition.writer import ProfileWriting
from audience_sync.imports.ports import ImportStore
from audience_sync.imports.runner import ImportRunner
from audience_sync.imports.schedule import ImportScheduler


class ImportRunning(ProfileWriting):
    @cached_property
    def import_store(self) -> ImportStore:
        return DynamoImportStore(self.resources.require("imports_table"))

    @cached_property
    def import_scheduler(self) -> ImportScheduler:
        queue = SqsImportQueue(self.resources.require("import_queue_url"))
        return ImportScheduler(self.import_store, queue, self.clock, self.settings.time_scale)

    @cached_property
    def import_runner(self) -> ImportRunner:
        return ImportRunner(
            self.import_store,
            S3ObjectSource(),
            SqsImportQueue(self.resources.require("import_queue_url")),
            self.profile_writer,
            self.notifier,
            self.clock,
            self.settings.profiles.max_array,
        )
