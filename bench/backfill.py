"""A backfill: every member of a segment reaches LinkedIn (issue 13: 1,000,000 members in <= 1.2 x the physical
limit, 1,000,000 / (10 requests/s x 5,000) = 20 s), timed from the moment its membership is known (the profile
writer has recorded each member's entry in the step's own segment and published it) to LinkedIn's last request.

What is real and what stands in:
- the membership messages are the writer's (adapters/aws/membership_queue.encode: 400 baseline entries each);
- each membership process is the membership function's work, as functions/membership does it: the ten records of
  an event source mapping batch at once, each through the real MembershipProcessor (sources/segment/processor.py:
  the router, the one pipeline's IngestService); MEMBERSHIP_CONCURRENCY processes, the template's
  MaximumConcurrency, at a lower CPU priority than the batchers (see _membership_process). The step is launched
  through the API and read from DynamoDB (moto) once a process, then each read waits what a GetItem would
  (LatencySteps);
- the members' index and the profiles the router reads are in each process's memory, each call waiting what
  DynamoDB takes (pipeline.py's LEDGER_LATENCY_SECONDS, a BatchGetItem of 100 keys or a transaction of 100
  items), the calls of one read or write made at once as the adapters make them (adapters/aws/fanout.py): a
  million profiles in moto would measure the emulator. What the SDK would spend on those calls' payloads is
  measured apart (bench/sdk_cpu.py) and added where the AWS arithmetic needs it (aws_routing_seconds);
- the sync queue, the ledger, the batchers (with the template's 5 s batching window), the token bucket and the
  LinkedIn sandbox (10 requests in any second) are pipeline.py's.
"""

from __future__ import annotations

import functools
import math
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench import sdk_cpu
from bench.pipeline import (
    LEDGER_LATENCY_SECONDS,
    SPAWN,
    BenchManager,
    _launch,
    audience_posts,
    max_in_window,
    race,
    sandbox_requests,
    sandbox_stack,
)

STEP_ID = "backfill"
SEGMENT = {"id": "bench-gold", "body": {"name": "Gold", "filter": {"attribute": "plan", "op": "eq", "value": "gold"}}}
LAMBDA_VCPU_MB = 1769  # Lambda gives a whole vCPU at 1,769 MB


def _membership_function() -> tuple[int, int]:
    """The template's MembershipFunction: its event's MaximumConcurrency and its MemorySize."""
    from bench.cost import _template_path
    from localmode.template import load_template

    function = load_template(_template_path())["Resources"]["MembershipFunction"]["Properties"]
    (event,) = function["Events"].values()
    return int(event["Properties"]["ScalingConfig"]["MaximumConcurrency"]), int(function["MemorySize"])


MEMBERSHIP_CONCURRENCY, MEMBERSHIP_MB = _membership_function()
MEMBERSHIP_BATCH = 10  # ... and its BatchSize (functions/membership: MAX_THREADS)
FLUSH_SECONDS = 5.0  # the batcher's batching window (template parameter FlushSeconds, its default)
KEYS_PER_CALL = 100  # BatchGetItem; a transaction holds 100 items too
PHYSICAL_LIMIT_FACTOR = 1.2


@dataclass(frozen=True)
class BackfillResult:
    members: int
    synced: int
    seconds: float  # from the membership known to LinkedIn's last request
    requests: int
    elements: list[int]
    throttled: int
    max_in_any_second: int
    rate_limit: int
    routing_cpu_seconds: float  # the membership processes' CPU, all of them
    sdk_us: dict[str, float]  # the SDK's CPU a member on AWS, which the stand-ins here do not spend (sdk_cpu.py)
    max_elements: int = 5000
    concurrency: int = MEMBERSHIP_CONCURRENCY
    memory_mb: int = MEMBERSHIP_MB

    @property
    def routing_us_per_member(self) -> float:
        return self.routing_cpu_seconds / self.members * 1e6

    @property
    def aws_us_per_member(self) -> float:
        return self.routing_us_per_member + sum(self.sdk_us.values())

    @property
    def aws_routing_seconds(self) -> float:
        """The membership function's CPU on AWS spread over its containers, each with memory / 1,769 of a vCPU."""
        vcpus = self.concurrency * min(1.0, self.memory_mb / LAMBDA_VCPU_MB)
        return self.members * self.aws_us_per_member / 1e6 / vcpus

    @property
    def physical_limit_seconds(self) -> float:
        return self.members / (self.rate_limit * self.max_elements)

    @property
    def ratio(self) -> float:
        return self.seconds / self.physical_limit_seconds

    @property
    def ideal_requests(self) -> int:
        return math.ceil(self.members / self.max_elements)


def _calls(items: int, per_call: int) -> None:
    """What DynamoDB takes for the calls `items` need, made as the adapters make them: at once, through the
    adapters' own pool (adapters/aws/fanout.py)."""
    from audience_sync.adapters.aws import fanout

    fanout.each(lambda _: time.sleep(LEDGER_LATENCY_SECONDS), range(math.ceil(items / per_call)))


class LatencyIndex:
    """The members' index's contract (segments/ports.py MemberIndex, the part the processor uses) in memory: each
    (segment, member) keeps its newest transition; a call waits what DynamoDB would."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.held: dict[tuple[str, str], Any] = {}

    def lookup(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        _calls(len(keys), KEYS_PER_CALL)
        with self.lock:
            return {k: self.held[k] for k in keys if k in self.held}

    def apply(
        self,
        transitions: Sequence[Any],
        hour: str,
        stored: Mapping[tuple[str, str], Any],
        sent: Mapping[tuple[str, str], dict[str, Any]] | None = None,
        removed: Any = (),
    ) -> list[Any]:
        from audience_sync.segments.ports import StoredMember

        _calls(len(transitions), KEYS_PER_CALL - 1)  # a member an item, and the segment's counts item
        changed = []
        with self.lock:
            for t in transitions:
                key = (t.segment_id, t.braze_id)
                held = self.held.get(key)
                if held is None or held.order < t.order:
                    if t.entered != (held is not None and held.member):
                        changed.append(t)
                    self.held[key] = StoredMember(t.order, t.entered, (sent or {}).get(key))
        return changed


class LatencyProfiles:
    """The profiles the router reads (sources/profile_users.py by_home), made from their keys; a call of 100 keys
    waits what a BatchGetItem would."""

    def by_home(self, homes: Sequence[str]) -> dict[str, Any]:
        from audience_sync.sources.profile_users import ProfileUser

        _calls(len(homes), KEYS_PER_CALL)
        found = {}
        for home in homes:
            external_id = home.removeprefix("u#x:")
            found[home] = ProfileUser(external_id=external_id, email=f"{external_id}@example.com")
        return found


class LatencySteps:
    """The launched step, read from DynamoDB (moto) once; each read after waits what a GetItem would. Two reads a
    membership message (the router's, the ingest's) would otherwise be moto's CPU in this machine's two cores."""

    def __init__(self, steps: Any, step_id: str):
        self.step = steps.get(step_id)

    def get(self, step_id: str) -> dict[str, Any]:
        time.sleep(LEDGER_LATENCY_SECONDS / 2)
        return dict(self.step)

    def list_all(self) -> list[dict[str, Any]]:  # read on deletions only: none here
        return [self.get(STEP_ID)]


def membership_bodies(members: int, step_id: str) -> list[str]:
    """What the writer publishes once it has recorded every member's baseline entry of the step's own segment."""
    from audience_sync.adapters.aws.membership_queue import encode
    from audience_sync.segments.definitions import step_segment_id
    from audience_sync.segments.membership import Transition, order_of

    at = "2026-12-05T12:00:00.000Z"
    segment_id = step_segment_id(step_id)
    transitions = [
        Transition(segment_id, f"u#x:u{n}", f"b{n}", f"u{n}", True, at, order_of(1), baseline=True)
        for n in range(members)
    ]
    return encode(transitions)


def _membership_process(
    index: int, environment: dict[str, str], sync_queue: Any, ready: Any, go: Any, results: Any, queue: Any
) -> None:
    """One membership function container: batches of ten records, each record on a thread of its own."""
    # On AWS each membership container has a vCPU of its own (MemorySize 1769) and so does each batcher; here
    # they share two cores. The batchers, whose pace is LinkedIn's, are served first, as on AWS no routing takes
    # their CPU; the routing gets the rest (its CPU is measured, and what AWS needs is shown from it).
    os.nice(19)
    os.environ.clear()
    os.environ.update(environment)
    try:
        from audience_sync.adapters.aws.membership_queue import decode
        from audience_sync.adapters.aws.steps_table import DynamoStepStore
        from audience_sync.pipeline.ingest import IngestService
        from audience_sync.settings import Settings
        from audience_sync.sources.segment.processor import MembershipProcessor
        from audience_sync.sources.segment.router import SegmentRouter

        steps = LatencySteps(DynamoStepStore(Settings.from_env().resources.require("steps_table")), STEP_ID)
        processor = MembershipProcessor(
            LatencyIndex(),  # type: ignore[arg-type]  # the part of MemberIndex the processor uses
            SegmentRouter(steps, IngestService(steps, sync_queue), LatencyProfiles()),
        )
        threads = ThreadPoolExecutor(MEMBERSHIP_BATCH)

        def process(record: dict[str, Any]) -> bool:
            processor.process(decode(record["body"]), record["messageId"], "2026-12-05T12")
            return True

        ready.put(index)
        go.wait()
        cpu_at_start = time.process_time()
        invocations = 0
        while not queue.finished():
            records = queue.batch(max_records=MEMBERSHIP_BATCH)
            if not records:
                time.sleep(0.01)
                continue
            list(threads.map(process, records))
            queue.settle(records, [])
            invocations += 1
        results.put(("produced", time.process_time() - cpu_at_start))
    except BaseException as exc:  # reported to the parent, which raises it
        results.put(("error", f"membership {index}: {exc!r}"))


def run(
    members: int = 1_000_000,
    batchers: int = 2,
    rate_limit: int = 10,
    progress: Callable[[str], None] | None = None,
) -> BackfillResult:
    say = progress or (lambda message: None)
    with sandbox_stack(rate_limit) as (linkedin, stack):
        _launch(stack, STEP_ID, SEGMENT)
        with BenchManager(ctx=SPAWN) as manager:
            known, synced, routing_cpu = _backfill(manager, members, batchers, say)
        log = sandbox_requests(linkedin)
    calls, accepted = audience_posts(log)
    return BackfillResult(
        members=members,
        synced=synced,
        seconds=accepted[-1]["t"] - known,
        requests=len(accepted),
        elements=[r["elements"] for r in accepted],
        throttled=sum(1 for r in calls if r["status"] == 429),
        max_in_any_second=max_in_window([r["t"] for r in calls if r["status"] != 429], 1.0),
        rate_limit=rate_limit,
        routing_cpu_seconds=routing_cpu,
        sdk_us=sdk_cpu.us_per_member(),
    )


def _backfill(manager: Any, members: int, batchers: int, say: Callable[[str], None]) -> tuple[float, int, float]:
    """Membership messages queued, every process started and ready, then released at once: (when, users synced,
    the membership processes' CPU seconds)."""
    membership_queue = manager.MemoryQueue()
    sync_queue = manager.MemoryQueue()
    ledger = manager.MemoryLedger()
    say(f"encoding {members:,} members' entries as the writer publishes them")
    bodies = membership_bodies(members, STEP_ID)
    for start in range(0, len(bodies), 500):
        membership_queue.send(bodies[start : start + 500])
    membership_queue.close()
    route = functools.partial(_membership_process, queue=membership_queue)
    known, cpu = race(route, MEMBERSHIP_CONCURRENCY, sync_queue, ledger, batchers, FLUSH_SECONDS, say)
    routing_cpu = sum(float(seconds) for seconds in cpu)
    return known, ledger.synced(STEP_ID), routing_cpu
