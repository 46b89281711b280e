"""The destinations (LinkedIn, the outbound webhook) and LinkedIn's connection: for the functions that send to or
read from a destination. The ingest never builds this, so it never loads a destination's HTTP client."""

from __future__ import annotations

from functools import cached_property

from audience_sync.adapters.aws import secrets
from audience_sync.adapters.aws.connections_table import DynamoConnectionStore
from audience_sync.adapters.aws.kms import KmsTokenCipher
from audience_sync.composition.core import Core
from audience_sync.connections.service import ConnectionService
from audience_sync.connections.session import TokenSession
from audience_sync.destinations.base import Destination
from audience_sync.destinations.linkedin.destination import LinkedInDestination
from audience_sync.destinations.webhook.destination import WebhookDestination


class Destinations(Core):
    @cached_property
    def linkedin(self) -> LinkedInDestination:
        arn = self.resources.linkedin_app_secret_arn
        # The app secret is read when a token is exchanged or refreshed, not before (the CLI reads none).
        return LinkedInDestination(self.settings.linkedin, lambda: secrets.oauth_client_secret(arn))

    @cached_property
    def webhook(self) -> Destination:
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
