"""Health, API keys on every route but the OAuth callback, unknown routes: all in the error envelope."""

from __future__ import annotations

from tests.integration.api.api_helpers import Api, assert_error, step_config

# Every route of the contract that needs x-api-key (all except the OAuth callback), with a valid body.
PROTECTED = [
    ("GET", "/v1/health", None),
    ("GET", "/v1/connections/linkedin/authorize", None),
    ("GET", "/v1/connections/linkedin", None),
    ("DELETE", "/v1/connections/linkedin", None),
    ("PUT", "/v1/steps/s1", step_config()),
    ("GET", "/v1/steps/s1", None),
    ("POST", "/v1/steps/s1/launch", None),
    ("GET", "/v1/steps/s1/metrics", None),
    ("GET", "/v1/steps/s1/audience", None),
    ("POST", "/v1/steps/s1/users", {"users": [{"external_id": "u1", "email": "a@example.com"}]}),
    ("GET", "/v1/openapi.json", None),
]


def test_health_with_key_is_200(api: Api) -> None:
    reply = api.get("/v1/health")
    assert reply.status == 200
    assert reply.json == {"status": "ok"}


def test_every_protected_route_is_403_without_key_or_with_a_wrong_key(api: Api) -> None:
    for method, path, body in PROTECTED:
        for key in (None, "wrong-key", ""):
            reply = api.request(method, path, body, key=key)
            error = assert_error(reply, 403, "forbidden")
            assert error["details"] == [], (method, path, key)
    # Nothing was created behind the gateway's back.
    assert api.get("/v1/connections/linkedin").json["status"] == "disconnected"
    assert_error(api.get("/v1/steps/s1"), 404, "step_not_found")
    assert api.queue_bodies() == []
    assert api.metrics_items() == []


def test_oauth_callback_needs_no_api_key(api: Api) -> None:
    # Reaches the handler (400 for missing code/state), not the gateway's 403.
    assert_error(api.get("/v1/connections/linkedin/callback", key=None), 400, "invalid_request")
    assert_error(api.get("/v1/connections/linkedin/callback", key="wrong-key"), 400, "invalid_request")


def test_unknown_route_is_404_envelope(api: Api) -> None:
    for method, path in [
        ("GET", "/v1/nope"),
        ("GET", "/"),
        ("POST", "/v1/health"),
        ("DELETE", "/v1/steps/s1"),
        ("GET", "/v2/health"),
    ]:
        assert_error(api.request(method, path), 404, "not_found")
        assert_error(api.request(method, path, key=None), 404, "not_found")
