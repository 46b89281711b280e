"""What the rest of the platform tells campaigns, and asks of them: whether a campaign's sends may go on (the
batcher's and the retry's gate), what users did that an active campaign listens to (the profile writer), and that
a campaign's webhook was delivered (the batcher's and the retry's observer)."""

from __future__ import annotations

from functools import cached_property

from audience_sync.adapters.aws.campaigns_table import DynamoCampaignStore
from audience_sync.adapters.aws.queues import SqsPublisher
from audience_sync.campaigns.activities import Load
from audience_sync.campaigns.gate import CampaignGate
from audience_sync.campaigns.ports import CampaignStore
from audience_sync.campaigns.routing import ActivityRouter, CachedTriggerIndex, WebhookInteractions
from audience_sync.composition.core import Core


class CampaignSignals(Core):
    # How the trigger index loads a matched campaign whole: None routes only (no template, no Liquid); Campaigns,
    # whose connector sends them, gives delivery.load.
    campaign_loader: Load | None = None

    @cached_property
    def campaign_store(self) -> CampaignStore:
        return DynamoCampaignStore(self.resources.require("campaigns_table"))

    @cached_property
    def campaign_gate(self) -> CampaignGate:
        return CampaignGate(lambda: self.campaign_store, self.clock, self.settings.campaign_cache_seconds)

    @cached_property
    def trigger_index(self) -> CachedTriggerIndex:
        """What the active campaigns listen to, from their deliveries; it matches campaigns with a `campaign_loader`."""
        return CachedTriggerIndex(
            lambda: self.campaign_store, self.clock, self.settings.campaign_cache_seconds, self.campaign_loader
        )

    @cached_property
    def activity_router(self) -> ActivityRouter:
        """What users do that an active campaign listens to, onto the campaign activity queue."""
        queue = SqsPublisher(self.resources.require("campaign_activity_queue_url"))
        return ActivityRouter(self.trigger_index, queue, self.clock)

    @cached_property
    def webhook_interactions(self) -> WebhookInteractions:
        """Delivered webhooks record received_webhook (the batcher's and the retry's DeliveryObserver). Its router
        is built on the first delivered webhook: a batcher that only sends steps' users never needs it."""
        return WebhookInteractions(lambda: self.activity_router, self.clock)
