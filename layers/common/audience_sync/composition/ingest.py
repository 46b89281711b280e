"""The step-entry webhook: users onto the sync queue, and the webhook signature check."""

from __future__ import annotations

from functools import cached_property

from audience_sync.adapters.aws import secrets
from audience_sync.adapters.aws.queues import SqsPublisher
from audience_sync.adapters.aws.signature_table import DynamoSignatureRegistry
from audience_sync.composition.profiles import Profiles
from audience_sync.pipeline.ingest import IngestService
from audience_sync.sources.webhook.signature import WebhookSignatures


class Ingest(Profiles):
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
