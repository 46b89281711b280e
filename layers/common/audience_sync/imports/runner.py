"""Import runs, as the import function runs them (imports/schedule.py starts them). Pure but for its ports.

A run takes the objects under the prefix in key order, each once: the state keeps `done_key` (every key up to it is
imported), so a run lists only the keys after it (delta files: a key that sorts before one already imported is never
read). A file is read record by record (imports/rows.py) in chunks of CHUNK_ROWS; each chunk's rows are planned
(imports/mapping.py) and applied by the profile writer itself (profiles/writer.py: the one writer of every profile
write; segments and campaigns follow as for /users/track), as one message of the import's own group whose id is the
file, its version and the chunk's first line.

Exactly once: after each chunk the state records the file's offset and line and the run's counts, in one conditional
write (a second runner of the same import loses the condition and stops). A crash resumes at the last chunk
recorded; a chunk applied before the crash but not recorded is applied again with the same message id, and the
writer, which keeps each item's last message ids of that group, applies none of its rows twice (they are counted
`updated`: what they did is not known any more). A run nearing the function's deadline hands itself to the queue.

Bad rows are listed in the run (`failed`: file, line, reason) and passed over; a file whose header cannot be read or
lacks a mapped column is one failed row (line 1) and is passed over whole. A run that cannot go on (the bucket gone
or refused, a file changed while read) ends `failed`, and its failure is published on the integration-errors topic,
as is a run that refused rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from audience_sync.core.clock import Clock
from audience_sync.core.errors import Unavailable
from audience_sync.imports.definitions import ImportDefinition
from audience_sync.imports.exceptions import RunFailed
from audience_sync.imports.mapping import RowError, plan_row
from audience_sync.imports.ports import (
    FileCursor,
    ImportQueue,
    ImportState,
    ImportStore,
    ObjectSource,
    ProfileApplier,
    StateConflict,
)
from audience_sync.imports.rows import Header, Record, csv_header, csv_records, ndjson_records
from audience_sync.observability.notifications import Notifier
from audience_sync.profiles.ports import WriteConflict
from audience_sync.profiles.writer import Message

CHUNK_ROWS = 500
DEADLINE_MARGIN_MS = 90_000  # what a run keeps for one more chunk before it hands itself back


def group_of_import(import_id: str) -> str:
    """The writer's group of an import's messages: tokens of this group on an item are this import's alone."""
    return f"import:{import_id}"


class ImportRunner:
    def __init__(
        self,
        store: ImportStore,
        objects: ObjectSource,
        queue: ImportQueue,
        writer: ProfileApplier,
        notifier: Notifier,
        clock: Clock,
        max_array: int,
        chunk_rows: int = CHUNK_ROWS,
    ):
        self.store = store
        self.objects = objects
        self.queue = queue
        self.writer = writer
        self.notifier = notifier
        self.clock = clock
        self.max_array = max_array
        self.chunk_rows = chunk_rows

    # ---- running ---------------------------------------------------------------------------------------------
    def run(self, import_id: str, run_id: str, deadline_ms: int) -> str:
        """Run (or go on with) a run: `done`, `failed`, `continued` (handed back to the queue) or `skipped` (not the
        import's running run: a message delivered again, a deleted import)."""
        state = self.store.state(import_id)
        definition = self.store.get_definition(import_id)
        if state.run is None or state.run.run_id != run_id or definition is None:
            return "skipped"
        try:
            return self._run(definition, state, deadline_ms)
        except StateConflict:
            return "skipped"  # another runner of this import moved on (a message delivered twice): it goes on

    def _run(self, definition: ImportDefinition, state: ImportState, deadline_ms: int) -> str:
        assert state.run is not None
        try:
            while True:
                if state.file is None:
                    found = self.objects.first_after(definition.bucket, definition.prefix, state.done_key)
                    if found is None:
                        return self._end(definition, state, "done")
                    state.file = FileCursor(found.key, found.etag)
                    if definition.format == "csv":
                        self._header(definition, state)
                        if state.file is None:
                            continue
                if self._file(definition, state, deadline_ms):
                    self.queue.enqueue(definition.import_id, state.run.run_id)
                    return "continued"
        except RunFailed as failed:
            if failed.reason == "object_changed" and state.file is not None:
                # replaced while read: what follows is another file's; reading it from its start would apply the
                # rows before this line again, so they are reported not imported instead (delta files do not change)
                line = state.file.line
                reason = f"the file changed while it was imported: lines from {line} not imported"
                state.run.fail_file(state.file.key, line, reason)
                self._done_with_file(state)
            return self._end(definition, state, "failed", failed.reason)

    def _header(self, definition: ImportDefinition, state: ImportState) -> None:
        assert state.file is not None and state.run is not None
        cursor = state.file
        chunks = self.objects.read(definition.bucket, cursor.key, cursor.etag, 0)
        try:
            cursor.header, cursor.offset = csv_header(chunks)
            cursor.line = 2
            wanted = [definition.identifier_column, *(m.column for m in definition.mappings)]
            missing = [c for c in wanted if c not in cursor.header]
            if missing:
                raise Header(f"the header has no column '{missing[0][:64]}'")
            twice = [c for c in wanted if cursor.header.count(c) > 1]
            if twice:
                raise Header(f"the header names the column '{twice[0][:64]}' twice")
        except Header as refused:
            state.run.fail_file(cursor.key, 1, str(refused))
            self._done_with_file(state)
        finally:
            _close(chunks)

    def _file(self, definition: ImportDefinition, state: ImportState, deadline_ms: int) -> bool:
        """Chunks of the current file until it ends (then the next is taken) or the deadline nears (True)."""
        assert state.file is not None
        cursor = state.file
        chunks = self.objects.read(definition.bucket, cursor.key, cursor.etag, cursor.offset)
        try:
            records = self._records(definition, cursor, chunks)
            while True:
                chunk = _take(records, self.chunk_rows)
                if not chunk:
                    self._done_with_file(state)
                    return False
                self._apply(definition, state, chunk)
                if self.clock.now_ms() > deadline_ms - DEADLINE_MARGIN_MS:
                    return True
        finally:
            _close(chunks)

    def _records(self, definition: ImportDefinition, cursor: FileCursor, chunks: Iterator[bytes]) -> Iterator[Record]:
        if definition.format == "csv":
            assert cursor.header is not None
            return csv_records(chunks, cursor.offset, cursor.line, cursor.header)
        return ndjson_records(chunks, cursor.offset, cursor.line)

    def _apply(self, definition: ImportDefinition, state: ImportState, chunk: list[Record]) -> None:
        assert state.file is not None and state.run is not None
        cursor, run = state.file, state.run
        operations: list[dict[str, object]] = []
        for record in chunk:
            run.rows += 1
            if record.cells is None:
                run.fail_row(cursor.key, record.line, record.error or "unreadable")
                continue
            try:
                planned = plan_row(definition, record.cells, record.line, self.max_array)
            except RowError as refused:
                run.fail_row(cursor.key, record.line, str(refused))
                continue
            if planned is None:
                run.skipped += 1
            else:
                operations.append(planned)
        if operations:
            message_id = f"{definition.import_id}|{cursor.key}|{cursor.etag}|{chunk[0].line}"
            self._write(state, Message(message_id, group_of_import(definition.import_id), operations))
        cursor.offset, cursor.line = chunk[-1].end, chunk[-1].next_line
        self._save(state)

    def _write(self, state: ImportState, message: Message) -> None:
        """The chunk's rows applied; if the writer refuses the chunk for what is in it (not for AWS), each row is
        applied alone under the chunk's id (a row the chunk's attempt wrote is then seen, not applied twice), and a
        row refused alone is a bad row: one row must not block its file."""
        assert state.run is not None and state.file is not None
        try:
            reports = [self.writer.write([message])]
        except (Unavailable, WriteConflict):
            raise  # AWS, or writers racing: the run's message is delivered again and goes on from this chunk
        except (ValueError, TypeError, OverflowError, RecursionError):  # what a row holds: found row by row below
            reports = []
            for operation in message.operations:
                try:
                    reports.append(self.writer.write([Message(message.message_id, message.group, [operation])]))
                except (Unavailable, WriteConflict):
                    raise
                except (ValueError, TypeError, OverflowError, RecursionError):
                    state.run.fail_row(state.file.key, int(operation["index"]), "the profile could not store a value")
        for report in reports:
            outcomes = report.outcomes
            state.run.created += outcomes["created"]
            state.run.updated += outcomes["updated"] + outcomes["seen"]
            state.run.skipped += outcomes["unchanged"] + outcomes["missing"]

    def _done_with_file(self, state: ImportState) -> None:
        assert state.file is not None and state.run is not None
        state.done_key = state.file.key
        state.file = None
        state.run.files += 1
        self._save(state)

    def _save(self, state: ImportState) -> None:
        state.heartbeat_ms = self.clock.now_ms()
        self.store.save_state(state)

    def _end(self, definition: ImportDefinition, state: ImportState, status: str, error: str | None = None) -> str:
        assert state.run is not None
        run = replace(state.run, status=status, error=error, finished_ms=self.clock.now_ms())
        self.store.add_run(definition.import_id, run)
        state.run = None  # a failed run's file cursor stays: the next run goes on from there
        self._save(state)
        if status == "failed" or run.failed_total:
            self.notifier.notify(
                "import_failed" if status == "failed" else "import_rows_failed",
                import_id=definition.import_id,
                run_id=run.run_id,
                reason=error,
                rows=run.rows,
                failed=run.failed_total,
            )
        return status


def _take(records: Iterator[Record], count: int) -> list[Record]:
    taken: list[Record] = []
    for record in records:
        taken.append(record)
        if len(taken) == count:
            break
    return taken


def _close(chunks: Iterator[bytes]) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
