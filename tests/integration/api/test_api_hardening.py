"""Request limits on the control-plane API too, and bodies that are not UTF-8 (found by the fuzz tests): a 4xx in
the envelope, never a 5xx, and nothing written."""

from __future__ import annotations

import json

from tests.integration.api.api_helpers import Api, assert_error, step_config

NOT_UTF8 = b'{"users": [{"external_id": "u1", "email": "\xff\xfe@example.com"}]}'


def test_a_body_that_is_not_utf8_is_400_on_both_functions(api: Api) -> None:
    api.active_step("s1")
    before = api.get("/v1/steps/s1").json
    for method, path in (("POST", "/v1/steps/s1/users"), ("PUT", "/v1/steps/s1")):
        error = assert_error(api.request(method, path, raw=NOT_UTF8), 400, "malformed_json")
        assert error["details"] == []
    assert api.queue_bodies() == []
    assert api.get("/v1/steps/s1").json == before
    # The same bytes as valid UTF-8 go through.
    valid = NOT_UTF8.decode("latin-1").encode("utf-8")
    assert api.request("POST", "/v1/steps/s1/users", raw=valid).status == 202


def test_a_step_config_over_5_mb_is_413_and_changes_nothing(api: Api) -> None:
    api.put_step("s1")
    before = api.get("/v1/steps/s1").json
    huge = json.dumps(step_config(audience={"name": "x" * (5 * 1024 * 1024)}))
    assert_error(api.request("PUT", "/v1/steps/s1", raw=huge), 413, "payload_too_large")
    assert api.get("/v1/steps/s1").json == before


def test_a_filter_number_dynamodb_cannot_store_is_400(api: Api) -> None:
    # Found by the fuzz tests: 5e-324 made the PUT a 502 (DynamoDB numbers stop at 1e-130).
    api.put_step("s1")
    before = api.get("/v1/steps/s1").json
    for value in ("5e-324", "1e126", "1" * 40):
        raw = json.dumps(step_config(entry_filters=[{"attribute": "a", "op": "eq", "value": 0}])).replace(
            '"value": 0', f'"value": {value}'
        )
        error = assert_error(api.request("PUT", "/v1/steps/s1", raw=raw), 400, "invalid_request")
        assert error["details"][0]["loc"][:3] == ["body", "entry_filters", "0"], error
    assert api.get("/v1/steps/s1").json == before


def test_json_python_cannot_parse_is_400_not_5xx_on_both_functions(api: Api) -> None:
    """Powertools turns only JSONDecodeError into a validation error: a 5,000-digit integer (ValueError) or a body
    nested 100,000 deep (RecursionError) were 502s. The fuzz tests do not generate these."""
    api.active_step("s1")
    before = api.get("/v1/steps/s1").json
    bodies = {
        "huge integer": '{"users": [{"external_id": "u1", "email": "a@example.com", "attributes": {"n": '
        + "9" * 5000
        + "}}]}",
        "deep nesting": '{"users": ' + "[" * 100_000 + "]" * 100_000 + "}",
    }
    for what, raw in bodies.items():
        for method, path in (("POST", "/v1/steps/s1/users"), ("PUT", "/v1/steps/s1")):
            reply = api.request(method, path, raw=raw)
            assert reply.status == 400, (what, method, reply.status, reply.text[:200])
            assert_error(reply, 400, "malformed_json")
    assert api.queue_bodies() == []
    assert api.get("/v1/steps/s1").json == before
