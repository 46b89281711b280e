"""What users do, routed to the campaigns that listen (docs/campaigns.md): the trigger index each container keeps,
the router that publishes an activity onto the campaign activity queue only when an active campaign may take it, and
the observer that records `received_webhook` for every delivered campaign webhook.

The profile writer, the batcher and the retry route; the campaign activity function (connector.py) matches and
sends. Routing reads the campaigns' deliveries only: nothing here compiles a template or imports Liquid.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger

from audience_sync.campaigns.activities import Activity, Load, TriggerIndex, encode, interaction
from audience_sync.campaigns.ports import CampaignStore
from audience_sync.campaigns.triggers import InteractionType
from audience_sync.core.clock import Clock
from audience_sync.core.metrics import CAMPAIGN_PREFIX, is_step
from audience_sync.core.users import QueuedUser
from audience_sync.pipeline.ports import MessagePublisher

if TYPE_CHECKING:
    from audience_sync.campaigns.delivery import Campaign, Send

logger = Logger(child=True)


class CachedTriggerIndex:
    """The trigger index, built from every stored campaign at most every `cache_seconds` a container (settings.py
    campaign_cache_seconds: a campaign published or stopped listens, or stops, within that)."""

    def __init__(
        self, store: Callable[[], CampaignStore], clock: Clock, cache_seconds: float, load: Load | None = None
    ):
        self._store = store  # built on first use: a profile writer with no activity never reads the table
        self._load = load  # the connector's: its index matches campaigns, a router's only routes
        self.clock = clock
        self.cache_ms = cache_seconds * 1000
        self._built: tuple[int, TriggerIndex] | None = None
        self._lock = threading.Lock()

    def __call__(self) -> TriggerIndex:
        now = self.clock.now_ms()
        with self._lock:
            built = self._built
        if built is not None and now - built[0] < self.cache_ms:
            return built[1]
        index = TriggerIndex(self._store().all(), self._load)
        if index.unreadable:  # they listen to nothing until they are saved again (or this version can read them)
            logger.error("campaigns not readable: they take no activity", extra={"campaigns": sorted(index.unreadable)})
        with self._lock:
            self._built = (now, index)
        return index


class ActivityRouter:
    """Publishes the activities an active campaign may take; the rest go no further."""

    def __init__(self, index: Callable[[], TriggerIndex], publisher: MessagePublisher, clock: Clock):
        self.index = index
        self.publisher = publisher
        self.clock = clock

    def publish(self, activities: Sequence[Activity], correlation_id: str | None = None) -> int:
        """The activities published (PublishFailed if the queue refuses them)."""
        if not activities:
            return 0
        index = self.index()
        wanted = [a for a in activities if index.listens(a)]
        if wanted:
            self.publisher.send([encode(a) for a in wanted], correlation_id=correlation_id)
        return len(wanted)

    def enrolled(self, campaign: Campaign, sends: Sequence[Send]) -> None:
        """Users drawn into a campaign's control group: each records `enrolled_in_control_group`."""
        now = self.clock.now_ms()
        kind = InteractionType.ENROLLED_IN_CONTROL_GROUP
        self.publish(
            [
                interaction(
                    str(send.profile["external_id"]),
                    campaign.campaign_id,
                    kind,
                    now,
                    f"g:{send.dispatch_id}:{send.profile['external_id']}",  # an API trigger's dispatch_id is the call's
                )
                for send in sends
                if send.profile.get("external_id")
            ]
        )


class WebhookInteractions:
    """Every delivered webhook records `received_webhook` (pipeline/ports.py DeliveryObserver)."""

    def __init__(self, router: Callable[[], ActivityRouter], clock: Clock):
        self.router = router  # built on the first delivered webhook
        self.clock = clock

    def delivered(self, counters_id: str, users: Sequence[QueuedUser]) -> None:
        if is_step(counters_id) or not users:
            return
        campaign_id = counters_id.removeprefix(CAMPAIGN_PREFIX)
        now = self.clock.now_ms()
        activities = [
            interaction(str(u["x"]), campaign_id, InteractionType.RECEIVED_WEBHOOK, now, f"w:{u.get('d')}:{u['x']}")
            for u in users
        ]
        self.router().publish(activities)
