"""PUT/GET /v1/steps/{step_id}: create, read, validation errors, re-targeting an active step."""

from __future__ import annotations

import json
from typing import Any

import boto3

from tests.integration.api.api_helpers import Api, assert_error, step_config


def test_put_creates_a_draft_and_get_returns_it(api: Api) -> None:
    config = step_config(
        entry_filters=[{"attribute": "opted_in_marketing", "op": "eq", "value": True}],
        match_fields=["email", "first_last_name"],
        last_step=True,
    )
    put = api.put_step("welcome.step-1:a_b", config)
    assert put.status == 200
    assert put.json["step_id"] == "welcome.step-1:a_b"
    assert put.json["status"] == "draft"
    # the answer names the destination both ways (contract v1's `partner` and `destination`), and the source
    assert put.json["config"] == {**config, "destination": "linkedin", "source": {"type": "webhook"}}
    assert put.json["audience_id"] is None
    got = api.get("/v1/steps/welcome.step-1:a_b")
    assert got.status == 200
    assert got.json == put.json


def test_get_steps_lists_every_step_by_id(api: Api) -> None:
    assert api.get("/v1/steps").json == {"steps": []}
    api.put_step("b-step", step_config())
    api.put_step("a-step", step_config(action="remove"))
    listed = api.get("/v1/steps").json["steps"]
    assert [s["step_id"] for s in listed] == ["a-step", "b-step"]
    assert listed[0] == api.get("/v1/steps/a-step").json  # each as GET /v1/steps/{id} shows it


def test_put_accepts_an_incomplete_config_and_fills_defaults(api: Api) -> None:
    put = api.put_step("s1", {})
    assert put.status == 200
    assert put.json["status"] == "draft"
    assert put.json["config"] == {
        "destination": "linkedin",
        "partner": "linkedin",
        "action": "add",
        "match_fields": [],
        "entry_filters": [],
        "last_step": False,
        "source": {"type": "webhook"},
    }


def test_destination_is_accepted_as_partner_is(api: Api) -> None:
    config = step_config()
    del config["partner"]
    put = api.put_step("s1", {**config, "destination": "linkedin"})
    assert put.status == 200, put.text
    assert (put.json["config"]["destination"], put.json["config"]["partner"]) == ("linkedin", "linkedin")
    assert_error(
        api.put_step("s2", {**config, "destination": "linkedin", "partner": "facebook"}), 400, "invalid_request"
    )


BAD_BODIES: list[tuple[str, str]] = [
    ("malformed_json", '{"ad_account_id": "507000001",'),
    ("malformed_json", "not json at all"),
    ("malformed_json", "[]"),
    ("invalid_request", json.dumps(step_config(match_fields="email"))),
    ("invalid_request", json.dumps(step_config(match_fields=["phone"]))),
    ("invalid_request", json.dumps(step_config(match_fields=["email", "email"]))),
    ("invalid_request", json.dumps(step_config(last_step="yes"))),
    ("invalid_request", json.dumps(step_config(ad_account_id=507000001))),
    ("invalid_request", json.dumps(step_config(ad_account_id="urn:li:sponsoredAccount:1"))),
    ("invalid_request", json.dumps(step_config(audience="Churn risk"))),
    ("invalid_request", json.dumps(step_config(audience={"name": "A", "id": "123"}))),
    ("invalid_request", json.dumps(step_config(audience={"id": "abc"}))),
    ("invalid_request", json.dumps(step_config(action="delete"))),
    ("invalid_request", json.dumps(step_config(partner="facebook"))),
    ("invalid_request", json.dumps(step_config(entry_filters=[{"attribute": "a", "op": "gt", "value": 1}]))),
    ("invalid_request", json.dumps(step_config(entry_filters=[{"attribute": "a", "op": "eq"}]))),
    ("invalid_request", json.dumps(step_config(unknown_field=1))),
    ("invalid_request", json.dumps(step_config(audience={"name": "A", "colour": "red"}))),
]


def test_bad_bodies_are_400_and_store_nothing(api: Api) -> None:
    for code, raw in BAD_BODIES:
        reply = api.request("PUT", "/v1/steps/s1", raw=raw)
        error = assert_error(reply, 400, code)
        assert error["details"], raw
        # The details name fields, never echo the submitted values back.
        assert all(set(d) == {"loc", "type", "message"} for d in error["details"]), error["details"]
    assert_error(api.get("/v1/steps/s1"), 404, "step_not_found")


def test_bad_body_does_not_change_an_existing_step(api: Api) -> None:
    api.put_step("s1")
    before = api.get("/v1/steps/s1").json
    assert_error(api.request("PUT", "/v1/steps/s1", step_config(action="delete")), 400, "invalid_request")
    assert api.get("/v1/steps/s1").json == before


def test_bad_step_id_is_400(api: Api) -> None:
    for step_id in ["x" * 129, "x" * 200, "a$b", "a%20b", "caf%C3%A9"]:
        assert_error(api.put_step(step_id), 400, "invalid_step_id")
        assert_error(api.get(f"/v1/steps/{step_id}"), 400, "invalid_step_id")
        assert_error(api.launch(step_id), 400, "invalid_step_id")
        assert_error(api.get(f"/v1/steps/{step_id}/metrics"), 400, "invalid_step_id")
        assert_error(api.post_users(step_id, [{"external_id": "u1"}]), 400, "invalid_step_id")
    assert boto3.client("dynamodb").scan(TableName=api.stack.stack.ref("StepsTable"))["Items"] == []
    longest = "x" * 128
    assert api.put_step(longest).status == 200
    assert api.get(f"/v1/steps/{longest}").json["step_id"] == longest


def test_step_id_with_a_slash_is_rejected(api: Api) -> None:
    # Through the gateway an encoded slash makes the path another (unknown) route...
    assert_error(api.put_step("a%2Fb"), 404, "not_found")
    # ...and if API Gateway hands it to the function as a path parameter, the function refuses it.
    event = _proxy_event("PUT", "/v1/steps/{step_id}", "/v1/steps/a%2Fb", {"step_id": "a/b"}, step_config())
    result = api.stack.invoke("ApiFunction", event)
    assert result["statusCode"] == 400
    assert json.loads(result["body"])["error"]["code"] == "invalid_step_id"
    assert api.get("/v1/steps/a").status == 404


def test_unknown_step_is_404(api: Api) -> None:
    assert_error(api.get("/v1/steps/nope"), 404, "step_not_found")
    assert_error(api.get("/v1/steps/nope/metrics"), 404, "step_not_found")
    assert_error(api.launch("nope"), 404, "step_not_found")


def test_changing_the_audience_of_an_active_step_puts_it_back_to_draft(api: Api) -> None:
    audience_id = api.active_step("s1")
    # Same target again: stays active.
    same = api.put_step("s1")
    assert same.json["status"] == "active"
    assert same.json["audience_id"] == audience_id
    changed = api.put_step("s1", audience={"name": "Another audience"})
    assert changed.status == 200
    assert changed.json["status"] == "draft"
    assert api.get("/v1/steps/s1").json["status"] == "draft"
    assert_error(api.post_users("s1", [{"external_id": "u1", "email": "a@example.com"}]), 409, "step_not_active")
    # Launching again creates the new audience and activates the step.
    relaunch = api.launch("s1")
    assert relaunch.status == 200
    assert relaunch.json["status"] == "active"
    assert relaunch.json["audience_id"] != audience_id
    assert sorted(s["name"] for s in api.sandbox_segments()) == ["Another audience", "Churn risk"]


def _proxy_event(method: str, resource: str, path: str, params: dict[str, str], body: Any) -> dict[str, Any]:
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json", "x-api-key": "test-key"},
        "multiValueHeaders": {"Content-Type": ["application/json"], "x-api-key": ["test-key"]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/api{path}",
            "stage": "api",
            "requestId": "req-1",
            "domainName": "127.0.0.1",
            "apiId": "local",
            "accountId": "123456789012",
            "identity": {"sourceIp": "127.0.0.1", "apiKey": "test-key"},
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def test_filter_values_of_every_json_scalar_type_round_trip(api: Api) -> None:
    filters = [
        {"attribute": "score", "op": "eq", "value": 1.5},
        {"attribute": "tier", "op": "ne", "value": 3},
        {"attribute": "country", "op": "eq", "value": "ES"},
        {"attribute": "opted_in_marketing", "op": "eq", "value": True},
    ]
    assert api.put_step("typed", entry_filters=filters).status == 200
    assert api.get("/v1/steps/typed").json["config"]["entry_filters"] == filters


def test_oversized_or_non_scalar_filter_values_are_400_not_5xx(api: Api) -> None:
    for value in ("x" * 500_000, {"nested": [1, 2]}, [1, 2]):
        reply = api.put_step("big", entry_filters=[{"attribute": "a", "op": "eq", "value": value}])
        assert reply.status == 400, reply.text
    assert api.get("/v1/steps/big").status == 404  # nothing stored
