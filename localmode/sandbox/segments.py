"""DMP segments: membership, the status clock and the REST / control representations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from localmode.sandbox.rules import Identity, element_error, identity, member_record

UPDATE_SETTLE_SECONDS = 2.0  # a write while READY shows UPDATING until this long after the last write
MIN_VISIBLE_AUDIENCE = 300  # audienceSize / matchedCount are only shown from this many members
# docs/integrations/linkedin.md, "Segments"
STATUSES = ("BUILDING", "READY", "UPDATING", "ARCHIVED", "EXPIRED", "FAILED", "ERROR")


def epoch_ms(seconds: float) -> int:
    return int(seconds * 1000)


@dataclass
class Segment:
    id: int
    name: str
    account: str
    type: str
    source_platform: str
    source_segment_id: str | None
    description: str | None
    destination_segment_id: str
    created: float
    last_modified: float
    input_count: int = 0
    updating_until: float = 0.0
    members: dict[Identity, dict[str, Any]] = field(default_factory=dict)
    # Set through the control API (PATCH /_sandbox/segments/{id}) to play LinkedIn's slow or rare states.
    status_override: str | None = None
    audience_size_override: int | None = None
    matched_count_override: int | None = None

    def propagated(self, now: float, delay: float) -> bool:
        return now >= self.created + delay

    def status(self, now: float, ready_after: float) -> str:
        if self.status_override is not None:
            return self.status_override
        if now < self.created + ready_after:
            return "BUILDING"
        if now < self.updating_until:
            return "UPDATING"
        return "READY"

    def _status_changed_at(self, now: float, ready_after: float) -> float:
        moments = [self.created, self.created + ready_after]
        if self.updating_until:
            moments += [self.updating_until - UPDATE_SETTLE_SECONDS, self.updating_until]
        return max(m for m in moments if m <= now)

    def apply(self, elements: list[Any], now: float, ready_after: float) -> list[dict[str, Any]]:
        """Apply a BATCH_CREATE batch; returns the per-element results in input order."""
        results: list[dict[str, Any]] = []
        for element in elements:
            error = element_error(element)
            if error:
                results.append({"status": 400, "error": {"code": "INVALID_ELEMENT", "message": error}})
                continue
            key = identity(element)
            if element["action"] == "ADD":
                self.members[key] = member_record(element)
                self.input_count += 1
            else:
                self.members.pop(key, None)
            results.append({"status": 201})
        if any(r["status"] == 201 for r in results):
            if self.status(now, ready_after) != "BUILDING":
                self.updating_until = now + UPDATE_SETTLE_SECONDS
            self.last_modified = now
        return results

    def to_rest(self, now: float, ready_after: float) -> dict[str, Any]:
        destination: dict[str, Any] = {
            "destination": "LINKEDIN",
            "status": self.status(now, ready_after),
            "destinationSegmentId": self.destination_segment_id,
            "created": epoch_ms(self.created),
            "lastModified": epoch_ms(max(self._status_changed_at(now, ready_after), self.last_modified)),
        }
        size = len(self.members)
        if size >= MIN_VISIBLE_AUDIENCE:
            destination["audienceSize"] = size
            destination["matchedCount"] = size
        if self.audience_size_override is not None:  # reported as set, even below 300
            destination["audienceSize"] = self.audience_size_override
        if self.matched_count_override is not None:
            destination["matchedCount"] = self.matched_count_override
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "account": self.account,
            "type": self.type,
            "sourcePlatform": self.source_platform,
        }
        if self.source_segment_id is not None:
            body["sourceSegmentId"] = self.source_segment_id
        if self.description is not None:
            body["description"] = self.description
        body.update(
            inputCount=self.input_count,
            created=epoch_ms(self.created),
            lastModified=epoch_ms(self.last_modified),
            destinations=[destination],
        )
        return body

    def to_control(self, now: float, ready_after: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "account": self.account,
            "type": self.type,
            "source_segment_id": self.source_segment_id,
            "status": self.status(now, ready_after),
            "member_count": len(self.members),
            "input_count": self.input_count,
            "created": self.created,
        }

    def sorted_members(self) -> list[dict[str, Any]]:
        return [self.members[key] for key in sorted(self.members, key=repr)]
