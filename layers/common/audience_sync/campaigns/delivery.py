"""Sending a campaign (contract v2 §6): the users a trigger names become sends, planned here and delivered by the one
pipeline of rate-limited deliveries.

Planning a send, user by user (`plan`, pure):
1. the audience: a campaign with an audience segment sends only to its members (the memberships the profile holds,
   segments/membership.py), read when the send is planned. An API trigger's send is planned when it is asked for;
   a delayed send will be planned when its delay ends, so the audience is checked at send time. A user outside it
   is not triggered.
2. triggered; then the control group: `control_group_percent` of the campaign's users, drawn from a hash of the
   campaign and the user, so a user in it stays in it. Counted `control`; nothing is sent.
3. the message:
   - webhook: rendered for the user (rendering.py) with the send's dispatch_id. `abort_message` aborts the send
     (`aborted`). A template that fails on this user's values, or a rendered webhook over MAX_RENDERED_BYTES, fails
     it (`failed`: `template_error`, `webhook_too_large`). The rest are queued on the sync queue for the webhook
     destination (destinations/webhook/). The campaign is the target's connection, so the rate bucket is the
     campaign's; the batcher, the ledger and the Step Functions retry do for them what they do for LinkedIn's users,
     with Braze's retry rules.
   - audience_sync: the users enter the step through the ingest (pipeline/ingest.py), as a step entry webhook's
     users do; they count as sent, and as delivered once the step takes them (the step's own metrics say what the
     destination did with them).

Counting: a campaign's counters are an item of the metrics table (core/metrics.py, campaign_counters_id), written
by the batcher in the ledger's exactly-once transaction. The planning's counts travel on the queued messages, as a
step entry's do (pipeline/ingest.py); the batcher adds `sent` (first attempts), `synced` (delivered) and `errored`
(failed, with reasons).

Crash semantics: a trigger answers after its messages are queued. A failure to queue (503) may leave some queued.
An API trigger sends whenever asked (Braze's rule), so the client's retry sends those again, under a new dispatch_id.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from aws_lambda_powertools import Logger

from audience_sync.campaigns.models import AudienceSyncMessage, CampaignRequest, TriggerRequest
from audience_sync.campaigns.ports import CampaignStore, StepEntry
from audience_sync.campaigns.rendering import CompiledWebhook, TooLarge, compile_webhook, variables
from audience_sync.campaigns.templates import Aborted, TemplateError
from audience_sync.campaigns.triggers import CampaignStatus
from audience_sync.core.clock import Clock
from audience_sync.core.errors import Conflict, NotFound
from audience_sync.core.metrics import StepDelta, campaign_counters_id
from audience_sync.core.users import QueuedUser
from audience_sync.destinations.base import SyncTarget
from audience_sync.pipeline.chunking import message_bodies
from audience_sync.pipeline.ingest import chunk_base, ledger_bucket
from audience_sync.pipeline.messages import QueuedMessage
from audience_sync.pipeline.ports import MessagePublisher
from audience_sync.profiles.document import PROFILE, home_pk
from audience_sync.profiles.entrants import from_profile
from audience_sync.profiles.ports import ProfileStore
from audience_sync.segments.membership import MEMBERSHIPS

logger = Logger(child=True)

WEBHOOK = "webhook"  # the destination's name (destinations/registry.py)
_CACHED = 64  # campaigns kept checked and compiled per container


@dataclass(frozen=True)
class Campaign:
    """A stored campaign as sends need it: checked, its webhook compiled."""

    campaign_id: str
    status: str
    request: CampaignRequest
    webhook: CompiledWebhook | None

    @property
    def target(self) -> SyncTarget:
        """Where its webhooks go: the webhook destination, the campaign as the connection (its own rate bucket)."""
        return SyncTarget(
            destination=WEBHOOK,
            connection_id=self.campaign_id,
            ad_account_id="",
            audience_id=self.campaign_id,
            action="send",
            requests_per_minute=self.request.rate_limit_per_minute,
        )


def load(stored: Mapping[str, Any]) -> Campaign:
    """The stored campaign checked and compiled, once per definition in a container: a trigger renders its users
    with one compilation. Keyed by the definition itself, not its `updated_at`: two saves within a millisecond must
    not share one."""
    definition = json.dumps(stored["definition"], sort_keys=True, separators=(",", ":"))
    request, webhook = _compiled(str(stored["campaign_id"]), definition)
    return Campaign(str(stored["campaign_id"]), str(stored["status"]), request, webhook)


@lru_cache(maxsize=_CACHED)  # thread-safe: local mode runs every function in one process
def _compiled(campaign_id: str, definition: str) -> tuple[CampaignRequest, CompiledWebhook | None]:
    request = CampaignRequest.model_validate_json(definition)
    webhook = compile_webhook(request.message) if request.message.channel == "webhook" else None
    return request, webhook


def in_control_group(campaign_id: str, braze_id: str, percent: int) -> bool:
    """Whether the user is in the campaign's control group: a stable draw, `percent` of users in 100."""
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"{campaign_id}\x00{braze_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < percent


@dataclass(frozen=True, slots=True)
class Send:
    """One user the campaign is to be sent to, and what its templates may read besides the profile."""

    profile: Mapping[str, Any]  # the stored document (profiles/document.py)
    dispatch_id: str
    trigger_properties: Mapping[str, Any] = field(default_factory=dict)
    event_properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Plan:
    queued: list[QueuedUser] = field(default_factory=list)  # webhooks to send, one a user
    entrants: list[Mapping[str, Any]] = field(default_factory=list)  # profiles entering the campaign's step
    counts: StepDelta = field(default_factory=StepDelta)  # of the users not queued: triggered, control, aborted, ...
    not_in_audience: int = 0
    controlled: list[Send] = field(default_factory=list)  # the sends of users in the control group
    queued_counts: dict[str, int] = field(default_factory=lambda: {"triggered": 1})  # what each queued user counts


def plan(campaign: Campaign, sends: Iterable[Send], at_send_time: bool = False) -> Plan:
    """What each send becomes (module docstring). Pure: the hot path of campaigns (bench row "campaign planning").
    `at_send_time`: the users were triggered (and counted) when their wait started; one no longer in the audience
    now is `aborted` (contract v2 §6)."""
    request = campaign.request
    segment_id = request.audience.segment_id if request.audience else None
    result = Plan(queued_counts={} if at_send_time else {"triggered": 1})
    counts = result.counts
    triggered = 0 if at_send_time else 1
    for send in sends:
        profile = send.profile
        if segment_id is not None and segment_id not in profile.get(MEMBERSHIPS, ()):
            result.not_in_audience += 1
            counts.add("aborted", 1 - triggered)
            continue
        if in_control_group(campaign.campaign_id, str(profile["braze_id"]), request.control_group_percent):
            counts.add("triggered", triggered)
            counts.add("control")
            result.controlled.append(send)
            continue
        if campaign.webhook is None:
            counts.add("triggered", triggered)
            result.entrants.append(profile)
            continue
        values = variables(
            profile, campaign.campaign_id, send.dispatch_id, send.trigger_properties, send.event_properties
        )
        try:
            rendered = campaign.webhook.render(values)
        except Aborted:
            counts.add("triggered", triggered)
            counts.add("aborted")
            continue
        except (TemplateError, TooLarge) as error:
            counts.add("triggered", triggered)
            counts.add("errored", reason="webhook_too_large" if isinstance(error, TooLarge) else "template_error")
            continue
        user_id = str(profile.get("external_id") or profile["braze_id"])
        result.queued.append({"x": user_id, "w": rendered, "d": send.dispatch_id})
    return result


def _new_id() -> str:
    return uuid.uuid4().hex


class CampaignTriggers:
    """API-triggered delivery (`POST /v1/campaigns/{id}/trigger`)."""

    def __init__(
        self,
        campaigns: CampaignStore,
        profiles: ProfileStore,
        publisher: MessagePublisher,
        steps: StepEntry,
        clock: Clock,
        new_id: Callable[[], str] = _new_id,
        enrolled: Callable[[Campaign, Sequence[Send]], None] | None = None,
    ):
        """`enrolled`: told the sends of users drawn into a control group, after their counts are queued (each
        records the interaction `enrolled_in_control_group`: campaigns/connector.py)."""
        self.campaigns = campaigns
        self.profiles = profiles
        self.publisher = publisher
        self.steps = steps
        self.clock = clock
        self.new_id = new_id
        self.enrolled = enrolled

    def trigger(self, campaign_id: str, request: TriggerRequest, correlation_id: str | None) -> dict[str, Any]:
        """Send an API campaign to its recipients now; what became of them. Raises NotFound, Conflict (a draft or
        stopped campaign, one sent by its triggers, a step not launched) and PublishFailed."""
        stored = self.campaigns.get(campaign_id)
        if stored is None:
            raise NotFound("campaign", "campaign_not_found")
        campaign = load(stored)
        if campaign.request.delivery.type != "api":
            raise Conflict("not_api_triggered", f"campaign '{campaign_id}' is sent by its triggers, not by this API")
        if campaign.status != CampaignStatus.ACTIVE:
            raise Conflict("campaign_not_active", f"campaign '{campaign_id}' is {campaign.status}: publish it first")
        profiles = self.profiles_of([r.external_id for r in request.recipients])
        dispatch_id = self.new_id()
        sends = [
            Send(profiles[r.external_id], dispatch_id, r.trigger_properties)
            for r in request.recipients
            if r.external_id in profiles
        ]
        result = plan(campaign, sends)
        queued = self.deliver(campaign, result, correlation_id)
        counts = result.counts.counts
        return {
            "message": "success",
            "dispatch_id": dispatch_id,
            "queued": queued,
            "control": counts["control"],
            "aborted": counts["aborted"],
            "failed": counts["errored"],
            "not_in_audience": result.not_in_audience,
            "unknown_users": len(request.recipients) - len(sends),
        }

    def deliver(self, campaign: Campaign, result: Plan, correlation_id: str | None, entry_id: str | None = None) -> int:
        """Queue a plan's sends, and its counts with them (counted once, by the batcher; `entry_id`: the same for the
        same sends queued again, so the ledger counts them once); the users queued: webhooks,
        or users who entered the step (a user its entry filters keep out is failed, not sent)."""
        counts = result.counts
        message = campaign.request.message
        queued = len(result.queued)
        if result.entrants and isinstance(message, AudienceSyncMessage):
            entered = self.steps.enter(message.step_id, [from_profile(p) for p in result.entrants], correlation_id)
            queued = entered["accepted"] + entered["not_synced"]  # in the step: its metrics say what LinkedIn did
            counts.add("sent", queued)
            counts.add("synced", queued)
            counts.add("errored", entered["filtered"], reason="step_entry_filtered")
        if result.queued or counts:
            self._queue(campaign, result, correlation_id, entry_id)
        if result.controlled and self.enrolled is not None:
            try:
                self.enrolled(campaign, result.controlled)
            except Exception:  # the sends are queued: the trigger must not fail (and be sent again) for this
                logger.exception("control group interactions not recorded", extra={"users": len(result.controlled)})
        return queued

    def _queue(self, campaign: Campaign, result: Plan, correlation_id: str | None, entry_id: str | None) -> None:
        counts = result.counts
        now = self.clock.now_ms()
        template = QueuedMessage.model_construct(
            chunk_id=chunk_base(entry_id),
            ledger_bucket=ledger_bucket(entry_id, now),
            step_id=campaign_counters_id(campaign.campaign_id),
            target=campaign.target,
            users=[],
            entry=counts.attributes(),
            correlation_id=correlation_id,
            first_enqueued_at=now,
        )
        bodies = message_bodies(template, result.queued, result.queued_counts)
        self.publisher.send(bodies, correlation_id=correlation_id)

    def profiles_of(self, external_ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        """The identified profiles of these external ids (their key is `u#x:<external id>`)."""
        homes = {home_pk("x:" + external_id): external_id for external_id in external_ids}
        found = self.profiles.get([(home, PROFILE) for home in homes])
        return {homes[key[0]]: item.doc for key, item in found.items() if "braze_id" in item.doc}


CAMPAIGN_LEVELS = ("scheduled",)  # users waiting at a moment; the other metrics count what happened


def campaign_metrics(item: Mapping[str, Any], status: str = CampaignStatus.ACTIVE) -> dict[str, int]:
    """Contract v2 §6's metrics from a campaign's counters item. `scheduled` is the users waiting out a delay now:
    waits started, less those released when due and those an exception cancelled (connector.py); none while the
    campaign is stopped (its waits send nothing: they are dropped when due)."""

    def count(name: str) -> int:
        return int(item.get(name, 0))

    return {
        "triggered": count("triggered"),
        "scheduled": 0
        if status == CampaignStatus.STOPPED
        else max(0, count("scheduled") - count("released") - count("exception_cancelled")),
        "sent": count("sent"),
        "delivered": count("synced"),
        "failed": count("errored"),
        "aborted": count("aborted"),
        "control": count("control"),
        "exception_cancelled": count("exception_cancelled"),
    }
