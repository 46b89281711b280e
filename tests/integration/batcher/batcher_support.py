"""Drives the provisioned stack for the batcher tests: connect, configure, post users, drain the moto queue,
invoke the real batcher, and read what LinkedIn (the sandbox) and our counters hold.

Everything is set up through the public API; the only direct writes are documented where they happen.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import requests

from audience_sync.core.backoff import RetryPolicy
from bench.pipeline import max_in_window
from tests.stack_support import age_audience, drain_queue, invoke_batcher, retry_executions, settle_retries, sqs_record

ROOT = Path(__file__).resolve().parents[3]
AD_ACCOUNT_ID = "507000001"  # the sandbox member's writable ad account
ALL_MATCH_FIELDS = ["email", "first_last_name", "android_gaid"]
WEBHOOK_MAX_USERS = 10_000


def sha256_email(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def template_linkedin_version() -> str:
    from localmode.template import load_template

    return str(load_template(ROOT / "template.yaml")["Parameters"]["LinkedInVersion"]["Default"])


def max_in_any_window(timestamps_ms: list[float], window_ms: float = 1000.0) -> int:
    """The most timestamps inside any half-open window [t, t + window_ms) (the benchmarks count the same way)."""
    return max_in_window(timestamps_ms, window_ms)


class FakeClock:
    """The `Clock` protocol on simulated time: sleeping moves time forward at once. Share it between buckets."""

    def __init__(self, start_ms: float = 1_800_000_000_000.0) -> None:
        self.t_ms = start_ms
        self.sleeps: list[float] = []

    def now_ms(self) -> int:
        return int(self.t_ms)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds > 0:
            self.t_ms += seconds * 1000


class Harness:
    def __init__(self, stack: Any) -> None:
        self.stack = stack
        self.api = stack.client()
        self.headers = {"x-api-key": stack.api_key}
        self.sandbox_url = stack.sandbox.url
        self.queue_url = stack.stack.ref("SyncQueue")
        self.sqs = boto3.client("sqs")
        self.dynamodb = boto3.resource("dynamodb")

    # ---- our HTTP API (through the emulated API Gateway) ----------------------------------------
    def call(self, method: str, path: str, body: Any = None, expect: int | None = 200) -> Any:
        kwargs: dict[str, Any] = {"headers": self.headers}
        if body is not None:
            kwargs["json"] = body
        response = self.api.open(path, method=method, **kwargs)
        if expect is not None:
            assert response.status_code == expect, (method, path, response.status_code, response.get_data(True))
        return response.get_json(silent=True)

    def connect(self) -> dict[str, Any]:
        """The OAuth dance: our authorize → sandbox authorization → our callback (host stripped)."""
        start = self.api.get("/v1/connections/linkedin/authorize", headers=self.headers)
        assert start.status_code == 302, start.get_data(True)
        approved = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
        assert approved.status_code == 302, approved.text
        callback = urlsplit(approved.headers["Location"])
        connection = self.call("GET", f"{callback.path}?{callback.query}")
        assert connection["status"] == "connected", connection
        return connection

    def connection(self) -> dict[str, Any]:
        return self.call("GET", "/v1/connections/linkedin")

    def create_step(
        self,
        step_id: str,
        *,
        audience: dict[str, str] | None = None,
        action: str = "add",
        match_fields: list[str] | None = None,
    ) -> str:
        """PUT + launch; returns the LinkedIn audience id."""
        config = {
            "partner": "linkedin",
            "ad_account_id": AD_ACCOUNT_ID,
            "audience": audience or {"name": f"Audience of {step_id}"},
            "action": action,
            "match_fields": match_fields or ALL_MATCH_FIELDS,
        }
        self.call("PUT", f"/v1/steps/{step_id}", config)
        launched = self.call("POST", f"/v1/steps/{step_id}/launch")
        assert launched["status"] == "active", launched
        age_audience(self.stack, step_id)
        return str(launched["audience_id"])

    def post_users(self, step_id: str, users: list[dict[str, Any]]) -> dict[str, int]:
        totals = {"accepted": 0, "filtered": 0, "not_synced": 0}
        for start in range(0, len(users), WEBHOOK_MAX_USERS):
            result = self.call(
                "POST", f"/v1/steps/{step_id}/users", {"users": users[start : start + WEBHOOK_MAX_USERS]}, expect=202
            )
            for key in totals:
                totals[key] += result[key]
        return totals

    def metrics(self, step_id: str) -> dict[str, int]:
        return self.call("GET", f"/v1/steps/{step_id}/metrics")

    def metrics_item(self, step_id: str) -> dict[str, Any]:
        table = self.dynamodb.Table(self.stack.stack.ref("MetricsTable"))
        return table.get_item(Key={"step_id": step_id}).get("Item") or {}

    def connection_item(self) -> dict[str, Any]:
        table = self.dynamodb.Table(self.stack.stack.ref("ConnectionsTable"))
        return table.get_item(Key={"pk": "connection#linkedin"}, ConsistentRead=True)["Item"]

    # ---- the queue and the batcher --------------------------------------------------------------
    def drain(self) -> list[dict[str, Any]]:
        return drain_queue(self.stack)

    def record(self, body: str, message_id: str, receipt_handle: str = "handle", receives: int = 1) -> dict[str, Any]:
        return sqs_record(self.queue_url, body, message_id, receipt_handle, receives)

    def invoke_batcher(self, records: list[dict[str, Any]]) -> list[str]:
        return invoke_batcher(self.stack, records)

    def sync_once(self) -> tuple[int, list[str]]:
        """Drain the queue into one batcher invocation: (records delivered, batch item failures)."""
        records = self.drain()
        assert records, "nothing on the queue"
        return len(records), self.invoke_batcher(records)

    def queue_counts(self) -> dict[str, int]:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        names.append("ApproximateNumberOfMessagesDelayed")
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=names)["Attributes"]
        return {name: int(attributes.get(name, 0)) for name in names}

    # ---- the Step Functions retry ------------------------------------------------------------
    def executions(self, status: str | None = None) -> list[dict[str, Any]]:
        return retry_executions(self.stack, status)

    def settle_retries(self, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Wait until every retry execution has finished (the stack's TIME_SCALE makes 13 h take ~5 s)."""
        return settle_retries(self.stack, timeout)

    @staticmethod
    def retry_time_scale(scale: float) -> None:
        from localmode import stepfunctions

        stepfunctions.set_time_scale(scale)

    def ledger_items(self, prefix: str = "") -> list[dict[str, Any]]:
        """What the ledger recorded, one entry per id: an attempt's bucket names its id ("retry:..."); a message
        bucket holds digests, listed as "msg:<digest>". Each entry carries its bucket's retry keys."""
        table = self.dynamodb.Table(self.stack.stack.ref("LedgerTable"))
        entries: list[dict[str, Any]] = []
        for bucket in table.scan()["Items"]:
            keys = sorted(str(k) for k in bucket.get("retry_keys", []))
            name = str(bucket["id"])
            if name.startswith("attempt#"):
                entries.append({"id": name.removeprefix("attempt#"), "bucket": name, "retry_keys": keys})
            else:
                entries += [{"id": f"msg:{d}", "bucket": name, "retry_keys": keys} for d in bucket.get("ids", [])]
        return sorted((e for e in entries if e["id"].startswith(prefix)), key=lambda e: e["id"])

    def ledger_ids(self, prefix: str = "") -> list[str]:
        return [e["id"] for e in self.ledger_items(prefix)]

    def retry_objects(self) -> list[str]:
        listed = boto3.client("s3").list_objects_v2(Bucket=self.stack.stack.ref("RetryBucket"))
        return [o["Key"] for o in listed.get("Contents", [])]

    @staticmethod
    def schedule() -> tuple[int, ...]:
        from audience_sync.settings import Settings

        return RetryPolicy(horizon_seconds=Settings.from_env().linkedin.retry_horizon_seconds).schedule()

    # ---- the LinkedIn sandbox ---------------------------------------------------------------
    def sandbox(self, method: str, path: str, body: Any = None, expect: int | None = None) -> Any:
        response = requests.request(method, f"{self.sandbox_url}{path}", json=body, timeout=10)
        if expect is not None:
            assert response.status_code == expect, (path, response.status_code, response.text)
        return response.json() if response.content else None

    def members(self, segment_id: str) -> list[dict[str, Any]]:
        return self.sandbox("GET", f"/_sandbox/segments/{segment_id}/members", expect=200)["members"]

    def segment(self, segment_id: str) -> dict[str, Any]:
        return next(s for s in self.sandbox("GET", "/_sandbox/segments", expect=200) if str(s["id"]) == segment_id)

    def user_requests(self) -> list[dict[str, Any]]:
        """The sandbox's log of POST /rest/dmpSegments/{id}/users, oldest first."""
        log = self.sandbox("GET", "/_sandbox/requests", expect=200)
        return [e for e in log if e["method"] == "POST" and e["path"].endswith("/users")]

    def add_fault(self, **rule: Any) -> None:
        self.sandbox("POST", "/_sandbox/faults", rule, expect=201)


def email_user(n: int) -> dict[str, Any]:
    return {"external_id": f"u{n}", "email": f"user{n}@example.com"}


def email_member(n: int) -> dict[str, Any]:
    return {"userIds": [{"idType": "SHA256_EMAIL", "idValue": sha256_email(f"user{n}@example.com")}]}
