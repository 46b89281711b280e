"""What the platform reads back from LinkedIn: each step's audience (size, match rate), cached."""

from __future__ import annotations

from functools import cached_property

from audience_sync.adapters.aws.audience_cache import DynamoAudienceCache
from audience_sync.composition.destinations import Destinations
from audience_sync.insights.refresh import AudienceRefresher


class Insights(Destinations):
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
