"""What campaigns need from storage and the pipeline, as typed ports. Adapters: adapters/aws/campaigns_table.py
(DynamoDB); the ingest (pipeline/ingest.py) takes users into steps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from audience_sync.campaigns.triggers import CampaignStatus
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


class Claim(StrEnum):
    TAKEN = "taken"
    REFUSED = "refused"  # entered before and not re-eligible (or this activity acted on already)
    BUSY = "busy"  # re-eligible, but the user's previous entry is still being acted on: judge this one later


@dataclass(frozen=True)
class Wait:
    """A user waiting out a campaign's delay (docs/decisions/0017): due at `due_ms` unless an exception that happened
    at or after `trigger_ms` cancels it. `wait_id` is the send's dispatch_id."""

    campaign_id: str
    external_id: str
    wait_id: str
    due_ms: int
    trigger_ms: int
    event_properties: dict[str, Any] = field(default_factory=dict)


class CampaignState(Protocol):
    """Per (campaign, user): who was triggered when, who waits; and interactions already recorded. Every change is
    conditional, so a redelivered activity changes nothing twice, and counted in the same write (the campaign's
    counters: `triggered` and `scheduled` when a wait starts, `released` when it ends, `exception_cancelled`).
    Adapter: adapters/aws/campaign_state.py."""

    def claim(
        self,
        campaign_id: str,
        external_id: str,
        activity_id: str,
        time_ms: int,
        reeligible_after_ms: int | None,
        holder: str,
    ) -> Claim:
        """Take the user's entry into the campaign for this activity: TAKEN if never entered, re-eligible (the last
        entry acted on, `reeligible_after_ms` away in time, before or after; None: never), or this same activity
        claimed it, has not
        finished, and its lease ran out or `holder` (an invocation's id) took it (a redelivery after a crash, or
        the same invocation trying again; a copy delivered to another invocation meanwhile is refused). BUSY (only
        with `reeligible_after_ms`) when another activity's entry is still being acted on, within its lease."""
        ...

    def current_wait(self, campaign_id: str, external_id: str) -> Wait | None:
        """The user's wait, unless there is none or it was released."""
        ...

    def finish(self, campaign_id: str, external_id: str, activity_id: str) -> None:
        """The claimed activity was acted on: a redelivery of it does nothing."""
        ...

    def start_wait(self, wait: Wait, activity_id: str) -> bool:
        """Record the wait unless the user waits already (counting triggered and scheduled), and finish the claim of
        `activity_id` in the same write; True if this wait is recorded (now, or by an earlier delivery)."""
        ...

    def note_exception(self, campaign_id: str, external_id: str, time_ms: int) -> None:
        """Remember the user's latest exception of the campaign (kept past the longest delay)."""
        ...

    def last_exception(self, campaign_id: str, external_id: str) -> int | None:
        """When the user's latest exception of the campaign happened, if one is remembered."""
        ...

    def cancel_wait(self, campaign_id: str, external_id: str, since_ms: int) -> Wait | None:
        """End the user's wait for an exception that happened at `since_ms`, if it started at or before then
        (counting exception_cancelled): the wait ended, or None (no wait, or a later one)."""
        ...

    def release_wait(self, campaign_id: str, external_id: str, wait_id: str, holder: str) -> Wait | None:
        """Mark the wait `wait_id` released when it is due (counting released, once): the wait, also when a redelivery
        finds it released and not yet ended once the release's lease ran out, or `holder` released it; None if an
        exception won, it ended, or a copy of the due in another invocation holds it now."""
        ...

    def end_wait(self, wait: Wait) -> None:
        """Forget a released wait once what it led to was queued (a redelivered due then finds nothing)."""
        ...

    def first_interaction(self, external_id: str, campaign_id: str, kind: str, time_ms: int) -> bool:
        """Record an interaction; False if the same (user, campaign, type, time) was recorded before."""
        ...


class WaitScheduler(Protocol):
    """One-time schedules that put a `Due` on the campaign activity queue (adapters/aws/scheduler.py)."""

    def schedule(self, name: str, due_ms: int, body: str) -> None:
        """Create it; one that exists already (a redelivery) is left as it is."""
        ...

    def cancel(self, name: str) -> None:
        """Delete it if it is still there (best effort: a schedule that fires anyway finds no wait)."""
        ...
