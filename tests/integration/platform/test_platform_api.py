"""The Braze-compatible API on template.yaml in moto: keys, the user routes, the profile queue and the real writer."""

from __future__ import annotations

import boto3

from tests.integration.platform.platform_support import Platform

T = "2026-12-01T10:00:00Z"
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def test_track_then_export_reads_back_what_braze_would(platform: Platform) -> None:
    key = platform.new_key("users.track", "users.export.ids")
    reply = platform.braze(
        "/users/track",
        {
            "attributes": [
                {"external_id": "u1", "first_name": "Ann", "visits": {"inc": 1}, "segs": {"add": ["a", "b"]}},
                {"first_name": "nobody"},
            ],
            "events": [{"external_id": "u1", "name": "login", "time": T, "properties": {"plan": "pro"}}],
            "purchases": [{"external_id": "u1", "product_id": "sku", "currency": "USD", "price": 9.5, "time": T}],
            "app_group_id": "ignored",
        },
        key,
    )
    assert reply.status == 201, reply.text
    assert reply.json == {
        "message": "success",
        "attributes_processed": 1,
        "events_processed": 1,
        "purchases_processed": 1,
        "errors": [
            {
                "type": "'external_id', 'braze_id', 'user_alias', 'email' or 'phone' is required",
                "input_array": "attributes",
                "index": 1,
            }
        ],
    }
    assert all(name in reply.headers for name in RATE_HEADERS)
    assert platform.export(key, "u1")["users"] == []  # queued, not applied yet
    platform.write()
    platform.braze(
        "/users/track", {"attributes": [{"external_id": "u1", "visits": {"inc": 2}, "segs": {"remove": ["a"]}}]}, key
    )
    platform.write()
    (user,) = platform.export(key, "u1", "u2")["users"]
    assert user["first_name"] == "Ann"
    assert user["custom_attributes"] == {"visits": 3, "segs": ["b"]}
    assert [(e["name"], e["count"]) for e in user["custom_events"]] == [("login", 1)]
    assert [(p["name"], p["count"]) for p in user["purchases"]] == [("sku", 1)]
    assert platform.export(key, "u1", "u2")["invalid_user_ids"] == ["u2"]


def test_a_redelivered_batch_changes_nothing(platform: Platform) -> None:
    key = platform.new_key("users.track", "users.export.ids")
    platform.braze("/users/track", {"attributes": [{"external_id": "u1", "n": {"inc": 1}}]}, key)
    records = platform.queued()
    platform.stack.invoke("ProfileWriterFunction", {"Records": records})
    platform.write(records)  # delivered again (the first invocation's deletes were lost)
    assert platform.export(key, "u1")["users"][0]["custom_attributes"] == {"n": 1}


def test_keys_permissions_and_bodies_are_checked_in_brazes_envelope(platform: Platform) -> None:
    track_only = platform.new_key("users.track")
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {track_only}"}):
        reply = platform.request("POST", "/users/track", {"attributes": []}, headers)
        assert (reply.status, reply.json) == (401, {"message": "Invalid API Key", "errors": []})
        assert "X-RateLimit-Limit" not in reply.headers  # the key is not known
    reply = platform.braze("/users/delete", {"external_ids": ["u1"]}, track_only)
    assert (reply.status, reply.json["message"]) == (403, "Access Denied")
    assert all(name in reply.headers for name in RATE_HEADERS)
    for body in ("not json", '{"attributes": [], "attributes": []}', "[1]", '{"n": NaN}'):
        assert platform.braze("/users/track", body, track_only).status == 400, body
    too_many = {"attributes": [{"external_id": f"u{i}", "a": 1} for i in range(76)]}
    reply = platform.braze("/users/track", too_many, track_only)
    assert (reply.status, reply.json["message"]) == (400, "Max Input Length Exceeded")
    assert platform.queued() == []  # nothing applied
    huge = platform.braze("/users/track", "x" * (6 * 1024 * 1024), track_only)
    assert huge.status == 413 and set(huge.json) == {"message", "errors"}
    missing = platform.braze("/users/nope", {}, track_only)
    assert (missing.status, missing.json["message"]) == (404, "Invalid URL")


def test_a_revoked_key_is_refused(platform: Platform) -> None:
    key = platform.new_key("users.track")
    listed = platform.request("GET", "/v1/rest-api-keys", headers={"x-api-key": platform.stack.api_key}).json["keys"]
    (entry,) = [k for k in listed if key.startswith(k["id"])]
    assert "key" not in entry and key not in str(listed)
    reply = platform.request(
        "DELETE", f"/v1/rest-api-keys/{entry['id']}", headers={"x-api-key": platform.stack.api_key}
    )
    assert reply.status == 204
    assert platform.braze("/users/track", {"attributes": []}, key).status == 401
    assert boto3.client("dynamodb").scan(TableName=platform.stack.stack.ref("CredentialsTable"))["Count"] == 0


def test_a_flood_gets_429_with_retry_after_and_nothing_past_the_limit_is_queued(platform: Platform) -> None:
    key = platform.new_key("users.track", rate_limit_per_minute=3)
    statuses = [
        platform.braze("/users/track", {"attributes": [{"external_id": "u", "n": {"inc": 1}}]}, key) for _ in range(5)
    ]
    assert [r.status for r in statuses] == [201, 201, 201, 429, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in statuses] == ["2", "1", "0", "0", "0"]
    assert int(statuses[3].headers["Retry-After"]) >= 1
    assert statuses[3].json["message"] == "Over rate limit"
    assert len(platform.queued()) == 3


def test_unknown_permissions_are_refused_by_the_management_api(platform: Platform) -> None:
    reply = platform.request(
        "POST", "/v1/rest-api-keys", {"name": "k", "permissions": ["users.all"]}, {"x-api-key": platform.stack.api_key}
    )
    assert reply.status == 400 and reply.json["error"]["code"] == "invalid_request"
