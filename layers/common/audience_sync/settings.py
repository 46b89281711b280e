"""Configuration, read from the environment template.yaml gives each function (local mode: the same, per function).

Split by concern: the stack's **resources** (tables, queues, buckets, keys, secrets), each **destination**'s
settings (LinkedIn's app, version and limits: destinations/linkedin/settings.py), the **pipeline**'s tuning
(pipeline/tuning.py) and the **API**'s. A function is given only the resources it uses; the composition root
(composition/) asks for a resource when it builds what needs it, and a missing one is a clear error naming the
variable, never an empty table name sent to AWS. The operator CLI builds Resources from the stack's outputs.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field, fields

from audience_sync.credentials.ratelimit import DEFAULT_REQUESTS_PER_MINUTE
from audience_sync.destinations.linkedin.settings import DEFAULT_VERSION, LinkedInSettings
from audience_sync.insights.audience import DEFAULT_MAX_AGE_SECONDS
from audience_sync.pipeline.tuning import SyncTuning
from audience_sync.profiles.service import ProfileSettings


class MissingSetting(RuntimeError):
    pass


@dataclass(frozen=True)
class Resources:
    """The stack's resources, by physical name, ARN or URL ("" when the function is not given it)."""

    steps_table: str = field(default="", metadata={"env": "STEPS_TABLE"})
    metrics_table: str = field(default="", metadata={"env": "METRICS_TABLE"})
    metrics_history_table: str = field(default="", metadata={"env": "METRICS_HISTORY_TABLE"})
    connections_table: str = field(default="", metadata={"env": "CONNECTIONS_TABLE"})
    rate_limit_table: str = field(default="", metadata={"env": "RATE_LIMIT_TABLE"})
    ledger_table: str = field(default="", metadata={"env": "LEDGER_TABLE"})
    audience_views_table: str = field(default="", metadata={"env": "AUDIENCE_VIEWS_TABLE"})
    webhook_signatures_table: str = field(default="", metadata={"env": "WEBHOOK_SIGNATURES_TABLE"})
    sync_queue_url: str = field(default="", metadata={"env": "SYNC_QUEUE_URL"})
    retry_bucket: str = field(default="", metadata={"env": "RETRY_BUCKET"})
    retry_state_machine_arn: str = field(default="", metadata={"env": "RETRY_STATE_MACHINE_ARN"})
    notifications_topic_arn: str = field(default="", metadata={"env": "NOTIFICATIONS_TOPIC_ARN"})
    token_key_id: str = field(default="", metadata={"env": "TOKEN_KEY_ID"})
    linkedin_app_secret_arn: str = field(default="", metadata={"env": "LINKEDIN_APP_SECRET_ARN"})
    oauth_state_secret_arn: str = field(default="", metadata={"env": "OAUTH_STATE_SECRET_ARN"})
    credentials_table: str = field(default="", metadata={"env": "CREDENTIALS_TABLE"})
    profiles_table: str = field(default="", metadata={"env": "PROFILES_TABLE"})
    profile_queue_url: str = field(default="", metadata={"env": "PROFILE_QUEUE_URL"})
    cohorts_table: str = field(default="", metadata={"env": "COHORTS_TABLE"})
    segments_table: str = field(default="", metadata={"env": "SEGMENTS_TABLE"})
    segment_members_table: str = field(default="", metadata={"env": "SEGMENT_MEMBERS_TABLE"})
    segment_stats_table: str = field(default="", metadata={"env": "SEGMENT_STATS_TABLE"})
    membership_queue_url: str = field(default="", metadata={"env": "MEMBERSHIP_QUEUE_URL"})
    sweep_queue_url: str = field(default="", metadata={"env": "SWEEP_QUEUE_URL"})
    campaigns_table: str = field(default="", metadata={"env": "CAMPAIGNS_TABLE"})
    campaign_state_table: str = field(default="", metadata={"env": "CAMPAIGN_STATE_TABLE"})
    campaign_activity_queue_url: str = field(default="", metadata={"env": "CAMPAIGN_ACTIVITY_QUEUE_URL"})
    # The waits' schedules (docs/decisions/0017): their group, the queue they target and the role they send with.
    wait_schedule_group: str = field(default="", metadata={"env": "WAIT_SCHEDULE_GROUP"})
    campaign_activity_queue_arn: str = field(default="", metadata={"env": "CAMPAIGN_ACTIVITY_QUEUE_ARN"})
    wait_schedule_role_arn: str = field(default="", metadata={"env": "WAIT_SCHEDULE_ROLE_ARN"})
    campaign_activity_dlq_arn: str = field(default="", metadata={"env": "CAMPAIGN_ACTIVITY_DLQ_ARN"})
    # Exports (exports/): jobs, their queue, the service's bucket (zips behind links, CSVs) and the customer's bucket
    # (ExportBucket, optional: Braze's exports write their files there when it is set).
    exports_table: str = field(default="", metadata={"env": "EXPORTS_TABLE"})
    export_queue_url: str = field(default="", metadata={"env": "EXPORT_QUEUE_URL"})
    export_files_bucket: str = field(default="", metadata={"env": "EXPORT_FILES_BUCKET"})
    export_bucket: str = field(default="", metadata={"env": "EXPORT_BUCKET"})
    # Scheduled S3 imports (imports/): definitions, state and runs; the runs' queue.
    imports_table: str = field(default="", metadata={"env": "IMPORTS_TABLE"})
    import_queue_url: str = field(default="", metadata={"env": "IMPORT_QUEUE_URL"})
    # Set on the ingest function only, when the WebhookSigning parameter is enabled (empty: no signatures checked).
    webhook_signing_secret_arn: str = field(default="", metadata={"env": "WEBHOOK_SIGNING_SECRET_ARN"})

    def require(self, name: str) -> str:
        """The resource `name` (a field of this class), or MissingSetting naming its environment variable."""
        value: str = getattr(self, name)
        if not value:
            variable = next(f.metadata["env"] for f in fields(self) if f.name == name)
            raise MissingSetting(f"environment variable {variable} is not set for this function (template.yaml)")
        return value

    @staticmethod
    def from_env(env: Mapping[str, str]) -> Resources:
        return Resources(**{f.name: env.get(f.metadata["env"], "") for f in fields(Resources)})


@dataclass(frozen=True)
class ApiSettings:
    # The OAuth callback URL registered with the destination; empty: derived from each request.
    oauth_redirect_uri: str = ""
    # GET /v1/steps/{id}/audience serves a cached reading younger than this (AudienceMaxAgeSeconds).
    audience_max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS


@dataclass(frozen=True)
class UserApiSettings:
    # Requests per minute a REST API key may make unless the key sets its own (UserApiRequestsPerMinute).
    requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE
    # The partner API key of the cohort import (PartnerApiKey; local mode PARTNER_API_KEY). Empty: refused.
    partner_api_key: str = field(default="", repr=False)


@dataclass(frozen=True)
class Settings:
    resources: Resources = field(default_factory=Resources)
    linkedin: LinkedInSettings = field(default_factory=LinkedInSettings)
    tuning: SyncTuning = field(default_factory=SyncTuning)
    api: ApiSettings = field(default_factory=ApiSettings)
    profiles: ProfileSettings = field(default_factory=ProfileSettings)
    user_api: UserApiSettings = field(default_factory=UserApiSettings)
    # Whether campaigns' webhooks may go to loopback addresses (destinations/webhook/guard.py): set by local mode only
    # (WEBHOOK_ALLOW_LOOPBACK), where tests run their receivers; the template never sets it.
    webhook_allow_loopback: bool = False
    # How old the campaigns a container holds may be (the stop gate, who listens to what): a few seconds on AWS, so a
    # batch of thousands costs one read. Local mode sets 0 (CAMPAIGN_CACHE_SECONDS): a campaign published by a test or
    # the walk-through listens at once.
    campaign_cache_seconds: float = 5.0
    # Local mode's TIME_SCALE, for what the functions measure themselves: campaigns' re-eligibility windows (the
    # waits are scaled where they are kept: Step Functions, the schedules). 1 on AWS; the template never sets it.
    time_scale: float = 1.0
    # How old the segment definitions a profile writer holds may be (SEGMENT_CACHE_SECONDS; local mode 0), and how long
    # a new segment's sweep waits (SWEEP_DELAY_SECONDS; local mode 2): past every writer's cache and the batches in
    # flight, so a user written while the segment was being defined is either evaluated by its writer or read by
    # the sweep (segments/sweep.py), never neither.
    segment_cache_seconds: float = 5.0
    sweep_delay_seconds: int = 15
    # Where download links must point when S3 is not AWS's (local mode's /_aws on its port); the template never sets it.
    s3_public_endpoint: str = ""

    @staticmethod
    def from_env(env: Mapping[str, str] | None = None) -> Settings:
        env = function_environment() if env is None else env
        defaults = LinkedInSettings()
        return Settings(
            resources=Resources.from_env(env),
            linkedin=LinkedInSettings(
                api_url=env.get("LINKEDIN_API_URL", defaults.api_url).rstrip("/"),
                oauth_url=env.get("LINKEDIN_OAUTH_URL", defaults.oauth_url).rstrip("/"),
                client_id=env.get("LINKEDIN_CLIENT_ID", ""),
                version=env.get("LINKEDIN_VERSION", DEFAULT_VERSION),
                source_platform=env.get("LINKEDIN_SOURCE_PLATFORM", ""),
                max_elements=int(env.get("LINKEDIN_MAX_ELEMENTS", str(defaults.max_elements))),
                requests_per_second=float(env.get("LINKEDIN_REQUESTS_PER_SECOND", str(defaults.requests_per_second))),
                retry_horizon_seconds=int(env.get("RETRY_HORIZON_SECONDS", str(defaults.retry_horizon_seconds))),
            ),
            tuning=SyncTuning(
                send_concurrency=int(env.get("LINKEDIN_SEND_CONCURRENCY", str(SyncTuning.send_concurrency))),
                rate_headroom_percent=float(
                    env.get("LINKEDIN_RATE_HEADROOM_PERCENT", str(SyncTuning.rate_headroom_percent))
                ),
            ),
            api=ApiSettings(
                oauth_redirect_uri=env.get("OAUTH_REDIRECT_URI", ""),
                audience_max_age_seconds=float(env.get("AUDIENCE_MAX_AGE_SECONDS", str(DEFAULT_MAX_AGE_SECONDS))),
            ),
            profiles=ProfileSettings(
                groups=int(env.get("PROFILE_WRITE_GROUPS", str(ProfileSettings.groups))),
                max_array=int(env.get("ARRAY_MAX_LENGTH", str(ProfileSettings.max_array))),
            ),
            user_api=UserApiSettings(
                requests_per_minute=int(env.get("USER_API_REQUESTS_PER_MINUTE", str(DEFAULT_REQUESTS_PER_MINUTE))),
                partner_api_key=env.get("PARTNER_API_KEY", ""),
            ),
            webhook_allow_loopback=env.get("WEBHOOK_ALLOW_LOOPBACK", "") == "true",
            campaign_cache_seconds=float(env.get("CAMPAIGN_CACHE_SECONDS", "5")),
            time_scale=float(env.get("TIME_SCALE", "1")),
            s3_public_endpoint=env.get("S3_PUBLIC_ENDPOINT", ""),
            segment_cache_seconds=float(env.get("SEGMENT_CACHE_SECONDS", "5")),
            sweep_delay_seconds=int(env.get("SWEEP_DELAY_SECONDS", "15")),
        )


# Local mode runs every function in one process: each invocation sees its own function's environment through this
# (localmode/functions.py sets it), as each Lambda function sees only its own. Unset: the process's environment.
FUNCTION_ENVIRONMENT: ContextVar[Mapping[str, str] | None] = ContextVar("function_environment", default=None)


def function_environment() -> Mapping[str, str]:
    return FUNCTION_ENVIRONMENT.get() or os.environ
