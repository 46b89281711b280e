"""Action-based delivery and the Campaign Connector (contract v2 §6, docs/campaigns.md, docs/decisions/0017).

What users do reaches the campaign activity queue as `Activity` messages (activities.py), published only when an
active campaign listens to it (routing.py `ActivityRouter`): custom events and purchases by the profile writer,
interactions by `POST /v1/interactions` (`InteractionService`), by the pipeline for every delivered webhook
(`received_webhook`) and by the planning for every user drawn into a control group (`enrolled_in_control_group`).
The campaign activity function hands them to `CampaignConnector.handle`, with the `Due` messages the waits'
schedules put on the same queue.

For each activity, the campaigns it matches (activities.py TriggerIndex: active, after `published_at`, in the
window, property filters):
- **exception** of a campaign the user waits in, that happened at or after what started the wait: the wait ends
  (`exception_cancelled`) and its schedule is deleted. An exception with no wait changes nothing.
- **trigger**: the user must be known (a profile with this external id) and, with an audience, in it now. Then the
  user's entry is claimed (once, unless `reeligible_after_seconds` has passed since the last one). Without a delay
  the send is planned now (delivery.py plan, the triggering event's properties as `event_properties`) into the one
  pipeline; with one, the user waits: a wait item (`triggered`, `scheduled`) and a one-time schedule at the due
  time, named after the send's dispatch_id. A user already waiting in the campaign is not entered again.
- **due**: the wait is released unless an exception ended it; the campaign, if still active, is planned for the
  user at send time (the audience checked again: a user who left it is `aborted`; the control group drawn).

Exactly once: every state change is conditional (ports.py CampaignState), so a redelivered activity does nothing
twice. A claim or a release is finished only after what it led to was queued, so a crash in between acts on it again
at the redelivery: the send may then leave twice (the same dispatch_id, which receivers can deduplicate), never zero
times. The dispatch_id is derived from the campaign and the activity, so it is the same on every redelivery.
"""

from __future__ import annotations

import contextvars
import hashlib
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from audience_sync.campaigns.activities import Activity, Due, TriggerIndex, encode, interaction, time_ms
from audience_sync.campaigns.delivery import Campaign, CampaignTriggers, Send, load, plan
from audience_sync.campaigns.exceptions import UserBusy
from audience_sync.campaigns.models import InteractionsRequest
from audience_sync.campaigns.ports import CampaignState, CampaignStore, Claim, Wait, WaitScheduler
from audience_sync.campaigns.routing import ActivityRouter
from audience_sync.campaigns.triggers import ActionDelivery, CampaignStatus
from audience_sync.core.clock import Clock
from audience_sync.core.metrics import StepDelta
from audience_sync.segments.membership import MEMBERSHIPS

logger = Logger(child=True)

INTERACTION_WRITERS = 16  # conditional puts in flight for one POST /v1/interactions (up to 1,000 of them)


def dispatch_id(campaign_id: str, external_id: str, activity_id: str) -> str:
    """One id per send, the same on every redelivery of the activity that caused it."""
    return hashlib.sha256(f"{campaign_id}\x00{external_id}\x00{activity_id}".encode()).hexdigest()[:32]


def schedule_name(wait_id: str) -> str:
    """A wait's schedule (EventBridge Scheduler names: 1-64 of [0-9A-Za-z_.-])."""
    return "wait-" + wait_id


@dataclass
class _Sends:
    campaign: Campaign
    at_send_time: bool
    sends: list[Send] = field(default_factory=list)
    claims: list[tuple[str, str]] = field(default_factory=list)  # (external id, activity id) to finish
    waits: list[Wait] = field(default_factory=list)  # released waits to end


@dataclass
class Handled:
    """What a batch of activities did (logged; counts, never users), and the waits' counts per campaign (published
    as metrics: the sends' are published by the pipeline)."""

    triggered: int = 0
    waiting: int = 0
    cancelled: int = 0
    released: int = 0
    ignored: int = 0
    waits: dict[str, StepDelta] = field(default_factory=dict)

    def count(self, campaign_id: str, *counters: str) -> None:
        delta = self.waits.setdefault(campaign_id, StepDelta())
        for counter in counters:
            delta.add(counter)

    def summary(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if isinstance(v, int)}


class CampaignConnector:
    def __init__(
        self,
        index: Callable[[], TriggerIndex],
        state: CampaignState,
        scheduler: WaitScheduler,
        campaigns: CampaignStore,
        triggers: CampaignTriggers,
        clock: Clock,
        time_scale: float = 1.0,
    ):
        """`time_scale`: local mode's TIME_SCALE, which divides re-eligibility windows as it divides waits."""
        self.time_scale = time_scale
        self.index = index
        self.state = state
        self.scheduler = scheduler
        self.campaigns = campaigns
        self.triggers = triggers  # plans and queues sends, as an API trigger's
        self.clock = clock

    def handle(
        self, messages: Sequence[Activity | Due], correlation_id: str | None = None, holder: str | None = None
    ) -> Handled:
        """`holder`: who acts (an invocation's id; its own retries of these messages are not copies)."""
        handled = Handled()
        holder = holder or uuid.uuid4().hex
        # copies of one message in a batch (at-least-once queues) act once; the state refuses copies across batches
        activities = list({(m.activity_id, m.external_id): m for m in messages if isinstance(m, Activity)}.values())
        dues = list(dict.fromkeys(m for m in messages if isinstance(m, Due)))
        index = self.index()
        matched = [(a, index.match(a)) for a in activities]
        if index.unreadable:  # skipped: the other campaigns take what they match
            logger.error("campaigns not readable: they take no activity", extra={"campaigns": sorted(index.unreadable)})
        wanted = {a.external_id for a, found in matched if found} | {d.external_id for d in dues}
        profiles = self.triggers.profiles_of(sorted(wanted)) if wanted else {}
        for round_ in _rounds([(a, found) for a, found in matched if found]):
            pending: dict[tuple[str, bool], _Sends] = {}
            for activity, found in round_:
                triggered = {campaign.campaign_id for campaign, role in found if role == "trigger"}
                for campaign, role in found:  # exceptions first: they count only against a wait already started
                    # an activity that is also the campaign's trigger ends a wait an earlier one started, not the
                    # wait it starts itself (so it is not remembered as an exception for that one)
                    remember = campaign.campaign_id not in triggered
                    if role == "exception" and self._exception(campaign, activity, remember):
                        handled.cancelled += 1
                        handled.count(campaign.campaign_id, "exception_cancelled")
                for campaign, role in found:
                    if role == "trigger":
                        self._trigger(campaign, activity, profiles.get(activity.external_id), pending, handled, holder)
            self._send_all(pending, correlation_id)
        pending = {}
        for due in dues:
            self._due(due, profiles.get(due.external_id), pending, handled, holder)
        self._send_all(pending, correlation_id)
        return handled

    def _send_all(self, pending: dict[tuple[str, bool], _Sends], correlation_id: str | None) -> None:
        for group in pending.values():
            self._send(group, correlation_id)

    # ---- a trigger ---------------------------------------------------------------------------------------------
    def _trigger(
        self,
        campaign: Campaign,
        activity: Activity,
        profile: Mapping[str, Any] | None,
        pending: dict[tuple[str, bool], _Sends],
        handled: Handled,
        holder: str,
    ) -> None:
        request = campaign.request
        delivery = request.delivery
        assert isinstance(delivery, ActionDelivery)
        if profile is None or not _in_audience(campaign, profile):  # unknown here, or not in the audience now
            handled.ignored += 1
            return
        reeligible = delivery.reeligible_after_seconds
        campaign_id, user = campaign.campaign_id, activity.external_id
        reeligible_ms = None if reeligible is None else round(reeligible * 1000 / self.time_scale)
        claim = self.state.claim(campaign_id, user, activity.activity_id, activity.time_ms, reeligible_ms, holder)
        send_id = dispatch_id(campaign_id, user, activity.activity_id)
        if claim is Claim.BUSY:
            raise UserBusy()  # the message is delivered again; by then the previous entry was acted on
        if claim is Claim.REFUSED:
            current = self.state.current_wait(campaign_id, user) if delivery.delay_seconds else None
            if current is not None and current.wait_id == send_id:
                # this activity's wait was recorded, then something failed before its schedule was: again
                self._arm(current, handled, count=False)
            handled.ignored += 1
            return
        properties = dict(activity.properties) if activity.kind != "interaction" else {}
        if not delivery.delay_seconds:
            group = pending.setdefault((campaign_id, False), _Sends(campaign, at_send_time=False))
            group.sends.append(Send(profile, send_id, event_properties=properties))
            group.claims.append((user, activity.activity_id))
            handled.triggered += 1
            return
        wait = Wait(
            campaign_id=campaign_id,
            external_id=user,
            wait_id=send_id,
            due_ms=self.clock.now_ms() + delivery.delay_seconds * 1000,
            trigger_ms=activity.time_ms,
            event_properties=properties,
        )
        if not self.state.start_wait(wait, activity.activity_id):
            handled.ignored += 1  # waiting already: Braze does not enter a user twice at once
            self.state.finish(campaign_id, user, activity.activity_id)
            return
        handled.count(campaign_id, "triggered", "scheduled")
        self._arm(wait, handled)

    def _arm(self, wait: Wait, handled: Handled, count: bool = True) -> None:
        """Schedule a recorded wait's due, unless an exception already ended it. The queue keeps no order: an
        exception that happened during this wait may have been handled before it started. Each side writes, then
        reads the other's write, so one of them always sees the other."""
        campaign_id, user = wait.campaign_id, wait.external_id
        excepted = self.state.last_exception(campaign_id, user)
        if excepted is not None and self.state.cancel_wait(campaign_id, user, excepted) is not None:
            handled.cancelled += 1
            handled.count(campaign_id, "exception_cancelled")
            return
        self.scheduler.schedule(schedule_name(wait.wait_id), wait.due_ms, encode(Due(campaign_id, user, wait.wait_id)))
        handled.waiting += int(count)

    def _exception(self, campaign: Campaign, activity: Activity, remember: bool = True) -> bool:
        if remember:
            self.state.note_exception(campaign.campaign_id, activity.external_id, activity.time_ms)
        wait = self.state.cancel_wait(campaign.campaign_id, activity.external_id, activity.time_ms)
        if wait is None:
            return False
        self.scheduler.cancel(schedule_name(wait.wait_id))
        return True

    # ---- a wait that ended ---------------------------------------------------------------------------------------
    def _due(
        self,
        due: Due,
        profile: Mapping[str, Any] | None,
        pending: dict[tuple[str, bool], _Sends],
        handled: Handled,
        holder: str,
    ) -> None:
        wait = self.state.release_wait(due.campaign_id, due.external_id, due.wait_id, holder)
        if wait is None:  # an exception ended it first, or this is a late copy of the schedule's message
            return
        handled.released += 1
        handled.count(due.campaign_id, "released")
        stored = self.campaigns.get(due.campaign_id)
        if stored is None or not _active_since(stored, wait) or profile is None:
            # stopped (or deleted) while the user waited, even if published again since, or the user was deleted:
            # nothing is sent
            self.state.end_wait(wait)
            return
        campaign = load(stored)
        group = pending.setdefault((campaign.campaign_id, True), _Sends(campaign, at_send_time=True))
        group.sends.append(Send(profile, wait.wait_id, event_properties=wait.event_properties))
        group.waits.append(wait)

    def _send(self, group: _Sends, correlation_id: str | None) -> None:
        campaign = group.campaign
        for send in group.sends:
            # Each send is an entry of its own, its id from the send's: queued again (a redelivery after a crash, or
            # a failed batch's messages tried one by one), it is the same entry, which the ledger counts once and
            # the batcher does not send again.
            result = plan(campaign, [send], at_send_time=group.at_send_time)
            entry_id = hashlib.sha256(f"{campaign.campaign_id}\x00{send.dispatch_id}".encode()).hexdigest()[:32]
            self.triggers.deliver(campaign, result, correlation_id, entry_id=entry_id)
        for user, activity_id in group.claims:
            self.state.finish(group.campaign.campaign_id, user, activity_id)
        for wait in group.waits:
            self.state.end_wait(wait)


def _active_since(stored: Mapping[str, Any], wait: Wait) -> bool:
    """Active, and not published again since the user's wait started (a stop in between dropped the wait)."""
    published = stored.get("published_at")
    return stored["status"] == CampaignStatus.ACTIVE and not (published and time_ms(str(published)) > wait.trigger_ms)


def _rounds(matched: list[tuple[Activity, list[Any]]]) -> list[list[tuple[Activity, list[Any]]]]:
    """The activities in rounds, each user's in the order they happened, one a user a round: a user's next trigger
    is judged (re-eligibility, a wait) once the one before it was acted on."""
    rounds: list[list[tuple[Activity, list[Any]]]] = []
    seen: dict[str, int] = {}
    for pair in sorted(matched, key=lambda pair: pair[0].time_ms):
        user = pair[0].external_id
        n = seen.get(user, 0)
        seen[user] = n + 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(pair)
    return rounds


def _in_audience(campaign: Campaign, profile: Mapping[str, Any]) -> bool:
    audience = campaign.request.audience
    return audience is None or audience.segment_id in profile.get(MEMBERSHIPS, ())


class InteractionService:
    """`POST /v1/interactions`: interactions from channels we do not send ourselves. Each is recorded once by
    (user, campaign, type, time); one naming an unknown campaign or user, or a repeat, is ignored."""

    def __init__(
        self,
        campaigns: CampaignStore,
        triggers: CampaignTriggers,
        state: CampaignState,
        router: ActivityRouter,
        clock: Clock,
    ):
        self.campaigns = campaigns
        self.triggers = triggers
        self.state = state
        self.router = router
        self.clock = clock

    def record(self, request: InteractionsRequest, correlation_id: str | None) -> dict[str, Any]:
        now = self.clock.now_ms()
        records = request.interactions
        known_campaigns = {c for c in {r.campaign_id for r in records} if self.campaigns.get(c) is not None}
        users = self.triggers.profiles_of(sorted({r.external_id for r in records}))
        # (the time as posted, which makes a repeat the same interaction; the activity, its time taken as now if
        # it is in the future)
        posted = [
            (r.posted_ms(now), _posted(r.external_id, r.campaign_id, r.type, r.posted_ms(now), r.time_ms(now)))
            for r in records
            if r.campaign_id in known_campaigns and r.external_id in users
        ]
        # Published before they are recorded: a failure to publish (503) leaves nothing recorded, so the client's
        # retry is accepted. A repeat is published too; the connector takes an activity id once.
        self.router.publish([activity for _, activity in posted], correlation_id)

        def first(item: tuple[int, Activity]) -> bool:
            posted_ms, activity = item
            assert activity.campaign_id is not None
            return self.state.first_interaction(activity.external_id, activity.campaign_id, activity.name, posted_ms)

        accepted = sum(_each(first, posted))
        return {"message": "success", "accepted": accepted, "ignored": len(records) - accepted}


def _posted(external_id: str, campaign_id: str, kind: str, posted_ms: int, time_ms: int) -> Activity:
    """A posted interaction, its id derived from what makes it the same interaction (its time as posted)."""
    key = f"{external_id}\x00{campaign_id}\x00{kind}\x00{posted_ms}"
    return interaction(external_id, campaign_id, kind, time_ms, "i:" + hashlib.sha256(key.encode()).hexdigest()[:32])


def _each(work: Callable[[Any], bool], items: Iterable[Any]) -> list[bool]:
    items = list(items)
    if len(items) < 2:
        return [work(item) for item in items]
    with ThreadPoolExecutor(min(INTERACTION_WRITERS, len(items)), thread_name_prefix="interactions") as pool:
        # each in a copy of the caller's context: local mode keeps the running function's environment there
        return list(pool.map(lambda item: contextvars.copy_context().run(work, item), items))
