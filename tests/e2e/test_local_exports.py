"""Segment exports end to end, as BlueConic does it (docs/exports.md): `python -m localmode` with a
customer bucket (EXPORT_BUCKET); the segment found through /segments/list, exported as gzip, its files found in the
bucket at Braze's key layout through local mode's S3 (/_aws), every member read once."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.local_service import emulated, local_service, wait_for

pytestmark = pytest.mark.e2e

BUCKET = "blueconic-exchange"
USERS = 30


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_blueconic_lists_segments_exports_one_as_gzip_and_reads_every_member_once(tmp_path: Path) -> None:
    with local_service(tmp_path, EXPORT_BUCKET=BUCKET) as service:
        body = {"name": "blueconic", "permissions": ["users.track", "segments.list", "users.export.segment"]}
        key = requests.post(service.url("/v1/rest-api-keys"), json=body, headers=service.headers, timeout=10).json()
        key = key["key"]
        users = [{"external_id": f"bc-{n}", "tier": "gold" if n % 3 == 0 else "silver"} for n in range(USERS)]
        for start in range(0, USERS, 75):
            reply = requests.post(
                service.url("/users/track"),
                json={"attributes": users[start : start + 75]},
                headers=_bearer(key),
                timeout=10,
            )
            assert reply.status_code == 201, reply.text
        segment = {"name": "Gold tier", "filter": {"attribute": "tier", "op": "eq", "value": "gold"}}
        put = requests.put(service.url("/v1/segments/gold-tier"), json=segment, headers=service.headers, timeout=10)
        assert put.status_code == 200, put.text
        gold = sorted(u["external_id"] for u in users if u["tier"] == "gold")

        def size() -> bool:
            view = requests.get(service.url("/v1/segments/gold-tier"), headers=service.headers, timeout=10).json()
            return bool(view["size"] == len(gold))

        wait_for(size, 30, "the segment's members")

        listed = requests.get(service.url("/segments/list"), headers=_bearer(key), timeout=10).json()
        assert {"id": "gold-tier", "name": "Gold tier"}.items() <= listed["segments"][0].items()
        export = {
            "segment_id": "gold-tier",
            "fields_to_export": ["external_id", "custom_attributes"],
            "output_format": "gzip",
        }
        started = requests.post(service.url("/users/export/segment"), json=export, headers=_bearer(key), timeout=10)
        assert started.status_code == 201, started.text
        assert "url" not in started.json()
        prefix = started.json()["object_prefix"]

        # BlueConic polls the bucket at the layout it expects until files are there
        s3 = emulated(service, "s3")
        day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
        folder = f"segment-export/gold-tier/{day}/{prefix}/"

        def files() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = s3.list_objects_v2(Bucket=BUCKET, Prefix=folder).get("Contents", [])
            return found

        listing = wait_for(files, 30, "the export's files")
        status = wait_for(
            lambda: (
                (
                    reply := requests.get(
                        service.url(f"/v1/exports/{prefix}"), headers=service.headers, timeout=10
                    ).json()
                )["status"]
                == "done"
                and reply
            ),
            30,
            "the export to be done",
        )
        assert (status["rows"], status["bucket"], status["object_prefix"]) == (len(gold), BUCKET, folder)
        read: list[str] = []
        for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=folder)["Contents"]:
            assert item["Key"].endswith(".gz")
            data = s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
            for line in gzip.decompress(data).splitlines():
                user = json.loads(line)
                assert user["custom_attributes"] == {"tier": "gold"}
                read.append(user["external_id"])
        assert sorted(read) == gold  # every member once
        assert len(listing) >= 1

        # the segment is free again once the export is done
        again = requests.post(service.url("/users/export/segment"), json=export, headers=_bearer(key), timeout=10)
        assert again.status_code == 201, again.text
