"""The user routes of the Braze-compatible API, behind the HTTP edge: plan a request, queue it, say what Braze says.

Writes are planned (checked, split into operations), queued on the profile queue and answered at once, as Braze
answers "queued, not applied"; profiles/writer.py applies them. A request with a fatal error queues nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from audience_sync.core.clock import Clock
from audience_sync.core.errors import Invalid
from audience_sync.profiles import requests, track
from audience_sync.profiles.operations import Queued, messages
from audience_sync.profiles.ports import ProfileQueue
from audience_sync.profiles.reader import ProfileReader, fields_to_export

# Braze's message when every /users/track object was refused (captured in clients' tests).
NOTHING_VALID = "Valid data must be provided in the 'attributes', 'events', or 'purchases' fields."


@dataclass(frozen=True)
class ProfileSettings:
    groups: int = 16  # FIFO message groups (ProfileWriteGroups): the writer's parallelism
    max_array: int = 25  # values an array attribute keeps (ArrayMaxLength), Braze's default
    # Writes one profile writer keeps in flight within a stage: about 5-10 ms each in DynamoDB, and a batch of 10
    # messages may hold a few hundred profiles.
    write_concurrency: int = 8


class ProfileService:
    def __init__(self, queue: ProfileQueue, reader: ProfileReader, settings: ProfileSettings, clock: Clock):
        self.queue = queue
        self.reader = reader
        self.settings = settings
        self.clock = clock

    def queue_operations(self, operations: Sequence[Queued], request_id: str) -> None:
        """Queue planned operations (of this API, or of the cohort import) for the profile writer, in order."""
        if operations:
            self.queue.send(messages(operations, self.settings.groups), request_id)

    def track(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        now = dt.datetime.fromtimestamp(self.clock.now_ms() / 1000, dt.UTC)
        plan = track.plan(body, self.settings.max_array, now)
        if not plan.operations:
            raise Invalid("nothing_valid", NOTHING_VALID, plan.errors)
        self.queue_operations(plan.operations, request_id)
        return plan.reply()

    def new_aliases(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        queued = requests.plan_aliases(body)
        self.queue_operations(queued, request_id)
        return {"message": "success", "aliases_processed": len(queued)}

    def identify(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        self.queue_operations(requests.plan_identify(body), request_id)
        reply: dict[str, Any] = {"message": "success"}
        for array, count in (
            ("aliases_to_identify", "aliases_processed"),
            ("emails_to_identify", "emails_processed"),
            ("phone_numbers_to_identify", "phone_numbers_processed"),
        ):
            if body.get(array):
                reply[count] = len(body[array])
        return reply

    def merge(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        self.queue_operations(requests.plan_merges(body), request_id)
        return {"message": "success"}

    def delete(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        queued = requests.plan_deletes(body)
        self.queue_operations(queued, request_id)
        return {"message": "success", "deleted": len(queued)}

    def export(self, body: dict[str, Any]) -> dict[str, Any]:
        fields = fields_to_export(body)
        return self.reader.export(requests.export_identities(body), fields)
