"""The partner cohort import (contract v2 §3) on template.yaml in moto: credentials in the body, cohort names,
membership changes through the profile queue and the real writer, ignored ids counted per cohort."""

from __future__ import annotations

from typing import Any

import pytest

from audience_sync.adapters.aws.profiles_table import DynamoProfileStore
from audience_sync.cohorts.requests import TOO_MANY_IDS
from audience_sync.profiles.reader import ProfileReader
from tests.integration.platform.platform_support import Platform
from tests.stack_support import PARTNER_API_KEY

COHORTS = "/partners/segment/cohorts"
USERS = "/partners/segment/cohorts/users"


def _secret(platform: Platform, partner: str = "segment") -> str:
    reply = platform.request(
        "POST", "/v1/data-import-keys", {"partner": partner}, {"x-api-key": platform.stack.api_key}
    )
    assert reply.status == 201, reply.text
    return str(reply.json["client_secret"])


def _cohorts_of(platform: Platform, external_id: str) -> list[str]:
    store = DynamoProfileStore(platform.stack.stack.ref("ProfilesTable"))
    home = ProfileReader(store).home_of(f"x:{external_id}")
    assert home is not None
    (profile,) = [item for item in store.items_of(home) if item.sk == "p"]
    return list(profile.doc.get("cohorts", []))


def _listed(platform: Platform) -> list[dict[str, Any]]:
    reply = platform.request("GET", "/v1/cohorts", headers={"x-api-key": platform.stack.api_key})
    assert reply.status == 200, reply.text
    cohorts: list[dict[str, Any]] = reply.json["cohorts"]
    return cohorts


def test_a_segment_audience_becomes_cohort_memberships_of_known_users(platform: Platform) -> None:
    secret = _secret(platform)
    credentials = {"partner_api_key": PARTNER_API_KEY, "client_secret": secret}
    key = platform.new_key("users.track")
    platform.braze("/users/track", {"attributes": [{"external_id": "u1"}, {"external_id": "u2"}]}, key)
    platform.write()

    # Segment tests its credentials with an empty change list, then names the cohort, then sends the members
    test = {**credentials, "cohort_id": "will_add_in_constant", "cohort_changes": []}
    assert platform.request("POST", USERS, test).status == 201
    named = {**credentials, "cohort_id": "aud_1", "name": "high_value", "created_at": "2026-12-05T10:00:00Z"}
    assert platform.request("POST", COHORTS, named).json == {"message": "success"}
    renamed = {**named, "name": "High value", "created_at": "2026-12-06T09:00:00Z"}  # Segment sends its batch's time
    assert platform.request("POST", COHORTS, renamed).status == 201  # renamed, idempotent
    changes = [{"user_ids": ["u1", "u2", "ghost"], "device_ids": ["d-1"]}, {"user_ids": ["u2"], "should_remove": True}]
    reply = platform.request("POST", USERS, {**credentials, "cohort_id": "aud_1", "cohort_changes": changes})
    assert (reply.status, reply.json) == (201, {"message": "success"})
    platform.write()

    assert _cohorts_of(platform, "u1") == ["segment:aud_1"]
    assert _cohorts_of(platform, "u2") == []  # added and removed in one request: removed
    listed = {c["cohort_id"]: c for c in _listed(platform)}
    assert (listed["aud_1"]["name"], listed["aud_1"]["created_at"]) == ("High value", "2026-12-05T10:00:00Z")
    assert listed["aud_1"]["ignored_ids"] == 2  # ghost (no such user, none created) and the device id
    assert listed["aud_1"]["members"] == 1  # u1 (u2 joined and left in one request)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"partner_api_key": "wrong"}, "Invalid partner API key"),
        ({"partner_api_key": None}, "Invalid partner API key"),
        ({"client_secret": "wrong"}, "Invalid client secret"),
    ],
)
def test_bad_credentials_are_a_401_in_brazes_words(platform: Platform, change: dict[str, Any], message: str) -> None:
    body = {"partner_api_key": PARTNER_API_KEY, "client_secret": _secret(platform), "cohort_id": "c"}
    reply = platform.request("POST", USERS, {**body, "cohort_changes": [{"user_ids": ["u1"]}], **change})
    assert (reply.status, reply.json["message"]) == (401, message)
    assert platform.queued() == []


def test_a_secret_of_another_partner_or_a_bad_body_changes_nothing(platform: Platform) -> None:
    credentials = {"partner_api_key": PARTNER_API_KEY, "client_secret": _secret(platform, "amplitude")}
    reply = platform.request("POST", USERS, {**credentials, "cohort_id": "c", "cohort_changes": []})
    assert (reply.status, reply.json["message"]) == (401, "Invalid client secret")
    credentials["client_secret"] = _secret(platform)
    too_many = [{"user_ids": [f"u{i}" for i in range(600)]}, {"device_ids": [f"d{i}" for i in range(401)]}]
    reply = platform.request("POST", USERS, {**credentials, "cohort_id": "c", "cohort_changes": too_many})
    assert (reply.status, reply.json["message"]) == (400, TOO_MANY_IDS)
    assert platform.request("POST", USERS, '{"cohort_id": "c", "cohort_id": "d"}').status == 400
    assert platform.request("POST", COHORTS, {**credentials, "cohort_id": "c", "name": ""}).status == 400
    assert platform.queued() == [] and _listed(platform) == []
