"""Scheduled S3 imports (contract v2 §8) on template.yaml in moto: the management routes, a run started on demand and
by the schedule's tick, the real import function draining the import queue, rows applied by the profile writer and
read back through /users/export/ids, segments following, and the run reports."""

from __future__ import annotations

from typing import Any

import boto3

from tests.integration.api.api_helpers import assert_error
from tests.integration.platform.platform_support import Platform

BUCKET = "crm-drops"
TICK = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
DEFINITION: dict[str, Any] = {
    "bucket": BUCKET,
    "prefix": "blueconic/",
    "format": "csv",
    "every_minutes": 60,
    "identifier": {"column": "customer", "type": "external_id"},
    "mappings": [
        {"column": "tier", "attribute": "tier", "strategy": "set"},
        {"column": "spent", "attribute": "lifetime_spend", "strategy": "sum"},
        {"column": "first", "attribute": "first_name", "strategy": "set_if_empty"},
    ],
    "allow_create": True,
    "enabled": True,
}


def _admin(platform: Platform, method: str, path: str, body: Any = None) -> Any:
    return platform.request(method, path, body, {"x-api-key": platform.stack.api_key})


def _runs(platform: Platform) -> list[dict[str, Any]]:
    reply = _admin(platform, "GET", "/v1/imports/blueconic/runs")
    assert reply.status == 200, reply.text
    runs: list[dict[str, Any]] = reply.json["runs"]
    return runs


def test_delta_files_imported_once_each_through_the_writer_with_reports(platform: Platform) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(
        Bucket=BUCKET, Key="blueconic/0001.csv", Body=b"customer,tier,spent,first\nc1,gold,10,Ana\nc2,silver,,\n"
    )
    assert (
        _admin(
            platform,
            "PUT",
            "/v1/segments/gold",
            {"name": "Gold", "filter": {"attribute": "tier", "op": "eq", "value": "gold"}},
        ).status
        == 200
    )
    put = _admin(platform, "PUT", "/v1/imports/blueconic", DEFINITION)
    assert put.status == 200, put.text
    assert put.json["running"] is None

    started = _admin(platform, "POST", "/v1/imports/blueconic/run")
    assert started.status == 202, started.text
    assert_error(_admin(platform, "POST", "/v1/imports/blueconic/run"), 409, "import_running")
    assert platform.drain("ImportQueue", "ImportFunction") == 1

    (first,) = _runs(platform)
    assert (first["status"], first["files"], first["rows"], first["created"], first["failed"]) == ("done", 1, 2, 2, [])
    key = platform.new_key("users.export.ids")
    (c1, c2) = sorted(platform.export(key, "c1", "c2")["users"], key=lambda u: u["external_id"])
    assert c1["custom_attributes"] == {"tier": "gold", "lifetime_spend": 10} and c1["first_name"] == "Ana"
    assert c2["custom_attributes"] == {"tier": "silver"}
    platform.settle()
    members = _admin(platform, "GET", "/v1/segments/gold/members").json["members"]
    assert [m["external_id"] for m in members] == ["c1"]  # segments follow imported writes

    # a delta file with a bad row; the schedule's tick is not due yet (every 60 minutes), a run on demand is
    s3.put_object(Bucket=BUCKET, Key="blueconic/0002.csv", Body=b"customer,tier,spent,first\nc1,,5,Bo\n,gold,1,\n")
    assert platform.stack.invoke("ImportFunction", TICK) == {}
    assert platform.drain("ImportQueue", "ImportFunction") == 0
    assert _admin(platform, "POST", "/v1/imports/blueconic/run").status == 202
    platform.drain("ImportQueue", "ImportFunction")
    second = _runs(platform)[0]
    assert (second["files"], second["rows"], second["updated"], second["failed_total"]) == (1, 2, 1, 1)
    assert second["failed"] == [
        {"file": "blueconic/0002.csv", "line": 3, "reason": "the identifier's cell 'customer' is empty"}
    ]
    (c1,) = platform.export(key, "c1")["users"]
    assert c1["custom_attributes"]["lifetime_spend"] == 15 and c1["first_name"] == "Ana"

    # nothing new: a run reads nothing
    _admin(platform, "POST", "/v1/imports/blueconic/run")
    platform.drain("ImportQueue", "ImportFunction")
    third = _runs(platform)[0]
    assert (third["files"], third["rows"]) == (0, 0)
    assert _admin(platform, "GET", "/v1/imports/blueconic").json["imported_through"] == "blueconic/0002.csv"


def test_the_import_routes_refuse_bad_input_and_disabled_runs(platform: Platform) -> None:
    assert_error(_admin(platform, "PUT", "/v1/imports/x", {**DEFINITION, "format": "xml"}), 400, "invalid_import")
    assert_error(_admin(platform, "PUT", "/v1/imports/bad id", DEFINITION), 400, "invalid_import_id")
    assert_error(_admin(platform, "GET", "/v1/imports/nope"), 404, "import_not_found")
    assert _admin(platform, "PUT", "/v1/imports/off", {**DEFINITION, "enabled": False}).status == 200
    assert_error(_admin(platform, "POST", "/v1/imports/off/run"), 409, "import_disabled")
    assert _admin(platform, "DELETE", "/v1/imports/off").status == 204
    assert_error(_admin(platform, "DELETE", "/v1/imports/off"), 404, "import_not_found")


def test_the_tick_starts_a_due_import_and_a_missing_bucket_fails_its_run(platform: Platform) -> None:
    assert _admin(platform, "PUT", "/v1/imports/blueconic", {**DEFINITION, "bucket": "no-such-bucket"}).status == 200
    platform.stack.invoke("ImportFunction", TICK)
    assert platform.drain("ImportQueue", "ImportFunction") == 1
    (run,) = _runs(platform)
    assert (run["status"], run["error"]) == ("failed", "bucket_not_found")


def test_the_management_api_lists_every_import_by_id_without_their_state(platform: Platform) -> None:
    assert _admin(platform, "GET", "/v1/imports").json == {"imports": []}
    for import_id in ("zeta", "alpha"):
        assert _admin(platform, "PUT", f"/v1/imports/{import_id}", DEFINITION).status == 200
    listed = _admin(platform, "GET", "/v1/imports")
    assert listed.status == 200, listed.text
    assert [i["import_id"] for i in listed.json["imports"]] == ["alpha", "zeta"]
    shown = _admin(platform, "GET", "/v1/imports/alpha").json
    assert listed.json["imports"][0] == {k: v for k, v in shown.items() if k in listed.json["imports"][0]}
    assert set(shown) - set(listed.json["imports"][0]) == {"imported_through", "running", "next_run_at"}
    assert _admin(platform, "DELETE", "/v1/imports/zeta").status == 204
    assert [i["import_id"] for i in _admin(platform, "GET", "/v1/imports").json["imports"]] == ["alpha"]
