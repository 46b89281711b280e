"""Sync steps that follow segments (contract v2 §5) on template.yaml in moto, LinkedIn = the sandbox: entries and
exits of the segment (and of consent) flow through the one pipeline into the audience, with backfill, sync_exits,
deletes, consent withdrawn, thin webhooks, and metrics that add up."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from audience_sync.adapters.aws import segments_table
from audience_sync.segments.filters import MAX_DEPTH
from tests.integration.api.api_helpers import Api, sha256
from tests.integration.platform.platform_support import Platform

CONSENT = [{"attribute": "ad_tracking_enabled", "op": "eq", "value": True}]
GOLD = {"name": "Gold", "filter": {"attribute": "plan", "op": "eq", "value": "gold"}}


def _user(n: int, plan: str = "gold", consent: bool = True) -> dict[str, Any]:
    return {"external_id": f"u{n}", "email": f"U{n}@Example.com", "plan": plan, "ad_tracking_enabled": consent}


def _audience(api: Api, audience_id: str) -> set[str]:
    reply = requests.get(f"{api.stack.sandbox.url}/_sandbox/segments/{audience_id}/members", timeout=10)
    assert reply.status_code == 200, reply.text
    return {m["userIds"][0]["idValue"] for m in reply.json()["members"]}


def _emails(*numbers: int) -> set[str]:
    return {sha256(f"u{n}@example.com") for n in numbers}


def _settle(platform: Platform, api: Api) -> None:
    """Profile writes, sweeps and memberships applied, then the batcher over what they queued."""
    platform.settle()
    api.settle()


def _segment_metrics(api: Api, step_id: str) -> dict[str, int]:
    api.settle()
    reply = api.get(f"/v1/steps/{step_id}/metrics")
    assert reply.status == 200, reply.text
    return dict(reply.json)


def test_a_step_follows_its_segment_and_consent_into_and_out_of_the_audience(platform: Platform) -> None:
    api = Api(platform.stack)
    key = platform.new_key("users.track", "users.delete")
    users = [_user(1), _user(2), _user(3), _user(4, consent=False), _user(5, plan="free")]
    assert platform.braze("/users/track", {"attributes": users}, key).status == 201
    assert api.request("PUT", "/v1/segments/gold", GOLD).status == 200
    _settle(platform, api)

    source = {"type": "segment", "segment_id": "gold", "backfill": True, "sync_exits": True}
    audience = api.active_step("follow", source=source, entry_filters=CONSENT)
    _settle(platform, api)
    assert _audience(api, audience) == _emails(1, 2, 3)  # backfilled; u4 without consent, u5 not gold

    # in and out as it happens: u5 turns gold, u1 turns free, u2 withdraws consent, u3 is deleted
    changes = [{"external_id": "u5", "plan": "gold"}, {"external_id": "u1", "plan": "free"}]
    changes.append({"external_id": "u2", "ad_tracking_enabled": False})
    assert platform.braze("/users/track", {"attributes": changes}, key).status == 201
    assert platform.braze("/users/delete", {"external_ids": ["u3"]}, key).status == 202
    _settle(platform, api)
    assert _audience(api, audience) == _emails(5)

    metrics = _segment_metrics(api, "follow")
    assert (metrics["entered"], metrics["synced"], metrics["left"], metrics["removed"]) == (4, 4, 3, 3)
    assert (metrics["pending"], metrics["errored"]) == (0, 0)
    view = api.get("/v1/steps/follow").json
    assert view["config"]["source"] == source


def test_without_backfill_or_sync_exits_only_new_entries_go_but_consent_and_deletes_still_remove(
    platform: Platform,
) -> None:
    api = Api(platform.stack)
    key = platform.new_key("users.track", "users.delete")
    platform.braze("/users/track", {"attributes": [_user(1), _user(2), _user(3, plan="free")]}, key)
    api.request("PUT", "/v1/segments/gold", GOLD)
    _settle(platform, api)
    source = {"type": "segment", "segment_id": "gold"}
    audience = api.active_step("new-only", source=source, entry_filters=CONSENT)
    _settle(platform, api)
    assert _audience(api, audience) == set()  # members at launch are not entered without backfill

    platform.braze("/users/track", {"attributes": [{"external_id": "u3", "plan": "gold"}]}, key)
    _settle(platform, api)
    assert _audience(api, audience) == _emails(3)
    leave = [{"external_id": "u3", "plan": "free"}]  # leaves the segment: stays, the step does not sync exits
    platform.braze("/users/track", {"attributes": leave}, key)
    _settle(platform, api)
    assert _audience(api, audience) == _emails(3)
    back = [{"external_id": "u3", "plan": "gold"}, {"external_id": "u3", "ad_tracking_enabled": False}]
    platform.braze("/users/track", {"attributes": back}, key)  # back in the segment, but without consent: removed
    _settle(platform, api)
    assert _audience(api, audience) == set()
    metrics = _segment_metrics(api, "new-only")
    assert (metrics["entered"], metrics["synced"], metrics["left"], metrics["removed"]) == (1, 1, 1, 1)


def test_a_user_kept_after_leaving_the_segment_is_removed_when_deleted(platform: Platform) -> None:
    """No sync_exits and no entry filters: the step keeps those who leave, until they are deleted."""
    api = Api(platform.stack)
    key = platform.new_key("users.track", "users.delete")
    platform.braze("/users/track", {"attributes": [_user(1), _user(2)]}, key)
    api.request("PUT", "/v1/segments/gold", GOLD)
    _settle(platform, api)
    audience = api.active_step("keeper", source={"type": "segment", "segment_id": "gold", "backfill": True})
    _settle(platform, api)
    assert _audience(api, audience) == _emails(1, 2)
    platform.braze("/users/track", {"attributes": [{"external_id": f"u{n}", "plan": "free"} for n in (1, 2)]}, key)
    _settle(platform, api)
    assert _audience(api, audience) == _emails(1, 2)  # both left the segment: kept
    assert platform.braze("/users/delete", {"external_ids": ["u1"]}, key).status == 202
    _settle(platform, api)
    assert _audience(api, audience) == _emails(2)
    metrics = _segment_metrics(api, "keeper")
    assert (metrics["entered"], metrics["left"], metrics["removed"], metrics["pending"]) == (2, 1, 1, 0)


def test_a_segment_step_needs_its_segment_and_the_segment_cannot_go_while_followed(platform: Platform) -> None:
    api = Api(platform.stack)
    api.connect()
    source = {"type": "segment", "segment_id": "nope"}
    assert api.put_step("lost", source=source).status == 200
    launched = api.launch("lost")
    assert launched.status == 422, launched.text
    assert ("source", "segment_not_found") in {(p["field"], p["code"]) for p in launched.json["error"]["details"]}
    api.request("PUT", "/v1/segments/gold", GOLD)
    api.active_step("follower", source={"type": "segment", "segment_id": "gold"})
    deleted = api.request("DELETE", "/v1/segments/gold")
    assert (deleted.status, deleted.json["error"]["code"]) == (409, "segment_in_use")
    assert api.request("PUT", "/v1/segments/step:follower", GOLD).status == 400  # a step's own: not a client's
    for reserved in ("step:follower", "consent:follower"):  # nor a segment to follow
        assert api.put_step("own", source={"type": "segment", "segment_id": reserved}).status == 200
        own = api.launch("own")
        assert ("source", "invalid_segment_id") in {(p["field"], p["code"]) for p in own.json["error"]["details"]}
    key = platform.new_key("segments.details")
    details = platform.request(
        "GET", "/segments/details?segment_id=step:follower", None, {"Authorization": f"Bearer {key}"}
    )
    assert details.status == 404  # a step's own is not a client's segment
    # its users are the segment's members: no webhook
    refused_users = api.post_users("follower", [{"external_id": "u1"}])
    assert (refused_users.status, refused_users.json["error"]["code"]) == (409, "step_follows_a_segment")
    # a filter the follower cannot take with its entry filters is refused whole: the segment keeps its filter
    api.active_step("consenting", source={"type": "segment", "segment_id": "gold"}, entry_filters=CONSENT)
    deepest: dict[str, Any] = GOLD["filter"]
    for _ in range(MAX_DEPTH):
        deepest = {"not": deepest}
    refused = api.request("PUT", "/v1/segments/gold", {"name": "Gold", "filter": deepest})
    assert (refused.status, refused.json["error"]["code"]) == (422, "segment_too_complex")
    assert api.get("/v1/segments/gold").json["filter"] == GOLD["filter"]
    # nor can a step launch on a segment too complex with its entry filters: refused before anything is done
    assert api.request("PUT", "/v1/segments/deep", {"name": "Deep", "filter": deepest}).status == 200
    assert api.put_step("deep", source={"type": "segment", "segment_id": "deep"}, entry_filters=CONSENT).status == 200
    too_complex = api.launch("deep")
    assert too_complex.status == 422, too_complex.text
    assert ("source", "segment_too_complex") in {(p["field"], p["code"]) for p in too_complex.json["error"]["details"]}
    assert api.get("/v1/steps/deep").json["status"] == "draft"
    bad = api.put_step("bad", source={"type": "segment"})
    assert bad.status == 400, bad.text


def test_a_webhook_may_send_only_external_ids_and_the_profile_fills_the_rest(platform: Platform) -> None:
    api = Api(platform.stack)
    key = platform.new_key("users.track")
    platform.braze("/users/track", {"attributes": [_user(1), _user(2, consent=False)]}, key)
    platform.settle()
    audience = api.active_step("thin", entry_filters=CONSENT)
    reply = api.post_users("thin", [{"external_id": "u1"}, {"external_id": "u2"}, {"external_id": "ghost"}])
    # u1 completed from its profile; u2's profile says no consent; ghost has no profile, so no consent either
    assert reply.json == {"accepted": 1, "filtered": 2, "not_synced": 0}, reply.text
    api.settle()
    assert _audience(api, audience) == _emails(1)


def test_a_deleted_user_leaves_the_audiences_of_webhook_steps(platform: Platform) -> None:
    """Which webhook brought whom is not kept: a deletion removes the profile's identifiers from every launched
    webhook step's audience (LinkedIn ignores the removal of someone it does not hold)."""
    api = Api(platform.stack)
    key = platform.new_key("users.track", "users.delete")
    platform.braze("/users/track", {"attributes": [_user(1), _user(2)]}, key)
    platform.settle()
    audience = api.active_step("hooked")
    assert api.post_users("hooked", [{"external_id": "u1"}, _user(2), _user(3)]).status == 202  # u3: no profile
    api.settle()
    assert _audience(api, audience) == _emails(1, 2, 3)
    assert platform.braze("/users/delete", {"external_ids": ["u1", "u2"]}, key).status == 202
    _settle(platform, api)
    assert _audience(api, audience) == _emails(3)
    metrics = _segment_metrics(api, "hooked")
    assert (metrics["entered"], metrics["synced"], metrics["left"], metrics["removed"]) == (3, 3, 2, 2)


def test_consent_withdrawn_on_a_profile_removes_the_user_from_a_webhook_steps_audience(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the writers read the step's consent watch at once (they cache definitions CACHE_SECONDS: docs/segments.md)
    monkeypatch.setattr(segments_table, "CACHE_SECONDS", 0)
    api = Api(platform.stack)
    key = platform.new_key("users.track")
    platform.braze("/users/track", {"attributes": [_user(1), _user(2)]}, key)
    platform.settle()
    audience = api.active_step("consenting", entry_filters=CONSENT)
    assert api.post_users("consenting", [_user(1), _user(2)]).status == 202
    api.settle()
    assert _audience(api, audience) == _emails(1, 2)
    withdrawn = [{"external_id": "u1", "ad_tracking_enabled": False}, {"external_id": "u2", "plan": "free"}]
    assert platform.braze("/users/track", {"attributes": withdrawn}, key).status == 201
    _settle(platform, api)
    assert _audience(api, audience) == _emails(2)
    metrics = _segment_metrics(api, "consenting")
    assert (metrics["entered"], metrics["synced"], metrics["left"], metrics["removed"]) == (2, 2, 1, 1)


def test_a_relaunch_does_what_the_draft_did_not_and_backfills_when_asked(platform: Platform) -> None:
    """A step taken back to draft takes no users; its relaunch reconciles the audience with its own segment: members
    never sent enter (with backfill), those who left meanwhile are removed."""
    api = Api(platform.stack)
    key = platform.new_key("users.track")
    platform.braze("/users/track", {"attributes": [_user(1), _user(2)]}, key)
    api.request("PUT", "/v1/segments/gold", GOLD)
    _settle(platform, api)
    source = {"type": "segment", "segment_id": "gold", "sync_exits": True}
    audience = api.active_step("paused", source=source)
    _settle(platform, api)  # its launch's sweep done: u3 enters after it
    platform.braze("/users/track", {"attributes": [_user(3)]}, key)
    _settle(platform, api)
    assert _audience(api, audience) == _emails(3)  # no backfill: u1 and u2 were members at launch

    assert api.put_step("paused", source={**source, "backfill": True}).status == 200  # a new source: a draft
    assert api.get("/v1/steps/paused").json["status"] == "draft"
    changes = [{"external_id": "u3", "plan": "free"}, _user(4)]  # u3 leaves, u4 enters, while the step is a draft
    platform.braze("/users/track", {"attributes": changes}, key)
    _settle(platform, api)
    assert _audience(api, audience) == _emails(3)  # a draft takes no users
    assert api.launch("paused").status == 200
    _settle(platform, api)
    assert _audience(api, audience) == _emails(1, 2, 4)  # backfilled, and u3 removed
    metrics = _segment_metrics(api, "paused")
    assert (metrics["entered"], metrics["left"], metrics["removed"], metrics["pending"]) == (4, 1, 1, 0)
