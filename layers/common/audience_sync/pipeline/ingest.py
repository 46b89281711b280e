"""Users enter a step: filter, normalise and hash, enqueue many users per message; counted once, by the batcher.

Whatever the source (the step entry webhook, a segment's entries: sources/segment/router.py), users enter through
`enter`: the step must be active; each user passes the step's entry filters (else `filtered`) and has one of its
match fields (else `not_synced`, with the reason); the others are queued for the destination in as few messages as
fit. Users leaving a step that follows a segment are queued for removal through `leave`.
Nothing is written here: the entry's counts travel with its messages and the batcher records them in the same
exactly-once transaction as the sync outcomes (ledger.py), one DynamoDB write fewer per webhook.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from audience_sync.core.clock import now_ms
from audience_sync.core.errors import Conflict
from audience_sync.core.filters import Subject, passes
from audience_sync.core.metrics import StepDelta
from audience_sync.core.users import Identified, MatchField, QueuedUser, prepare_user
from audience_sync.pipeline.chunking import message_bodies
from audience_sync.pipeline.messages import QueuedMessage
from audience_sync.pipeline.ports import MessagePublisher
from audience_sync.steps.models import EntryFilter
from audience_sync.steps.ports import StepReader
from audience_sync.steps.records import ACTIVE, segment_step, sync_target


class Entrant(Identified, Subject, Protocol):
    """A user entering a step: identifiers for the match fields, attributes for the entry filters."""


def triage(
    users: Sequence[Entrant],
    filters: list[EntryFilter],
    match_fields: frozenset[MatchField],
    last_step: bool,
    moves: Sequence[str] | None = None,
) -> tuple[list[QueuedUser], StepDelta]:
    """Who enters, who is queued, who cannot be synced and why. Pure: the hot path of ingest. `moves`: each
    user's segment move, carried in its queued form (pipeline/moves.py)."""
    queued: list[QueuedUser] = []
    delta = StepDelta()
    for i, user in enumerate(users):
        if filters and not passes(user, filters):
            delta.add("filtered")
            continue
        prepared = prepare_user(user, match_fields)
        if isinstance(prepared, str):
            delta.add("not_synced", reason=prepared)
        else:
            if moves is not None:
                prepared["o"] = moves[i]
            queued.append(prepared)
    entered = len(queued) + delta.counts["not_synced"]
    delta.add("entered", entered)
    # The journey does not wait for the destination: a user leaves the step as soon as it has entered it.
    delta.add("exited" if last_step else "proceeded", entered)
    return queued, delta


def split_entry(delta: StepDelta, queued: int, last_step: bool) -> tuple[dict[str, int], dict[str, int]]:
    """The entry's counts as (what each queued user adds, the rest): a queued user has entered and moved on; the
    rest are the users not queued (filtered, not synced and why, and their entered and moved on)."""
    moved = "exited" if last_step else "proceeded"
    rest = StepDelta.from_attributes(delta.attributes())
    rest.counts["entered"] -= queued
    rest.counts[moved] -= queued
    return {"entered": 1, moved: 1}, rest.attributes()


def chunk_base(entry_id: str | None) -> str:
    """The id of an entry's queued chunks (chunk i is `<base>.i`): the entry's own id when its source can send it
    again (a webhook with an idempotency_key), so the ledger counts each chunk once; a fresh one otherwise."""
    return entry_id if entry_id is not None else uuid.uuid4().hex


# This container's share of the ledger: the entries it queues in one second share a ledger bucket (ledger.py).
CONTAINER_ID = uuid.uuid4().hex[:12]


def renew_container_id() -> None:
    """A new id for this container: after a SnapStart restore, which every container restored from one snapshot
    would otherwise share (still correct, the ledger keeps each id once, but their buckets would grow together)."""
    global CONTAINER_ID  # noqa: PLW0603 - one id per execution environment, read by every ingest in it
    CONTAINER_ID = uuid.uuid4().hex[:12]


def ledger_bucket(entry_id: str | None, now_ms: int, container_id: str | None = None) -> str:
    """An entry that may be sent again gets a bucket per chunk (its repeat is a new message that must find the
    first); the others share this container's bucket of the second."""
    if entry_id is not None:
        return ""
    return f"time#{container_id or CONTAINER_ID}#{now_ms // 1000}"


class IngestService:
    def __init__(self, steps: StepReader, publisher: MessagePublisher, now_ms: Callable[[], int] = now_ms):
        self.steps = steps
        self.publisher = publisher
        self.now_ms = now_ms

    def enter(
        self,
        step_id: str,
        users: Sequence[Entrant],
        correlation_id: str | None,
        entry_id: str | None = None,
        moves: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Queue `users` for step `step_id`; the counts of accepted (queued), filtered and not synced users.

        `entry_id` identifies an entry its source may send again (the same id, the same users): its repeat is
        counted once. `moves`: the segment members' moves, one a user (pipeline/moves.py); the answer then also
        holds `queued`, each queued user's identifiers by its move. A step that follows a segment takes users with
        moves only (its members). Raises NotFound, Conflict (the step is not launched, or follows a segment and these
        users are not its members) and PublishFailed."""
        step = self.steps.get(step_id)
        if step.get("status") != ACTIVE:
            raise Conflict("step_not_active", f"step '{step_id}' is not launched (POST /v1/steps/{step_id}/launch)")
        config = step["config"]
        following = segment_step(config)
        if following is not None and moves is None:  # its users are its segment's members, nobody else's
            segment = following["segment_id"]
            raise Conflict("step_follows_a_segment", f"step '{step_id}' takes its users from segment '{segment}'")
        filters = [EntryFilter.model_validate(f) for f in config.get("entry_filters", [])]
        match_fields = frozenset(MatchField(f) for f in config.get("match_fields", []))
        last_step = bool(config.get("last_step"))
        queued, delta = triage(users, filters, match_fields, last_step, moves)
        per_user, rest = split_entry(delta, len(queued), last_step)
        now = self.now_ms()
        # Not validated here: with every user queued, the template itself carries nothing; its chunks do.
        template = QueuedMessage.model_construct(
            chunk_id=chunk_base(entry_id),
            ledger_bucket=ledger_bucket(entry_id, now),
            step_id=step_id,
            target=sync_target(step),
            users=[],
            entry=rest,
            correlation_id=correlation_id,
            first_enqueued_at=now,
        )
        self.publisher.send(message_bodies(template, queued, per_user), correlation_id=correlation_id)
        answer: dict[str, Any] = {
            "accepted": len(queued),
            "filtered": delta.counts["filtered"],
            "not_synced": delta.counts["not_synced"],
        }
        if moves is not None:
            answer["queued"] = {user["o"]: user for user in queued}
        return answer

    def leave(
        self, step_id: str, users: Sequence[QueuedUser], correlation_id: str | None, entry_id: str | None = None
    ) -> int:
        """Queue the removal of `users` (the identifiers they entered with) from the step's audience: users who
        left the segment the step follows, withdrew consent or were deleted (contract v2 §5). Counted as `left`,
        and what the destination takes as `removed`. Raises NotFound, Conflict and PublishFailed as `enter`."""
        if not users:
            return 0
        step = self.steps.get(step_id)
        if step.get("status") != ACTIVE:
            raise Conflict("step_not_active", f"step '{step_id}' is not launched (POST /v1/steps/{step_id}/launch)")
        now = self.now_ms()
        target = sync_target(step).model_copy(update={"action": "remove", "leaving": True})
        template = QueuedMessage.model_construct(
            chunk_id=chunk_base(entry_id),
            ledger_bucket=ledger_bucket(entry_id, now),
            step_id=step_id,
            target=target,
            users=[],
            entry={},
            correlation_id=correlation_id,
            first_enqueued_at=now,
        )
        self.publisher.send(message_bodies(template, users, {"left": 1}), correlation_id=correlation_id)
        return len(users)
