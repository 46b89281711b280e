"""One attempt of the Step Functions retry (statemachine/retry_batch.asl.json): send a waiting batch again.

The state machine waits `wait_seconds`, calls this with the batch's key and attempt number, and loops while the
answer is `retry`. Users still waiting are split by the wait their answers asked for: the shortest goes on in this
execution, each longer one in an execution of its own. Each attempt is exactly-once like the batcher's messages:
its outcome and the keys of the batches still waiting are recorded in the ledger in one transaction with the
counters, so a retried task (Lambda crash, timeout) returns the recorded answer (and starts the other executions
again) instead of counting again. The last attempt, at the horizon, counts every user still waiting as errored,
each with the reason they were waiting for.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import BaseModel, Field

from audience_sync.core.backoff import RetryPolicy
from audience_sync.core.clock import Clock
from audience_sync.core.errors import StoreUnavailable
from audience_sync.core.metrics import StepDelta, first_attempts, is_step
from audience_sync.core.users import QueuedUser
from audience_sync.destinations.base import NOT_SENT_IN_TIME, Outcome, SyncTarget
from audience_sync.observability.notifications import Notifier
from audience_sync.observability.step_metrics import publish_counts
from audience_sync.pipeline.ledger import Ledger, LedgerEntry, LedgerKey
from audience_sync.pipeline.moves import STOPPED, SUPERSEDED, count_outcome, outdated
from audience_sync.pipeline.ports import DeliveryObserver, MoveOrders, SendGate, tell
from audience_sync.pipeline.retry_batch import RetryBatch, RetryStore
from audience_sync.pipeline.sender import Sender

logger = Logger(child=True)

RETRY = "retry"
SETTLED = "settled"
HORIZON_PREFIX = "retry_horizon_"


class AttemptInput(BaseModel):
    """What the state machine passes the retry function (statemachine/retry_batch.asl.json's task payload)."""

    key: str = Field(pattern=r"^retry/[^/]+/[0-9a-f]{32}/\d+\.json$")
    attempt: int = Field(ge=1)


def attempt_ledger_id(key: str, attempt: int) -> str:
    return f"retry:{key.split('/')[-2]}:{attempt}"


def attempt_ledger_key(key: str, attempt: int) -> LedgerKey:
    """An attempt has a bucket of its own: its retry keys are its answer."""
    ledger_id = attempt_ledger_id(key, attempt)
    return LedgerKey(ledger_id, f"attempt#{ledger_id}")


class RetryAttempt:
    def __init__(
        self,
        sender: Sender,
        ledger: Ledger,
        retries: RetryStore,
        notifier: Notifier,
        clock: Clock,
        moves: MoveOrders | None = None,
        gate: SendGate | None = None,
        observer: DeliveryObserver | None = None,
    ):
        self.sender = sender
        self.ledger = ledger
        self.retries = retries
        self.notifier = notifier
        self.clock = clock
        self.moves = moves  # segment members' newest moves: a retried move a newer one replaced is not sent
        self.gate = gate  # a stopped campaign's users are not sent again
        self.observer = observer  # told the users a campaign's webhooks reached

    def run(self, key: str, attempt: int, send_by_ms: int) -> dict[str, Any]:
        ledger_key = attempt_ledger_key(key, attempt)
        ledger_id = ledger_key.id
        done = self.ledger.recorded([ledger_key])
        if ledger_id in done:  # this attempt was settled by an earlier try of the same task
            self._forget(key)
            return self._recorded_answer(done[ledger_id], attempt)
        batch = self.retries.get(key)
        if batch.attempt != attempt:
            raise ValueError(f"batch {key} is for attempt {batch.attempt}, not {attempt}")
        stale = outdated(batch.step_id, batch.users, self.moves) if self.moves is not None else set()
        sending = [i for i in range(len(batch.users)) if i not in stale]
        outcomes: list[Outcome] = [SUPERSEDED] * len(batch.users)
        if self.gate is not None and self.gate.closed(batch.step_id):  # its campaign was stopped meanwhile
            outcomes, sending = [STOPPED] * len(batch.users), []
        if sending:
            self.sender.start_invocation()
            try:
                sent = self._send(batch, [batch.users[i] for i in sending], send_by_ms, attempt)
            finally:
                self.sender.finish_invocation()
            for i, outcome in zip(sending, sent, strict=True):
                outcomes[i] = outcome
        if self.observer is not None and not is_step(batch.step_id):  # before the ledger, as the batcher does
            tell(self.observer, batch.step_id, [batch.users[i] for i, o in enumerate(outcomes) if o.kind == "synced"])
        schedule = self._schedule(batch.target)
        waited = batch.waited_seconds or sum(schedule[:attempt])  # a batch written before it was kept: the schedule's
        final = self._policy(batch.target).reached(attempt, waited)  # no wait left, or the horizon is reached
        counts_sends = not is_step(batch.step_id)  # a campaign's metrics show first attempts
        delta, waiting, reasons = _tally(outcomes, batch.reasons, final, batch.target.leaving, counts_sends)
        next_keys, waits = self._put_following(batch, attempt, waited, waiting, outcomes, reasons)
        if final and delta.counts["errored"]:
            # Before the ledger write, so a crash cannot lose it (a retried task may send it twice).
            self.notifier.notify(
                "users_errored",
                step_id=batch.step_id,
                users=delta.counts["errored"],
                reasons=dict(delta.errored_reasons),
            )
        if self.ledger.record(batch.step_id, [LedgerEntry(ledger_id, ledger_key.bucket, delta, next_keys)]):
            for orphan in next_keys:  # another try of this attempt was recorded first; its answer stands
                self._forget(orphan)
            return self._recorded_answer(self.ledger.recorded([ledger_key])[ledger_id], attempt)
        if delta:
            publish_counts(batch.step_id, delta)
        self._start_others(next_keys, waits, attempt)
        self._forget(key)
        logger.info(
            "retry attempt settled",
            extra={
                "attempt": attempt,
                "synced": delta.counts["synced"],
                "errored": delta.counts["errored"],
                "waiting": len(waiting),
            },
        )
        return self._answer(next_keys, attempt, schedule, waits[0] if waits else None)

    def _put_following(
        self,
        batch: RetryBatch,
        attempt: int,
        waited: int,
        waiting: list[int],
        outcomes: list[Outcome],
        reasons: list[str],
    ) -> tuple[list[str], list[int]]:
        """Write the users still waiting as the next attempt's batches, one per wait (shortest first), and return
        their keys and waits. Each user waits what its own answer asked for (`Retry-After`), or the schedule's:
        webhooks are sent one user a request, and one endpoint's 429 must not hold its neighbours back."""
        policy = self._policy(batch.target)
        by_wait: dict[int, list[int]] = defaultdict(list)
        for i in waiting:
            by_wait[policy.wait_before(attempt + 1, outcomes[i].wait_seconds, waited)].append(i)
        keys: list[str] = []
        for wait in sorted(by_wait):
            following = batch.model_copy(
                update={
                    "waited_seconds": waited + wait,
                    "wait_seconds": wait,
                    # A new id per batch: two overlapping tries of this attempt must not write the same object.
                    "batch_id": uuid.uuid4().hex,
                    "attempt": attempt + 1,
                    "users": [batch.users[i] for i in by_wait[wait]],
                    "reasons": [reasons[i] for i in by_wait[wait]],
                }
            )
            keys.append(self.retries.put(following))
        return keys, sorted(by_wait)

    def _start_others(self, next_keys: list[str], waits: list[int], attempt: int) -> None:
        """The first waiting batch goes on in this execution (the answer names it); each other one gets an execution
        of its own, started once the ledger has recorded the keys. A start that fails fails the task: its retry finds
        the attempt recorded and starts them again (an execution is named after its batch, so twice is once)."""
        for key, wait in zip(next_keys[1:], waits[1:], strict=True):
            self.retries.start(key, wait, attempt=attempt + 1)

    def _send(self, batch: RetryBatch, users: list[QueuedUser], send_by_ms: int, attempt: int) -> list[Outcome]:
        """The batch's users in requests of its destination's size, at once (a batch of webhooks is several
        requests of one user: pipeline/batcher.py, retry_batch_users)."""
        limit = self.sender.destination(batch.target).limits.elements_per_request
        requests = [users[start : start + limit] for start in range(0, len(users), limit)]

        gate = self.gate

        def send(request: list[QueuedUser]) -> list[Outcome]:
            return self.sender.send(
                batch.target,
                request,
                [batch.step_id],
                send_by_ms,
                attempt=attempt,
                correlation_ids=batch.webhooks,
                stopped=None if gate is None else lambda: gate.closed(batch.step_id),
            )

        if len(requests) == 1:
            return send(requests[0])
        with ThreadPoolExecutor(max_workers=len(requests), thread_name_prefix="retry") as pool:
            return [outcome for outcomes in pool.map(send, requests) for outcome in outcomes]

    def _policy(self, target: SyncTarget) -> RetryPolicy:
        return self.sender.destination(target).retry_policy

    def _schedule(self, target: SyncTarget) -> tuple[int, ...]:
        """The waits of the target's destination's retry policy."""
        return self.sender.destination(target).retry_policy.schedule()

    def _forget(self, key: str) -> None:
        """Delete a settled or unused batch. Best effort: the bucket's lifecycle rule is the backstop, and the
        attempt is already counted, so failing here must not fail the task."""
        try:
            self.retries.delete(key)
        except StoreUnavailable:
            logger.exception("could not delete a retry batch; the bucket lifecycle will", extra={"key": key})

    def _recorded_answer(self, next_keys: list[str], attempt: int) -> dict[str, Any]:
        """The answer an earlier try of this attempt recorded; the waiting batches say how long (a batch written
        before they kept their wait: their destination's schedule). The other batches' executions are started
        again, in case that try stopped before it started them.

        A batch that is gone was one of the others: its execution ran and settled it (this execution's own next
        batch has the shortest wait, and only this execution's next attempt deletes it). It needs no start."""
        if not next_keys:
            return self._answer(next_keys, attempt, ())
        batches = {key: b for key in next_keys if (b := self.retries.find(key)) is not None}
        if not batches:
            raise ValueError(f"attempt {attempt} of this batch recorded {len(next_keys)} batches and none is left")
        schedule = self._schedule(next(iter(batches.values())).target)
        waits = {key: schedule[attempt] if b.wait_seconds is None else b.wait_seconds for key, b in batches.items()}
        # The ledger keeps the keys as a set: in the order of their waits again, so the answer is the first try's.
        in_order = sorted(waits, key=waits.__getitem__)
        self._start_others(in_order, [waits[key] for key in in_order], attempt)
        return self._answer(in_order, attempt, schedule, waits[in_order[0]])

    @staticmethod
    def _answer(
        next_keys: list[str], attempt: int, schedule: tuple[int, ...], wait_seconds: int | None = None
    ) -> dict[str, Any]:
        """`wait_seconds`: the next wait if not the schedule's (the destination asked for longer)."""
        if not next_keys:
            return {"outcome": SETTLED, "attempt": attempt}
        wait = schedule[attempt] if wait_seconds is None else wait_seconds
        return {"outcome": RETRY, "key": next_keys[0], "attempt": attempt + 1, "wait_seconds": wait}


def _tally(
    outcomes: list[Outcome], reasons_before: list[str], final: bool, leaving: bool = False, counts_sends: bool = False
) -> tuple[StepDelta, list[int], list[str]]:
    """Counts of this attempt, who still waits (indices) and each user's latest reason. Users `leaving` the step
    (a segment's exits) the destination took are `removed`, the others `synced`."""
    delta = StepDelta()
    waiting: list[int] = []
    reasons = list(reasons_before)
    for i, outcome in enumerate(outcomes):
        never_sent = reasons_before[i] == NOT_SENT_IN_TIME
        if counts_sends and never_sent and first_attempts(outcome.kind, outcome.reason, NOT_SENT_IN_TIME):
            delta.add("sent")  # its first attempt
        if not count_outcome(delta, outcome, leaving):
            # Where first attempts are counted, a user sent before keeps the reason it was answered with: "not sent
            # in time" would count its next attempt as a first again.
            if not (counts_sends and outcome.reason == NOT_SENT_IN_TIME and not never_sent):
                reasons[i] = outcome.reason or reasons[i]
            if final:
                delta.add("errored", reason=HORIZON_PREFIX + reasons[i])
            else:
                waiting.append(i)
    return delta, waiting, reasons
