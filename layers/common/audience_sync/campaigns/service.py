"""Campaigns' definitions and their lifecycle (contract v2 §6): draft → active (publish, which stamps
`published_at`) → stopped, and published again after a stop (a new `published_at`: interactions before it do not
trigger the campaign: the Campaign Connector's rule, contract v2 §6).

A PUT stores the definition whatever the status (an active campaign takes the new message and rules for the sends
planned after it). What a definition refers to (its audience segment, the sync step it puts users into, the
campaigns whose interactions trigger it) is checked when it is published, and when an active campaign is saved,
all at once (422 with every problem): a draft may be written before what it refers to.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from audience_sync.campaigns.exceptions import PublishInvalid
from audience_sync.campaigns.models import AudienceSyncMessage, CampaignRequest
from audience_sync.campaigns.ports import CampaignStore
from audience_sync.campaigns.triggers import CampaignStatus, InteractionTrigger, InteractionType
from audience_sync.core.catalogue import catalogue_page
from audience_sync.core.clock import Clock
from audience_sync.core.errors import Conflict, Invalid, NotFound
from audience_sync.profiles.values import format_ms
from audience_sync.segments.definitions import RESERVED_PREFIXES
from audience_sync.segments.ports import SegmentStore
from audience_sync.steps.models import valid_step_id
from audience_sync.steps.ports import StepReader
from audience_sync.steps.records import segment_step

VIEW_FIELDS = ("created_at", "updated_at", "published_at", "stopped_at")
# the interactions our own sends record: a loop of campaigns following them would run without anybody doing anything
OWN_INTERACTIONS = (InteractionType.RECEIVED_WEBHOOK, InteractionType.ENROLLED_IN_CONTROL_GROUP)


def valid_campaign_id(campaign_id: str) -> str:
    """The campaign id from a path, or a 400 (the same alphabet as steps and segments)."""
    try:
        return valid_step_id(campaign_id)
    except Invalid:
        raise Invalid("invalid_campaign_id", "campaign ids are 1-128 characters of A-Z a-z 0-9 _ . : -") from None


class CampaignService:
    def __init__(self, store: CampaignStore, segments: SegmentStore, steps: StepReader, clock: Clock):
        self.store = store
        self.segments = segments
        self.steps = steps
        self.clock = clock

    def _now(self) -> str:
        return format_ms(self.clock.now_ms())

    def put(self, campaign_id: str, request: CampaignRequest) -> dict[str, Any]:
        valid_campaign_id(campaign_id)
        if any(t.interaction.campaign_id == campaign_id for t in _interaction_triggers(request)):
            # its own interactions would trigger it again, send after send
            raise Invalid("invalid_trigger", "a campaign is not triggered by interactions with itself")
        current = self.store.get(campaign_id)
        if current is not None and current["status"] == CampaignStatus.ACTIVE:
            # an active campaign sends: what it refers to must be there now
            problems = self.problems(request) + self._loop(campaign_id, request)
            if problems:
                raise PublishInvalid(problems)
        definition = request.model_dump(mode="json", exclude_none=True)
        return view(self.store.put(campaign_id, definition, self._now()))

    def get(self, campaign_id: str) -> dict[str, Any]:
        return view(self._stored(campaign_id))

    def publish(self, campaign_id: str) -> dict[str, Any]:
        stored = self._stored(campaign_id)
        if stored["status"] == CampaignStatus.ACTIVE:
            return view(stored)  # published already: its published_at stays
        try:
            request = CampaignRequest.model_validate(stored["definition"])
        except ValidationError:  # saved under older, looser checks: the client saves it again
            message = "the stored definition no longer passes the checks: PUT it again"
            raise PublishInvalid([_problem("definition", "invalid_definition", message)]) from None
        problems = self.problems(request) + self._loop(campaign_id, request)
        if problems:
            raise PublishInvalid(problems)
        moved = self.store.set_status(
            campaign_id, CampaignStatus.ACTIVE, self._now(), (CampaignStatus.DRAFT, CampaignStatus.STOPPED)
        )
        return view(moved if moved is not None else self._stored(campaign_id))  # None: published meanwhile

    def stop(self, campaign_id: str) -> dict[str, Any]:
        stored = self._stored(campaign_id)
        if stored["status"] == CampaignStatus.STOPPED:
            return view(stored)
        moved = self.store.set_status(campaign_id, CampaignStatus.STOPPED, self._now(), (CampaignStatus.ACTIVE,))
        if moved is None:  # a draft, or stopped by another request meanwhile
            stored = self._stored(campaign_id)
            if stored["status"] != CampaignStatus.STOPPED:
                raise Conflict("campaign_not_active", f"campaign '{campaign_id}' is a draft: nothing to stop")
            moved = stored
        return view(moved)

    def summaries(self) -> list[dict[str, Any]]:
        """Every campaign, by id, without its templates (GET /v1/campaigns): a definition holds up to 350 KB, a
        list of them must fit one reply (Lambda's 6 MB)."""
        return [summary(c) for c in sorted(self.store.all(), key=lambda c: str(c["campaign_id"]))]

    def using(self, segment_id: str) -> list[str]:
        """The campaigns (drafts and active ones) whose audience is the segment: it is not deleted under them
        (segments/ports.py SegmentUsers)."""
        return [
            c["campaign_id"]
            for c in self.store.all()
            if c["status"] != CampaignStatus.STOPPED
            and (c["definition"].get("audience") or {}).get("segment_id") == segment_id
        ]

    # ---- Braze's catalogue (GET /campaigns/list, /campaigns/details) -------------------------------------------
    def braze_list(self, page: int, sort_direction: str) -> dict[str, Any]:
        """Braze's shape: 100 a page, by creation time (none is archived here)."""
        chosen = catalogue_page(self.store.all(), "campaign_id", page, sort_direction)
        return {
            "message": "success",
            "campaigns": [
                {
                    "id": c["campaign_id"],
                    "last_edited": c["updated_at"],
                    "name": c["definition"]["name"],
                    "is_api_campaign": c["definition"]["delivery"]["type"] == "api",
                    "tags": [],
                }
                for c in chosen
            ],
        }

    def braze_details(self, campaign_id: str | None) -> dict[str, Any]:
        """Braze's shape; the one message under a variation id of its own (`<campaign id>.message`)."""
        if not campaign_id:
            raise Invalid("missing_campaign_id", "campaign_id is required")
        stored = self._stored(campaign_id)
        definition = stored["definition"]
        message = dict(definition["message"])
        if message["channel"] == "webhook":  # Braze's webhook message; the body is a template: raw text
            message = {**message, "type": "raw_text"}
        return {
            "message": "success",
            "created_at": stored["created_at"],
            "updated_at": stored["updated_at"],
            "archived": False,
            "draft": stored["status"] == CampaignStatus.DRAFT,
            "enabled": stored["status"] == CampaignStatus.ACTIVE,
            "has_post_launch_draft": False,
            "name": definition["name"],
            "description": "",
            "schedule_type": "api_triggered" if definition["delivery"]["type"] == "api" else "action_based",
            "channels": [message["channel"]],
            "first_sent": None,
            "last_sent": None,
            "tags": [],
            "teams": [],
            "messages": {f"{campaign_id}.message": {**message, "name": definition["name"]}},
            "conversion_behaviors": [],
        }

    def problems(self, request: CampaignRequest) -> list[dict[str, str]]:
        """What stops a campaign from being published: what it refers to, missing or unusable."""
        problems = []
        if request.audience is not None:
            segment_id = request.audience.segment_id
            if segment_id.startswith(RESERVED_PREFIXES):  # a step's own segment or consent watch: not an audience
                message = f"segment '{segment_id}' is a sync step's own; use a segment you defined"
                problems.append(_problem("audience.segment_id", "invalid_segment_id", message))
            elif self.segments.get(segment_id) is None:
                problems.append(_problem("audience.segment_id", "segment_not_found", f"no segment '{segment_id}'"))
        if isinstance(request.message, AudienceSyncMessage):
            problems += self._step_problems(request.message.step_id)
        for trigger in _interaction_triggers(request):
            if self.store.get(trigger.interaction.campaign_id) is None:
                campaign_id = trigger.interaction.campaign_id
                message = f"no campaign '{campaign_id}' whose interactions would trigger this one"
                problems.append(_problem("delivery", "campaign_not_found", message))
        return problems

    def _loop(self, campaign_id: str, request: CampaignRequest) -> list[dict[str, str]]:
        """A campaign whose sends would trigger itself again through other campaigns, user after user for ever: each
        on the loop sends on the interactions our own sends record (received_webhook, enrolled_in_control_group)
        and lets users in again (`reeligible_after_seconds`). A loop through a once-only campaign ends by itself."""
        followers: dict[str, list[tuple[str, CampaignRequest]]] = {}
        stored = {c["campaign_id"]: c for c in self.store.all() if c["status"] == CampaignStatus.ACTIVE}  # they send
        requests = {cid: _request_of(c) for cid, c in stored.items() if cid != campaign_id}
        requests[campaign_id] = request
        for follower_id, follower in requests.items():
            if follower is None or follower.delivery.type != "action":
                continue
            if follower.delivery.reeligible_after_seconds is None:
                continue
            trigger = follower.delivery.trigger
            if isinstance(trigger, InteractionTrigger) and trigger.interaction.type in OWN_INTERACTIONS:
                followers.setdefault(trigger.interaction.campaign_id, []).append((follower_id, follower))
        seen: set[str] = set()
        pending = [campaign_id]
        while pending:
            for follower_id, _ in followers.get(pending.pop(), []):
                if follower_id == campaign_id:
                    message = "its sends would trigger it again through the campaigns that follow it, for ever"
                    return [_problem("delivery.trigger", "trigger_loop", message)]
                if follower_id not in seen:
                    seen.add(follower_id)
                    pending.append(follower_id)
        return []

    def _step_problems(self, step_id: str) -> list[dict[str, str]]:
        try:
            step = self.steps.get(step_id)
        except NotFound:
            return [_problem("message.step_id", "step_not_found", f"no sync step '{step_id}'")]
        if segment_step(step.get("config", {})) is not None:  # its users are its segment's, nobody else's
            message = f"sync step '{step_id}' takes its users from a segment, not from campaigns"
            return [_problem("message.step_id", "step_follows_a_segment", message)]
        return []

    def _stored(self, campaign_id: str) -> dict[str, Any]:
        stored = self.store.get(valid_campaign_id(campaign_id))
        if stored is None:
            raise NotFound("campaign", "campaign_not_found")
        return stored


def view(stored: dict[str, Any]) -> dict[str, Any]:
    """A campaign as the API shows it: its definition, status and the times it moved (`stopped_at` while it is
    stopped: published again, it is not)."""
    shown = {
        "campaign_id": stored["campaign_id"],
        **stored["definition"],
        "status": stored["status"],
        **{name: stored.get(name) for name in VIEW_FIELDS},
    }
    if stored["status"] != CampaignStatus.STOPPED:
        shown["stopped_at"] = None
    return shown


def summary(stored: dict[str, Any]) -> dict[str, Any]:
    """A campaign as GET /v1/campaigns lists it: its view less the message's templates (url, headers, body) and the
    trigger's property filters, the exceptions as their number."""
    shown = view(stored)
    shown["message"] = {k: v for k, v in shown["message"].items() if k in ("channel", "method", "step_id")}
    delivery = shown["delivery"] = dict(shown["delivery"])
    if "trigger" in delivery:
        delivery["trigger"] = {k: v for k, v in delivery["trigger"].items() if k != "property_filters"}
    if delivery.get("exceptions"):
        delivery["exceptions"] = len(delivery["exceptions"])
    else:
        delivery.pop("exceptions", None)
    return shown


def _request_of(stored: dict[str, Any]) -> CampaignRequest | None:
    try:
        return CampaignRequest.model_validate(stored["definition"])
    except ValidationError:  # saved under older checks: it cannot be published as it is, nor send
        return None


def _interaction_triggers(request: CampaignRequest) -> list[InteractionTrigger]:
    delivery = request.delivery
    if delivery.type != "action":
        return []
    return [t for t in (delivery.trigger, *delivery.exceptions) if isinstance(t, InteractionTrigger)]


def _problem(field: str, code: str, message: str) -> dict[str, str]:
    return {"field": field, "code": code, "message": message}
