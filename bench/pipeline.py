"""A backlog through the real batcher: packing (requests vs the ideal) and rate use (2 concurrent batchers
against a LinkedIn that allows 10 requests in any second).

What is real and what stands in:
- the users are queued by the real ingest code (IngestService); each batcher is the real Batcher with its real
  Sender, DynamoDB token bucket and retry store, in a process of its own, as two Lambda containers would be;
  DynamoDB and S3 are moto, served over HTTP from this process (moto's server mode), so the two batchers share
  one token bucket the way they share one DynamoDB item on AWS; and the LinkedIn sandbox runs as a process of its
  own (`python -m localmode.sandbox`), so LinkedIn's clock and CPU are not ours;
- the queue is in memory (MemoryQueue, served to the batcher processes by a multiprocessing manager): moto's
  SQS receives take longer the deeper the queue (measured), which would measure the emulator, not the pipeline.
  It hands out batches the way Lambda's event source mapping does: up to 10,000 records or 6 MB with their
  envelopes, and what a batch reports failed comes back;
- the ledger is in memory too (MemoryLedger, the same contract, served the same way): moto parses each of its
  conditions, 99 per transaction, in about 200 ms a transaction, where DynamoDB takes about 25 ms. Each of its
  calls waits what DynamoDB would (LEDGER_LATENCY_SECONDS), so the batcher spends the time it would on AWS. The
  ledger's writes and their cost are measured against moto in cost.py and its behaviour in the tests.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from multiprocessing.managers import BaseManager
from typing import Any
from urllib.parse import urlsplit

import requests

ESM_MAX_RECORDS = 10_000
ESM_MAX_BYTES = 6 * 1024 * 1024
# What Lambda adds around each SQS body in the event (ids, receipt handle, attributes, ARN): about 700 bytes.
RECORD_ENVELOPE_BYTES = 700
BATCHER_TIMEOUT_MS = 120_000
# What a TransactWriteItems or BatchGetItem takes on DynamoDB in-region (single-digit to low tens of ms).
LEDGER_LATENCY_SECONDS = 0.025
API_KEY = "bench-key"
STEP_ID = "backlog"


class MemoryQueue:
    """The sync queue, in memory. Thread-safe; the publisher's `send` and the batcher's QueueReader."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.visible: deque[dict[str, Any]] = deque()
        self.in_flight: dict[str, dict[str, Any]] = {}
        self.redelivered = 0
        self.closed = False  # nothing more will be sent

    # what QueuePublisher does for the ingest
    def send(self, bodies: Sequence[str], correlation_id: str | None = None) -> None:
        with self.lock:
            for body in bodies:
                self.visible.append({"messageId": uuid.uuid4().hex, "body": body, "receives": 0, "at": time.time()})

    def close(self) -> None:
        with self.lock:
            self.closed = True

    # what the event source mapping does
    def batch(self, max_records: int = ESM_MAX_RECORDS, window_seconds: float = 0.0) -> list[dict[str, Any]]:
        """Up to `max_records` or 6 MB; with a batching window, nothing until the batch is full or the oldest
        message has waited the window (or nothing more will come)."""
        records: list[dict[str, Any]] = []
        size = 0
        with self.lock:
            waiting = bool(self.visible) and time.time() - self.visible[0]["at"] < window_seconds
            if waiting and not self.closed:
                queued = 0
                for message in self.visible:
                    queued += len(message["body"]) + RECORD_ENVELOPE_BYTES
                    if queued > ESM_MAX_BYTES:
                        break
                else:
                    if len(self.visible) < max_records:
                        return []
            while self.visible and len(records) < max_records:
                cost = len(self.visible[0]["body"]) + RECORD_ENVELOPE_BYTES
                if records and size + cost > ESM_MAX_BYTES:
                    break
                records.append(self._deliver(self.visible.popleft()))
                size += cost
        return records

    def settle(self, records: list[dict[str, Any]], failed: list[str]) -> None:
        """Delete what succeeded; what failed is visible again (at once: the benchmark does not wait 12 min)."""
        failed_ids = set(failed)
        with self.lock:
            for record in records:
                message = self.in_flight.pop(record["receiptHandle"], None)
                if message is not None and record["messageId"] in failed_ids:
                    self.visible.append(message)
                    self.redelivered += 1

    # QueueReader, for the batcher's top-up
    def receive(self, max_messages: int) -> list[dict[str, Any]]:
        with self.lock:
            return [self._deliver(self.visible.popleft()) for _ in range(min(max_messages, len(self.visible)))]

    def delete(self, records: Sequence[dict[str, Any]]) -> None:
        with self.lock:
            for record in records:
                self.in_flight.pop(record["receiptHandle"], None)

    def redelivered_count(self) -> int:
        with self.lock:
            return self.redelivered

    def drained(self) -> bool:
        with self.lock:
            return not self.visible and not self.in_flight

    def finished(self) -> bool:
        """Closed and drained: nothing left to hand out, ever."""
        with self.lock:
            return self.closed and not self.visible and not self.in_flight

    def _deliver(self, message: dict[str, Any]) -> dict[str, Any]:
        message["receives"] += 1
        handle = uuid.uuid4().hex
        self.in_flight[handle] = message
        return {
            "messageId": message["messageId"],
            "receiptHandle": handle,
            "body": message["body"],
            "attributes": {"ApproximateReceiveCount": str(message["receives"])},
        }


class MemoryLedger:
    """Ledger's contract in memory (ids per bucket, all-or-nothing record, duplicates reported), with DynamoDB's
    latency per call. Counters are kept per step, as the metrics table would."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.buckets: dict[str, dict[str, list[str]]] = {}  # bucket -> id -> retry keys
        self.counters: dict[str, dict[str, int]] = {}

    def recorded(self, keys: Sequence[Any]) -> dict[str, list[str]]:
        time.sleep(LEDGER_LATENCY_SECONDS)
        with self.lock:
            return {k.id: self.buckets[k.bucket][k.id] for k in keys if k.id in self.buckets.get(k.bucket, {})}

    def synced(self, step_id: str) -> int:
        with self.lock:
            return self.counters.get(step_id, {}).get("synced", 0)

    def counters_of(self, step_id: str) -> dict[str, int]:
        with self.lock:
            return dict(self.counters.get(step_id, {}))

    def record(self, step_id: str, entries: Sequence[Any]) -> set[str]:
        time.sleep(LEDGER_LATENCY_SECONDS)
        with self.lock:
            duplicates = {e.id for e in entries if e.id in self.buckets.get(e.bucket, {})}
            if duplicates:
                return duplicates
            counters = self.counters.setdefault(step_id, {})
            for e in entries:
                self.buckets.setdefault(e.bucket, {})[e.id] = list(e.retry_keys)
                for name, n in e.delta.attributes().items():
                    counters[name] = counters.get(name, 0) + n
            return set()


@dataclass(frozen=True)
class PipelineResult:
    users: int
    synced: int
    max_elements: int
    requests: int  # accepted /users requests
    elements: list[int]  # per accepted request
    throttled: int  # 429s
    max_in_any_second: int
    rate_limit: int
    first_to_last_seconds: float
    timeline: list[tuple[float, int]]  # (seconds since the first request, users LinkedIn had taken by then)
    invocations: int
    redelivered: int
    slots_missed: int = 0  # rate slots let go by batchers that woke too late for them (adapters/aws/rate_bucket.py)

    @property
    def ideal_requests(self) -> int:
        return math.ceil(self.users / self.max_elements)

    @property
    def fill(self) -> float:
        return self.ideal_requests / self.requests

    @property
    def requests_per_second(self) -> float:
        return (self.requests - 1) / self.first_to_last_seconds

    @property
    def rate_use(self) -> float:
        return self.requests_per_second / self.rate_limit


def run(
    users: int = 500_000,
    users_per_webhook: int = 100,
    batchers: int = 2,
    rate_limit: int = 10,
    progress: Callable[[str], None] | None = None,
) -> PipelineResult:
    say = progress or (lambda message: None)
    with sandbox_stack(rate_limit) as (linkedin, stack):
        _launch(stack)
        with BenchManager(ctx=SPAWN) as manager:
            queue = manager.MemoryQueue()  # type: ignore[attr-defined]
            ledger = manager.MemoryLedger()  # type: ignore[attr-defined]
            say(f"queueing {users:,} users through the ingest code")
            _queue_backlog(queue, users, users_per_webhook)
            queue.close()
            say(f"draining the backlog with {batchers} batcher processes against {rate_limit} requests/s")
            invocations, missed = _drain(queue, ledger, batchers, say)
            synced = ledger.synced(STEP_ID)
            redelivered = queue.redelivered_count()
        log = sandbox_requests(linkedin)
    return replace(_result(log, users, synced, rate_limit, invocations, redelivered), slots_missed=missed)


@contextmanager
def sandbox_stack(rate_limit: int) -> Iterator[tuple[str, Any]]:
    """The stack provisioned in moto's server mode, against the sandbox in a process of its own allowing
    `rate_limit` requests in any second; yields (the sandbox's URL, the stack). The environment is restored after."""
    from localmode.provision import provision
    from localmode.sandbox.server import sandbox_process

    saved = dict(os.environ)
    sandbox_config = {"rate_limit": rate_limit, "rate_window_seconds": 1.0, "propagation_delay_seconds": 0}
    try:
        with sandbox_process(sandbox_config) as linkedin, moto_server() as aws_endpoint:
            os.environ.update(AWS_ENDPOINT_URL=aws_endpoint, **AWS_CREDENTIALS)
            stack = provision(
                overrides={
                    "LinkedInApiUrl": f"{linkedin}/rest",
                    "LinkedInOAuthUrl": f"{linkedin}/oauth/v2",
                    "LinkedInClientId": "sandbox-client-id",
                    "LinkedInClientSecret": "sandbox-client-secret",
                    "OAuthRedirectUri": "http://127.0.0.1:3000/v1/connections/linkedin/callback",
                    "RequestsPerSecond": str(rate_limit),
                },
                extra_env={
                    "POWERTOOLS_TRACE_DISABLED": "true",
                    "POWERTOOLS_METRICS_DISABLED": "true",
                    "POWERTOOLS_LOG_LEVEL": "WARNING",
                },
            )
            try:
                yield linkedin, stack
            finally:
                stack.stop()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def audience_posts(log: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The sandbox's requests adding users to an audience, by arrival: (all of them, those it accepted)."""
    calls = sorted((r for r in log if r["method"] == "POST" and r["path"].endswith("/users")), key=lambda r: r["t"])
    return calls, [r for r in calls if r["status"] == 200]


def sandbox_requests(linkedin: str) -> list[dict[str, Any]]:
    """Every request the sandbox received, with its arrival time and answer."""
    log: list[dict[str, Any]] = requests.get(f"{linkedin}/_sandbox/requests", timeout=30).json()
    return log


AWS_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}
SPAWN = multiprocessing.get_context("spawn")


class BenchManager(BaseManager):
    """Serves the in-memory queue and ledger to the batcher processes."""


BenchManager.register("MemoryQueue", MemoryQueue)
BenchManager.register("MemoryLedger", MemoryLedger)


@contextmanager
def moto_server() -> Iterator[str]:
    """moto's server mode on 127.0.0.1, in this process: its backends are the ones provision() fills."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "install moto[server]": requirements-bench.txt does
        from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        # moto's backends are this process's: a benchmark run before left its tables there
        requests.post(f"{url}/moto-api/reset", timeout=30).raise_for_status()
        yield url
    finally:
        server.stop()


def _launch(stack: Any, step_id: str = STEP_ID, segment: dict[str, Any] | None = None) -> None:
    """Connect, configure and launch through the emulated API Gateway, as a user would; with `segment` (its id and
    definition), a step that follows it and backfills."""
    from werkzeug.test import Client

    from audience_sync.adapters.aws import clients

    client = Client(stack.gateway(API_KEY))
    headers = {"x-api-key": API_KEY}
    start = client.get("/v1/connections/linkedin/authorize", headers=headers)
    approved = requests.get(start.headers["Location"], allow_redirects=False, timeout=10)
    callback = urlsplit(approved.headers["Location"])
    assert client.get(f"{callback.path}?{callback.query}").status_code == 200
    step: dict[str, Any] = {"partner": "linkedin", "ad_account_id": "507000001", "audience": {"name": "Backlog"}}
    step.update({"action": "add", "match_fields": ["email"]})
    if segment is not None:
        assert client.put(f"/v1/segments/{segment['id']}", json=segment["body"], headers=headers).status_code == 200
        step["source"] = {"type": "segment", "segment_id": segment["id"], "backfill": True}
    assert client.put(f"/v1/steps/{step_id}", json=step, headers=headers).status_code == 200
    assert client.post(f"/v1/steps/{step_id}/launch", headers=headers).status_code == 200
    # LinkedIn wants 5 s between creating a segment and streaming into it; date the creation back instead of
    # waiting (the sandbox here has no propagation delay).
    clients.table(stack.ref("StepsTable")).update_item(
        Key={"step_id": step_id},
        UpdateExpression="SET audience_created_at = audience_created_at - :m",
        ExpressionAttributeValues={":m": 60_000},
    )


def _queue_backlog(queue: Any, users: int, per_webhook: int) -> None:
    """The webhooks through the real ingest code; their messages go to the shared queue in bulk."""
    from audience_sync.adapters.aws.steps_table import DynamoStepStore
    from audience_sync.pipeline.ingest import IngestService
    from audience_sync.settings import Settings
    from audience_sync.sources.webhook import ingest as webhook
    from audience_sync.sources.webhook.models import WebhookBody

    bodies: list[str] = []

    class Collect:
        def send(self, sent: Sequence[str], correlation_id: str | None = None) -> None:
            bodies.extend(sent)

    ingest = IngestService(DynamoStepStore(Settings.from_env().resources.require("steps_table")), Collect())
    for start in range(0, users, per_webhook):
        batch = [{"external_id": f"u{n}", "email": f"user{n}@example.com"} for n in range(start, start + per_webhook)]
        webhook.accept(ingest, STEP_ID, WebhookBody.model_validate({"users": batch}), None)
    for start in range(0, len(bodies), 500):
        queue.send(bodies[start : start + 500])


def _drain(queue: Any, ledger: Any, batchers: int, say: Callable[[str], None]) -> tuple[int, int]:
    """`batchers` batcher processes, each a warm Lambda container, until the queue is empty."""
    results = SPAWN.Queue()
    environment = dict(os.environ)
    processes = [
        SPAWN.Process(target=_batcher_process, args=(i, environment, queue, ledger, results), name=f"batcher-{i}")
        for i in range(batchers)
    ]
    for process in processes:
        process.start()
    invocations = missed = 0
    for _ in processes:
        kind, value = results.get(timeout=1800)
        if kind == "error":
            raise RuntimeError(f"a batcher failed: {value}")
        invocations += int(value[0])
        missed += int(value[1])
        say(f"a batcher is done after {value[0]} invocations, {value[1]} slots let go")
    for process in processes:
        process.join(timeout=60)
    return invocations, missed


def race(
    producer: Callable[..., None],
    producers: int,
    sync_queue: Any,
    ledger: Any,
    batchers: int,
    window_seconds: float,
    say: Callable[[str], None],
) -> tuple[float, list[Any]]:
    """`producers` processes of `producer(index, environment, sync_queue, ready, go, results)`, each ready (its
    data made, its imports done) before `batchers` batcher processes start on the sync queue and wait; then all are
    let go at once. Returns when the batchers have drained what the producers queued: (when they were let go, the
    value each producer reported as ("produced", value))."""
    ready, go, results = SPAWN.Queue(), SPAWN.Event(), SPAWN.Queue()
    environment = dict(os.environ)
    making = [
        SPAWN.Process(target=producer, args=(i, environment, sync_queue, ready, go, results), name=f"producer-{i}")
        for i in range(producers)
    ]
    for process in making:
        process.start()
    for _ in making:
        ready.get(timeout=300)
    draining = [
        SPAWN.Process(
            target=_batcher_process,
            args=(i, environment, sync_queue, ledger, results, window_seconds),
            name=f"batcher-{i}",
        )
        for i in range(batchers)
    ]
    for process in draining:
        process.start()
    time.sleep(3)  # the batchers import and build their container (an idle queue: they only wait)
    say(f"{producers} producer processes and {batchers} batchers: go")
    started = time.time()
    go.set()
    produced: list[Any] = []
    while len(produced) < producers:
        kind, value = results.get(timeout=1800)
        if kind == "error":
            raise RuntimeError(value)
        if kind == "produced":
            produced.append(value)
    sync_queue.close()
    say(f"produced in {time.time() - started:.1f} s; draining the sync queue")
    for _ in draining:
        kind, value = results.get(timeout=1800)
        if kind == "error":
            raise RuntimeError(value)
    for process in making + draining:
        process.join(timeout=60)
    return started, produced


def _batcher_process(
    index: int, environment: dict[str, str], queue: Any, ledger: Any, results: Any, window_seconds: float = 0.0
) -> None:
    """One batcher container: takes batches as the event source mapping gives them (`window_seconds` its batching
    window), until the queue is closed and empty."""
    os.environ.clear()
    os.environ.update(environment)
    try:
        from audience_sync.adapters.aws.rate_bucket import DynamoRateBuckets
        from audience_sync.composition.container import Container
        from audience_sync.pipeline.batcher import Batcher
        from audience_sync.settings import Settings

        container = Container(Settings.from_env())
        clock = container.clock
        batcher = Batcher(container.settings.tuning, container.sender, ledger, container.retry_store, clock, queue)
        invocations = 0
        while not queue.finished():
            records = queue.batch(window_seconds=window_seconds)
            if not records:
                time.sleep(0.01)  # the other batcher holds the rest in flight
                continue
            failed = batcher.handle(records, clock.now_ms() + BATCHER_TIMEOUT_MS)
            queue.settle(records, failed)
            invocations += 1
        buckets = container.sender.buckets
        missed = buckets.slots_missed() if isinstance(buckets, DynamoRateBuckets) else 0
        results.put(("done", (invocations, missed)))
    except BaseException as exc:  # reported to the parent, which raises it
        results.put(("error", f"batcher {index}: {exc!r}"))


def _result(
    log: list[dict[str, Any]], users: int, synced: int, rate_limit: int, invocations: int, redelivered: int
) -> PipelineResult:
    calls, accepted = audience_posts(log)
    times = [r["t"] for r in accepted]
    t0 = times[0]
    taken, timeline = 0, [(0.0, 0)]
    for r in accepted:
        taken += r["elements"]
        timeline.append((r["t"] - t0, taken))
    return PipelineResult(
        users=users,
        synced=synced,
        max_elements=5000,
        requests=len(accepted),
        elements=[r["elements"] for r in accepted],
        throttled=sum(1 for r in calls if r["status"] == 429),
        max_in_any_second=max_in_window([r["t"] for r in calls if r["status"] != 429], 1.0),
        rate_limit=rate_limit,
        first_to_last_seconds=times[-1] - t0,
        timeline=timeline,
        invocations=invocations,
        redelivered=redelivered,
    )


def max_in_window(times: list[float], window: float) -> int:
    """The most timestamps inside any half-open window [t, t + window)."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(ordered):
        while ordered[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best
