"""The partner cohort import (contract v2 §3) behind the HTTP edge: the body's credentials checked, the body planned
(cohorts/requests.py), membership changes queued for the profile writer, cohort names stored.

Credentials are in the body, as Braze takes them: the stack's partner API key (PartnerApiKey), then a data import
key of that partner as `client_secret`. Either wrong is a 401 with Braze's words, and nothing is read or queued.
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Any

from audience_sync.cohorts.ports import CohortStore
from audience_sync.cohorts.requests import plan_changes, plan_definition
from audience_sync.core.clock import Clock
from audience_sync.core.errors import Unauthorized
from audience_sync.credentials.service import Credentials
from audience_sync.profiles.service import ProfileService

INVALID_PARTNER_KEY = "Invalid partner API key"  # Braze's words (contract v2 §3)


class CohortImport:
    def __init__(
        self,
        credentials: Credentials,
        profiles: ProfileService,
        store: CohortStore,
        partner_api_key: str,
        clock: Clock,
    ):
        self.credentials = credentials
        self.profiles = profiles
        self.store = store
        self.partner_api_key = partner_api_key
        self.clock = clock

    def _authorize(self, partner: str, body: dict[str, Any]) -> None:
        given = body.get("partner_api_key")
        # no key configured: every call is refused; compare_digest: no timing hint about the key
        if (
            not self.partner_api_key
            or not isinstance(given, str)
            or not hmac.compare_digest(given.encode("utf-8"), self.partner_api_key.encode("utf-8"))
        ):
            raise Unauthorized("invalid_partner_api_key", INVALID_PARTNER_KEY)
        self.credentials.import_key(partner, body.get("client_secret"))

    def define(self, partner: str, body: dict[str, Any]) -> dict[str, Any]:
        """`/partners/{partner}/cohorts`: create or rename a cohort."""
        self._authorize(partner, body)
        now = dt.datetime.fromtimestamp(self.clock.now_ms() / 1000, dt.UTC).isoformat(timespec="seconds")
        self.store.save(plan_definition(partner, body), now)
        return {"message": "success"}

    def change(self, partner: str, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        """`/partners/{partner}/cohorts/users`: membership deltas, queued in order with the users' other writes."""
        self._authorize(partner, body)
        changes = plan_changes(partner, body)
        self.profiles.queue_operations(changes.operations, request_id)
        if changes.ignored_device_ids:
            self.store.add_ignored({changes.cohort: changes.ignored_device_ids})
        return {"message": "success"}


def cohort_views(store: CohortStore) -> list[dict[str, Any]]:
    """Every cohort with its name and its count of ids that named no user, by partner and id."""
    return sorted(store.list(), key=lambda c: (c["partner"], c["cohort_id"]))
