"""Crash injection for local mode (`CHAOS_CRASH_PROBABILITY`), to show that a crash loses and double-counts nothing.

With probability p, each of these happens independently:
- a batcher or retry attempt crashes after LinkedIn took the users but before the ledger recorded them
  (the ledger write raises), so the work is redone on redelivery or on the task's retry;
- a batcher invocation crashes after it settled everything, before SQS deletes its messages, so they are
  delivered again (a duplicate delivery);
- the profile writer crashes right after one of its writes to the profile table (the batch is delivered again,
  part of it written), or after a whole batch, before SQS deletes it (each per invocation).
A batch that SQS has already delivered `SPARE_AFTER_RECEIVES` times is spared: chaos alone never sends a message to
a dead-letter queue (maxReceiveCount is 5), so a high p crashes often and still tests recovery, not the DLQ.
Off by default; never part of a deployment (it patches in-process code only).
"""

from __future__ import annotations

import contextvars
import logging
import random
import threading
from typing import Any
from unittest import mock

from localmode.functions import LocalFunction

logger = logging.getLogger("localmode.chaos")

SPARE_AFTER_RECEIVES = 3  # below every queue's maxReceiveCount (5), with room for a crash that chaos did not cause


def _spared(event: dict[str, Any]) -> bool:
    """True for an SQS batch any of whose messages has been received SPARE_AFTER_RECEIVES times already."""
    return any(
        int(record.get("attributes", {}).get("ApproximateReceiveCount", "1")) >= SPARE_AFTER_RECEIVES
        for record in event.get("Records", [])
    )


class ChaosCrash(RuntimeError):
    """An injected crash (local mode only)."""


class Chaos:
    def __init__(self, probability: float, seed: int | None = None):
        if not 0.0 <= probability <= 1.0:
            raise ValueError("CHAOS_CRASH_PROBABILITY must be between 0 and 1")
        self.probability = probability
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.crashes = {"before_ledger": 0, "after_settle": 0, "after_profile_write": 0, "after_profile_batch": 0}
        self._patches: list[Any] = []
        # an armed crash of one profile writer invocation: [writes left], shared with the writer's worker threads,
        # which run in a copy of the invocation's context (see _install_profile_writer)
        self._armed: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("armed", default=None)

    def _roll(self, kind: str) -> bool:
        with self.lock:
            hit = self.rng.random() < self.probability
            if hit:
                self.crashes[kind] += 1
        return hit

    def install(self, batcher: LocalFunction, profile_writer: LocalFunction | None = None) -> None:
        if self.probability <= 0:
            return
        from audience_sync.adapters.aws.ledger_table import DynamoLedger

        original_record = DynamoLedger.record
        chaos = self

        def record(ledger: DynamoLedger, step_id: str, entries: Any) -> set[str]:
            if chaos._roll("before_ledger"):
                logger.warning("chaos: crash before the ledger write")
                raise ChaosCrash("injected crash before the ledger write")
            return original_record(ledger, step_id, entries)

        self._start(mock.patch.object(DynamoLedger, "record", record))
        self._crash_after_invocations(batcher, "after_settle", "batcher crash after settling, before SQS deletes")
        if profile_writer is not None:
            self._install_profile_writer(profile_writer)

    def _install_profile_writer(self, writer: LocalFunction) -> None:
        """With probability p, an invocation arms a crash that fires right after its k-th write to the profile table
        (k from 1 to 20), leaving its batch part written. (Most batches write hundreds of items: rolling for each
        write would leave hardly any batch whole.) The arming is a context variable, which the writer's worker
        threads inherit, so the crash lands in the invocation that armed it, never in a spared one."""
        from audience_sync.adapters.aws.profiles_table import DynamoProfileStore

        chaos = self
        for name in ("put", "put_pointer", "delete"):
            original = getattr(DynamoProfileStore, name)

            def written(store: Any, *args: Any, _original: Any = original, _name: str = name) -> Any:
                result = _original(store, *args)
                armed = chaos._armed.get()
                with chaos.lock:
                    left = armed[0] if armed else 0
                    if armed:
                        armed[0] -= 1
                if left == 1:
                    logger.warning("chaos: profile writer crash after a %s", _name)
                    raise ChaosCrash(f"injected crash after a profile {_name}")
                return result

            self._start(mock.patch.object(DynamoProfileStore, name, written))
        original_invoke = writer.invoke

        def invoke(event: dict[str, Any]) -> Any:
            armed = None
            if not _spared(event) and chaos._roll("after_profile_write"):
                with chaos.lock:
                    armed = [chaos.rng.randint(1, 20)]
            token = chaos._armed.set(armed)
            try:
                return original_invoke(event)
            finally:
                chaos._armed.reset(token)  # a batch with fewer writes than k: disarmed, not carried over

        writer.invoke = invoke  # type: ignore[method-assign]
        self._crash_after_invocations(
            writer, "after_profile_batch", "profile writer crash after a batch, before SQS deletes"
        )

    def _crash_after_invocations(self, function: LocalFunction, kind: str, what: str) -> None:
        original_invoke = function.invoke
        chaos = self

        def invoke(event: dict[str, Any]) -> Any:
            result = original_invoke(event)
            if not _spared(event) and chaos._roll(kind):
                logger.warning("chaos: %s", what)
                raise ChaosCrash(f"injected {what}")
            return result

        function.invoke = invoke  # type: ignore[method-assign]

    def _start(self, patch: Any) -> None:
        patch.start()
        self._patches.append(patch)

    def uninstall(self) -> None:
        while self._patches:
            self._patches.pop().stop()
