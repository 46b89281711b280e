"""User profiles: the store, the service that plans and queues their writes and reads them, the users of a step
or campaign that are profiles, and the partners' cohorts."""

from __future__ import annotations

from functools import cached_property

from audience_sync.adapters.aws.cohorts_table import DynamoCohortStore
from audience_sync.adapters.aws.profile_queue import SqsProfileQueue
from audience_sync.adapters.aws.profiles_table import DynamoProfileStore
from audience_sync.cohorts.ports import CohortStore
from audience_sync.composition.core import Core
from audience_sync.profiles.ports import ProfileStore
from audience_sync.profiles.reader import ProfileReader
from audience_sync.profiles.service import ProfileService
from audience_sync.sources.profile_users import ProfileUsers


class Profiles(Core):
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
    def profile_users(self) -> ProfileUsers:
        return ProfileUsers(self.profile_store)

    @cached_property
    def cohort_store(self) -> CohortStore:
        return DynamoCohortStore(self.resources.require("cohorts_table"))
