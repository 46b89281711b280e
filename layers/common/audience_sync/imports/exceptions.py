"""The imports' domain errors (each API maps them to its status and envelope at the edge)."""

from __future__ import annotations

from audience_sync.core.errors import Conflict


class ImportDisabled(Conflict):
    def __init__(self, import_id: str):
        super().__init__("import_disabled", f"import '{import_id}' is disabled: enable it to run it")


class ImportRunning(Conflict):
    def __init__(self, import_id: str):
        super().__init__("import_running", f"a run of import '{import_id}' is in progress")


class RunFailed(Exception):
    """A run that cannot go on (its bucket gone or refused): it ends `failed` with this machine-readable reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
