"""Hand-written fakes for the sync path (Sender, Batcher, RetryAttempt): no AWS, no network, no sleeping.

Every fake records what it was asked, so tests assert behaviour (what was sent, counted, stored, started),
and failures are injected per call, so a test can fail exactly one collaborator for exactly one message.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from audience_sync.connections.session import AccessToken, TokenSession
from audience_sync.core.errors import StoreUnavailable
from audience_sync.core.metrics import StepDelta
from audience_sync.core.ratelimit import BucketPolicy
from audience_sync.core.users import QueuedUser, hash_email
from audience_sync.destinations.base import SyncTarget
from audience_sync.destinations.linkedin.client import ElementResult
from audience_sync.destinations.linkedin.destination import LinkedInDestination
from audience_sync.destinations.linkedin.errors import LinkedInError
from audience_sync.destinations.linkedin.settings import LinkedInSettings
from audience_sync.pipeline.ledger import MAX_ENTRIES_PER_TRANSACTION, LedgerEntry, LedgerKey
from audience_sync.pipeline.retry_batch import RetryBatch
from audience_sync.pipeline.sender import Sender
from audience_sync.pipeline.tuning import SyncTuning

T0 = 1_790_000_000_000
AUD_A = SyncTarget(connection_id="linkedin", ad_account_id="507", audience_id="100", action="add")
AUD_B = SyncTarget(connection_id="linkedin", ad_account_id="507", audience_id="200", action="add")
# One request at a time: the fakes script answers in order.
TUNING = SyncTuning(send_concurrency=1)


def store_error(operation: str = "Op", code: str = "ProvisionedThroughputExceededException") -> StoreUnavailable:
    """What an adapter raises when AWS fails (adapters/aws/errors.py)."""
    return StoreUnavailable(operation, code)


def users(n: int, prefix: str) -> list[QueuedUser]:
    return [{"x": f"{prefix}{i}", "e": hash_email(f"{prefix}{i}@example.com") or ""} for i in range(n)]


def hashes(prefix: str, ids: range) -> set[str]:
    return {hash_email(f"{prefix}{i}@example.com") or "" for i in ids}


# ---- time ---------------------------------------------------------------------------------------
class FakeClock:
    def __init__(self, now_ms: int = T0):
        self.now = now_ms
        self.sleeps: list[float] = []

    def now_ms(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += round(seconds * 1000)


# ---- LinkedIn -----------------------------------------------------------------------------------
Answer = LinkedInError | Callable[[list[dict[str, Any]]], list[ElementResult]] | None


def statuses(mapping: dict[int, ElementResult]) -> Callable[[list[dict[str, Any]]], list[ElementResult]]:
    """Element i gets mapping[i], the others 201."""
    return lambda elements: [mapping.get(i, ElementResult(201)) for i in range(len(elements))]


@dataclass
class Call:
    token: str
    segment_id: str
    elements: list[dict[str, Any]]
    at_ms: int

    @property
    def hashes(self) -> set[str]:
        return {uid["idValue"] for e in self.elements for uid in e["userIds"]}


class LinkedInApiStub:
    """The LinkedIn API (destinations/linkedin/client.py) for a fake that answers only the calls its code makes: the
    others fail the test."""

    def ad_account_users(self, token: str) -> list[dict[str, Any]]:
        raise AssertionError("ad accounts are not read here")

    def ad_account(self, token: str, ad_account_id: str) -> dict[str, Any]:
        raise AssertionError("ad accounts are not read here")

    def create_segment(
        self, token: str, ad_account_id: str, name: str, source_platform: str, source_segment_id: str
    ) -> str:
        raise AssertionError("no audience is created here")

    def get_segment(self, token: str, segment_id: str) -> dict[str, Any]:
        raise AssertionError("no audience is read here")

    def send_users(self, token: str, segment_id: str, body: bytes, expected: int) -> list[ElementResult]:
        raise AssertionError("no users are sent here")


class FakeLinkedIn(LinkedInApiStub):
    """Answers from a script (one per request, in order; `by_segment` scripts one audience); once a script is
    exhausted every element is accepted. Each answer sees the clock, so the tests can check when a request left."""

    def __init__(self, clock: FakeClock, *script: Answer, by_segment: dict[str, list[Answer]] | None = None) -> None:
        self.clock = clock
        self.script = list(script)
        self.by_segment = {k: list(v) for k, v in (by_segment or {}).items()}
        self.calls: list[Call] = []

    def send_users(self, token: str, segment_id: str, body: bytes, expected: int) -> list[ElementResult]:
        elements = json.loads(body)["elements"]
        assert len(elements) == expected
        self.calls.append(Call(token, segment_id, elements, self.clock.now_ms()))
        queue = self.by_segment.get(segment_id, self.script)
        answer = queue.pop(0) if queue else None
        if isinstance(answer, LinkedInError):
            raise answer
        if answer is None:
            return [ElementResult(201)] * expected
        return answer(elements)


# ---- connections, steps, rate limit, notifications -------------------------------------------------
@dataclass
class FakeConnections:
    access_raises: Exception | None = None
    refresh_raises: Exception | None = None
    token_version: int = 1
    access_calls: int = 0
    refreshed: list[AccessToken] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)

    def access_token(self) -> AccessToken:
        self.access_calls += 1
        if self.access_raises:
            raise self.access_raises
        return AccessToken(f"token-{self.token_version}", self.token_version)

    def refresh(self, stale: AccessToken | None = None) -> AccessToken:
        assert stale is not None, "the sender names the token it found stale"
        self.refreshed.append(stale)
        if self.refresh_raises:
            raise self.refresh_raises
        self.token_version += 1
        return AccessToken(f"token-{self.token_version}", self.token_version)

    def mark_invalid(self, reason: str) -> None:
        self.invalid.append(reason)


@dataclass
class FakeSteps:
    """The steps table's `error` attribute: set_error is True only when the error is new (as the real one)."""

    errors: dict[str, str] = field(default_factory=dict)
    set_calls: list[tuple[str, str]] = field(default_factory=list)
    clear_calls: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def set_error(self, step_id: str, code: str) -> bool:
        self.set_calls.append((step_id, code))
        if self.errors.get(step_id) == code:
            return False
        self.errors[step_id] = code
        return True

    def clear_error(self, step_id: str, codes: tuple[str, ...]) -> None:
        self.clear_calls.append((step_id, codes))
        if self.errors.get(step_id) in codes:
            del self.errors[step_id]


@dataclass
class FakeBucket:
    grant: bool | list[bool] = True
    deadlines: list[int] = field(default_factory=list)

    def acquire(self, deadline_ms: int) -> bool:
        self.deadlines.append(deadline_ms)
        if isinstance(self.grant, list):
            return self.grant.pop(0) if self.grant else True
        return self.grant


@dataclass
class FakeNotifier:
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def notify(self, code: str, **details: Any) -> None:
        self.sent.append((code, details))


# ---- ledger and retry store ------------------------------------------------------------------------
@dataclass
class Recorded:
    step_id: str
    entry: LedgerEntry


class FakeLedger:
    """The ledger table plus the counters, with the real contract: record() writes all entries or none and
    returns the ids already recorded; recorded() answers an id with the retry keys of its whole bucket.
    `racing` holds entries another delivery records between this delivery's recorded() and its record()
    (invisible to recorded() until then)."""

    def __init__(self) -> None:
        self.entries: dict[str, Recorded] = {}
        self.racing: dict[str, Recorded] = {}
        self.transactions: list[tuple[str, list[LedgerEntry]]] = []
        self.record_calls: list[tuple[str, list[str]]] = []
        self.recorded_calls: list[list[str]] = []
        self.fail_recorded: Exception | None = None
        self.fail_record: Callable[[str, Sequence[LedgerEntry]], Exception | None] | None = None

    def recorded(self, keys: Sequence[LedgerKey]) -> dict[str, list[str]]:
        if self.fail_recorded is not None:
            raise self.fail_recorded
        self.recorded_calls.append([k.id for k in keys])
        return {k.id: self.bucket_keys(k.bucket) for k in keys if k.id in self.entries}

    def bucket_keys(self, bucket: str) -> list[str]:
        return sorted({key for r in self.entries.values() if r.entry.bucket == bucket for key in r.entry.retry_keys})

    def record(self, step_id: str, entries: Sequence[LedgerEntry]) -> set[str]:
        assert len(entries) <= MAX_ENTRIES_PER_TRANSACTION
        assert len({e.id for e in entries}) == len(entries), "one transaction cannot name an id twice"
        self.record_calls.append((step_id, [e.id for e in entries]))
        if self.fail_record is not None:
            error = self.fail_record(step_id, entries)
            if error is not None:
                raise error
        for e in entries:
            if e.id in self.racing:
                self.entries[e.id] = self.racing.pop(e.id)
        duplicates = {e.id for e in entries if e.id in self.entries}
        if duplicates:
            return duplicates
        for e in entries:
            self.entries[e.id] = Recorded(step_id, e)
        self.transactions.append((step_id, list(entries)))
        return set()

    def counted(self, step_id: str) -> dict[str, int]:
        """The step's counter increments over every transaction this ledger committed."""
        total = StepDelta()
        for sid, entries in self.transactions:
            if sid == step_id:
                for e in entries:
                    total.merge(e.delta)
        return total.attributes()

    def keys_of(self, ledger_id: str) -> list[str]:
        return list(self.entries[ledger_id].entry.retry_keys)


class FakeRetryStore:
    """S3 objects and Step Functions executions. `fail_put`/`fail_start` decide per batch whether to raise."""

    def __init__(self) -> None:
        self.objects: dict[str, RetryBatch] = {}
        self.puts: list[str] = []
        self.gets: list[str] = []
        self.deleted: list[str] = []
        self.started: list[tuple[str, int]] = []
        self.fail_put: Callable[[RetryBatch], Exception | None] | None = None
        self.fail_start: Callable[[RetryBatch], Exception | None] | None = None

    def put(self, batch: RetryBatch) -> str:
        if self.fail_put is not None and (error := self.fail_put(batch)) is not None:
            raise error
        self.objects[batch.key] = batch
        self.puts.append(batch.key)
        return batch.key

    def get(self, key: str) -> RetryBatch:
        self.gets.append(key)
        return self.objects[key]

    def find(self, key: str) -> RetryBatch | None:
        self.gets.append(key)
        return self.objects.get(key)

    def delete(self, key: str) -> None:
        self.deleted.append(key)
        self.objects.pop(key, None)

    def start(self, key: str, wait_seconds: int, attempt: int = 1) -> None:
        batch = self.objects.get(key)
        if self.fail_start is not None and batch is not None and (error := self.fail_start(batch)) is not None:
            raise error
        if batch is not None and batch.attempt != attempt:
            raise AssertionError(f"{key} is for attempt {batch.attempt}, started for {attempt}")
        self.started.append((key, wait_seconds))

    @property
    def started_keys(self) -> set[str]:
        return {key for key, _ in self.started}


# ---- a Sender wired to fakes -----------------------------------------------------------------------
@dataclass
class FakeBuckets:
    """Every destination and connection shares the one fake bucket; the keys asked for are recorded."""

    shared: FakeBucket
    asked: list[tuple[str, str, float]] = field(default_factory=list)
    policies: list[BucketPolicy | None] = field(default_factory=list)

    def bucket(
        self, destination: str, connection_id: str, requests_per_second: float, policy: BucketPolicy | None = None
    ) -> FakeBucket:
        self.asked.append((destination, connection_id, requests_per_second))
        self.policies.append(policy)
        return self.shared


@dataclass
class SenderWorld:
    clock: FakeClock
    connections: FakeConnections
    steps: FakeSteps
    bucket: FakeBucket
    notifier: FakeNotifier
    linkedin: FakeLinkedIn
    destination: LinkedInDestination
    sender: Sender


def linkedin_destination(
    linkedin: FakeLinkedIn, max_elements: int = 5000, retry_horizon_seconds: int = 46_800
) -> LinkedInDestination:
    settings = LinkedInSettings(max_elements=max_elements, retry_horizon_seconds=retry_horizon_seconds)
    return LinkedInDestination(settings, client=linkedin)


def sender_world(
    *script: Answer,
    by_segment: dict[str, list[Answer]] | None = None,
    clock: FakeClock | None = None,
    connections: FakeConnections | None = None,
    steps: FakeSteps | None = None,
    bucket: FakeBucket | None = None,
    max_elements: int = 5000,
    retry_horizon_seconds: int = 46_800,
) -> SenderWorld:
    clock = clock or FakeClock()
    linkedin = FakeLinkedIn(clock, *script, by_segment=by_segment)
    connections = connections or FakeConnections()
    steps = steps or FakeSteps()
    bucket = bucket or FakeBucket()
    notifier = FakeNotifier()
    destination = linkedin_destination(linkedin, max_elements, retry_horizon_seconds)
    sender = Sender(
        destinations={destination.name: destination},
        sessions={"linkedin": TokenSession(connections, destination.classify)},
        buckets=FakeBuckets(bucket),
        steps=steps,
        clock=clock,
        notifier=notifier,
    )
    return SenderWorld(clock, connections, steps, bucket, notifier, linkedin, destination, sender)
