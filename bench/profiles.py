"""The profile benchmarks (issue 12's rows):
- the /users/track hot path on one core: what the platform API function does per request (read the JSON strictly,
  check the key from its cache, count the request, check the permission, plan every object, encode, split by message
  group), CPU time, objects per second;
- the profile writer through the pipeline: requests planned by the real code into an in-memory FIFO queue (message
  groups, one batch in flight per group, as Lambda polls SQS FIFO), drained by the real ProfileWriter threads into a
  thread-safe in-memory store that waits like DynamoDB (a few ms a call); sustained objects per second, and a burst of
  1,000,000 objects drained with every counter checked (nothing lost, nothing applied twice), with batches crashed
  and delivered again on the way;
- AWS cost per million attribute updates sent 75 per request, and read-your-writes, through local mode (moto, the real
  handlers, the FIFO queue polled as Lambda does): bench/profiles_stack.py.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.hot_path import one_core

OBJECTS_PER_REQUEST = 75
T = "2026-12-01T10:00:00Z"


def track_body(n: int, users: int, events: bool = True) -> dict[str, Any]:
    """What Segment's Braze destination sends for identify calls (attributes) and track calls (events): 75 of each,
    over `users` external ids."""
    ids = [f"customer-{(n * OBJECTS_PER_REQUEST + i) % users:07d}" for i in range(OBJECTS_PER_REQUEST)]
    body: dict[str, Any] = {
        "attributes": [
            {
                "external_id": user,
                "email": f"{user}@example.com",
                "first_name": "Ana",
                "country": "ES",
                "plan": "pro",
                "visits": {"inc": 1},
                "segments": {"add": [f"s{n % 7}"]},
                "last_seen": "2026-12-01T10:00:00Z",
                "_update_existing_only": False,
            }
            for user in ids
        ]
    }
    if events:
        body["events"] = [
            {"external_id": user, "name": "Order Completed", "time": T, "properties": {"total": 10, "currency": "EUR"}}
            for user in ids
        ]
    return body


# ---- in-memory stand-ins --------------------------------------------------------------------------------
class MemoryCredentials:
    """A credential store of one key, and a request counter, in memory."""

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], Any] = {}
        self.counts: dict[str, int] = {}

    def put(self, key: Any) -> None:
        self.keys[(key.kind, key.id)] = key

    def get(self, kind: str, key_id: str) -> Any:
        return self.keys.get((kind, key_id))

    def list(self, kind: str) -> list[Any]:
        return [k for (kk, _), k in self.keys.items() if kk == kind]

    def delete(self, kind: str, key_id: str) -> bool:
        return self.keys.pop((kind, key_id), None) is not None

    def increment(self, counter: str, expires_at_s: int) -> int:
        self.counts[counter] = self.counts.get(counter, 0) + 1
        return self.counts[counter]


@dataclass
class _Queued:
    message_id: str
    group: str
    body: str
    receives: int = 0


class MemoryFifo:
    """SQS FIFO as Lambda's poller sees it: each group's messages in order, a group's next batch only once the
    previous one is deleted or failed, at most 10 messages a batch. Thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.groups: dict[str, deque[_Queued]] = {}
        self.busy: set[str] = set()
        self.ids = 0
        self.redelivered = 0

    def send(self, messages: Sequence[Any], request_id: str) -> None:
        with self.lock:
            for message in messages:
                self.ids += 1
                self.groups.setdefault(message.group, deque()).append(
                    _Queued(f"m{self.ids}", message.group, message.body)
                )

    def receive(self, limit: int = 10) -> list[_Queued]:
        with self.lock:
            for group, waiting in self.groups.items():
                if waiting and group not in self.busy:
                    self.busy.add(group)
                    batch = [waiting[i] for i in range(min(limit, len(waiting)))]
                    for message in batch:
                        message.receives += 1
                    return batch
        return []

    def delete(self, batch: list[_Queued]) -> None:
        with self.lock:
            waiting = self.groups[batch[0].group]
            for _ in batch:
                waiting.popleft()
            self.busy.discard(batch[0].group)

    def fail(self, batch: list[_Queued]) -> None:
        """The batch is delivered again (at once: the benchmark does not wait out a visibility timeout)."""
        with self.lock:
            self.busy.discard(batch[0].group)
            self.redelivered += len(batch)

    def drained(self) -> bool:
        with self.lock:
            return not any(self.groups.values())

    def depth(self) -> int:
        with self.lock:
            return sum(len(q) for q in self.groups.values())


class MemoryProfileStore:
    """The profile table in memory with DynamoDB's semantics (conditional puts on a version) and its latency: each
    call waits `latency_seconds`, outside the lock, as a network round trip would."""

    def __init__(self, latency_seconds: float = 0.0):
        from audience_sync.profiles.ports import Item

        self.item_type = Item
        self.latency = latency_seconds
        self.lock = threading.Lock()
        self.items: dict[tuple[str, str], tuple[int, str, str]] = {}  # key -> (version, doc JSON, tokens JSON)
        self.calls = 0

    def _wait(self) -> None:
        with self.lock:
            self.calls += 1
        if self.latency:
            time.sleep(self.latency)  # the benchmark's stand-in for a DynamoDB round trip

    def _item(self, key: tuple[str, str], stored: tuple[int, str, str]) -> Any:
        return self.item_type(key[0], key[1], json.loads(stored[1]), stored[0], json.loads(stored[2]))

    def get(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        self._wait()
        with self.lock:
            return {k: self._item(k, self.items[k]) for k in keys if k in self.items}

    def items_of(self, pk: str) -> list[Any]:
        self._wait()
        with self.lock:
            return [self._item(k, v) for k, v in self.items.items() if k[0] == pk]

    def put(self, item: Any) -> None:
        from audience_sync.profiles.ports import WriteConflict

        self._wait()
        encoded = (item.version + 1, json.dumps(item.doc, separators=(",", ":")), json.dumps(item.tokens))
        with self.lock:
            stored = self.items.get(item.key)
            if (stored[0] if stored else 0) != item.version:
                raise WriteConflict(str(item.key))
            self.items[item.key] = encoded
        item.version += 1

    def put_pointer(self, item: Any) -> None:
        self._wait()
        with self.lock:
            self.items[item.key] = (1, json.dumps(item.doc), "{}")

    def delete(self, key: tuple[str, str]) -> None:
        self._wait()
        with self.lock:
            self.items.pop(key, None)


# ---- the hot path ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TrackHotPath:
    objects: int
    seconds: float  # CPU seconds
    core: int | None

    @property
    def objects_per_second(self) -> float:
        return self.objects / self.seconds


def hot_path(requests: int = 2_000, progress: Callable[[str], None] | None = None) -> TrackHotPath:
    from audience_sync.core.clock import SystemClock
    from audience_sync.credentials.models import NewApiKey
    from audience_sync.credentials.ratelimit import count_request
    from audience_sync.credentials.service import Credentials
    from audience_sync.http.braze import json_object
    from audience_sync.profiles import operations, track

    memory = MemoryCredentials()
    credentials = Credentials(memory, SystemClock())
    key = credentials.create_api_key(NewApiKey(name="bench", permissions=["users.track"]))
    header = f"Bearer {key['key']}"
    bodies = [json.dumps(track_body(n, 100_000)) for n in range(requests)]
    now = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)
    objects = 0
    with one_core() as core:
        started = time.process_time()
        for n, raw in enumerate(bodies):
            stored = credentials.api_key(header)
            count_request(memory, stored.id, 1_000_000_000, 1_790_000_000_000 + n)
            credentials.require(stored, "users.track")
            plan = track.plan(json_object(raw), 25, now)
            operations.messages(plan.operations, 16)
            objects += sum(plan.processed.values())
        seconds = time.process_time() - started
    if progress:
        progress(f"track hot path: {objects:,} objects in {seconds:.2f} s CPU")
    return TrackHotPath(objects, seconds, core)


# ---- the writer through the pipeline -------------------------------------------------------------------------
@dataclass(frozen=True)
class WriterResult:
    objects: int
    requests: int
    users: int
    seconds: float  # wall clock, from the first batch taken to the queue drained
    writers: int
    latency_ms: float
    crashed_batches: int
    redelivered_messages: int
    mismatches: int  # users whose counters differ from what was sent (lost or doubled)
    store_calls: int
    batches: int  # writer invocations
    messages: int  # messages written (redeliveries included)
    write_seconds: float  # the writer invocations' wall clock, summed

    @property
    def objects_per_second(self) -> float:
        return self.objects / self.seconds

    @property
    def ms_per_message(self) -> float:
        return self.write_seconds * 1000 / self.messages


def writer_pipeline(
    requests: int,
    users: int,
    writers: int = 8,
    latency_ms: float = 5.0,
    crash_rate: float = 0.0,
    progress: Callable[[str], None] | None = None,
) -> WriterResult:
    """`requests` of 75 attribute objects and 75 events, all queued first (a burst), then drained by `writers`
    writer threads (the template's MaximumConcurrency). With `crash_rate`, that share of batches is written and then
    delivered again as if the invocation had crashed before SQS deleted it."""
    from audience_sync.core.clock import SystemClock
    from audience_sync.profiles.operations import read
    from audience_sync.profiles.reader import ProfileReader
    from audience_sync.profiles.service import ProfileService, ProfileSettings
    from audience_sync.profiles.writer import Message, ProfileWriter

    queue, store = MemoryFifo(), MemoryProfileStore(latency_ms / 1000)
    settings = ProfileSettings()
    service = ProfileService(queue, ProfileReader(store), settings, SystemClock())
    for n in range(requests):
        service.track(track_body(n, users), f"r{n}")
    if progress:
        progress(f"writer: {requests:,} requests queued ({queue.depth():,} messages)")
    rng = random.Random(7)
    crashed = [0]
    invocations = {"batches": 0, "messages": 0, "seconds": 0.0}
    lock = threading.Lock()

    def work() -> None:
        writer = ProfileWriter(store, SystemClock(), settings.max_array, settings.write_concurrency)
        while True:
            batch = queue.receive()
            if not batch:
                if queue.drained():
                    return
                time.sleep(0.001)  # every group busy: another writer holds it
                continue
            began = time.perf_counter()
            writer.write([Message(m.message_id, m.group, read(m.body)) for m in batch])
            took = time.perf_counter() - began
            with lock:
                crash = rng.random() < crash_rate
                crashed[0] += crash
                invocations["batches"] += 1
                invocations["messages"] += len(batch)
                invocations["seconds"] += took
            (queue.fail if crash else queue.delete)(batch)

    started = time.monotonic()
    threads = [threading.Thread(target=work, name=f"writer-{i}") for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    mismatches = _mismatches(store, requests, users)
    objects = requests * OBJECTS_PER_REQUEST * 2
    if progress:
        progress(f"writer: {objects:,} objects in {seconds:.1f} s, {mismatches} users wrong")
    return WriterResult(
        objects=objects,
        requests=requests,
        users=users,
        seconds=seconds,
        writers=writers,
        latency_ms=latency_ms,
        crashed_batches=crashed[0],
        redelivered_messages=queue.redelivered,
        mismatches=mismatches,
        store_calls=store.calls,
        batches=int(invocations["batches"]),
        messages=int(invocations["messages"]),
        write_seconds=float(invocations["seconds"]),
    )


def _mismatches(store: MemoryProfileStore, requests: int, users: int) -> int:
    """Users whose visit counter or event count differs from what the requests sent."""
    from audience_sync.profiles.document import PROFILE, home_pk

    expected = {f"customer-{u:07d}": 0 for u in range(users)}
    for n in range(requests):
        for i in range(OBJECTS_PER_REQUEST):
            expected[f"customer-{(n * OBJECTS_PER_REQUEST + i) % users:07d}"] += 1
    wrong = 0
    for user, count in expected.items():
        if not count:
            continue
        stored = store.items.get((home_pk("x:" + user), PROFILE))
        event = store.items.get((home_pk("x:" + user), "e#Order Completed"))
        visits = json.loads(stored[1])["custom"]["visits"] if stored else 0
        events = json.loads(event[1])["count"] if event else 0
        wrong += visits != count or events != count
    return wrong


class _SlowFifo(MemoryFifo):
    """The FIFO queue with SQS's round trip: one SendMessageBatch call (10 messages) takes `latency` seconds."""

    def __init__(self, latency: float):
        super().__init__()
        self.latency = latency

    def send(self, messages: Sequence[Any], request_id: str) -> None:
        time.sleep(self.latency * -(-len(messages) // 10))  # the benchmark's stand-in for SQS round trips
        super().send(messages, request_id)


class _SlowCounter(MemoryCredentials):
    def __init__(self, latency: float):
        super().__init__()
        self.latency = latency

    def increment(self, counter: str, expires_at_s: int) -> int:
        time.sleep(self.latency)  # the benchmark's stand-in for the counter's UpdateItem
        return super().increment(counter, expires_at_s)


def api_ms_per_request(requests: int = 200, dynamodb_ms: float = 5.0, sqs_ms: float = 10.0) -> float:
    """Wall clock of the platform API function's work for one /users/track request of 75 attribute objects: the
    hot path's code, the counter's UpdateItem and the SendMessageBatch calls waiting as long as AWS would."""
    from audience_sync.core.clock import SystemClock
    from audience_sync.credentials.models import NewApiKey
    from audience_sync.credentials.ratelimit import count_request
    from audience_sync.credentials.service import Credentials
    from audience_sync.http.braze import json_object
    from audience_sync.profiles.reader import ProfileReader
    from audience_sync.profiles.service import ProfileService, ProfileSettings

    counter = _SlowCounter(dynamodb_ms / 1000)
    credentials = Credentials(counter, SystemClock())
    header = "Bearer " + str(credentials.create_api_key(NewApiKey(name="b", permissions=["users.track"]))["key"])
    service = ProfileService(
        _SlowFifo(sqs_ms / 1000), ProfileReader(MemoryProfileStore()), ProfileSettings(), SystemClock()
    )
    bodies = [json.dumps({"attributes": track_body(n, 100_000, events=False)["attributes"]}) for n in range(requests)]
    began = time.perf_counter()
    for raw in bodies:
        key = credentials.api_key(header)
        count_request(counter, key.id, 10**9, SystemClock().now_ms())
        credentials.require(key, "users.track")
        service.track(json_object(raw), "r")
    return (time.perf_counter() - began) * 1000 / requests


@dataclass
class ProfileResults:
    hot_path: TrackHotPath | None = None
    sustained: WriterResult | None = None
    burst: WriterResult | None = None
    extra: dict[str, Any] = field(default_factory=dict)
