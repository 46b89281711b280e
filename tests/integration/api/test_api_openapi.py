"""GET /v1/openapi.json: generated from both functions' code, and exactly the routes template.yaml routes."""

from __future__ import annotations

from typing import Any

from tests.integration.api.api_helpers import Api, assert_error

METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _spec(api: Api) -> dict[str, Any]:
    reply = api.get("/v1/openapi.json")
    assert reply.status == 200, reply.text
    spec: dict[str, Any] = reply.json
    return spec


def _operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def test_spec_lists_exactly_the_template_routes_with_their_api_key_rule(api: Api) -> None:
    spec = _spec(api)
    # The gateway emulation's routes are read from template.yaml's Api events (localmode/api_gateway.py).
    routes = {(r.method, r.path): r.api_key_required for r in api.client.application.routes}
    # but the console's files, a web page and not the API (functions/console/app.py)
    routes = {route: required for route, required in routes.items() if not route[1].startswith("/console")}
    operations = _operations(spec)
    assert set(operations) == set(routes)
    assert ("POST", "/v1/steps/{step_id}/users") in operations  # served by the other function
    assert spec["security"] == [{"apiKey": []}]
    assert spec["components"]["securitySchemes"]["apiKey"] == {"type": "apiKey", "name": "x-api-key", "in": "header"}
    for route, operation in operations.items():
        security = operation.get("security", spec["security"])
        assert ({"apiKey": []} in security) == routes[route], route
        # the Braze-compatible routes take a REST API key as a Bearer token instead (contract v2 §2)
        assert (security == [{"bearerAuth": []}]) == route[1].startswith(("/users/", "/segments/", "/campaigns/")), (
            route
        )


def test_spec_documents_errors_in_the_envelope_and_never_the_unused_422(api: Api) -> None:
    spec = _spec(api)
    assert spec["openapi"].startswith("3.1")
    assert spec["info"]["title"] == "audience-sync"
    envelope = {"$ref": "#/components/schemas/ErrorEnvelope"}
    braze = {"$ref": "#/components/schemas/BrazeError"}
    for (method, path), operation in _operations(spec).items():
        responses = operation["responses"]
        if path.startswith("/users/"):  # Braze's envelope, {"message", "errors"}
            errors = {
                code: r["content"]["application/json"]["schema"] for code, r in responses.items() if code[0] in "45"
            }
            expected = {"400", "401", "403", "413", "429", "503"} | (
                {"404"} if path == "/users/export/segment" else set()
            )
            assert set(errors) == expected and set(map(str, errors.values())) == {str(braze)}
            continue
        if path.startswith(("/segments/", "/campaigns/")):  # Braze's catalogue: its envelope, 404 for an unknown id
            errors = {
                code: r["content"]["application/json"]["schema"] for code, r in responses.items() if code[0] in "45"
            }
            assert set(errors) == {"400", "401", "403", "404", "429", "503"} and set(map(str, errors.values())) == {
                str(braze)
            }
            continue
        if path.startswith("/partners/"):  # the cohort import: Braze's envelope, credentials in the body
            errors = {
                code: r["content"]["application/json"]["schema"] for code, r in responses.items() if code[0] in "45"
            }
            assert set(errors) == {"400", "401", "503"} and set(map(str, errors.values())) == {str(braze)}
            assert operation["security"] == [], (method, path)
            continue
        assert operation["summary"], (method, path)
        assert any(code.startswith(("2", "3")) for code in responses), (method, path)
        for code, response in responses.items():
            assert response["description"], (method, path, code)
            if code.startswith(("4", "5")):
                assert response["content"]["application/json"]["schema"] == envelope, (method, path, code)
        assert ("403" in responses) == (path != "/v1/connections/linkedin/callback"), (method, path)
        assert "429" in responses
        if path not in ("/v1/steps/{step_id}/launch", "/v1/campaigns/{campaign_id}/publish"):
            assert "422" not in responses, (method, path)  # bad input is a 400 here; 422: what it refers to
    assert not {"HTTPValidationError", "ValidationError", "ResponseValidationError"} & set(
        spec["components"]["schemas"]
    )
    users = spec["paths"]["/v1/steps/{step_id}/users"]["post"]
    assert set(users["responses"]) >= {"202", "400", "401", "404", "409", "413"}
    assert users["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/WebhookBody"}
    assert any(p["in"] == "header" and p["name"].lower() == "x-signature" for p in users["parameters"])
    put = spec["paths"]["/v1/steps/{step_id}"]["put"]
    assert put["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/StepConfig"}


def test_spec_servers_are_relative_to_the_stage(api: Api) -> None:
    assert _spec(api)["servers"] == [{"url": "/"}]  # local: no stage prefix in the path


def test_spec_needs_the_api_key(api: Api) -> None:
    for key in (None, "wrong-key"):
        assert_error(api.get("/v1/openapi.json", key=key), 403, "forbidden")
