"""Import runs started: on demand (`POST /v1/imports/{id}/run`) or by the schedule (the import function's tick, every
minute: an enabled import is due `every_minutes` after its last run started; local mode's TIME_SCALE divides it).
A start records the run in the import's state (a conditional write: two starts get one run) and queues it for the
import function (imports/runner.py). A run whose function died (not heard of for STALE_MS) is queued again by the tick,
and goes on from its last recorded chunk."""

from __future__ import annotations

import contextlib
import uuid

from audience_sync.core.clock import Clock
from audience_sync.imports.definitions import ImportDefinition
from audience_sync.imports.exceptions import ImportDisabled, ImportRunning
from audience_sync.imports.ports import ImportQueue, ImportState, ImportStore, Run, StateConflict

STALE_MS = 20 * 60_000  # longer than the import function's 15 minutes


class ImportScheduler:
    def __init__(self, store: ImportStore, queue: ImportQueue, clock: Clock, time_scale: float = 1.0):
        self.store = store
        self.queue = queue
        self.clock = clock
        self.time_scale = time_scale

    def start(self, definition: ImportDefinition) -> str:
        """A new run now (POST /v1/imports/{id}/run, or the schedule): ImportDisabled, ImportRunning."""
        if not definition.enabled:
            raise ImportDisabled(definition.import_id)
        now = self.clock.now_ms()
        state = self.store.state(definition.import_id)
        if state.run is not None:
            raise ImportRunning(definition.import_id)
        state = _for_source(state, definition)
        run = Run(uuid.uuid4().hex, now)
        # a file a failed run stopped in is gone on with from where it stopped (its cursor stays)
        state.run, state.heartbeat_ms = run, now
        state.next_run_ms = now + round(definition.every_minutes * 60_000 / self.time_scale)
        try:
            self.store.save_state(state)
        except StateConflict:  # another start (the schedule, a second request) got there first
            raise ImportRunning(definition.import_id) from None
        try:
            self.queue.enqueue(definition.import_id, run.run_id)
        except Exception:
            state.run = None  # not started after all (if this fails too, the tick queues it once it is stale)
            with contextlib.suppress(StateConflict):
                self.store.save_state(state)
            raise
        return run.run_id

    def tick(self) -> list[str]:
        """The schedule (every minute): start the enabled imports that are due; queue again a run whose function
        died (not heard of for STALE_MS). The ids of the runs started."""
        now = self.clock.now_ms()
        started: list[str] = []
        for definition in self.store.definitions():
            state = self.store.state(definition.import_id)
            if state.run is None and definition.enabled and state.next_run_ms <= now:
                try:
                    started.append(self.start(definition))
                except (ImportRunning, ImportDisabled):
                    continue
            elif state.run is not None and now - state.heartbeat_ms > STALE_MS / self.time_scale:
                state.heartbeat_ms = now  # one re-queue per stale period
                try:
                    self.store.save_state(state)
                except StateConflict:
                    continue  # its runner is alive after all
                self.queue.enqueue(definition.import_id, state.run.run_id)
        return started


def _for_source(state: ImportState, definition: ImportDefinition) -> ImportState:
    """A definition reading other files (bucket, prefix or format changed) starts again from the first key."""
    source = list(definition.source())
    if state.source != source:
        state.source, state.done_key, state.file = source, None, None
    return state
