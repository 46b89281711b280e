"""What users do that action-based campaigns listen to (contract v2 §6, the Campaign Connector: docs/campaigns.md),
and which active campaigns it triggers or cancels. Pure: no I/O.

An `Activity` is a custom event or a purchase (written by the profile writer from `/users/track`), or an interaction
with a campaign (`POST /v1/interactions`, a delivered webhook's `received_webhook`, a control group's
`enrolled_in_control_group`). Its `activity_id` is the same on every redelivery of what caused it, so the campaign
state (ports.py CampaignState) takes it once.

The `TriggerIndex` is built from the stored campaigns: for each active action-based campaign, the activities that
trigger it and those that are its exceptions. The rules it applies, all of the Campaign Connector's and the contract's:
- only an **active** campaign is triggered, and an interaction counts only if the campaign interacted with was active
  when it happened (published at or before it, and active still);
- only what happened **after the campaign's `published_at`** triggers it (an interaction before a follow-up was
  published does not, nor does one before it was published again after a stop);
- within its window: at or after `start_at`, before `end_at`;
- a custom event's `property_filters` hold on the event's properties (the segment filter language's attribute
  leaves, all of them: segments/filters.py);
- a purchase trigger names the product, or `"*"` for any.
Exceptions follow the same matching but are judged against the user's wait (connector.py): one counts only while
the user waits, and only if it happened at or after what started the wait.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from audience_sync.campaigns.triggers import (
    ActionDelivery,
    CampaignStatus,
    CustomEventTrigger,
    InteractionTrigger,
    PurchaseTrigger,
)
from audience_sync.profiles.writer import TrackedActivity
from audience_sync.segments.filters import Filter, ProfileView, parse

if TYPE_CHECKING:
    from audience_sync.campaigns.delivery import Campaign

Kind = Literal["custom_event", "purchase", "interaction"]
Role = Literal["trigger", "exception"]
ANY_PRODUCT = "*"
# A stored campaign as the connector sends it (delivery.load: checked, its templates compiled).
Load = Callable[[Mapping[str, Any]], "Campaign"]
_CACHED = 256  # parsed deliveries kept per container (a definition's delivery is small)


@dataclass(frozen=True)
class Activity:
    """One thing a user did. `name`: the event's name, the product id, or the interaction's type; `campaign_id`: the
    campaign interacted with (interactions only)."""

    kind: Kind
    external_id: str
    name: str
    time_ms: int
    activity_id: str
    properties: Mapping[str, Any] = field(default_factory=dict)
    campaign_id: str | None = None

    def encode(self) -> dict[str, Any]:
        encoded: dict[str, Any] = {
            "k": self.kind,
            "x": self.external_id,
            "n": self.name,
            "t": self.time_ms,
            "i": self.activity_id,
        }
        if self.properties:
            encoded["p"] = dict(self.properties)
        if self.campaign_id is not None:
            encoded["c"] = self.campaign_id
        return encoded

    @staticmethod
    def decode(raw: Mapping[str, Any]) -> Activity:
        return Activity(
            kind=raw["k"],
            external_id=str(raw["x"]),
            name=str(raw["n"]),
            time_ms=int(raw["t"]),
            activity_id=str(raw["i"]),
            properties=raw.get("p") or {},
            campaign_id=raw.get("c"),
        )


def tracked(activity: TrackedActivity) -> Activity:
    """An event or a purchase the profile writer applied (profiles/writer.py)."""
    kind: Kind = "custom_event" if activity.kind == "event" else "purchase"
    return Activity(
        kind, activity.external_id, activity.name, time_ms(activity.time), activity.activity_id, activity.properties
    )


def interaction(external_id: str, campaign_id: str, kind: str, time_ms: int, activity_id: str) -> Activity:
    return Activity("interaction", external_id, kind, time_ms, activity_id, campaign_id=campaign_id)


@dataclass(frozen=True)
class Due:
    """A wait that ended: its schedule fired (connector.py sends the campaign unless an exception won)."""

    campaign_id: str
    external_id: str
    wait_id: str

    def encode(self) -> dict[str, Any]:
        return {"due": {"c": self.campaign_id, "x": self.external_id, "w": self.wait_id}}


def decode(body: str) -> Activity | Due:
    """A message of the campaign activity queue (ValueError, KeyError or TypeError when it is not one)."""
    raw = json.loads(body)
    if "due" in raw:
        due = raw["due"]
        return Due(str(due["c"]), str(due["x"]), str(due["w"]))
    return Activity.decode(raw["activity"])


def encode(message: Activity | Due) -> str:
    payload = message.encode() if isinstance(message, Due) else {"activity": message.encode()}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class _Listener:
    campaign_id: str
    role: Role
    filter: Filter | None  # a custom event's property filters, all of them
    published_ms: int
    start_ms: int | None
    end_ms: int | None

    def accepts(self, activity: Activity) -> bool:
        if activity.time_ms < self.published_ms:
            return False
        if self.role == "trigger":  # the window bounds when a user may be triggered, not when a wait is cut
            if self.start_ms is not None and activity.time_ms < self.start_ms:
                return False
            if self.end_ms is not None and activity.time_ms >= self.end_ms:
                return False
        if self.filter is not None:
            properties = activity.properties
            view = ProfileView(fields=properties, custom=properties)
            return self.filter.matches(view, dt.datetime.fromtimestamp(activity.time_ms / 1000, dt.UTC))
        return True


def _key(kind: Kind, name: str, campaign_id: str | None = None) -> tuple[str, str]:
    return (kind, f"{campaign_id}\x00{name}" if kind == "interaction" else name)


def _ms(value: dt.datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def time_ms(text: str) -> int:
    """Epoch milliseconds of a stored time (profiles/values.py format_time: ISO 8601 with its offset)."""
    return int(dt.datetime.fromisoformat(text).timestamp() * 1000)


class TriggerIndex:
    """The active action-based campaigns by what they listen to. Built from their deliveries alone, so routing
    (`listens`: the profile writer, the batcher's and the retry's `received_webhook`) compiles no template and needs
    no Liquid. `match` gives the campaigns themselves, loaded by `load` (delivery.load) once each: the connector's.

    A stored campaign that cannot be read (a definition the code of this version refuses: saved by another) listens
    to nothing and is named in `unreadable`, for the caller to report: one campaign never stops what the others
    take, nor the profile writes whose activities are routed here.
    """

    def __init__(self, stored: Iterable[Mapping[str, Any]], load: Load | None = None):
        self.active: dict[str, int] = {}  # active campaign id -> when it was published (ms)
        self._listeners: dict[tuple[str, str], list[_Listener]] = {}
        self._stored: dict[str, Mapping[str, Any]] = {}
        self._load = load
        self._loaded: dict[str, Campaign] = {}
        self.unreadable: set[str] = set()
        for item in stored:
            if item.get("status") != CampaignStatus.ACTIVE:
                continue
            campaign_id = str(item["campaign_id"])
            published_at = str(item.get("published_at") or "")
            self.active[campaign_id] = time_ms(published_at) if published_at else 0
            delivery = item["definition"].get("delivery") or {}
            if delivery.get("type") != "action":
                continue
            try:
                action = _action_delivery(json.dumps(delivery, sort_keys=True))
            except ValueError:  # pydantic's ValidationError is one
                self.unreadable.add(campaign_id)
                continue
            self._stored[campaign_id] = item
            self._add(campaign_id, action, published_at)

    def _add(self, campaign_id: str, delivery: ActionDelivery, published_at: str) -> None:
        published_ms = time_ms(published_at) if published_at else 0
        roles: list[tuple[Role, Any]] = [("trigger", delivery.trigger)]
        roles += [("exception", t) for t in delivery.exceptions]
        for role, trigger in roles:
            filter_: Filter | None = None
            if isinstance(trigger, CustomEventTrigger):
                key = _key("custom_event", trigger.custom_event)
                if trigger.property_filters:
                    filter_ = parse({"all": [f.leaf() for f in trigger.property_filters]}, allow_keys=True)
            elif isinstance(trigger, PurchaseTrigger):
                key = _key("purchase", trigger.purchase)
            else:
                assert isinstance(trigger, InteractionTrigger)
                source = trigger.interaction
                key = _key("interaction", source.type.value, source.campaign_id)
            listener = _Listener(campaign_id, role, filter_, published_ms, _ms(delivery.start_at), _ms(delivery.end_at))
            self._listeners.setdefault(key, []).append(listener)

    def _candidates(self, activity: Activity) -> list[_Listener]:
        found = list(self._listeners.get(_key(activity.kind, activity.name, activity.campaign_id), ()))
        if activity.kind == "purchase" and activity.name != ANY_PRODUCT:  # a product named "*" is found once
            found += self._listeners.get(_key("purchase", ANY_PRODUCT), ())
        return found

    def _counts(self, activity: Activity) -> bool:
        """An interaction counts only with a campaign active when it happened (published at or before it, and not
        stopped since); events and purchases always do."""
        if activity.kind != "interaction":
            return True
        published_ms = self.active.get(activity.campaign_id or "")
        return published_ms is not None and activity.time_ms >= published_ms

    def listens(self, activity: Activity) -> bool:
        """Whether any active campaign may take this activity (what is published for the connector)."""
        return self._counts(activity) and bool(self._candidates(activity))

    def match(self, activity: Activity) -> list[tuple[Campaign, Role]]:
        """The campaigns this activity triggers or is an exception of, under the rules of the module's docstring."""
        if self._load is None:
            raise RuntimeError("this index only routes activities: it was built without `load`")
        if not self._counts(activity):
            return []
        matched: list[tuple[Campaign, Role]] = []
        for listener in self._candidates(activity):
            if listener.accepts(activity):
                campaign = self._campaign(listener.campaign_id)
                if campaign is not None:
                    matched.append((campaign, listener.role))
        return matched

    def _campaign(self, campaign_id: str) -> Campaign | None:
        """The campaign loaded whole, or None if it cannot be (named in `unreadable`)."""
        found = self._loaded.get(campaign_id)
        if found is None and campaign_id not in self.unreadable:  # two threads may both load it: one is kept
            assert self._load is not None
            try:
                found = self._loaded[campaign_id] = self._load(self._stored[campaign_id])
            except ValueError:  # a template or a field this version refuses (TemplateError, ValidationError)
                self.unreadable.add(campaign_id)
        return found


@lru_cache(maxsize=_CACHED)  # thread-safe: local mode runs every function in one process
def _action_delivery(delivery: str) -> ActionDelivery:
    """A stored action delivery, checked once per definition in a container (it was checked when saved)."""
    return ActionDelivery.model_validate_json(delivery)
