"""The batcher: queued users → packed LinkedIn requests → per-user outcomes → the ledger and the retry.

Per queued message (a chunk of one webhook, with an id the ingest derives from the webhook):
1. users LinkedIn took are synced, users it refused (element 4xx) are errored, every other user is handed to
   the retry (a batch in S3, one per step and target, sent again by the Step Functions retry);
2. ONE transaction records the message in the ledger and adds its counts: the entry counts the ingest put on
   it (entered, filtered, not synced, proceeded/exited) and its users' synced/errored (see ledger.py);
3. the retry executions are started (idempotent: named after the batch).
A crash before 2 redelivers the message and it is sent again (LinkedIn adds and removes idempotently) and
counted once; a crash after 2 finds the ledger entry on redelivery and only redoes 3. A message that cannot
be settled is reported as a batch item failure; after 5 receives it goes to the DLQ, counted nowhere.

Under a backlog a batch is full (Lambda caps it at 6 MB, about 60,000 users) and would end in a partly filled
request per audience; the batcher then reads just enough more of the queue itself to fill it (the top-up), so a
backlog goes to LinkedIn in full requests. And it goes on reading the queue in rounds, each read while the one
before is sending, until the backlog is gone or the invocation's time is nearly up: two batchers settling at the
same moment would otherwise leave the rate limit unused. It reads another round only if what it holds, and a round
more, can leave before its send deadline at the pace its requests have been leaving: a campaign's webhooks are
requests of one user, a round of them thousands, and users read too late would go to the retry rather than stay
on the queue for the next invocation. It reads no further ahead of that pace than READ_AHEAD_MS: what a batcher
holds when the queue runs dry it sends alone, while the other batchers have nothing left to send. A round that finds
the queue dry waits up to TOP_UP_WAIT_MS for the rest of its last request: a producer just behind the destination's
pace (a segment's backfill) would otherwise cost a part-filled request each time it fell behind for a moment.
"""

from __future__ import annotations

import gc
import math
import sys
import threading
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from audience_sync.core.clock import Clock
from audience_sync.core.errors import StoreUnavailable
from audience_sync.core.metrics import StepDelta, first_attempts, is_step
from audience_sync.core.packing import PackedRequest, UserRef, pack
from audience_sync.core.users import QueuedUser
from audience_sync.destinations.base import NOT_SENT_IN_TIME, Outcome, SyncTarget, TargetKey
from audience_sync.observability.step_metrics import publish_counts
from audience_sync.pipeline.ledger import MAX_ENTRIES_PER_TRANSACTION, Ledger, LedgerEntry, LedgerKey
from audience_sync.pipeline.messages import QueuedMessage
from audience_sync.pipeline.moves import STOPPED, SUPERSEDED, count_outcome, superseded
from audience_sync.pipeline.ports import DeliveryObserver, QueueReader, SendGate, tell
from audience_sync.pipeline.retry_batch import MAX_CORRELATION_IDS, RetryBatch, RetryStore
from audience_sync.pipeline.sender import Sender
from audience_sync.pipeline.tuning import SyncTuning

logger = Logger(child=True)
T = TypeVar("T")

# Time kept back from the Lambda deadline: one LinkedIn request (read timeout) plus settling.
REQUEST_BUDGET_MS = 35_000
# A batch whose bodies reach this is taken for a backlog (Lambda caps a batch at 6 MB with the records' envelopes).
FULL_BATCH_BYTES = 4_000_000
# Under a backlog: rounds sending or settling at once, and the time kept back for the last one to settle.
MAX_ROUNDS_IN_FLIGHT = 2
ROUND_MARGIN_MS = 15_000
# Under a backlog, how long a round whose queue ran dry waits for the rest of its last request (polling every
# TOP_UP_POLL_MS): a producer just behind the destination's pace (a segment's backfill) leaves the queue empty for
# moments, and each would cost a part-filled request. Once the backlog is really gone, its last users wait this long.
TOP_UP_WAIT_MS = 1_000
TOP_UP_POLL_MS = 100
# Requests an invocation must have sent before its pace is taken to decide whether another round can be sent.
PACE_SAMPLE_REQUESTS = 100
# Under a backlog, how far ahead of its own pace an invocation reads: a round holds at most this much of it, and the
# next is read once what is held would leave within it. When the queue runs dry, what a batcher holds is sent by it
# alone while the others, with nothing left, leave their share of the rate unused: a campaign's webhooks (a request
# each) read in rounds of 4 MB held 20 s and more of one batcher's pace, and a backlog of 100,000 ended in 35 s at
# two thirds of the limit (make bench, campaign rate limit: 88 % of the limit). A LinkedIn round of 4 MB is a few
# requests, well within it.
READ_AHEAD_MS = 2_000
READ_AHEAD_POLL_MS = 250


# A retry batch of requests of one user (a campaign's webhooks) holds this many, sent at once by its attempt: one
# execution a webhook would be thousands of executions for one endpoint that is down.
RETRY_REQUESTS_OF_ONE = 8


def retry_batch_users(elements_per_request: int) -> int:
    """Users in one retry batch: one request's (LinkedIn's 5,000), or RETRY_REQUESTS_OF_ONE requests of one user."""
    return RETRY_REQUESTS_OF_ONE if elements_per_request == 1 else elements_per_request


def message_ledger_id(message: QueuedMessage) -> str:
    return f"msg:{message.chunk_id}"


def ledger_key(message: QueuedMessage) -> LedgerKey:
    return LedgerKey(message_ledger_id(message), message.bucket)


@dataclass(slots=True)
class _Received:
    message_id: str  # SQS's id: what batchItemFailures names
    message: QueuedMessage
    outcomes: list[Outcome | None] = field(default_factory=list)
    receive_count: int = 1
    receipt_handle: str | None = None
    topped_up: bool = False  # read by the batcher itself, not delivered by the event source mapping


class _Pace:
    """How fast this invocation's requests leave: the requests of what it read, and what the sender counted since
    it started. Counted when read, not when sent: a round read waits for an older one to finish before it goes.
    A request read is held until its send has ended (whatever came of it) or its round has ended without sending
    it (a stopped step's users, a message settled before): what is held is what is still to leave."""

    def __init__(self, started_ms: int, sent_before: int):
        self.started_ms = started_ms
        self.sent_before = sent_before
        self.read = 0
        self.gone = 0
        self._lock = threading.Lock()  # `gone` is counted by the sender threads and the rounds' threads
        self.messages = 0
        self.last_round = 0
        self.rates: dict[TargetKey, float | None] = {}  # each target's rate limit a second (None: none)

    def add_round(self, requests: int, messages: int, rates: dict[TargetKey, float | None]) -> None:
        self.read += requests  # the reading thread only
        self.messages += messages
        self.last_round = requests
        self.rates.update(rates)

    def per_message(self) -> float:
        """Requests a message has made so far (0 before any)."""
        return self.read / self.messages if self.messages else 0.0

    def per_ms(self, now_ms: int, sent_total: int) -> float | None:
        """Requests a millisecond since the invocation started, once PACE_SAMPLE_REQUESTS have left; before, the
        fastest their rate limits allow; None if that is not known either (a target without a limit)."""
        sent = sent_total - self.sent_before
        if sent >= PACE_SAMPLE_REQUESTS:
            return sent / max(1, now_ms - self.started_ms)
        rates = list(self.rates.values())
        return None if None in rates or not rates else sum(r or 0.0 for r in rates) / 1000

    def left(self, requests: int) -> None:
        with self._lock:
            self.gone += requests

    def holding(self) -> int:
        """Requests read that have not left, nor will."""
        return self.read - self.gone


@dataclass(frozen=True, slots=True)
class _HandOff:
    """A retry batch a settled message handed off: its users' target, and its first wait (a redelivery that finds
    the message settled no longer knows it: the schedule's then)."""

    target: SyncTarget
    wait_seconds: int | None = None


class Batcher:
    def __init__(
        self,
        tuning: SyncTuning,
        sender: Sender,
        ledger: Ledger,
        retries: RetryStore,
        clock: Clock,
        queue: QueueReader | None = None,
        gate: SendGate | None = None,
        observer: DeliveryObserver | None = None,
    ):
        self.tuning = tuning
        self.sender = sender
        self.ledger = ledger
        self.retries = retries
        self.clock = clock
        self.queue = queue  # for the top-up; None turns it off
        self.gate = gate  # a stopped campaign's users are not sent; None: everyone is
        self.observer = observer  # told the users a campaign's webhooks reached
        self._pace = _Pace(clock.now_ms(), 0)

    # ---- entry point ---------------------------------------------------------------------------
    def handle(self, records: list[dict[str, Any]], deadline_ms: int) -> list[str]:
        """Process SQS records; return the SQS message ids to report as batch item failures."""
        with IN_FLIGHT.tuned():
            try:
                return self._handle(records, deadline_ms)
            finally:
                self.sender.finish_invocation()

    def _handle(self, records: list[dict[str, Any]], deadline_ms: int) -> list[str]:
        self.sender.start_invocation()
        first, failed = self._parse(records, report_unreadable=True)
        backlog = _looks_full(records) and self.queue is not None
        if backlog:
            first += self._top_up(first, deadline_ms)
        # One pool of senders for the whole invocation, whatever the number of rounds: at most send_concurrency
        # requests in flight (and LinkedIn connections open) per batcher.
        self._pace = _Pace(self.clock.now_ms(), self.sender.requests_sent)
        counted = self._requests_in(first)
        self._pace.add_round(counted, len(first), self._rates(first))
        with self._executor(self.tuning.send_concurrency, "send") as senders:
            if not backlog:
                return failed + self._process(first, deadline_ms, senders, counted)
            # A backlog: the invocation goes on reading the queue in rounds, each read while the rounds before it
            # are still sending, so LinkedIn's rate limit never waits for a batch to be settled and the next parsed.
            with self._executor(MAX_ROUNDS_IN_FLIGHT, "round") as rounds:
                running = [rounds.submit(self._process, first, deadline_ms, senders, counted)]
                while self._time_for_a_round(deadline_ms) and self._time_to_send_a_round(deadline_ms):
                    self._wait_to_read_ahead(deadline_ms)
                    received, full = self._read_round(deadline_ms, self._round_requests())
                    counted = self._requests_in(received)
                    self._pace.add_round(counted, len(received), self._rates(received))
                    if received:
                        if len(running) >= MAX_ROUNDS_IN_FLIGHT:
                            running[-MAX_ROUNDS_IN_FLIGHT].result()  # one round read, at most two more sending
                        # messages read in time but too late to send wait in the retry, counted as they are now
                        running.append(rounds.submit(self._process, received, deadline_ms, senders, counted))
                    if not full:
                        break
                for done in running:
                    failed += done.result()
        return failed

    def _limit(self, target: SyncTarget) -> int:
        """Users in one request to the target's destination."""
        return self.sender.destination(target).limits.elements_per_request

    def _rates(self, received: list[_Received]) -> dict[TargetKey, float | None]:
        targets = {r.message.target.key: r.message.target for r in received}
        return {key: self.sender.rate_per_second(target) for key, target in targets.items()}

    def _first_wait(self, target: SyncTarget, asked_seconds: float | None = None) -> int:
        return self.sender.destination(target).retry_policy.wait_before(1, asked_seconds)

    def _time_for_a_round(self, deadline_ms: int) -> bool:
        return self.clock.now_ms() < deadline_ms - REQUEST_BUDGET_MS - ROUND_MARGIN_MS

    def _requests_in(self, received: list[_Received]) -> int:
        """The requests these messages make at most (packing may join users of several messages)."""
        users: Counter[TargetKey] = Counter()
        limits: dict[TargetKey, int] = {}
        for r in received:
            users[r.message.target.key] += len(r.message.users)
            limits.setdefault(r.message.target.key, self._limit(r.message.target))
        return sum(-(-n // limits[key]) for key, n in users.items())

    def _time_to_send_a_round(self, deadline_ms: int) -> bool:
        """Whether the requests this invocation holds, and a round more, can still leave before its send deadline
        at the pace they have been leaving (the rate bucket's, shared with the other batchers). Requests of one user
        (a campaign's webhooks at its rate limit) make rounds of thousands of requests: reading one that cannot be
        sent would put its users in the retry, not back on the queue for the next invocation."""
        pace = self._pace
        now = self.clock.now_ms()
        per_ms = pace.per_ms(now, self.sender.requests_sent)
        if per_ms is None:
            return True  # too few sent to tell the pace, and no rate limit to bound it
        holding = pace.holding() + pace.last_round  # and a round like the last
        # with the rounds' margin: the pace drops when another batcher takes its share of the bucket
        return now + holding / per_ms < deadline_ms - REQUEST_BUDGET_MS - ROUND_MARGIN_MS

    def _round_requests(self) -> float:
        """The most requests the next round may hold: READ_AHEAD_MS of this invocation's pace (none until known)."""
        per_ms = self._pace.per_ms(self.clock.now_ms(), self.sender.requests_sent)
        return float("inf") if per_ms is None else max(1.0, per_ms * READ_AHEAD_MS)

    def _wait_to_read_ahead(self, deadline_ms: int) -> None:
        """Wait until what this invocation holds would leave within READ_AHEAD_MS at its pace, looking again every
        READ_AHEAD_POLL_MS (the pace moves) and never past the time for a round."""
        while self._time_for_a_round(deadline_ms):
            now = self.clock.now_ms()
            per_ms = self._pace.per_ms(now, self.sender.requests_sent)
            ahead_ms = 0.0 if per_ms is None else self._pace.holding() / per_ms
            if ahead_ms <= READ_AHEAD_MS:
                return
            round_cutoff_ms = deadline_ms - REQUEST_BUDGET_MS - ROUND_MARGIN_MS
            self.clock.sleep(max(1, min(ahead_ms - READ_AHEAD_MS, round_cutoff_ms - now, READ_AHEAD_POLL_MS)) / 1000)

    def _executor(self, workers: int, name: str) -> Executor:
        """Threads, or (send_concurrency 1, the unit tests' deterministic mode) the caller's own thread."""
        if self.tuning.send_concurrency > 1 and workers > 1:
            return ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        return _InThisThread()

    def _process(self, received: list[_Received], deadline_ms: int, senders: Executor, counted: int) -> list[str]:
        """Send and settle one round of messages (`counted` requests in the pace). Returns the failed ids the event
        source mapping delivered; the messages the batcher read itself are deleted once settled, or left to come
        back after their visibility."""
        sends = [0]  # the round's requests whose send has ended, each counted as gone when it did
        try:
            return self._process_round(received, deadline_ms, senders, sends)
        finally:
            self._pace.left(max(0, counted - sends[0]))  # the rest will not leave: the round is over

    def _process_round(
        self, received: list[_Received], deadline_ms: int, senders: Executor, sends: list[int]
    ) -> list[str]:
        # Only a message received before can have been settled before (a client's retry of a webhook is a new
        # message: its duplicate id is caught when it is recorded).
        again = [r for r in received if r.receive_count > 1]
        try:
            recorded = self.ledger.recorded([ledger_key(r.message) for r in again]) if again else {}
        except StoreUnavailable:
            logger.exception("ledger unavailable; the batch returns to the queue")
            return [r.message_id for r in received if not r.topped_up]
        failed: list[_Received] = []  # deliveries, not ids: SQS may hand out one message twice
        fresh: dict[str, list[_Received]] = defaultdict(list)  # ledger id -> deliveries (duplicates share one)
        settled_before: list[_Received] = []
        handed_off: dict[str, _HandOff] = {}  # retry key -> its users' target (a message has one target)
        for r in received:
            ledger_id = message_ledger_id(r.message)
            if ledger_id in recorded:
                settled_before.append(r)
                handed_off.update(dict.fromkeys(recorded[ledger_id], _HandOff(r.message.target)))
            else:
                fresh[ledger_id].append(r)
        not_started = self._restart(handed_off)  # settled before: redo only the hand-offs, each once
        failed += [r for r in settled_before if not_started.intersection(recorded[message_ledger_id(r.message)])]
        firsts = [deliveries[0] for deliveries in fresh.values()]
        self._send_all(firsts, deadline_ms, senders, sends)
        for unsettled in self._settle(firsts):
            failed += fresh[message_ledger_id(unsettled.message)]
        failed_now = {id(r) for r in failed}
        settled = [r for r in received if r.topped_up and id(r) not in failed_now]
        if settled:
            self._delete(settled)
        return [r.message_id for r in failed if not r.topped_up]

    def _read_round(self, deadline_ms: int, max_requests: float) -> tuple[list[_Received], bool]:
        """About a batch's worth of the queue, or `max_requests`' worth, topped up to full requests; and whether the
        backlog goes on."""
        assert self.queue is not None
        received: list[_Received] = []
        size = requests = 0
        while size < FULL_BATCH_BYTES and requests < max_requests and self._time_for_a_round(deadline_ms):
            wanted = 10
            per_message = requests / len(received) if received and requests else self._pace.per_message()
            if per_message and max_requests < math.inf:  # as many messages as the round has room for
                wanted = min(10, max(1, math.ceil((max_requests - requests) / per_message)))
            try:
                records = self.queue.receive(wanted)
            except StoreUnavailable:
                logger.exception("could not read more of the queue")
                break
            if not records:
                break
            size += sum(len(r.get("body") or "") for r in records)
            more, _ = self._parse(records, report_unreadable=False)
            received += more
            requests = self._requests_in(received)  # the round's, not each read's: packing joins them
        full = size >= FULL_BATCH_BYTES or requests >= max_requests
        # a round cut short by a queue that ran dry waits a moment for the rest of its last request
        received += self._top_up(received, deadline_ms, wait_ms=0 if full else TOP_UP_WAIT_MS)
        return received, full

    def _parse(self, records: list[dict[str, Any]], report_unreadable: bool) -> tuple[list[_Received], list[str]]:
        """The readable messages, and the ids of unreadable ones (reported, they reach the DLQ; a topped-up one is
        left on the queue, where the event source mapping will deliver and report it)."""
        received: list[_Received] = []
        unreadable: list[str] = []
        for record in records:
            try:
                message = QueuedMessage.model_validate_json(record["body"])
            except (ValidationError, KeyError):
                if report_unreadable:
                    logger.error(
                        "unreadable sync message; it will reach the DLQ", extra={"message_id": record.get("messageId")}
                    )
                    unreadable.append(str(record.get("messageId")))
                continue
            receive_count = int((record.get("attributes") or {}).get("ApproximateReceiveCount", 1))
            received.append(
                _Received(
                    record["messageId"],
                    message,
                    [None] * len(message.users),
                    receive_count,
                    receipt_handle=record.get("receiptHandle"),
                    topped_up=not report_unreadable,
                )
            )
        return received, unreadable

    # ---- top-up: full requests under a backlog ---------------------------------------------------
    def _top_up(self, received: list[_Received], deadline_ms: int, wait_ms: int = 0) -> list[_Received]:
        """Under a backlog, a full batch (Lambda gives at most 6 MB) still ends in a partly filled request per
        audience. Read more of the queue until those requests are full, so a backlog is sent in requests of
        full requests, as few as possible (a destination's rate limit counts requests, not users). An empty queue
        ends it, or, with `wait_ms`, an empty queue for that long in all."""
        if self.queue is None:
            return []
        users: Counter[TargetKey] = Counter()
        limits: dict[TargetKey, int] = {}
        for r in received:
            users[r.message.target.key] += len(r.message.users)
            limits.setdefault(r.message.target.key, self._limit(r.message.target))
        # The short audiences: each read until its users fill whole requests. Reading only up to the next full
        # request would overshoot it by part of a message (messages of 400 users against requests of 5,000 end a
        # round in a request of 200); so the top-up reads on until the users come out even, or the budget ends.
        short = {key for key, n in users.items() if n % limits[key]}
        per_message = max(1, sum(users.values()) // max(1, len(received)))
        # Messages of other audiences come along (they cannot be put back for free) and are sent too. The budget
        # bounds what one top-up reads to what is missing plus one request's worth, even when a short audience has
        # nothing more on the queue behind another audience's backlog.
        budget = sum(-users[key] % limits[key] for key in short) + max(limits.values(), default=0)
        extra: list[_Received] = []
        waited_ms = 0
        while short and budget > 0 and self.clock.now_ms() < deadline_ms - REQUEST_BUDGET_MS:
            missing = sum(-users[key] % limits[key] for key in short)
            try:
                records = self.queue.receive(min(10, -(-missing // per_message)))
            except StoreUnavailable:
                logger.exception("could not read more of the queue; the batch goes as it is")
                break
            if not records:
                if waited_ms >= wait_ms:
                    break
                self.clock.sleep(TOP_UP_POLL_MS / 1000)
                waited_ms += TOP_UP_POLL_MS
                continue
            more, _ = self._parse(records, report_unreadable=False)
            extra += more
            for r in more:
                users[r.message.target.key] += len(r.message.users)
                budget -= len(r.message.users)
            short = {key for key in short if users[key] % limits[key]}
        return extra

    def _delete(self, settled: list[_Received]) -> None:
        """Delete settled messages the batcher read itself (the event source mapping deletes only its own)."""
        assert self.queue is not None
        try:
            self.queue.delete([{"receiptHandle": r.receipt_handle} for r in settled])
        except StoreUnavailable:
            logger.exception("could not delete settled messages; they come back and are found in the ledger")

    # ---- LinkedIn ----------------------------------------------------------------------------
    def _send_all(self, received: list[_Received], deadline_ms: int, senders: Executor, sends: list[int]) -> None:
        """Send every packed request, up to `send_concurrency` at a time; each takes its token from the shared
        bucket, so they still leave at the rate limit's pace. Each send that ends is counted in `sends[0]` and in
        the pace as gone."""
        messages = [r.message for r in received]
        counting = threading.Lock()
        gate = self.gate  # asked again when a request's token is in hand: a stop takes effect within the round

        def send(request: PackedRequest) -> list[Outcome] | None:
            users = [messages[ref.message].users[ref.user] for ref in request.users]
            sources = [messages[i] for i in {ref.message for ref in request.users}]
            try:
                return self.sender.send(
                    request.target,
                    users,
                    {m.step_id for m in sources},
                    deadline_ms - REQUEST_BUDGET_MS,
                    correlation_ids=[m.correlation_id for m in sources],
                    stopped=None if gate is None else lambda: any(gate.closed(m.step_id) for m in sources),
                )
            except StoreUnavailable:  # the token bucket or the connection table failed: these users wait in the retry
                logger.exception("AWS failed around a LinkedIn request; its users go to the retry")
                return None
            finally:
                with counting:
                    sends[0] += 1
                self._pace.left(1)

        stale = superseded([m.step_id for m in messages], [m.users for m in messages])
        for ref in stale:
            received[ref.message].outcomes[ref.user] = SUPERSEDED
        for m, r in enumerate(received):
            if self.gate is not None and r.message.users and self.gate.closed(r.message.step_id):
                r.outcomes = [STOPPED] * len(r.message.users)
                stale.update(UserRef(m, u) for u in range(len(r.message.users)))
        packed = pack(messages, self._limit, skip=stale)
        results = list(senders.map(send, packed))
        for request, outcomes in zip(packed, results, strict=True):
            if outcomes is not None:
                for ref, outcome in zip(request.users, outcomes, strict=True):
                    received[ref.message].outcomes[ref.user] = outcome

    # ---- accounting and hand-off -------------------------------------------------------------
    def _settle(self, received: list[_Received]) -> list[_Received]:
        """Settle every message; return those that could not be (they go back to the queue)."""
        by_step: dict[str, list[_Received]] = defaultdict(list)
        for r in received:
            by_step[r.message.step_id].append(r)
        unsettled: list[_Received] = []
        for step_id, group in by_step.items():
            for start in range(0, len(group), MAX_ENTRIES_PER_TRANSACTION):
                unsettled += self._settle_chunk(step_id, group[start : start + MAX_ENTRIES_PER_TRANSACTION])
        return unsettled

    def _settle_chunk(self, step_id: str, chunk: list[_Received]) -> list[_Received]:
        if self.observer is not None and not is_step(step_id):
            # before the ledger: the webhooks were delivered whatever becomes of the settling (each is told once
            # per delivery: campaigns/connector.py takes a repeat once)
            delivered = [
                r.message.users[i]
                for r in chunk
                for i, outcome in enumerate(r.outcomes)
                if outcome is not None and outcome.kind == "synced"
            ]
            tell(self.observer, step_id, delivered)
        entries: list[LedgerEntry] = []
        while chunk:
            try:
                keys_of, first_waits = self._store_retries(step_id, chunk)
                entries = [
                    LedgerEntry(message_ledger_id(r.message), r.message.bucket, _counted(r), keys_of[i])
                    for i, r in enumerate(chunk)
                ]
                duplicates = self.ledger.record(step_id, entries)
            except StoreUnavailable:
                logger.exception("could not settle messages; they return to the queue", extra={"step_id": step_id})
                return chunk
            if not duplicates:
                break
            self._forget({key for keys in keys_of for key in keys})
            # Another delivery of these messages settled them first: they are done, and the rest is recorded
            # again without them (their users must not stay in this chunk's retry batches).
            logger.info("duplicate deliveries already settled", extra={"duplicates": len(duplicates)})
            chunk = [r for r in chunk if message_ledger_id(r.message) not in duplicates]
            entries = []
        counted = StepDelta()
        for entry in entries:
            counted.merge(entry.delta)
        if counted:
            publish_counts(step_id, counted)
        # Settled; a message whose hand-off did not start returns to the queue, and its redelivery, found in the
        # ledger, starts it again.
        not_started = self._restart(
            {
                key: _HandOff(r.message.target, first_waits.get(key))
                for r, entry in zip(chunk, entries, strict=True)
                for key in entry.retry_keys
            }
        )
        return [r for r, entry in zip(chunk, entries, strict=True) if not_started.intersection(entry.retry_keys)]

    def _store_retries(self, step_id: str, chunk: list[_Received]) -> tuple[list[list[str]], dict[str, int]]:
        """Write the chunk's waiting users as retry batches (one per target and first wait, ≤ one request's users
        each, or a few requests of one user); return each message's batch keys, and each batch's first wait (the
        policy's, or longer if the destination asked for longer). Users whose answers asked for different waits
        (webhooks: one user a request) are in different batches, so each waits what its own answer asked and no
        user's wait is stretched by a neighbour's. Nothing references a batch until the ledger records it."""
        # (target, first wait) -> (message index, user, reason)
        waiting: dict[tuple[TargetKey, int], list[tuple[int, QueuedUser, str]]] = defaultdict(list)
        targets: dict[TargetKey, SyncTarget] = {}
        first_wait_of: dict[tuple[TargetKey, float], int] = {}  # (target, wait asked or 0) -> first wait
        for i, r in enumerate(chunk):
            target = r.message.target
            for user, outcome in zip(r.message.users, r.outcomes, strict=True):
                if outcome is None or outcome.kind == "retry":
                    reason = outcome.reason if outcome is not None and outcome.reason else "not_sent_in_time"
                    asked = (outcome.wait_seconds if outcome is not None else None) or 0.0
                    first_wait = first_wait_of.get((target.key, asked))
                    if first_wait is None:
                        first_wait = first_wait_of[target.key, asked] = self._first_wait(target, asked or None)
                    waiting[target.key, first_wait].append((i, user, reason))
                    targets.setdefault(target.key, target)
        keys_of: list[list[str]] = [[] for _ in chunk]
        first_waits: dict[str, int] = {}
        now = self.clock.now_ms()
        for (target_key, first_wait), entries in sorted(waiting.items(), key=lambda item: item[0][1]):
            limit = retry_batch_users(self._limit(targets[target_key]))
            for start in range(0, len(entries), limit):
                part = entries[start : start + limit]
                sources = sorted({i for i, _, _ in part})
                webhooks = sorted({c for i in sources if (c := chunk[i].message.correlation_id)})
                batch = RetryBatch(
                    batch_id=uuid.uuid4().hex,
                    attempt=1,
                    step_id=step_id,
                    target=targets[target_key],
                    users=[user for _, user, _ in part],
                    reasons=[reason for _, _, reason in part],
                    first_failed_at=now,
                    correlation_ids=webhooks[:MAX_CORRELATION_IDS],
                    waited_seconds=first_wait,
                    wait_seconds=first_wait,
                )
                key = self.retries.put(batch)
                for i in sources:
                    keys_of[i].append(key)
                first_waits[key] = first_wait
        return keys_of, first_waits

    def _forget(self, keys: set[str]) -> None:
        """Delete retry batches no ledger entry names (best effort: the bucket's lifecycle rule is the backstop)."""
        for key in keys:
            try:
                self.retries.delete(key)
            except StoreUnavailable:
                logger.exception("could not delete an unused retry batch", extra={"key": key})

    def _restart(self, keys: dict[str, _HandOff]) -> set[str]:
        """Start the retry executions settled messages handed off, each once, after the first wait of their
        destination's retry policy (longer if the destination asked); the keys that could not be started.

        A message delivered again after it settled knows only its batches' keys: each batch says its own wait (the
        policy's first, or what its users' answers asked for). A batch that is gone was started before, and its
        execution has settled it: nothing to start."""
        not_started: set[str] = set()
        for key in sorted(keys):
            handoff = keys[key]
            try:
                wait = handoff.wait_seconds
                if wait is None:
                    batch = self.retries.find(key)
                    if batch is None:
                        continue
                    wait = batch.wait_seconds if batch.wait_seconds is not None else self._first_wait(handoff.target)
                self.retries.start(key, wait)
            except StoreUnavailable:
                logger.exception("could not start a retry; its messages return to the queue", extra={"key": key})
                not_started.add(key)
        return not_started


# The interpreter's switch interval while a batch is in flight (Python's default: 5 ms).
IN_FLIGHT_SWITCH_SECONDS = 0.0005


class _InFlight:
    """The interpreter tuned for slot-keeping while any batch is in flight (a process may run several: local mode);
    both settings are put back when the last batch ends.

    - The cycle collector is paused. With a batch's users in memory, a full collection stops every thread of the
      process for up to a few hundred milliseconds (measured: 337 ms); a request whose rate slot came up meanwhile
      misses it, and that time is lost to the rate limit for good. A batch makes no reference cycles worth
      collecting (parsed JSON is freed by reference counting), so pausing the collector costs nothing.
    - The GIL's switch interval is 0.5 ms. A sender thread waking for its slot waits for the GIL while another
      thread runs Python code, up to the interval before it may ask for it and then until that thread lets go:
      with the default 5 ms, the two batchers of make bench woke 11-34 ms late for one slot in twenty and let
      them go (rate use 91-93 %, every run); at 0.5 ms none in two runs (96.0 %, the headroom's ceiling). The
      threads mostly wait on the network, so the extra switches cost next to nothing."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.batches = 0
        self.was_enabled = True
        self.switch_interval = sys.getswitchinterval()

    @contextmanager
    def tuned(self) -> Iterator[None]:
        with self.lock:
            if self.batches == 0:
                self.was_enabled = gc.isenabled()
                self.switch_interval = sys.getswitchinterval()
                gc.disable()
                sys.setswitchinterval(IN_FLIGHT_SWITCH_SECONDS)
            self.batches += 1
        try:
            yield
        finally:
            with self.lock:
                self.batches -= 1
                if self.batches == 0:
                    sys.setswitchinterval(self.switch_interval)
                    if self.was_enabled:
                        gc.enable()


IN_FLIGHT = _InFlight()


class _InThisThread(Executor):
    """An Executor that runs each call at once in the calling thread."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to whoever asks for the result, as a thread pool would
            future.set_exception(exc)
        return future


def _looks_full(records: list[dict[str, Any]]) -> bool:
    return sum(len(r.get("body") or "") for r in records) >= FULL_BATCH_BYTES


def _counted(received: _Received) -> StepDelta:
    """The message's entry counts from the ingest plus its users' outcomes."""
    delta = received.message.entry_delta()
    counts_sends = not is_step(received.message.step_id)  # a campaign's metrics show first attempts
    for outcome in received.outcomes:
        if outcome is not None:
            count_outcome(delta, outcome, received.message.target.leaving)
            if counts_sends and first_attempts(outcome.kind, outcome.reason, NOT_SENT_IN_TIME):
                delta.add("sent")
    return delta
