"""Configuration read once from the environment the template (or local mode) sets."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise RuntimeError(f"environment variable {name} is not set")
    return value


@dataclass(frozen=True)
class Settings:
    steps_table: str
    metrics_table: str
    connections_table: str
    rate_limit_table: str
    sync_queue_url: str
    token_key_id: str
    linkedin_app_secret_arn: str
    oauth_state_secret_arn: str
    linkedin_api_url: str
    linkedin_oauth_url: str
    linkedin_client_id: str
    linkedin_version: str
    linkedin_source_platform: str
    oauth_redirect_uri: str
    max_elements: int
    requests_per_second: float
    rate_headroom_percent: float
    retry_horizon_seconds: int
    flush_seconds: int
    ledger_table: str
    retry_bucket: str
    retry_state_machine_arn: str
    notifications_topic_arn: str
    # LinkedIn requests one batcher keeps in flight (SendConcurrency): a 5,000-user request takes LinkedIn long
    # enough that one at a time cannot use the rate limit (they still leave at the bucket's pace).
    send_concurrency: int = 8
    # The audience cache (AudienceViewsTable) and how old a reading GET /v1/steps/{id}/audience still serves.
    audience_views_table: str = ""
    audience_max_age_seconds: float = 60
    # Set on the ingest function only, when the WebhookSigning parameter is enabled (empty: no signatures checked).
    webhook_signing_secret_arn: str = ""
    webhook_signatures_table: str = ""

    @staticmethod
    def from_env() -> Settings:
        return Settings(
            steps_table=_env("STEPS_TABLE"),
            metrics_table=_env("METRICS_TABLE"),
            connections_table=_env("CONNECTIONS_TABLE"),
            rate_limit_table=_env("RATE_LIMIT_TABLE"),
            sync_queue_url=_env("SYNC_QUEUE_URL"),
            token_key_id=_env("TOKEN_KEY_ID"),
            linkedin_app_secret_arn=_env("LINKEDIN_APP_SECRET_ARN"),
            oauth_state_secret_arn=_env("OAUTH_STATE_SECRET_ARN"),
            linkedin_api_url=_env("LINKEDIN_API_URL").rstrip("/"),
            linkedin_oauth_url=_env("LINKEDIN_OAUTH_URL").rstrip("/"),
            linkedin_client_id=_env("LINKEDIN_CLIENT_ID"),
            linkedin_version=_env("LINKEDIN_VERSION", "202609"),
            linkedin_source_platform=_env("LINKEDIN_SOURCE_PLATFORM", ""),
            oauth_redirect_uri=_env("OAUTH_REDIRECT_URI", ""),
            max_elements=int(_env("LINKEDIN_MAX_ELEMENTS", "5000")),
            requests_per_second=float(_env("LINKEDIN_REQUESTS_PER_SECOND", "10")),
            rate_headroom_percent=float(_env("LINKEDIN_RATE_HEADROOM_PERCENT", "8")),
            retry_horizon_seconds=int(_env("RETRY_HORIZON_SECONDS", "46800")),
            flush_seconds=int(_env("FLUSH_SECONDS", "5")),
            ledger_table=_env("LEDGER_TABLE"),
            retry_bucket=_env("RETRY_BUCKET"),
            retry_state_machine_arn=_env("RETRY_STATE_MACHINE_ARN"),
            notifications_topic_arn=_env("NOTIFICATIONS_TOPIC_ARN", ""),
            send_concurrency=int(_env("LINKEDIN_SEND_CONCURRENCY", "8")),
            audience_views_table=_env("AUDIENCE_VIEWS_TABLE", ""),
            audience_max_age_seconds=float(_env("AUDIENCE_MAX_AGE_SECONDS", "60")),
            webhook_signing_secret_arn=_env("WEBHOOK_SIGNING_SECRET_ARN", ""),
            webhook_signatures_table=_env("WEBHOOK_SIGNATURES_TABLE", ""),
        )


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()
