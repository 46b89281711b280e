"""Campaigns: their definitions, triggers, the Campaign Connector's canvases and waits, previews and the
interactions users record."""

from __future__ import annotations

from functools import cached_property

from audience_sync.adapters.aws.campaign_state import DynamoCampaignState
from audience_sync.adapters.aws.queues import SqsPublisher
from audience_sync.adapters.aws.scheduler import EventBridgeWaitScheduler
from audience_sync.campaigns.connector import CampaignConnector, InteractionService
from audience_sync.campaigns.delivery import CampaignTriggers, load
from audience_sync.campaigns.ports import CampaignState
from audience_sync.campaigns.preview import CampaignPreviews
from audience_sync.campaigns.service import CampaignService
from audience_sync.composition.campaign_signals import CampaignSignals
from audience_sync.composition.ingest import Ingest
from audience_sync.composition.segments import SegmentStores


class Campaigns(CampaignSignals, SegmentStores, Ingest):
    campaign_loader = staticmethod(load)  # the router's index also gives the connector the matched campaigns

    @cached_property
    def campaigns(self) -> CampaignService:
        return CampaignService(self.campaign_store, self.segment_store, self.steps, self.clock)

    @cached_property
    def campaign_triggers(self) -> CampaignTriggers:
        publisher = SqsPublisher(self.resources.require("sync_queue_url"))
        return CampaignTriggers(
            self.campaign_store,
            self.profile_store,
            publisher,
            self.ingest,
            self.clock,
            enrolled=self.activity_router.enrolled,
        )

    @cached_property
    def campaign_state(self) -> CampaignState:
        return DynamoCampaignState(self.resources.require("campaign_state_table"), self.counter_tables, self.clock)

    @cached_property
    def campaign_connector(self) -> CampaignConnector:
        scheduler = EventBridgeWaitScheduler(
            self.resources.require("wait_schedule_group"),
            self.resources.require("campaign_activity_queue_arn"),
            self.resources.require("wait_schedule_role_arn"),
            self.resources.require("campaign_activity_dlq_arn"),
        )
        return CampaignConnector(
            self.trigger_index,
            self.campaign_state,
            scheduler,
            self.campaign_store,
            self.campaign_triggers,
            self.clock,
            self.settings.time_scale,
        )

    @cached_property
    def campaign_previews(self) -> CampaignPreviews:
        return CampaignPreviews(self.campaign_store, self.campaign_triggers.profiles_of)

    @cached_property
    def interactions(self) -> InteractionService:
        return InteractionService(
            self.campaign_store, self.campaign_triggers, self.campaign_state, self.activity_router, self.clock
        )
