"""What the steps package needs from storage. Adapter: adapters/aws/steps_table.py (DynamoDB).

Items are plain JSON-like dicts (numbers as int or float) with the attributes records.py names.
"""

from __future__ import annotations

from typing import Any, Protocol

from audience_sync.steps.records import SYNC_ERROR


class StepReader(Protocol):
    def get(self, step_id: str) -> dict[str, Any]:
        """The step; raises NotFound (code step_not_found)."""
        ...


class LaunchedSteps(StepReader, Protocol):
    """What the audience refresh needs: the launched steps, and their errors in either attribute."""

    def launched(self) -> list[dict[str, Any]]:
        """Every active step with its audience: id, status, audience, its creation time and both errors."""
        ...

    def set_error(self, step_id: str, code: str, audience_id: str | None = None, attribute: str = SYNC_ERROR) -> bool:
        """Record a step error in `attribute`; True if it is new (so it is notified once). With `audience_id`, only
        while the step still targets that audience (a relaunch may have changed it)."""
        ...

    def clear_error(
        self, step_id: str, codes: tuple[str, ...], audience_id: str | None = None, attribute: str = SYNC_ERROR
    ) -> None:
        """Remove the step's error in `attribute` if it is one of `codes`. With `audience_id`, only while the step
        still targets that audience."""
        ...


class StepStore(LaunchedSteps, Protocol):
    def list_all(self) -> list[dict[str, Any]]:
        """Every step, sorted by id (operators, and GET /v1/steps: a Scan, over the few steps a workspace has)."""
        ...

    def put_config(self, step_id: str, config: dict[str, Any]) -> dict[str, Any]:
        """Create or replace the step's config (records.configured); the stored item."""
        ...

    def record_created_audience(self, step_id: str, name: str, account_id: str, audience_id: str, at: int) -> None:
        """Remember the audience a launch created for this name and account (a relaunch reuses it)."""
        ...

    def activate(self, step_id: str, audience_id: str, audience_created_at: int | None) -> dict[str, Any]:
        """The step launched: active, targeting `audience_id`, its errors cleared; the stored item."""
        ...


class StepErrors(Protocol):
    """The part of the steps a sender needs: record and clear the errors its requests meet (the sync's attribute)."""

    def set_error(self, step_id: str, code: str) -> bool: ...

    def clear_error(self, step_id: str, codes: tuple[str, ...]) -> None: ...


class StepSources(Protocol):
    """Where a step's users come from, as a launch sees it (sources/segment/steps.py for a segment; the webhook
    needs nothing)."""

    def problems(self, config: dict[str, Any]) -> list[dict[str, str]]:
        """What stops the step's source at launch (`{"field", "code", "message"}` each)."""
        ...

    def launched(self, step_id: str, config: dict[str, Any]) -> None:
        """The step is active: its source starts (a segment's step begins following it)."""
        ...
