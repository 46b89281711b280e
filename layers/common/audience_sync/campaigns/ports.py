"""What campaigns need from storage and the pipeline, as typed ports. Adapters: adapters/aws/campaigns_table.py
(DynamoDB); the ingest (pipeline/ingest.py) takes users into steps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from audience_sync.campaigns.models import CampaignStatus
from audience_sync.pipeline.ingest import Entrant


class CampaignStore(Protocol):
    def put(self, campaign_id: str, definition: dict[str, Any], now: str) -> dict[str, Any]:
        """Create or replace a campaign's definition; a new one is a draft, an existing one keeps its status, its
        `created_at` and `published_at`. The stored item."""
        ...

    def get(self, campaign_id: str) -> dict[str, Any] | None: ...

    def all(self) -> list[dict[str, Any]]:
        """Every stored campaign (Braze's catalogue lists them; a few thousand at most)."""
        ...

    def set_status(
        self, campaign_id: str, status: CampaignStatus, now: str, allowed_from: tuple[CampaignStatus, ...]
    ) -> dict[str, Any] | None:
        """Move a campaign to `status` if it is in one of `allowed_from` (publishing stamps `published_at`, stopping
        `stopped_at`); the stored item, or None if it was not in one of them (or is not there)."""
        ...


class StepEntry(Protocol):
    """Users entering a sync step (pipeline/ingest.py IngestService): the audience_sync message."""

    def enter(self, step_id: str, users: Sequence[Entrant], correlation_id: str | None) -> dict[str, Any]:
        """The counts of accepted (queued), filtered and not synced users. Raises NotFound, Conflict (the step is not
        launched) and PublishFailed."""
        ...
