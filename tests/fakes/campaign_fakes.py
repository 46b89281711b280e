"""The campaigns' store (campaigns/ports.py CampaignStore) in memory, with the adapter's status rules."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from audience_sync.campaigns.models import CampaignStatus


@dataclass
class FakeCampaignStore:
    items: dict[str, dict[str, Any]] = field(default_factory=dict)

    def put(self, campaign_id: str, definition: dict[str, Any], now: str) -> dict[str, Any]:
        item = self.items.setdefault(
            campaign_id, {"campaign_id": campaign_id, "created_at": now, "status": CampaignStatus.DRAFT.value}
        )
        item.update(definition=copy.deepcopy(definition), updated_at=now)
        return copy.deepcopy(item)

    def get(self, campaign_id: str) -> dict[str, Any] | None:
        item = self.items.get(campaign_id)
        return copy.deepcopy(item) if item is not None else None

    def all(self) -> list[dict[str, Any]]:
        return [copy.deepcopy(item) for item in self.items.values()]

    def set_status(
        self, campaign_id: str, status: CampaignStatus, now: str, allowed_from: tuple[CampaignStatus, ...]
    ) -> dict[str, Any] | None:
        item = self.items.get(campaign_id)
        if item is None or item["status"] not in {s.value for s in allowed_from}:
            return None
        item.update(status=status.value, updated_at=now)
        stamp = {CampaignStatus.ACTIVE: "published_at", CampaignStatus.STOPPED: "stopped_at"}.get(status)
        if stamp:
            item[stamp] = now
        return copy.deepcopy(item)
