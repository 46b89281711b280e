"""The whole service in this process for a benchmark: local mode (moto, the real handlers wired from
template.yaml, the LinkedIn sandbox), with every AWS request, Lambda invocation and log byte counted."""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests

from bench.meter import AwsMeter


@dataclass
class InvocationMeter:
    """Lambda invocations and their billed duration (wall clock per invocation, rounded up to 1 ms)."""

    count: Counter[str] = field(default_factory=Counter)
    billed_ms: Counter[str] = field(default_factory=Counter)
    in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, function: Any) -> None:
        original = function.invoke

        def invoke(event: dict[str, Any]) -> Any:
            started = time.perf_counter()
            with self.lock:
                self.in_flight += 1
            try:
                return original(event)
            finally:
                elapsed_ms = (time.perf_counter() - started) * 1000
                with self.lock:
                    self.in_flight -= 1
                    self.count[function.logical_id] += 1
                    self.billed_ms[function.logical_id] += int(elapsed_ms) + 1

        function.invoke = invoke

    def reset(self) -> None:
        with self.lock:
            self.count.clear()
            self.billed_ms.clear()


class CountingStream(io.TextIOBase):
    """Stands in for stdout while handlers run: counts the bytes Lambda would ship to CloudWatch Logs."""

    def __init__(self) -> None:
        self.bytes = 0
        self.lock = threading.Lock()

    def write(self, text: str) -> int:
        with self.lock:
            self.bytes += len(text.encode())
        return len(text)

    def flush(self) -> None:
        return None


@dataclass
class BenchStack:
    service: Any  # localmode.service.LocalService
    aws: AwsMeter
    invocations: InvocationMeter
    logs: CountingStream
    api_key: str = "bench-key"
    api_requests: int = 0

    @property
    def url(self) -> str:
        return str(self.service.base_url)

    @property
    def headers(self) -> dict[str, str]:
        return {"x-api-key": self.api_key}

    def reset(self) -> None:
        self.aws.reset()
        self.invocations.reset()
        self.logs.bytes = 0
        self.api_requests = 0

    def connect_and_launch(self, step_id: str, audience: str, **config: Any) -> str:
        """Connect LinkedIn (the sandbox approves at once) and launch a step; `config` adds to its config."""
        authorize = requests.get(f"{self.url}/v1/connections/linkedin/authorize", headers=self.headers, timeout=30)
        authorize.raise_for_status()
        step = {
            "partner": "linkedin",
            "ad_account_id": "507000001",
            "audience": {"name": audience},
            "action": "add",
            "match_fields": ["email"],
            **config,
        }
        requests.put(f"{self.url}/v1/steps/{step_id}", json=step, headers=self.headers, timeout=30).raise_for_status()
        launch = requests.post(f"{self.url}/v1/steps/{step_id}/launch", headers=self.headers, timeout=30)
        launch.raise_for_status()
        return str(launch.json()["audience_id"])

    def post_users(self, step_id: str, body: dict[str, Any], session: requests.Session | None = None) -> Any:
        self.api_requests += 1
        poster = session or requests
        response = poster.post(f"{self.url}/v1/steps/{step_id}/users", json=body, headers=self.headers, timeout=60)
        response.raise_for_status()
        return response

    def metrics(self, step_id: str) -> dict[str, int]:
        """Read straight from the emulated table (no API call, no AWS request): polling is not pipeline cost."""
        from moto.dynamodb.models import dynamodb_backends

        from audience_sync.core.metrics import public_metrics
        from localmode.resources import ACCOUNT_ID, REGION

        table = self.service.stack.ref("MetricsTable")
        item = dynamodb_backends[ACCOUNT_ID][REGION].get_item(table, {"step_id": {"S": step_id}})
        stored = {k: v.cast_value for k, v in item.attrs.items()} if item is not None else {}
        return public_metrics(stored)

    def idle(self) -> bool:
        """No invocation running and nothing on the sync queue (visible or in flight)."""
        from moto.sqs.models import sqs_backends

        from localmode.resources import ACCOUNT_ID, REGION

        with self.invocations.lock:
            if self.invocations.in_flight:
                return False
        queue_name = self.service.stack.ref("SyncQueue").rsplit("/", 1)[-1]
        queue = sqs_backends[ACCOUNT_ID][REGION].get_queue(queue_name)
        return len(queue.messages) == 0

    def wait_settled(self, step_id: str, entered: int, timeout: float) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        while True:
            current = self.metrics(step_id)
            if current["entered"] >= entered and current["pending"] == 0 and self.idle():
                return current
            if time.monotonic() > deadline:
                raise RuntimeError(f"not settled after {timeout} s: {current}")
            time.sleep(0.2)  # polling an asynchronous pipeline


@contextmanager
def bench_stack(
    env: dict[str, str] | None = None, flush_seconds: int = 5, log_level: str = "INFO"
) -> Iterator[BenchStack]:
    """Local mode in-process on a free port. `env` overrides template parameters the way `make run` does."""
    from localmode.service import LocalConfig, LocalService

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    saved_env = dict(os.environ)
    os.environ.update(env or {})
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "false"  # EMF lines are log bytes we pay for
    meter = AwsMeter()
    meter.install()
    config = LocalConfig(port=0, api_key="bench-key", flush_seconds=flush_seconds, log_level=log_level)
    service = LocalService(config)
    logs = CountingStream()
    real_stdout = sys.stdout
    sys.stdout = logs
    try:
        service.start()
        invocations = InvocationMeter()
        for function in service.functions.values():
            invocations.wrap(function)
        yield BenchStack(service, meter, invocations, logs)
    finally:
        sys.stdout = real_stdout
        meter.uninstall()
        service.stop()
        os.environ.clear()
        os.environ.update(saved_env)
