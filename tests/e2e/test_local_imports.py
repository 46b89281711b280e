"""Scheduled S3 imports end to end, as BlueConic syncs back (docs/imports.md): `python -m localmode` with TIME_SCALE
60 (an import every minute runs every second); delta files dropped into a bucket of local mode's S3 (/_aws), profiles
changing with each strategy, a later run importing nothing new, and a report naming each bad row."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.local_service import Service, emulated, local_service, wait_for

pytestmark = pytest.mark.e2e

BUCKET = "blueconic-sync"
HEADER = "bc_id,tier,points,tag,city,promo\n"
DEFINITION = {
    "bucket": BUCKET,
    "prefix": "to-platform/",
    "format": "csv",
    "every_minutes": 1,
    "identifier": {"column": "bc_id", "type": "external_id"},
    "mappings": [
        {"column": "tier", "attribute": "tier", "strategy": "set"},
        {"column": "points", "attribute": "points", "strategy": "sum"},
        {"column": "tag", "attribute": "tags", "strategy": "add"},
        {"column": "city", "attribute": "home_city", "strategy": "set_if_empty"},
        {"column": "promo", "attribute": "promo", "strategy": "clear_if_empty"},
    ],
    "allow_create": True,
    "enabled": True,
}


def _runs(service: Service) -> list[dict[str, Any]]:
    reply = requests.get(service.url("/v1/imports/bc/runs"), headers=service.headers, timeout=10)
    assert reply.status_code == 200, reply.text
    runs: list[dict[str, Any]] = reply.json()["runs"]
    return runs


def _profile(service: Service, key: str, external_id: str) -> dict[str, Any]:
    reply = requests.post(
        service.url("/users/export/ids"),
        json={"external_ids": [external_id]},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    users: list[dict[str, Any]] = reply.json()["users"]
    return users[0] if users else {}


def test_blueconic_drops_delta_files_and_profiles_follow_each_strategy(tmp_path: Path) -> None:
    with local_service(tmp_path, TIME_SCALE="60") as service:
        s3 = emulated(service, "s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="to-platform/001.csv", Body=(HEADER + "bc1,gold,10,a,Paris,SUMMER\n").encode())
        put = requests.put(service.url("/v1/imports/bc"), json=DEFINITION, headers=service.headers, timeout=10)
        assert put.status_code == 200, put.text
        body = {"name": "reader", "permissions": ["users.export.ids"]}
        key = requests.post(service.url("/v1/rest-api-keys"), json=body, headers=service.headers, timeout=10)
        key = key.json()["key"]

        first = wait_for(lambda: _profile(service, key, "bc1").get("custom_attributes"), 30, "the first import")
        assert first == {"tier": "gold", "points": 10, "tags": ["a"], "promo": "SUMMER"}

        # the next delta file: a sum, an add, a city already set, a promo cleared, and two bad rows
        rows = "bc1,platinum,5,b,Lyon,\nbc2,,x,,,\n,gold,1,,,\n"
        s3.put_object(Bucket=BUCKET, Key="to-platform/002.csv", Body=(HEADER + rows).encode())

        def applied() -> dict[str, Any] | None:
            runs = [r for r in _runs(service) if r["files"] and r["status"] == "done"]
            return runs[0] if len(runs) >= 2 else None

        second = wait_for(applied, 30, "the second file's run")
        assert (second["rows"], second["updated"], second["failed_total"]) == (3, 1, 2)
        assert [(f["file"], f["line"], f["reason"]) for f in second["failed"]] == [
            ("to-platform/002.csv", 3, "'points' is not a number"),
            ("to-platform/002.csv", 4, "the identifier's cell 'bc_id' is empty"),
        ]
        bc1 = _profile(service, key, "bc1")
        assert bc1["custom_attributes"] == {"tier": "platinum", "points": 15, "tags": ["a", "b"]}
        assert bc1["home_city"] == "Paris"

        # later runs (every second here) find nothing new: no row read again, nothing added twice
        wait_for(
            lambda: sum(1 for r in _runs(service) if r["status"] == "done" and not r["files"]) >= 2, 30, "idle runs"
        )
        assert _profile(service, key, "bc1")["custom_attributes"]["points"] == 15
        assert sum(r["rows"] for r in _runs(service)) == 4
