"""POST /v1/steps/{step_id}/users: partition, entry filters, hashing, batching, metrics, idempotency, limits."""

from __future__ import annotations

import json
from typing import Any

from tests.integration.api.api_helpers import Api, assert_error, sha256

ZERO = {"entered": 0, "proceeded": 0, "synced": 0, "not_synced": 0, "pending": 0, "errored": 0, "exited": 0}


def _assert_nothing_written(api: Api, step_id: str = "s1") -> None:
    assert api.queue_bodies() == []
    assert api.metrics(step_id) == ZERO
    assert api.metrics_items() == []


def test_users_are_partitioned_into_accepted_filtered_and_not_synced(api: Api) -> None:
    api.active_step("s1", entry_filters=[{"attribute": "opted_in_marketing", "op": "eq", "value": True}])
    users = [
        {"external_id": "ok-1", "email": "one@example.com", "attributes": {"opted_in_marketing": True}},
        {"external_id": "ok-2", "email": "two@example.com", "attributes": {"opted_in_marketing": True}},
        {"external_id": "no-email", "first_name": "Ann", "attributes": {"opted_in_marketing": True}},
        {"external_id": "bad-email", "email": "not-an-email", "attributes": {"opted_in_marketing": True}},
        {"external_id": "opted-out", "email": "three@example.com", "attributes": {"opted_in_marketing": False}},
        {"external_id": "unknown-consent", "email": "four@example.com"},
    ]
    reply = api.post_users("s1", users)
    assert reply.status == 202
    assert reply.json == {"accepted": 2, "filtered": 2, "not_synced": 2}
    queued = api.queued_users(api.queue_bodies())
    assert sorted(u["x"] for u in queued) == ["ok-1", "ok-2"]


def test_entry_filters_keep_filtered_users_out_of_the_queue(api: Api) -> None:
    filters = [
        {"attribute": "ad_tracking_enabled", "op": "eq", "value": True},  # top-level, declared
        {"attribute": "opted_in_marketing", "op": "eq", "value": True},  # attributes
        {"attribute": "do_not_sell_or_share", "op": "ne", "value": True},  # attributes; absent passes
        {"attribute": "consent_at", "op": "exists"},  # top-level, extra field
        {"attribute": "suppressed", "op": "not_exists"},  # attributes
    ]
    api.active_step("s1", entry_filters=filters)

    def user(external_id: str, top: dict[str, Any] | None = None, **attributes: Any) -> dict[str, Any]:
        base = {"ad_tracking_enabled": True, "consent_at": "2026-01-01"}
        merged = {**base, **(top or {})}
        attrs = {"opted_in_marketing": True, **attributes}
        body = {"external_id": external_id, "email": f"{external_id}@example.com", "attributes": attrs}
        return {**body, **{k: v for k, v in merged.items() if v is not None}}

    users = [
        user("in-1"),
        user("in-2", do_not_sell_or_share=False),
        user("out-tracking-off", {"ad_tracking_enabled": False}),
        user("out-tracking-missing", {"ad_tracking_enabled": None}),
        user("out-not-opted-in", opted_in_marketing=False),
        user("out-opt-in-is-string", opted_in_marketing="true"),
        user("out-do-not-sell", do_not_sell_or_share=True),
        user("out-no-consent", {"consent_at": None}),
        user("out-suppressed", suppressed=True),
    ]
    reply = api.post_users("s1", users)
    assert reply.status == 202
    assert reply.json == {"accepted": 2, "filtered": 7, "not_synced": 0}
    bodies = api.queue_bodies()
    assert sorted(u["x"] for u in api.queued_users(bodies)) == ["in-1", "in-2"]
    for body in bodies:
        assert "out-" not in body
    metrics = api.metrics("s1")
    assert metrics["entered"] == 2  # filtered users never entered the step


def test_emails_are_hashed_before_they_are_queued(api: Api) -> None:
    api.active_step("s1", match_fields=["email", "first_last_name"])
    users = [
        {"external_id": "u1", "email": "  Alice.Smith@Example.COM ", "first_name": "Alice", "last_name": "Smith"},
        {"external_id": "u2", "email": "bob@example.org"},
        {"external_id": "u3", "email": sha256("carol@example.net").upper()},  # pre-hashed is passed through
    ]
    assert api.post_users("s1", users).json == {"accepted": 3, "filtered": 0, "not_synced": 0}
    bodies = api.queue_bodies()
    assert bodies
    for body in bodies:
        assert "@" not in body
        assert "alice.smith" not in body.lower()
        assert "bob" not in body
    emails = {u["x"]: u.get("e") for u in api.queued_users(bodies)}
    assert emails == {
        "u1": sha256("alice.smith@example.com"),
        "u2": sha256("bob@example.org"),
        "u3": sha256("carol@example.net"),
    }


def test_many_users_travel_in_few_messages(api: Api) -> None:
    api.active_step("s1")
    users = [{"external_id": f"user-{i:05d}", "email": f"user{i}@example.com"} for i in range(1000)]
    reply = api.post_users("s1", users)
    assert reply.status == 202
    assert reply.json == {"accepted": 1000, "filtered": 0, "not_synced": 0}
    bodies = api.queue_bodies()
    assert 1 <= len(bodies) <= 3
    queued = api.queued_users(bodies)
    assert sorted(u["x"] for u in queued) == [u["external_id"] for u in users]
    message = json.loads(bodies[0])
    assert message["step_id"] == "s1"
    assert message["target"]["ad_account_id"] == "507000001"


def test_metrics_after_ingest(api: Api) -> None:
    users = [
        {"external_id": "a", "email": "a@example.com"},
        {"external_id": "b", "email": "b@example.com"},
        {"external_id": "c", "email": "c@example.com"},
        {"external_id": "d"},  # nothing to match on
    ]
    for step_id, last_step in (("middle", False), ("last", True)):
        api.active_step(step_id, last_step=last_step)
        assert api.metrics(step_id) == ZERO
        assert api.post_users(step_id, users).json == {"accepted": 3, "filtered": 0, "not_synced": 1}
        # The webhook's counts travel with its users: nothing moves until the batcher settles the message.
        assert api.get(f"/v1/steps/{step_id}/metrics").json == ZERO
        expected = {**ZERO, "entered": 4, "not_synced": 1, "synced": 3}
        expected["exited" if last_step else "proceeded"] = 4
        assert api.metrics(step_id) == expected
    # Counters add up over requests.
    assert api.post_users("middle", users[:1]).status == 202
    assert api.metrics("middle") == {**ZERO, "entered": 5, "proceeded": 5, "not_synced": 1, "synced": 4}


def test_metrics_history_adds_up_to_the_metrics_minute_by_minute(api: Api) -> None:
    api.active_step("s1")
    users = [{"external_id": f"u{i}", "email": f"u{i}@example.com"} for i in range(5)] + [{"external_id": "x"}]
    assert api.post_users("s1", users).status == 202
    metrics = api.metrics("s1")  # settled
    reply = api.get("/v1/steps/s1/metrics/history?minutes=3")
    assert reply.status == 200, reply.text
    assert reply.json["minutes"] == 3
    points = reply.json["points"]
    assert len(points) == 3 and all(set(p) == {"minute", *metrics} for p in points)
    assert [p["minute"] for p in points] == sorted(p["minute"] for p in points)
    flows = {name: sum(p[name] for p in points) for name in metrics if name != "pending"}
    assert flows == {name: n for name, n in metrics.items() if name != "pending"}
    assert flows["entered"] == 6 and flows["synced"] == 5
    assert points[-1]["pending"] == metrics["pending"] == 0
    assert len(api.get("/v1/steps/s1/metrics/history").json["points"]) == 60  # the default window


def test_metrics_history_refuses_a_bad_window_and_an_unknown_step(api: Api) -> None:
    api.active_step("s1")
    for bad in ("0", "1441", "-5", "x", "1.5"):
        assert_error(api.get(f"/v1/steps/s1/metrics/history?minutes={bad}"), 400, "invalid_request")
    assert api.get("/v1/steps/s1/metrics/history?minutes=1440").status == 200
    assert api.get("/v1/steps/missing/metrics/history").status == 404


def test_repeated_idempotency_key_is_counted_once(api: Api) -> None:
    api.active_step("s1")
    users = [{"external_id": "a", "email": "a@example.com"}, {"external_id": "b"}]
    first = api.post_users("s1", users, idempotency_key="batch-1")
    second = api.post_users("s1", users, idempotency_key="batch-1")
    assert first.status == second.status == 202
    assert first.json == second.json == {"accepted": 1, "filtered": 0, "not_synced": 1}
    # Both copies are queued, with the same chunk id: the batcher's ledger counts it once.
    bodies = api.queue_bodies()
    assert [u["x"] for u in api.queued_users(bodies)] == ["a", "a"]
    assert len({json.loads(b)["chunk_id"] for b in bodies}) == 1
    assert api.metrics("s1") == {**ZERO, "entered": 2, "proceeded": 2, "not_synced": 1, "synced": 1}
    # A retry after the first copy was settled is counted nothing either.
    assert api.post_users("s1", users, idempotency_key="batch-1").json == first.json
    assert api.metrics("s1") == {**ZERO, "entered": 2, "proceeded": 2, "not_synced": 1, "synced": 1}
    # The same key on another step is another request.
    api.active_step("s2")
    assert api.post_users("s2", users, idempotency_key="batch-1").status == 202
    assert api.metrics("s2")["entered"] == 2


def test_a_repeat_served_by_another_container_is_counted_once(api: Api) -> None:
    """Each warm container has its own module state; a repeat must not depend on which one answers."""
    ingest = api.stack.stack.functions["IngestFunction"]
    for _ in range(2):
        ingest._idle.put(ingest._load())  # two idle containers: the two posts below go to different ones
    api.active_step("s1")
    users = [{"external_id": "a", "email": "a@example.com"}, {"external_id": "b", "email": "b@example.com"}]
    assert api.post_users("s1", users, idempotency_key="evt-9").status == 202
    assert api.post_users("s1", users, idempotency_key="evt-9").status == 202
    assert api.metrics("s1") == {**ZERO, "entered": 2, "proceeded": 2, "synced": 2}


def test_an_idempotency_key_reused_with_other_users_is_another_webhook(api: Api) -> None:
    # The key identifies a webhook together with its users (nothing is stored per key at the ingest).
    api.active_step("s1")
    assert api.post_users("s1", [{"external_id": "a", "email": "a@example.com"}], idempotency_key="k").status == 202
    other = [{"external_id": "b", "email": "b@example.com"}]
    assert api.post_users("s1", other, idempotency_key="k").status == 202
    assert api.metrics("s1") == {**ZERO, "entered": 2, "proceeded": 2, "synced": 2}


BAD_BODIES = [
    ("malformed_json", '{"users": [{"external_id": "a"}'),
    ("malformed_json", "users=a"),
    ("malformed_json", "[]"),
    ("malformed_json", "42"),
    ("invalid_request", json.dumps({"users": {"external_id": "a"}})),
    ("invalid_request", json.dumps({"users": "a"})),
    ("invalid_request", json.dumps({"users": [{"email": "a@example.com"}]})),
    ("invalid_request", json.dumps({"users": [{"external_id": 42, "email": "a@example.com"}]})),
    ("invalid_request", json.dumps({"users": [{"external_id": ""}]})),
    ("invalid_request", json.dumps({"users": [{"external_id": "a", "attributes": ["x"]}]})),
    ("invalid_request", json.dumps({"users": [{"external_id": "a", "email": 5}]})),
    ("invalid_request", json.dumps({"users": []})),
    ("invalid_request", json.dumps({})),
    ("invalid_request", json.dumps({"users": [{"external_id": "a"}], "extra": 1})),
    ("invalid_request", json.dumps({"users": [{"external_id": "a"}], "idempotency_key": 7})),
    ("invalid_request", json.dumps({"users": [{"external_id": "a"}], "idempotency_key": ""})),
]


def test_bad_bodies_are_400_and_write_nothing(api: Api) -> None:
    api.active_step("s1")
    for code, raw in BAD_BODIES:
        error = assert_error(api.request("POST", "/v1/steps/s1/users", raw=raw), 400, code)
        assert error["details"], raw
        assert "a@example.com" not in json.dumps(error)  # validation never echoes user data
    assert_error(api.request("POST", "/v1/steps/s1/users"), 400, "invalid_request")  # no body at all
    _assert_nothing_written(api)


def test_more_than_10000_users_is_413(api: Api) -> None:
    api.active_step("s1")
    users = [{"external_id": f"u{i}", "email": f"u{i}@example.com"} for i in range(10_001)]
    assert_error(api.post_users("s1", users), 413, "payload_too_large")
    _assert_nothing_written(api)
    assert api.post_users("s1", users[:10_000]).json == {"accepted": 10_000, "filtered": 0, "not_synced": 0}


def test_body_over_5_mb_is_413(api: Api) -> None:
    api.active_step("s1")
    padding = "x" * (5 * 1024 * 1024)
    users = [{"external_id": "u1", "email": "u1@example.com", "attributes": {"note": padding}}]
    assert_error(api.post_users("s1", users), 413, "payload_too_large")
    _assert_nothing_written(api)


def test_unknown_step_is_404_and_draft_step_is_409(api: Api) -> None:
    users = [{"external_id": "a", "email": "a@example.com"}]
    assert_error(api.post_users("nope", users), 404, "step_not_found")
    assert_error(api.post_users("nope", users, idempotency_key="k"), 404, "step_not_found")
    api.put_step("draft")
    assert_error(api.post_users("draft", users), 409, "step_not_active")
    assert_error(api.post_users("draft", users, idempotency_key="k"), 409, "step_not_active")
    assert api.queue_bodies() == []
    assert api.metrics("draft") == ZERO
    # Once launched, the same idempotency_key is accepted (failures were not remembered).
    api.active_step("draft")
    assert api.post_users("draft", users, idempotency_key="k").status == 202


def test_missing_or_wrong_api_key_is_403_and_writes_nothing(api: Api) -> None:
    api.active_step("s1")
    users = [{"external_id": "a", "email": "a@example.com"}]
    assert_error(api.post_users("s1", users, key=None), 403, "forbidden")
    assert_error(api.post_users("s1", users, key="nope"), 403, "forbidden")
    _assert_nothing_written(api)


def test_form_content_type_is_still_parsed_as_json(api: Api) -> None:
    form = "application/x-www-form-urlencoded"
    config = {"ad_account_id": "507000001", "audience": {"name": "Curl"}, "match_fields": ["email"]}
    api.connect()
    put = api.request("PUT", "/v1/steps/s1", config, content_type=form)
    assert put.status == 200
    assert put.json["config"]["audience"] == {"name": "Curl"}
    assert api.launch("s1").status == 200
    users = {"users": [{"external_id": "a", "email": "a@example.com"}]}
    reply = api.request("POST", "/v1/steps/s1/users", users, content_type=form)
    assert reply.status == 202
    assert reply.json == {"accepted": 1, "filtered": 0, "not_synced": 0}
    assert_error(api.request("POST", "/v1/steps/s1/users", raw="users=a", content_type=form), 400, "malformed_json")


def test_consent_flag_must_be_a_real_boolean(api: Api) -> None:
    api.active_step("consent", entry_filters=[{"attribute": "ad_tracking_enabled", "op": "eq", "value": True}])
    for flag in ("yes", 1, "true"):
        reply = api.post_users("consent", [{"external_id": "u", "email": "u@example.com", "ad_tracking_enabled": flag}])
        assert reply.status == 400, reply.text
    assert api.metrics("consent")["entered"] == 0
