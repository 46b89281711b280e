"""Schemathesis against the served OpenAPI document, every route, through the emulated API Gateway: zero 5xx.

The second test plants a crash behind one route and checks the same fuzzing finds it, so the first one cannot pass
by sending requests that never reach the code.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.api.api_helpers import API_KEY, Api
from tests.integration.api.fuzz_support import fuzz, load, operations
from tests.stack_support import provisioned_stack

STEP = "fuzz-step"
WEBHOOK = "POST /v1/steps/{step_id}/users"
EXAMPLES = 30  # per operation, generation mode and pinning: about 15 s on our 2-core machines


def _prepare(api: Api) -> str:
    """A connected LinkedIn and an active step, so pinned requests reach the code behind the checks; a REST API key
    with every permission, so fuzzed Braze-compatible requests get past the key check. Returns the key."""
    api.active_step(STEP)
    permissions = [
        "users.track",
        "users.alias.new",
        "users.identify",
        "users.merge",
        "users.delete",
        "users.export.ids",
        "segments.list",
        "segments.details",
    ]
    reply = api.request("POST", "/v1/rest-api-keys", {"name": "fuzz", "permissions": permissions})
    assert reply.status == 201, reply.text
    return str(reply.json["key"])


def test_fuzzing_every_route_finds_no_5xx(api: Api) -> None:
    bearer = _prepare(api)
    schema = load(api.client.application, API_KEY)
    labels = {operation.label for operation in operations(schema)}
    # every route of the API is fuzzed (the console's files are a web page, not in the OpenAPI document)
    routes = {f"{r.method} {r.path}" for r in api.client.application.routes if not r.path.startswith("/console")}
    assert labels == routes
    pinned = {"step_id": STEP}
    # The webhook first, while the step is active (fuzzed PUTs change its target and so make it a draft again).
    findings = fuzz(schema, API_KEY, examples=EXAMPLES, path_parameters=pinned, only=[WEBHOOK])
    findings += fuzz(schema, API_KEY, examples=EXAMPLES, path_parameters=pinned, bearer=bearer)
    findings += fuzz(schema, API_KEY, examples=EXAMPLES)  # any step id; no Bearer key: the Braze routes' 401s
    assert findings == []
    assert api.stack.invoke("ProfileWriterFunction", {"Records": []}) == {"batchItemFailures": []}


def test_fuzzing_the_signed_webhook_finds_no_5xx(sandbox_server: Any) -> None:
    """With WebhookSigning enabled, fuzzed X-Signature headers meet the signature parser: 401s, never a 5xx."""
    with provisioned_stack(sandbox_server, {"WebhookSigning": "enabled"}) as stack:
        api = Api(stack)
        _prepare(api)
        schema = load(api.client.application, API_KEY)
        findings = fuzz(schema, API_KEY, examples=EXAMPLES, path_parameters={"step_id": STEP}, only=[WEBHOOK])
        assert findings == []
        assert api.queue_bodies() == []  # nothing unsigned got through


# One method of each function behind the API made to crash (ingest, the management API, the platform API), and the
# routes that call it.
PLANTED = {
    "audience_sync.pipeline.ingest.IngestService.enter": {WEBHOOK},
    # a campaign's metrics routes answer 404 first: no campaign is known
    "audience_sync.adapters.aws.metrics_table.MetricsStore.get": {
        "GET /v1/steps/{step_id}/metrics",
        "GET /v1/steps/{step_id}/metrics/history",
    },
    "audience_sync.profiles.service.ProfileService.delete": {"POST /users/delete"},
}


def test_fuzzing_finds_planted_crashes(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same run over every route, with one method of each function made to crash: fuzzing reports the routes
    that call them, and only them (one run for the three: the whole API is fuzzed once, not once a crash)."""
    bearer = _prepare(api)
    schema = load(api.client.application, API_KEY)

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("planted crash")

    for target in PLANTED:
        monkeypatch.setattr(target, crash)
    findings = fuzz(schema, API_KEY, examples=5, path_parameters={"step_id": STEP}, bearer=bearer)
    expected = set().union(*PLANTED.values())
    assert {f.operation for f in findings} == expected, "a planted crash went unnoticed, or one was found elsewhere"
    assert {f.status for f in findings} == {502}  # the gateway's answer to a Lambda error
