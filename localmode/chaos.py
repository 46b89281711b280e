"""Crash injection for local mode (`CHAOS_CRASH_PROBABILITY`), to show that a crash loses and double-counts nothing.

With probability p, each of these happens independently:
- a batcher or retry attempt crashes after LinkedIn took the users but before the ledger recorded them
  (the ledger write raises), so the work is redone on redelivery or on the task's retry;
- a batcher invocation crashes after it settled everything, before SQS deletes its messages, so they are
  delivered again (a duplicate delivery).
Off by default; never part of a deployment (it patches in-process code only).
"""

from __future__ import annotations

import logging
import random
import threading
from typing import Any
from unittest import mock

from localmode.functions import LocalFunction

logger = logging.getLogger("localmode.chaos")


class ChaosCrash(RuntimeError):
    """An injected crash (local mode only)."""


class Chaos:
    def __init__(self, probability: float, seed: int | None = None):
        if not 0.0 <= probability <= 1.0:
            raise ValueError("CHAOS_CRASH_PROBABILITY must be between 0 and 1")
        self.probability = probability
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.crashes = {"before_ledger": 0, "after_settle": 0}
        self._patch: Any = None

    def _roll(self, kind: str) -> bool:
        with self.lock:
            hit = self.rng.random() < self.probability
            if hit:
                self.crashes[kind] += 1
        return hit

    def install(self, batcher: LocalFunction) -> None:
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

        self._patch = mock.patch.object(DynamoLedger, "record", record)
        self._patch.start()
        original_invoke = batcher.invoke

        def invoke(event: dict[str, Any]) -> Any:
            result = original_invoke(event)
            if chaos._roll("after_settle"):
                logger.warning("chaos: batcher crash after settling, before SQS deletes")
                raise ChaosCrash("injected crash after settling")
            return result

        batcher.invoke = invoke  # type: ignore[method-assign]

    def uninstall(self) -> None:
        if self._patch is not None:
            self._patch.stop()
            self._patch = None
