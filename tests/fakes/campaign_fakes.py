"""The campaigns' ports in memory: the store (with the adapter's status rules), the campaign state and the waits'
scheduler."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from audience_sync.campaigns.ports import Claim, Wait
from audience_sync.campaigns.triggers import CampaignStatus


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


@dataclass
class FakeCampaignState:
    """campaigns/ports.py CampaignState in memory, with the adapter's conditions and leases (tests/integration/
    adapters/test_campaign_state.py runs the same contract against both). `now` is its clock."""

    now: Callable[[], int] = lambda: 0
    lease_ms: int = 120_000
    entries: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # (wait, (released at, by whom) once released)
    waits: dict[tuple[str, str], tuple[Wait, tuple[int, str] | None]] = field(default_factory=dict)
    exceptions: dict[tuple[str, str], int] = field(default_factory=dict)
    interactions: set[tuple[str, str, str, int]] = field(default_factory=set)
    counts: dict[str, Counter[str]] = field(default_factory=dict)

    def _count(self, campaign_id: str, *names: str) -> None:
        self.counts.setdefault(campaign_id, Counter()).update(names)

    def claim(
        self,
        campaign_id: str,
        external_id: str,
        activity_id: str,
        time_ms: int,
        reeligible_after_ms: int | None,
        holder: str,
    ) -> Claim:
        now = self.now()
        entry = self.entries.get((campaign_id, external_id))
        ok = (
            entry is None
            or (
                entry["activity_id"] == activity_id
                and not entry["done"]
                and (entry["claimed_ms"] <= now - self.lease_ms or entry["holder"] == holder)
            )
            or (
                reeligible_after_ms is not None
                and entry["done"]
                and abs(entry["time_ms"] - time_ms) >= reeligible_after_ms
                and entry["activity_id"] != activity_id
            )
        )
        if ok:
            self.entries[(campaign_id, external_id)] = {
                "activity_id": activity_id,
                "time_ms": time_ms,
                "claimed_ms": now,
                "holder": holder,
                "done": False,
            }
            return Claim.TAKEN
        busy = (
            reeligible_after_ms is not None
            and entry is not None
            and not entry["done"]
            and entry["activity_id"] != activity_id
            and entry["claimed_ms"] > now - self.lease_ms
        )
        return Claim.BUSY if busy else Claim.REFUSED

    def current_wait(self, campaign_id: str, external_id: str) -> Wait | None:
        current = self.waits.get((campaign_id, external_id))
        return current[0] if current is not None and current[1] is None else None

    def finish(self, campaign_id: str, external_id: str, activity_id: str) -> None:
        entry = self.entries.get((campaign_id, external_id))
        if entry is not None and entry["activity_id"] == activity_id:
            entry["done"] = True

    def start_wait(self, wait: Wait, activity_id: str) -> bool:
        key = (wait.campaign_id, wait.external_id)
        current = self.waits.get(key)
        entry = self.entries.get(key)
        if current is not None or entry is None or entry["activity_id"] != activity_id:
            return current is not None and current[0].wait_id == wait.wait_id
        self.waits[key] = (wait, None)
        entry["done"] = True
        self._count(wait.campaign_id, "triggered", "scheduled")
        return True

    def note_exception(self, campaign_id: str, external_id: str, time_ms: int) -> None:
        key = (campaign_id, external_id)
        self.exceptions[key] = max(time_ms, self.exceptions.get(key, time_ms))

    def last_exception(self, campaign_id: str, external_id: str) -> int | None:
        return self.exceptions.get((campaign_id, external_id))

    def cancel_wait(self, campaign_id: str, external_id: str, since_ms: int) -> Wait | None:
        current = self.waits.get((campaign_id, external_id))
        if current is None or current[1] is not None or not current[0].trigger_ms <= since_ms < current[0].due_ms:
            return None
        del self.waits[(campaign_id, external_id)]
        self._count(campaign_id, "exception_cancelled")
        return current[0]

    def release_wait(self, campaign_id: str, external_id: str, wait_id: str, holder: str) -> Wait | None:
        current = self.waits.get((campaign_id, external_id))
        if current is None or current[0].wait_id != wait_id:
            return None
        now = self.now()
        if current[1] is not None:
            released_ms, by = current[1]
            return current[0] if released_ms <= now - self.lease_ms or by == holder else None
        self.waits[(campaign_id, external_id)] = (current[0], (now, holder))
        self._count(campaign_id, "released")
        return current[0]

    def end_wait(self, wait: Wait) -> None:
        current = self.waits.get((wait.campaign_id, wait.external_id))
        if current is not None and current[0].wait_id == wait.wait_id:
            del self.waits[(wait.campaign_id, wait.external_id)]

    def first_interaction(self, external_id: str, campaign_id: str, kind: str, time_ms: int) -> bool:
        key = (external_id, campaign_id, kind, time_ms)
        if key in self.interactions:
            return False
        self.interactions.add(key)
        return True


@dataclass
class FakeWaitScheduler:
    """campaigns/ports.py WaitScheduler: the schedules, by name, and the names deleted."""

    schedules: dict[str, tuple[int, str]] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)

    def schedule(self, name: str, due_ms: int, body: str) -> None:
        self.schedules.setdefault(name, (due_ms, body))

    def cancel(self, name: str) -> None:
        self.cancelled.append(name)
        self.schedules.pop(name, None)
