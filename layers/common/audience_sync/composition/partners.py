"""The Braze-compatible API's own services: API keys, the per-minute request count, and cohort imports."""

from __future__ import annotations

from functools import cached_property

from audience_sync.adapters.aws.credentials_table import DynamoCredentialStore
from audience_sync.adapters.aws.request_counter import DynamoRequestCounter
from audience_sync.cohorts.service import CohortImport
from audience_sync.composition.profiles import Profiles
from audience_sync.credentials.ports import RequestCounter
from audience_sync.credentials.service import Credentials


class PartnerAccess(Profiles):
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
    def cohort_import(self) -> CohortImport:
        return CohortImport(
            self.credentials,
            self.profile_service,
            self.cohort_store,
            self.settings.user_api.partner_api_key,
            self.clock,
        )
