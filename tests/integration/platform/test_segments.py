"""Segments (contract v2 §4) on template.yaml in moto: definitions through the management API, memberships kept by
the real profile writer as cohorts, attributes and events change, the sweep for existing profiles, the members'
index and counters of the membership function, and Braze's catalogue routes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.platform.platform_support import Platform
from tests.stack_support import PARTNER_API_KEY

SCHEDULED = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}

T = "2026-12-05T10:00:00Z"
SEGMENT = {
    "name": "Engaged gold buyers",
    "description": "from Segment's audience",
    "filter": {
        "all": [
            {"cohort": {"partner": "segment", "cohort_id": "aud_1"}, "op": "in"},
            {"attribute": "plan", "op": "eq", "value": "gold"},
            {"custom_event": "order", "op": "more_than", "count": 1},
        ]
    },
}


def _admin(platform: Platform, method: str, path: str, body: Any = None) -> Any:
    return platform.request(method, path, body, {"x-api-key": platform.stack.api_key})


def _cohort(platform: Platform, secret: str, *changes: dict[str, Any]) -> None:
    body = {"partner_api_key": PARTNER_API_KEY, "client_secret": secret, "cohort_id": "aud_1"}
    reply = platform.request("POST", "/partners/segment/cohorts/users", {**body, "cohort_changes": list(changes)})
    assert reply.status == 201, reply.text


def _members(platform: Platform, segment_id: str = "engaged", limit: int = 100) -> list[str | None]:
    found: list[str | None] = []
    cursor = None
    while True:
        query = f"?limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        reply = _admin(platform, "GET", f"/v1/segments/{segment_id}/members{query}")
        assert reply.status == 200, reply.text
        found += [m["external_id"] for m in reply.json["members"]]
        cursor = reply.json["next_cursor"]
        if cursor is None:
            return sorted(found, key=str)


def test_a_segment_on_a_cohort_attributes_and_events_follows_its_users(platform: Platform) -> None:
    key = platform.new_key("users.track", "users.delete", "segments.list", "segments.details")
    secret = _admin(platform, "POST", "/v1/data-import-keys", {"partner": "segment"}).json["client_secret"]
    users = [{"external_id": f"u{n}", "plan": "gold"} for n in range(1, 5)]
    orders = [{"external_id": f"u{n}", "name": "order", "time": T} for n in (1, 2, 3) for _ in range(2)]
    assert platform.braze("/users/track", {"attributes": users, "events": orders}, key).status == 201
    _cohort(platform, secret, {"user_ids": ["u1", "u2", "u4"]})
    platform.settle()

    # defined after its users exist: the sweep enters them
    reply = _admin(platform, "PUT", "/v1/segments/engaged", SEGMENT)
    assert reply.status == 200, reply.text
    assert (reply.json["name"], reply.json["size"]) == ("Engaged gold buyers", 0)
    platform.settle()
    assert _members(platform) == ["u1", "u2"]  # u3 is not in the cohort, u4 ordered nothing

    # then each kind of change moves users: an event, an attribute, the cohort, a delete
    platform.braze("/users/track", {"events": [{"external_id": "u4", "name": "order", "time": T}] * 2}, key)
    platform.braze("/users/track", {"attributes": [{"external_id": "u1", "plan": "free"}]}, key)
    _cohort(platform, secret, {"user_ids": ["u3"]}, {"user_ids": ["u2"], "should_remove": True})
    platform.settle()
    assert _members(platform, limit=1) == ["u3", "u4"]  # paged one by one
    assert platform.braze("/users/delete", {"external_ids": ["u3"]}, key).status == 202
    platform.settle()

    view = _admin(platform, "GET", "/v1/segments/engaged").json
    assert _members(platform) == ["u4"]
    assert view["size"] == 1
    assert (view["metrics"]["entered"], view["metrics"]["exited"]) == (4, 3)  # u1 u2 u3 u4 in; u1 u2 u3 out
    assert sum(h["entered"] for h in view["metrics"]["hours"]) == 4
    assert view["filter"] == SEGMENT["filter"]
    # the schedule folds the counts the membership function recorded; what the API shows does not change
    assert platform.stack.invoke("SegmentCountersFunction", SCHEDULED)["folded"] > 0
    assert platform.stack.invoke("SegmentCountersFunction", SCHEDULED) == {"folded": 0}
    assert _admin(platform, "GET", "/v1/segments/engaged").json == view

    listed = platform.request("GET", "/segments/list", headers={"Authorization": f"Bearer {key}"})
    assert listed.status == 200, listed.text
    assert listed.json["segments"] == [
        {"id": "engaged", "name": "Engaged gold buyers", "analytics_tracking_enabled": False, "tags": []}
    ]
    details = platform.request(
        "GET", "/segments/details?segment_id=engaged", headers={"Authorization": f"Bearer {key}"}
    )
    assert details.status == 200, details.text
    assert details.json["description"] == "from Segment's audience"
    assert "order" in details.json["text_description"] and "gold" in details.json["text_description"]


def test_a_segment_renamed_keeps_its_members_and_deleted_is_gone(platform: Platform) -> None:
    key = platform.new_key("users.track")
    platform.braze("/users/track", {"attributes": [{"external_id": "u1", "plan": "gold"}]}, key)
    gold = {"name": "Gold", "filter": {"attribute": "plan", "op": "eq", "value": "gold"}}
    assert _admin(platform, "PUT", "/v1/segments/gold", gold).status == 200
    platform.settle()
    assert _members(platform, "gold") == ["u1"]
    assert _admin(platform, "PUT", "/v1/segments/gold", {**gold, "name": "Gold users"}).status == 200
    assert platform.drain("SweepQueue", "SegmentSweepFunction") == 0  # same filter: no sweep
    assert _admin(platform, "GET", "/v1/segments/gold").json["size"] == 1
    listed = _admin(platform, "GET", "/v1/segments").json["segments"]
    assert [(s["id"], s["name"], s["filter"]) for s in listed] == [("gold", "Gold users", gold["filter"])]
    assert _admin(platform, "DELETE", "/v1/segments/gold").status == 204
    assert _admin(platform, "GET", "/v1/segments/gold").status == 404
    assert _admin(platform, "GET", "/v1/segments").json == {"segments": []}  # a deleted one is not listed
    assert _admin(platform, "DELETE", "/v1/segments/gold").status == 404
    again = _admin(platform, "PUT", "/v1/segments/gold", gold)  # its members linger in profiles: never reused
    assert (again.status, again.json["error"]["code"]) == (409, "segment_deleted")


@pytest.mark.parametrize(
    ("body", "path"),
    [
        (
            {"name": "x", "filter": {"all": [{"attribute": "plan", "op": "eq", "value": 1}, {"attribute": "plan"}]}},
            "/filter/all/1/op",
        ),
        ({"name": "x", "filter": {"any": []}}, "/filter/any"),
        ({"name": "x", "filter": {"attribute": "plan", "op": "gt", "value": "high"}}, "/filter/value"),
        ({"filter": {"attribute": "plan", "op": "exists"}}, "/name"),
        ({"name": "x", "filter": {"attribute": "plan", "op": "exists"}, "owner": "me"}, "/owner"),
    ],
)
def test_a_bad_segment_is_a_400_naming_the_node_and_stores_nothing(
    platform: Platform, body: dict[str, Any], path: str
) -> None:
    reply = _admin(platform, "PUT", "/v1/segments/bad", body)
    assert reply.status == 400, reply.text
    (detail,) = reply.json["error"]["details"]
    assert detail["path"] == path and detail["message"]
    assert _admin(platform, "GET", "/v1/segments/bad").status == 404


def test_unknown_segments_bad_cursors_and_keys_without_permission_are_refused(platform: Platform) -> None:
    assert _admin(platform, "GET", "/v1/segments/nope/members").status == 404
    assert _admin(platform, "PUT", "/v1/segments/a b", {"name": "x", "filter": {}}).status == 400
    gold = {"name": "Gold", "filter": {"attribute": "plan", "op": "eq", "value": "gold"}}
    _admin(platform, "PUT", "/v1/segments/gold", gold)
    assert _admin(platform, "GET", "/v1/segments/gold/members?cursor=bm90IG91cnM=").status == 400
    key = platform.new_key("users.track")
    users = [{"external_id": f"u{n}", "plan": "gold"} for n in range(3)]
    platform.braze("/users/track", {"attributes": users}, key)
    _admin(platform, "PUT", "/v1/segments/gold2", gold)
    platform.settle()
    cursor = _admin(platform, "GET", "/v1/segments/gold2/members?limit=1").json["next_cursor"]
    assert cursor and _admin(platform, "GET", f"/v1/segments/gold2/members?limit=1&cursor={cursor}").status == 200
    assert _admin(platform, "GET", f"/v1/segments/gold/members?cursor={cursor}").status == 400  # another's
    assert _admin(platform, "GET", "/v1/segments/gold/members?limit=0").status == 400
    headers = {"Authorization": f"Bearer {key}"}
    assert platform.request("GET", "/segments/list", headers=headers).status == 403
    full = platform.new_key("segments.details")
    reply = platform.request("GET", "/segments/details?segment_id=nope", headers={"Authorization": f"Bearer {full}"})
    assert (reply.status, reply.json["message"]) == (404, "segment not found")
