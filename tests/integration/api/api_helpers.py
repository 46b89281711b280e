"""Short helpers for the HTTP contract tests: one `Api` per test, wrapping the emulated API Gateway.

Every response body that passes through `Api.request` is kept in `Api.bodies`, so a test can scan all of
them for secrets (tokens) at the end.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
import requests

from tests.stack_support import age_audience, drain_queue, invoke_batcher

API_KEY = "test-key"
ACCOUNT_ID = "507000001"  # sandbox: ACCOUNT_BILLING_ADMIN
VIEWER_ACCOUNT_ID = "507000002"  # sandbox: VIEWER (read-only)
ERROR_KEYS = {"code", "message", "details"}
PUBLIC_METRICS = {"entered", "proceeded", "synced", "not_synced", "pending", "errored", "exited"}


@dataclass
class Reply:
    status: int
    text: str
    headers: Any

    @property
    def json(self) -> Any:
        return json.loads(self.text)


def assert_error(reply: Reply, status: int, code: str) -> dict[str, Any]:
    """The public error envelope with this status and code; returns the inner error object."""
    assert reply.status == status, (reply.status, reply.text)
    body = reply.json
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == ERROR_KEYS, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"]
    assert isinstance(error["details"], list)
    return dict(error)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def step_config(**overrides: Any) -> dict[str, Any]:
    """A complete, launchable step config (email matching, a new audience, the writable ad account)."""
    config: dict[str, Any] = {
        "partner": "linkedin",
        "ad_account_id": ACCOUNT_ID,
        "audience": {"name": "Churn risk"},
        "action": "add",
        "match_fields": ["email"],
        "entry_filters": [],
        "last_step": False,
    }
    config.update(overrides)
    return config


class Api:
    def __init__(self, stack: Any):
        self.stack = stack
        self.client = stack.client()
        self.bodies: list[str] = []

    # ---- HTTP ---------------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: str | bytes | None = None,
        key: str | None = API_KEY,
        content_type: str = "application/json",
    ) -> Reply:
        headers = {"x-api-key": key} if key is not None else {}
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        kwargs: dict[str, Any] = {"headers": headers}
        if data is not None:
            kwargs.update(data=data, content_type=content_type)
        response = self.client.open(path, method=method, **kwargs)
        reply = Reply(response.status_code, response.get_data(as_text=True), response.headers)
        self.bodies.append(reply.text)
        return reply

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    # ---- OAuth --------------------------------------------------------------------------------
    def authorize(self) -> str:
        """Start the flow; LinkedIn (the sandbox) approves at once. Returns the callback path and query."""
        start = self.get("/v1/connections/linkedin/authorize")
        assert start.status == 302, start.text
        location = start.headers["Location"]
        assert location.startswith(self.stack.sandbox.url)
        approved = requests.get(location, allow_redirects=False, timeout=10)
        assert approved.status_code == 302, approved.text
        callback = urlsplit(approved.headers["Location"])
        return f"{callback.path}?{callback.query}"

    def callback(self, path_and_query: str) -> Reply:
        return self.get(path_and_query, key=None)  # LinkedIn's redirect carries no API key

    def connect(self) -> dict[str, Any]:
        reply = self.callback(self.authorize())
        assert reply.status == 200, reply.text
        assert reply.json["status"] == "connected"
        return dict(reply.json)

    # ---- steps --------------------------------------------------------------------------------
    def put_step(self, step_id: str, config: dict[str, Any] | None = None, **overrides: Any) -> Reply:
        return self.request("PUT", f"/v1/steps/{step_id}", config if config is not None else step_config(**overrides))

    def launch(self, step_id: str) -> Reply:
        return self.request("POST", f"/v1/steps/{step_id}/launch")

    def active_step(self, step_id: str, **overrides: Any) -> str:
        """Configure and launch a step (connecting first if needed); returns the audience id."""
        if self.get("/v1/connections/linkedin").json["status"] != "connected":
            self.connect()
        put = self.put_step(step_id, **overrides)
        assert put.status == 200, put.text
        launched = self.launch(step_id)
        assert launched.status == 200, launched.text
        assert launched.json["status"] == "active"
        age_audience(self.stack, step_id)
        return str(launched.json["audience_id"])

    def post_users(
        self, step_id: str, users: list[dict[str, Any]], idempotency_key: str | None = None, **kwargs: Any
    ) -> Reply:
        body: dict[str, Any] = {"users": users}
        if idempotency_key is not None:
            body["idempotency_key"] = idempotency_key
        return self.request("POST", f"/v1/steps/{step_id}/users", body, **kwargs)

    def settle(self) -> None:
        """Run the batcher over everything queued: the counters move when the batcher records a message."""
        records = drain_queue(self.stack)
        if records:
            assert invoke_batcher(self.stack, records) == []

    def metrics(self, step_id: str) -> dict[str, int]:
        """The step's metrics once the queued messages are settled."""
        self.settle()
        reply = self.get(f"/v1/steps/{step_id}/metrics")
        assert reply.status == 200, reply.text
        assert set(reply.json) == PUBLIC_METRICS, reply.json
        return dict(reply.json)

    # ---- the emulated AWS account and the sandbox ----------------------------------------------
    def queue_bodies(self) -> list[str]:
        """The raw bodies of every message on the sync queue; they stay on it (visible again afterwards)."""
        sqs = boto3.client("sqs")
        url = self.stack.stack.ref("SyncQueue")
        received: list[dict[str, Any]] = []
        while True:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = got.get("Messages", [])
            if not messages:
                break
            received.extend(messages)
        for m in received:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
        return [m["Body"] for m in received]

    def queued_users(self, bodies: list[str]) -> list[dict[str, Any]]:
        return [user for body in bodies for user in json.loads(body)["users"]]

    def raw_connection_item(self) -> dict[str, Any] | None:
        """The connection item as DynamoDB stores it (low-level client: no deserialisation)."""
        table = self.stack.stack.ref("ConnectionsTable")
        item: dict[str, Any] | None = (
            boto3.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": "connection#linkedin"}}).get("Item")
        )
        return item

    def metrics_items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=self.stack.stack.ref("MetricsTable"))[
            "Items"
        ]
        return items

    def sandbox_segments(self) -> list[dict[str, Any]]:
        reply = requests.get(f"{self.stack.sandbox.url}/_sandbox/segments", timeout=10)
        assert reply.status_code == 200
        segments: list[dict[str, Any]] = reply.json()
        return segments

    def sandbox_tokens(self) -> set[str]:
        """Every access and refresh token the sandbox has issued."""
        state = self.stack.sandbox.app.state
        with state.lock:
            return {t.token for t in state.oauth.access.values()} | set(state.oauth.refresh)
