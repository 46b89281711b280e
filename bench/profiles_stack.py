"""The profile rows measured through local mode (moto, the real handlers wired from template.yaml, the FIFO profile
queue polled as Lambda polls it):
- AWS cost per million attribute updates sent 75 per request (every AWS request counted by bench/meter.py, priced by
  bench/prices.py), next to the floor: API Gateway's requests plus one DynamoDB write unit per update;
- read-your-writes at light load: from a /users/track 201 to the value visible in /users/export/ids;
- segment freshness at light load: from a /users/track 201 to the user's entry or exit visible in the segment's
  members (/v1/segments/{id}/members: the writer's evaluation and the membership function both passed), and to the
  LinkedIn request that carries a user entering a segment a sync step follows (the sandbox's arrival log).
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from bench.cost import Sampling, Usage, _function_use, per_million_users
from bench.latency import LatencyResult
from bench.prices import PRICES
from bench.stack import BenchStack, bench_stack

UPDATES_PER_REQUEST = 75
GROUPS = 16  # the template's ProfileWriteGroups
NOW = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)
# Lambda gives a function CPU in proportion to its memory, a whole vCPU at 1,769 MB (Lambda's docs): a 512 MB function
# runs CPU-bound code this much slower than one core here. Applied to the whole measured duration, waits included,
# which over-counts on purpose.
LAMBDA_VCPU_MB = 1769


@dataclass(frozen=True)
class UpdateCost:
    updates: int
    per_million: dict[str, float]
    calls: dict[str, int]
    moto_lambda_per_million: dict[str, float]  # the same functions billed by their wall clock here (moto: slower)

    @property
    def total(self) -> float:
        return sum(self.per_million.values())

    @property
    def floor(self) -> float:
        """API Gateway's requests and one write unit per update: what no design can go under."""
        return PRICES["api_requests"].of(math.ceil(1e6 / UPDATES_PER_REQUEST)) + PRICES["dynamodb_wru"].of(1e6)


@dataclass(frozen=True)
class ReadYourWrites(LatencyResult):
    """Seconds from a /users/track 201 to the value visible in /users/export/ids, one write at a time."""


@dataclass(frozen=True)
class SegmentFreshness(LatencyResult):
    """Seconds from a /users/track 201 to the user's entry or exit listed by /v1/segments/{id}/members."""


def _key(stack: BenchStack) -> str:
    body = {"name": "bench", "permissions": ["users.track", "users.export.ids"]}
    reply = requests.post(f"{stack.url}/v1/rest-api-keys", json=body, headers=stack.headers, timeout=30)
    reply.raise_for_status()
    return str(reply.json()["key"])


def _track(stack: BenchStack, key: str, body: dict[str, Any], session: requests.Session) -> None:
    stack.api_requests += 1
    reply = session.post(f"{stack.url}/users/track", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    if reply.status_code != 201:
        raise RuntimeError(f"/users/track answered {reply.status_code}: {reply.text[:300]}")


def _export(stack: BenchStack, key: str, ids: list[str], session: requests.Session) -> dict[str, Any]:
    reply = session.post(
        f"{stack.url}/users/export/ids",
        json={"external_ids": ids},
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    reply.raise_for_status()
    return {u["external_id"]: u for u in reply.json()["users"]}


def _updates(n: int, users: int, value: int) -> dict[str, Any]:
    """75 attribute updates: each sets two attributes of one existing user (Segment's identify of changed traits)."""
    return {
        "attributes": [
            {"external_id": f"u{(n * UPDATES_PER_REQUEST + i) % users}", "plan": f"p{value}", "score": value}
            for i in range(UPDATES_PER_REQUEST)
        ]
    }


def _wait_applied(stack: BenchStack, key: str, users: int, value: int, timeout: float) -> None:
    session = requests.Session()
    deadline = time.monotonic() + timeout
    sample = [f"u{i}" for i in range(0, users, max(1, users // 50))][:50]
    while True:
        current = _export(stack, key, sample, session)
        if len(current) == len(sample) and all(u["custom_attributes"]["score"] == value for u in current.values()):
            return
        if time.monotonic() > deadline:
            raise RuntimeError("profile writes not applied in time")
        time.sleep(0.2)  # polling an asynchronous pipeline


def measure(
    api_ms: float,
    writer_ms_per_message: float,
    requests_count: int = 200,
    users: int = 3_000,
    progress: Callable[[str], None] | None = None,
) -> tuple[UpdateCost, ReadYourWrites, SegmentFreshness, SegmentFreshness]:
    """`api_ms` and `writer_ms_per_message`: the functions' durations measured against stand-ins that wait as long
    as AWS would (bench/profiles.py): in moto, in this process, DynamoDB's conditional writes cost far more than in
    AWS and every thread shares one core, so wall clock here would bill moto. Everything else is counted here."""
    from audience_sync.profiles import operations, track
    from localmode.provision import ROOT
    from localmode.template import load_template

    template = load_template(ROOT / "template.yaml")
    with bench_stack() as stack:
        key = _key(stack)
        session = requests.Session()
        # The users exist first (creating them is a write of their own); then the measured updates.
        for n in range(math.ceil(users / UPDATES_PER_REQUEST)):
            _track(stack, key, _updates(n, users, 0), session)
        _wait_applied(stack, key, users, 0, 300)
        _settle(stack)
        stack.reset()
        bodies = [_updates(n, users, 1) for n in range(requests_count)]
        with ThreadPoolExecutor(4) as clients:  # a partner sending steadily: the queue holds a backlog
            list(clients.map(lambda body: _track(stack, key, body, requests.Session()), bodies))
        if progress:
            progress(f"profile cost: {requests_count} requests sent")
        stack.aws.enabled = False  # checking is not the pipeline's cost
        _wait_applied(stack, key, min(users, requests_count * UPDATES_PER_REQUEST), 1, 300)
        stack.aws.enabled = True
        _settle(stack)
        updates = requests_count * UPDATES_PER_REQUEST
        count = stack.invocations.count
        messages = sum(len(operations.messages(track.plan(b, 25, NOW).operations, GROUPS)) for b in bodies)
        modelled = {
            "PlatformApiFunction": count["PlatformApiFunction"] * api_ms,
            "ProfileWriterFunction": messages * writer_ms_per_message,
        }

        def usage(billed: dict[str, float]) -> Usage:
            return Usage(
                users=updates,
                api_requests=stack.api_requests,
                api_traced=True,
                webhook_sampling=Sampling(),
                functions={
                    name: _function_use(
                        template, name, count[name], math.ceil(ms * LAMBDA_VCPU_MB / _memory(template, name))
                    )
                    for name, ms in billed.items()
                },
                aws_units={unit: n for unit, n in stack.aws.units.items() if unit != "sqs_requests"},
                log_bytes=stack.logs.bytes,
            )

        measured = {name: float(stack.invocations.billed_ms[name]) for name in modelled}
        moto = {k: v for k, v in per_million_users(usage(measured)).items() if k.startswith("Lambda")}
        calls = {f"{s}.{o}": n for (s, o), n in sorted(stack.aws.calls.items())}
        cost = UpdateCost(updates, per_million_users(usage(modelled)), calls, moto)
        latency = _read_your_writes(stack, key, 40, progress)
        freshness = _segment_freshness(stack, key, 40, progress)
        to_linkedin = _segment_to_linkedin(stack, key, 30, progress)
    return cost, latency, freshness, to_linkedin


def _settle(stack: BenchStack) -> None:
    """Wait until the writer is idle and the profile queue empty (so the meters hold the whole run)."""
    from moto.sqs.models import sqs_backends

    from localmode.resources import ACCOUNT_ID, REGION

    name = stack.service.stack.ref("ProfileQueue").rsplit("/", 1)[-1]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        queue = sqs_backends[ACCOUNT_ID][REGION].get_queue(name)
        with stack.invocations.lock:
            busy = stack.invocations.in_flight
        if not queue.messages and not busy:
            return
        time.sleep(0.2)  # polling an asynchronous pipeline
    raise RuntimeError("the profile queue did not drain")


def _memory(template: dict[str, Any], name: str) -> int:
    defaults = (template.get("Globals") or {}).get("Function") or {}
    return int(template["Resources"][name]["Properties"].get("MemorySize", defaults.get("MemorySize", 128)))


def _read_your_writes(
    stack: BenchStack, key: str, writes: int, progress: Callable[[str], None] | None
) -> ReadYourWrites:
    session = requests.Session()

    def visible(user: str, value: int) -> bool:
        found = _export(stack, key, [user], session).get(user)
        return found is not None and found["custom_attributes"].get("v") == value

    seconds = _one_write_at_a_time(
        stack, key, session, writes, lambda n: (f"ryw-{n % 5}", {"v": n}), lambda n, user: visible(user, n)
    )
    if progress:
        progress(f"read-your-writes: p50 {statistics.median(seconds):.2f} s over {writes} writes")
    return ReadYourWrites(seconds, stack.service.config.flush_seconds)


def _one_write_at_a_time(
    stack: BenchStack,
    key: str,
    session: requests.Session,
    writes: int,
    write: Callable[[int], tuple[str, dict[str, Any]]],
    seen: Callable[[int, str], bool],
) -> list[float]:
    """Seconds from each write's 201 until `seen` says its effect is visible; light load: one write at a time."""
    seconds: list[float] = []
    for n in range(writes):
        user, attributes = write(n)
        _track(stack, key, {"attributes": [{"external_id": user, **attributes}]}, session)
        answered = time.monotonic()
        while not seen(n, user):
            if time.monotonic() - answered > 30:
                raise RuntimeError("a write's effect was not visible within 30 s")
            time.sleep(0.02)  # polling an asynchronous pipeline
        seconds.append(time.monotonic() - answered)
        time.sleep(0.1)
    return seconds


def _members(stack: BenchStack, session: requests.Session) -> set[str]:
    reply = session.get(f"{stack.url}/v1/segments/fresh/members?limit=1000", headers=stack.headers, timeout=30)
    reply.raise_for_status()
    return {m["external_id"] for m in reply.json()["members"]}


def _segment_freshness(
    stack: BenchStack, key: str, writes: int, progress: Callable[[str], None] | None
) -> SegmentFreshness:
    session = requests.Session()
    segment = {"name": "fresh", "filter": {"attribute": "fresh", "op": "is_true"}}
    session.put(f"{stack.url}/v1/segments/fresh", json=segment, headers=stack.headers, timeout=30).raise_for_status()
    time.sleep(6)  # the writers' cached definitions (5 s) include it

    def member(n: int) -> bool:
        return n % 10 < 5  # five users enter, then leave, in turn

    seconds = _one_write_at_a_time(
        stack,
        key,
        session,
        writes,
        lambda n: (f"fresh-{n % 5}", {"fresh": member(n)}),
        lambda n, user: (user in _members(stack, session)) == member(n),
    )
    if progress:
        progress(f"segment freshness: p50 {statistics.median(seconds):.2f} s over {writes} writes")
    return SegmentFreshness(seconds, stack.service.config.flush_seconds)


def _segment_to_linkedin(
    stack: BenchStack, key: str, writes: int, progress: Callable[[str], None] | None
) -> SegmentFreshness:
    """A step follows the segment "fresh"; users enter it one at a time: seconds from each /users/track 201 to the
    LinkedIn request that carries the user."""
    import hashlib

    from bench.latency import ArrivalLog

    arrivals = ArrivalLog()
    arrivals.install(stack.service.sandbox)
    stack.connect_and_launch("fresh-step", "Segment freshness", source={"type": "segment", "segment_id": "fresh"})
    time.sleep(6)  # LinkedIn accepts users 5 s after an audience is created
    session = requests.Session()
    seconds: list[float] = []
    for n in range(writes):
        email = f"fresh-{n}@example.com"
        hashed = hashlib.sha256(email.encode()).hexdigest()
        body = {"attributes": [{"external_id": f"to-linkedin-{n}", "email": email, "fresh": True}]}
        _track(stack, key, body, session)
        answered = time.time()
        while True:
            with arrivals.lock:
                arrived = arrivals.first_seen.get(hashed)
            if arrived is not None:
                break
            if time.time() - answered > 60:
                raise RuntimeError("a segment entry did not reach LinkedIn within 60 s")
            time.sleep(0.02)  # polling the sandbox's arrival log
        seconds.append(arrived - answered)
        time.sleep(0.1)
    if progress:
        progress(f"segment to LinkedIn: p50 {statistics.median(seconds):.2f} s over {writes} writes")
    return SegmentFreshness(seconds, stack.service.config.flush_seconds)
