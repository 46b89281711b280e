"""The exports' domain errors (each API maps them to its status and envelope at the edge)."""

from __future__ import annotations

from audience_sync.core.errors import TooManyRequests

RUNNING_RETRY_AFTER_SECONDS = 60


class ExportRunning(TooManyRequests):
    """A segment has one running export at a time (Braze answers a second with 429)."""

    def __init__(self, segment_id: str):
        super().__init__(
            "export_running",
            f"an export of segment '{segment_id}' is running; ask again when it is done",
            RUNNING_RETRY_AFTER_SECONDS,
        )


class ExportFailed(Exception):
    """An export that cannot finish (a bucket that is gone, a key that is refused): the job is failed, not retried.
    `code` is machine-readable and never names a user."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code
