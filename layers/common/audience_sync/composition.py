"""The composition root: the one place that builds the platform's services from Settings, for every Lambda handler
and for the operator CLI. Nothing else constructs an adapter or a destination.

A Container is built once per execution environment (a handler's `@cache`, or the CLI's run) and builds each
service on first use. Its modules are imported with it, at init, so that nothing is imported at a first invocation,
but for the destinations' implementations (HTTP clients): a handler that sends or reads them calls
`load_destinations()` when it is imported, and the ingest, which never does, does not pay for them.
"""

from __future__ import annotations

import importlib
from functools import cached_property
from typing import TYPE_CHECKING

from audience_sync.adapters.aws import secrets
from audience_sync.adapters.aws.audience_cache import DynamoAudienceCache
from audience_sync.adapters.aws.cohorts_table import DynamoCohortStore
from audience_sync.adapters.aws.connections_table import DynamoConnectionStore
from audience_sync.adapters.aws.credentials_table import DynamoCredentialStore
from audience_sync.adapters.aws.gauge_source import DynamoGaugeSource
from audience_sync.adapters.aws.kms import KmsTokenCipher
from audience_sync.adapters.aws.ledger_table import DynamoLedger
from audience_sync.adapters.aws.membership_queue import SqsMembershipSink, SqsReconciliations, SqsSweepJobs
from audience_sync.adapters.aws.metrics_table import CounterTables, MetricsStore
from audience_sync.adapters.aws.profile_queue import SqsProfileQueue
from audience_sync.adapters.aws.profiles_table import DynamoProfileStore
from audience_sync.adapters.aws.queues import SqsPublisher, SqsQueueReader
from audience_sync.adapters.aws.rate_bucket import DynamoRateBuckets
from audience_sync.adapters.aws.request_counter import DynamoRequestCounter
from audience_sync.adapters.aws.retry_store import S3RetryStore
from audience_sync.adapters.aws.segment_members import SHARDS, DynamoMemberIndex, DynamoMoveOrders
from audience_sync.adapters.aws.segments_table import CachedSegmentSource, DynamoSegmentStore
from audience_sync.adapters.aws.signature_table import DynamoSignatureRegistry
from audience_sync.adapters.aws.sns import SnsNotifier
from audience_sync.adapters.aws.steps_table import DynamoStepStore
from audience_sync.cohorts.ports import CohortStore
from audience_sync.cohorts.service import CohortImport
from audience_sync.connections.service import ConnectionService
from audience_sync.connections.session import TokenSession
from audience_sync.core.clock import Clock, SystemClock
from audience_sync.credentials.ports import RequestCounter
from audience_sync.credentials.service import Credentials
from audience_sync.destinations import registry
from audience_sync.destinations.base import Destination
from audience_sync.destinations.registry import DEFAULT_DESTINATION
from audience_sync.insights.refresh import AudienceRefresher
from audience_sync.observability.notifications import NoNotifier, Notifier
from audience_sync.pipeline.batcher import Batcher
from audience_sync.pipeline.ingest import IngestService
from audience_sync.pipeline.ledger import Ledger
from audience_sync.pipeline.retry_attempt import RetryAttempt
from audience_sync.pipeline.retry_batch import RetryStore
from audience_sync.pipeline.sender import Sender
from audience_sync.profiles.ports import ProfileStore
from audience_sync.profiles.reader import ProfileReader
from audience_sync.profiles.service import ProfileService
from audience_sync.profiles.writer import ProfileWriter
from audience_sync.segments.memberships import SegmentMemberships
from audience_sync.segments.ports import MemberIndex, MembershipSink, SegmentSource
from audience_sync.segments.service import SegmentService
from audience_sync.segments.sweep import Sweep
from audience_sync.settings import Settings
from audience_sync.sources.profile_users import ProfileUsers, identifiers
from audience_sync.sources.segment.processor import MembershipProcessor
from audience_sync.sources.segment.router import SegmentRouter
from audience_sync.sources.segment.steps import SegmentStepSources
from audience_sync.sources.webhook.signature import WebhookSignatures
from audience_sync.steps.launch import Launcher

if TYPE_CHECKING:
    from audience_sync.campaigns.connector import (
        ActivityRouter,
        CampaignConnector,
        InteractionService,
        WebhookInteractions,
    )
    from audience_sync.campaigns.delivery import CampaignTriggers
    from audience_sync.campaigns.gate import CampaignGate
    from audience_sync.campaigns.ports import CampaignState, CampaignStore
    from audience_sync.campaigns.preview import CampaignPreviews
    from audience_sync.campaigns.service import CampaignService
    from audience_sync.destinations.linkedin.destination import LinkedInDestination
    from audience_sync.exports.ports import ExportJobs, ExportQueue, ObjectStore
    from audience_sync.exports.runner import ExportRunner
    from audience_sync.exports.service import ExportService
    from audience_sync.imports.ports import ImportStore
    from audience_sync.imports.runner import ImportRunner
    from audience_sync.imports.schedule import ImportScheduler
    from audience_sync.imports.service import ImportService


# A download link lives this long (Braze's "a few hours"; GET /v1/exports/{id} signs a new one whenever asked), and a
# segment's export lock at most this long (a job that died without finishing frees its segment then).
EXPORT_URL_SECONDS = 4 * 3600
EXPORT_LOCK_SECONDS = 2 * 3600


def load_destinations() -> None:
    """Import every destination's implementation now (a handler's init), not at its first invocation."""
    for name in registry.IMPLEMENTATIONS:
        importlib.import_module(registry.IMPLEMENTATIONS[name].partition(":")[0])


class Container:
    def __init__(self, settings: Settings, clock: Clock | None = None):
        self.settings = settings
        self.resources = settings.resources
        self.clock = clock or SystemClock()

    def warm(self, services: tuple[str, ...]) -> Container:
        """Build the named services now (a SnapStart function's init, adapters/aws/snapstart.py): their clients are
        created, nothing is sent."""
        for name in services:
            getattr(self, name)
        return self

    # ---- storage and notifications ---------------------------------------------------------------
    @cached_property
    def steps(self) -> DynamoStepStore:
        return DynamoStepStore(self.resources.require("steps_table"))

    @cached_property
    def metrics(self) -> MetricsStore:
        return MetricsStore(self.resources.require("metrics_table"), self.resources.metrics_history_table)

    @cached_property
    def counter_tables(self) -> CounterTables:
        return CounterTables(self.resources.require("metrics_table"), self.resources.require("metrics_history_table"))

    @cached_property
    def notifier(self) -> Notifier:
        """Integration errors to the topic; nowhere when the function has none (the CLI)."""
        if not self.resources.notifications_topic_arn:
            return NoNotifier()
        return SnsNotifier(self.resources.notifications_topic_arn)

    # ---- destinations and their connections ----------------------------------------------------------
    @cached_property
    def linkedin(self) -> LinkedInDestination:
        from audience_sync.destinations.linkedin.destination import LinkedInDestination

        arn = self.resources.linkedin_app_secret_arn
        # The app secret is read when a token is exchanged or refreshed, not before (the CLI reads none).
        return LinkedInDestination(self.settings.linkedin, lambda: secrets.oauth_client_secret(arn))

    @cached_property
    def webhook(self) -> Destination:
        from audience_sync.destinations.webhook.destination import WebhookDestination

        return WebhookDestination(allow_loopback=self.settings.webhook_allow_loopback)

    @cached_property
    def destinations(self) -> dict[str, Destination]:
        """Every destination by name (destinations/registry.py lists the names)."""
        return {self.linkedin.name: self.linkedin, self.webhook.name: self.webhook}

    @cached_property
    def connections(self) -> ConnectionService:
        """LinkedIn's connection (one per workspace, named after the destination)."""
        destination = self.linkedin
        return ConnectionService(
            connection_id=destination.name,
            label=destination.label,
            authorization=destination.authorization,
            store=DynamoConnectionStore(self.resources.require("connections_table"), destination.name),
            cipher=KmsTokenCipher(lambda: self.resources.require("token_key_id")),
            notifier=self.notifier,
        )

    def session(self) -> TokenSession:
        """A new token session of LinkedIn's connection: one per user of tokens (the sender, the launcher, the
        audience refresh), each resetting it at the start of its own unit of work."""
        return TokenSession(self.connections, self.linkedin.classify)

    def oauth_state_key(self) -> bytes:
        return secrets.oauth_state_key(self.resources.require("oauth_state_secret_arn"))

    # ---- the API -------------------------------------------------------------------------------
    @cached_property
    def launcher(self) -> Launcher:
        return Launcher(
            self.steps,
            self.connections.view,
            self.linkedin,
            self.linkedin.audiences,
            self.session(),
            SegmentStepSources(self.segments, self.reconciliations),
        )

    @cached_property
    def audience(self) -> AudienceRefresher:
        return AudienceRefresher(
            steps=self.steps,
            destination=self.linkedin,
            audiences=self.linkedin.audiences,
            session=self.session(),
            cache=DynamoAudienceCache(self.resources.require("audience_views_table")),
            notifier=self.notifier,
            clock=self.clock,
            max_age_seconds=self.settings.api.audience_max_age_seconds,
        )

    # ---- the webhook ------------------------------------------------------------------------------
    @cached_property
    def ingest(self) -> IngestService:
        return IngestService(self.steps, SqsPublisher(self.resources.require("sync_queue_url")))

    @cached_property
    def signatures(self) -> WebhookSignatures | None:
        """None when the stack does not sign webhooks (no WEBHOOK_SIGNING_SECRET_ARN)."""
        arn = self.resources.webhook_signing_secret_arn
        if not arn:
            return None
        return WebhookSignatures(
            lambda: secrets.webhook_signing_secrets(arn),
            DynamoSignatureRegistry(self.resources.require("webhook_signatures_table")),
            self.clock,
        )

    # ---- delivery: the sender, the batcher and the retry ------------------------------------------------
    @cached_property
    def sender(self) -> Sender:
        return Sender(
            destinations=self.destinations,
            sessions={self.linkedin.name: self.session()},
            buckets=DynamoRateBuckets(
                self.resources.require("rate_limit_table"), self.clock, self.settings.tuning.rate_headroom_percent
            ),
            steps=self.steps,
            clock=self.clock,
            notifier=self.notifier,
        )

    @cached_property
    def ledger(self) -> Ledger:
        return DynamoLedger(self.resources.require("ledger_table"), self.counter_tables, self.clock)

    @cached_property
    def retry_store(self) -> RetryStore:
        return S3RetryStore(
            self.resources.require("retry_bucket"), lambda: self.resources.require("retry_state_machine_arn")
        )

    @cached_property
    def batcher(self) -> Batcher:
        return Batcher(
            tuning=self.settings.tuning,
            sender=self.sender,
            ledger=self.ledger,
            retries=self.retry_store,
            clock=self.clock,
            queue=SqsQueueReader(self.resources.require("sync_queue_url")),
            gate=self.campaign_gate,
            observer=self.webhook_interactions,
        )

    @cached_property
    def retry_attempt(self) -> RetryAttempt:
        return RetryAttempt(
            sender=self.sender,
            ledger=self.ledger,
            retries=self.retry_store,
            notifier=self.notifier,
            clock=self.clock,
            moves=DynamoMoveOrders(self.resources.require("segment_members_table"), self.clock),
            gate=self.campaign_gate,
            observer=self.webhook_interactions,
        )

    # ---- credentials, profiles and the Braze-compatible API ------------------------------------------------
    @cached_property
    def credentials(self) -> Credentials:
        return Credentials(DynamoCredentialStore(self.resources.require("credentials_table")), self.clock)

    @cached_property
    def request_counter(self) -> RequestCounter:
        return DynamoRequestCounter(self.resources.require("rate_limit_table"))

    @property
    def requests_per_minute(self) -> int:
        return self.settings.user_api.requests_per_minute

    @cached_property
    def profile_store(self) -> ProfileStore:
        return DynamoProfileStore(self.resources.require("profiles_table"), self.clock)

    @cached_property
    def profile_service(self) -> ProfileService:
        return ProfileService(
            SqsProfileQueue(self.resources.require("profile_queue_url")),
            ProfileReader(self.profile_store),
            self.settings.profiles,
            self.clock,
        )

    @cached_property
    def cohort_store(self) -> CohortStore:
        return DynamoCohortStore(self.resources.require("cohorts_table"))

    @cached_property
    def cohort_import(self) -> CohortImport:
        return CohortImport(
            self.credentials,
            self.profile_service,
            self.cohort_store,
            self.settings.user_api.partner_api_key,
            self.clock,
        )

    @cached_property
    def profile_writer(self) -> ProfileWriter:
        profiles = self.settings.profiles
        return ProfileWriter(
            self.profile_store,
            self.clock,
            profiles.max_array,
            profiles.write_concurrency,
            SegmentMemberships(self.segment_source, self.membership_sink, identifiers),
        )

    # ---- segments ----------------------------------------------------------------------------------
    @cached_property
    def segment_store(self) -> DynamoSegmentStore:
        return DynamoSegmentStore(self.resources.require("segments_table"))

    @cached_property
    def segment_source(self) -> SegmentSource:
        return CachedSegmentSource(self.segment_store, self.clock, self.settings.segment_cache_seconds)

    @cached_property
    def membership_sink(self) -> MembershipSink:
        return SqsMembershipSink(self.resources.require("membership_queue_url"))

    @cached_property
    def member_index(self) -> MemberIndex:
        return DynamoMemberIndex(
            self.resources.require("segment_members_table"), self.resources.require("segment_stats_table"), self.clock
        )

    @cached_property
    def sweep(self) -> Sweep:
        return Sweep(
            DynamoProfileStore(self.resources.require("profiles_table"), self.clock),
            self.profile_service,
            self.sweep_jobs,
            self.segment_source,
            self.clock,
        )

    @cached_property
    def segments(self) -> SegmentService:
        # a new filter's sweep waits until every writer holds the filter (settings.py, sweep_delay_seconds)
        new_sweeps = SqsSweepJobs(self.resources.require("sweep_queue_url"), self.settings.sweep_delay_seconds)
        return SegmentService(self.segment_store, self.member_index, new_sweeps, self.clock, self.campaigns)

    # ---- exports -----------------------------------------------------------------------------------
    @cached_property
    def export_jobs(self) -> ExportJobs:
        from audience_sync.adapters.aws.exports_table import DynamoExportJobs

        return DynamoExportJobs(self.resources.require("exports_table"))

    @cached_property
    def export_objects(self) -> ObjectStore:
        from audience_sync.adapters.aws.export_objects import S3ObjectStore

        return S3ObjectStore(self.settings.s3_public_endpoint or None)

    @cached_property
    def export_queue(self) -> ExportQueue:
        from audience_sync.adapters.aws.queues import SqsExportQueue

        return SqsExportQueue(self.resources.require("export_queue_url"))

    @cached_property
    def exports(self) -> ExportService:
        # imported here, as the campaigns are: only the functions that export pay for the module at their cold start
        from audience_sync.exports.service import ExportService

        return ExportService(
            self.export_jobs,
            self.export_queue,
            self.export_objects,
            self.segments,
            self.clock,
            files_bucket=self.resources.require("export_files_bucket"),
            customer_bucket=self.resources.export_bucket or None,
            url_seconds=EXPORT_URL_SECONDS,
            lock_seconds=EXPORT_LOCK_SECONDS,
        )

    @cached_property
    def export_runner(self) -> ExportRunner:
        from audience_sync.destinations.webhook.callback import WebhookCallbacks
        from audience_sync.exports.runner import ExportRunner

        return ExportRunner(
            self.export_jobs,
            self.export_queue,
            self.member_index,
            self.profile_store,
            self.export_objects,
            WebhookCallbacks(allow_loopback=self.settings.webhook_allow_loopback),
            self.notifier,
            self.clock,
            url_seconds=EXPORT_URL_SECONDS,
            lock_seconds=EXPORT_LOCK_SECONDS,
        )

    # ---- imports -----------------------------------------------------------------------------------
    @cached_property
    def import_store(self) -> ImportStore:
        from audience_sync.adapters.aws.imports_table import DynamoImportStore

        return DynamoImportStore(self.resources.require("imports_table"))

    @cached_property
    def import_scheduler(self) -> ImportScheduler:
        from audience_sync.adapters.aws.queues import SqsImportQueue
        from audience_sync.imports.schedule import ImportScheduler

        queue = SqsImportQueue(self.resources.require("import_queue_url"))
        return ImportScheduler(self.import_store, queue, self.clock, self.settings.time_scale)

    @cached_property
    def imports(self) -> ImportService:
        from audience_sync.imports.service import ImportService

        return ImportService(self.import_store, self.import_scheduler)

    @cached_property
    def import_runner(self) -> ImportRunner:
        # the profile writer itself applies the rows (one writer of every profile write: docs/imports.md)
        from audience_sync.adapters.aws.import_objects import S3ObjectSource
        from audience_sync.adapters.aws.queues import SqsImportQueue
        from audience_sync.imports.runner import ImportRunner

        return ImportRunner(
            self.import_store,
            S3ObjectSource(),
            SqsImportQueue(self.resources.require("import_queue_url")),
            self.profile_writer,
            self.notifier,
            self.clock,
            self.settings.profiles.max_array,
        )

    # ---- campaigns ---------------------------------------------------------------------------------
    @cached_property
    def campaigns(self) -> CampaignService:
        # imported here: the campaigns' models cost every other function's cold start (bench row "cold start")
        from audience_sync.campaigns.service import CampaignService

        return CampaignService(self.campaign_store, self.segment_store, self.steps, self.clock)

    @cached_property
    def campaign_store(self) -> CampaignStore:
        from audience_sync.adapters.aws.campaigns_table import DynamoCampaignStore

        return DynamoCampaignStore(self.resources.require("campaigns_table"))

    @cached_property
    def campaign_gate(self) -> CampaignGate:
        from audience_sync.campaigns.gate import CampaignGate

        return CampaignGate(lambda: self.campaign_store, self.clock, self.settings.campaign_cache_seconds)

    @cached_property
    def campaign_triggers(self) -> CampaignTriggers:
        from audience_sync.campaigns.delivery import CampaignTriggers

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
    def activity_router(self) -> ActivityRouter:
        """What users do that an active campaign listens to, onto the campaign activity queue."""
        from audience_sync.campaigns.connector import ActivityRouter, CachedTriggerIndex

        index = CachedTriggerIndex(lambda: self.campaign_store, self.clock, self.settings.campaign_cache_seconds)
        return ActivityRouter(index, SqsPublisher(self.resources.require("campaign_activity_queue_url")), self.clock)

    @cached_property
    def campaign_state(self) -> CampaignState:
        from audience_sync.adapters.aws.campaign_state import DynamoCampaignState

        return DynamoCampaignState(self.resources.require("campaign_state_table"), self.counter_tables, self.clock)

    @cached_property
    def campaign_connector(self) -> CampaignConnector:
        from audience_sync.adapters.aws.scheduler import EventBridgeWaitScheduler
        from audience_sync.campaigns.connector import CampaignConnector

        scheduler = EventBridgeWaitScheduler(
            self.resources.require("wait_schedule_group"),
            self.resources.require("campaign_activity_queue_arn"),
            self.resources.require("wait_schedule_role_arn"),
            self.resources.require("campaign_activity_dlq_arn"),
        )
        return CampaignConnector(
            self.activity_router.index,
            self.campaign_state,
            scheduler,
            self.campaign_store,
            self.campaign_triggers,
            self.clock,
            self.settings.time_scale,
        )

    @cached_property
    def campaign_previews(self) -> CampaignPreviews:
        from audience_sync.campaigns.preview import CampaignPreviews

        return CampaignPreviews(self.campaign_store, self.campaign_triggers.profiles_of)

    @cached_property
    def interactions(self) -> InteractionService:
        from audience_sync.campaigns.connector import InteractionService

        return InteractionService(
            self.campaign_store, self.campaign_triggers, self.campaign_state, self.activity_router, self.clock
        )

    @cached_property
    def webhook_interactions(self) -> WebhookInteractions:
        """Delivered webhooks record received_webhook (the batcher's and the retry's DeliveryObserver). Its router
        is built on the first delivered webhook: a batcher that only sends steps' users never needs it."""
        from audience_sync.campaigns.connector import WebhookInteractions

        return WebhookInteractions(lambda: self.activity_router, self.clock)

    @cached_property
    def profile_users(self) -> ProfileUsers:
        return ProfileUsers(self.profile_store)

    @cached_property
    def segment_router(self) -> SegmentRouter:
        return SegmentRouter(self.steps, self.ingest, self.profile_users)

    @cached_property
    def membership_processor(self) -> MembershipProcessor:
        return MembershipProcessor(self.member_index, self.segment_router, self.reconciliations.go_on)

    @cached_property
    def reconciliations(self) -> SqsReconciliations:
        return SqsReconciliations(self.resources.require("membership_queue_url"), SHARDS)

    @cached_property
    def sweep_jobs(self) -> SqsSweepJobs:
        return SqsSweepJobs(self.resources.require("sweep_queue_url"))

    # ---- schedules ---------------------------------------------------------------------------------
    @cached_property
    def gauges(self) -> DynamoGaugeSource:
        # The connection's status only: no destination (nor its HTTP client) is loaded for it.
        connection = DynamoConnectionStore(self.resources.require("connections_table"), DEFAULT_DESTINATION)
        return DynamoGaugeSource(self.metrics, connection)
