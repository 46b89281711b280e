"""Segment exports (contract v2 §7) on template.yaml in moto: Braze's /users/export/segment through the platform API,
the CSV export through the management API, the real export function draining the export queue, the files read back
from S3 as a client would (the zip behind the link, Braze's layout in the customer's bucket), and the callback."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
import pytest

from bench.receiver import webhook_receiver
from tests.integration.api.api_helpers import assert_error
from tests.integration.platform.platform_support import Platform
from tests.stack_support import provisioned_stack

GOLD = {"name": "Gold", "filter": {"attribute": "plan", "op": "eq", "value": "gold"}}
FIELDS = ["external_id", "email", "custom_attributes"]


def _admin(platform: Platform, method: str, path: str, body: Any = None) -> Any:
    return platform.request(method, path, body, {"x-api-key": platform.stack.api_key})


def _users(platform: Platform, count: int = 7) -> str:
    key = platform.new_key("users.track", "users.export.segment")
    users = [
        {"external_id": f"u{n}", "email": f"u{n}@example.com", "plan": "gold" if n % 2 else "free"}
        for n in range(count)
    ]
    assert platform.braze("/users/track", {"attributes": users}, key).status == 201
    assert _admin(platform, "PUT", "/v1/segments/gold", GOLD).status == 200
    platform.settle()
    return key


def _object(url: str) -> bytes:
    """What a presigned link downloads: the object it names (moto's S3 behind it)."""
    parts = urlsplit(url)
    path = unquote(parts.path).removeprefix("/")
    labels = parts.netloc.split(".")
    if len(labels) > 3 and labels[1] == "s3":  # virtual-hosted (<bucket>.s3.amazonaws.com): the bucket is the host's
        bucket, key = labels[0], path
    else:
        bucket, _, key = path.partition("/")
    return bytes(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def test_a_segment_export_to_a_link_holds_every_member_once_and_calls_back(platform: Platform) -> None:
    key = _users(platform)
    with webhook_receiver() as receiver:
        body = {"segment_id": "gold", "fields_to_export": FIELDS, "callback_endpoint": receiver.url + "/done"}
        reply = platform.braze("/users/export/segment", body, key)
        assert reply.status == 201, reply.text
        assert set(reply.json) == {"message", "object_prefix", "url"}

        again = platform.braze("/users/export/segment", body, key)  # the first still runs
        assert again.status == 429 and again.json["message"].startswith("an export of segment 'gold' is running")
        assert int(again.headers["Retry-After"]) > 0

        assert platform.drain("ExportQueue", "ExportFunction") == 1
        (callback,) = receiver.received
    answer = json.loads(callback.body)
    assert answer["success"] is True
    with zipfile.ZipFile(io.BytesIO(_object(answer["url"]))) as archive:
        users = [json.loads(line) for name in archive.namelist() for line in archive.read(name).splitlines()]
    assert sorted(users, key=lambda u: u["external_id"]) == [
        {"external_id": f"u{n}", "email": f"u{n}@example.com", "custom_attributes": {"plan": "gold"}} for n in (1, 3, 5)
    ]
    assert _object(reply.json["url"]) == _object(answer["url"])  # the link of the reply is the same zip
    # the segment is free again
    assert (
        platform.braze("/users/export/segment", {"segment_id": "gold", "fields_to_export": FIELDS}, key).status == 201
    )


def test_the_export_route_checks_permission_segment_and_body(platform: Platform) -> None:
    key = _users(platform, 1)
    other = platform.new_key("users.track")
    body = {"segment_id": "gold", "fields_to_export": FIELDS}
    assert platform.braze("/users/export/segment", body, other).status == 403
    missing = platform.braze("/users/export/segment", {**body, "segment_id": "nope"}, key)
    assert missing.status == 404 and set(missing.json) == {"message", "errors"}
    bad = platform.braze("/users/export/segment", {**body, "output_format": "gzip"}, key)
    assert bad.status == 400 and "ExportBucket" in bad.json["message"]
    assert platform.braze("/users/export/segment", "{not json", key).status == 400
    assert platform.drain("ExportQueue", "ExportFunction") == 0  # nothing was started


def test_a_csv_export_through_the_management_api(platform: Platform) -> None:
    _users(platform)
    started = _admin(platform, "POST", "/v1/segments/gold/exports", {"format": "csv", "fields": ["email", "plan"]})
    assert started.status == 202, started.text
    export_id = started.json["export_id"]
    running = _admin(platform, "GET", f"/v1/exports/{export_id}").json
    assert (running["status"], running["url"]) == ("running", None)
    again = _admin(platform, "POST", "/v1/segments/gold/exports", {"format": "csv", "fields": []})
    assert_error(again, 429, "export_running")

    platform.drain("ExportQueue", "ExportFunction")

    done = _admin(platform, "GET", f"/v1/exports/{export_id}").json
    assert (done["status"], done["rows"]) == ("done", 3)
    assert done["expires_at"] > done["finished_at"]
    rows = list(csv.reader(io.StringIO(_object(done["url"]).decode("utf-8"))))
    assert rows[0] == ["external_id", "email", "plan"]
    assert sorted(rows[1:]) == [[f"u{n}", f"u{n}@example.com", "gold"] for n in (1, 3, 5)]
    assert_error(_admin(platform, "GET", "/v1/exports/0123456789abcdef0123456789abcdef"), 404, "export_not_found")
    assert_error(_admin(platform, "POST", "/v1/segments/nope/exports", {"format": "csv"}), 404, "segment_not_found")
    assert_error(_admin(platform, "POST", "/v1/segments/gold/exports", {"format": "xls"}), 400, "invalid_request")


@pytest.fixture
def customer(sandbox_server: Any) -> Iterator[Platform]:
    with provisioned_stack(sandbox_server, overrides={"ExportBucket": "customer-exports"}) as stack:
        boto3.client("s3").create_bucket(Bucket="customer-exports")
        yield Platform(stack)


def test_a_segment_export_to_the_customers_bucket_uses_brazes_layout_and_gzip(customer: Platform) -> None:
    key = _users(customer)
    body = {"segment_id": "gold", "fields_to_export": ["external_id"], "output_format": "gzip"}
    reply = customer.braze("/users/export/segment", body, key)
    assert reply.status == 201 and "url" not in reply.json
    customer.drain("ExportQueue", "ExportFunction")

    prefix = reply.json["object_prefix"]
    listed = boto3.client("s3").list_objects_v2(Bucket="customer-exports")["Contents"]
    keys = [o["Key"] for o in listed]
    assert len(keys) == 1
    folder, _, name = keys[0].rpartition("/")
    parts = folder.split("/")
    assert (parts[0], parts[1], parts[3], name) == ("segment-export", "gold", prefix, "000000.gz")
    assert len(parts[2]) == 10 and parts[2][4] == "-"  # YYYY-MM-dd
    data = boto3.client("s3").get_object(Bucket="customer-exports", Key=keys[0])["Body"].read()
    users = [json.loads(line) for line in gzip.decompress(data).splitlines()]
    assert sorted(u["external_id"] for u in users) == ["u1", "u3", "u5"]
