"""Import runs (imports/runner.py, imports/schedule.py) on in-memory ports and the real profile writer: delta files
in key order each once, the five strategies, per-row failures, a second run importing nothing new, a crash midway
resumed without applying a row twice, a run handed back near its deadline, and runs that fail."""

from __future__ import annotations

import json
from typing import Any

import pytest

from audience_sync.imports.definitions import ImportDefinition, parse
from audience_sync.imports.exceptions import ImportDisabled, ImportRunning
from audience_sync.imports.runner import ImportRunner
from audience_sync.imports.schedule import STALE_MS, ImportScheduler
from audience_sync.profiles.document import PROFILE, home_pk
from audience_sync.profiles.identity import email_key, external_id_key
from audience_sync.profiles.writer import ProfileWriter
from tests.fakes.import_fakes import FakeImportQueue, FakeImportStore, FakeObjectSource
from tests.fakes.profile_fakes import Crash, FakeProfileStore
from tests.fakes.sync_fakes import FakeClock, FakeNotifier

NOW = 1_796_000_000_000
FAR = NOW + 10**9
BUCKET = "blueconic-exchange"
MAPPINGS = [
    {"column": "plan", "attribute": "plan", "strategy": "set"},
    {"column": "tag", "attribute": "tags", "strategy": "add"},
    {"column": "points", "attribute": "points", "strategy": "sum"},
    {"column": "city", "attribute": "home_city", "strategy": "set_if_empty"},
    {"column": "coupon", "attribute": "coupon", "strategy": "clear_if_empty"},
]
HEADER = "id,plan,tag,points,city,coupon\n"


def definition(**changes: Any) -> ImportDefinition:
    body: dict[str, Any] = {
        "bucket": BUCKET,
        "prefix": "in/",
        "format": "csv",
        "every_minutes": 60,
        "identifier": {"column": "id", "type": "external_id"},
        "mappings": MAPPINGS,
        "allow_create": True,
        "enabled": True,
    }
    body.update(changes)
    return parse("blueconic", body)


class World:
    def __init__(self, chunk_rows: int = 2, **changes: Any):
        self.store = FakeImportStore()
        self.objects = FakeObjectSource()
        self.objects.buckets[BUCKET] = {}
        self.queue = FakeImportQueue()
        self.profiles = FakeProfileStore()
        self.notifier = FakeNotifier()
        self.clock = FakeClock(NOW)
        self.writer = ProfileWriter(self.profiles, self.clock, max_array=25)
        self.runner = ImportRunner(
            self.store, self.objects, self.queue, self.writer, self.notifier, self.clock, 25, chunk_rows=chunk_rows
        )
        self.scheduler = ImportScheduler(self.store, self.queue, self.clock)
        self.definition = definition(**changes)
        self.store.put_definition(self.definition)

    def run(self, deadline: int = FAR) -> dict[str, Any]:
        run_id = self.scheduler.start(self.definition)
        while self.runner.run("blueconic", run_id, deadline) == "continued":
            pass
        (finished, *_) = self.store.runs("blueconic", 1)
        return vars(finished)

    def profile(self, external_id: str) -> dict[str, Any]:
        item = self.profiles.items[(home_pk(external_id_key(external_id)), PROFILE)]
        return item.doc


def test_delta_files_are_imported_in_key_order_with_each_strategy_and_a_report() -> None:
    world = World()
    world.objects.drop(BUCKET, "in/2026-12-02.csv", (HEADER + "u1,platinum,b,5,Lyon,\n").encode())
    world.objects.drop(BUCKET, "in/2026-12-01.csv", (HEADER + "u1,gold,a,10,Paris,C1\nu2,,,,,\n").encode())
    world.objects.drop(BUCKET, "elsewhere/x.csv", (HEADER + "u9,gold,,,,\n").encode())

    report = world.run()

    assert (report["status"], report["files"], report["rows"]) == ("done", 2, 3)
    assert (report["created"], report["updated"], report["skipped"], report["failed"]) == (2, 1, 0, [])
    u1 = world.profile("u1")
    # set: the newer file's; add: both, in order; sum: 10 + 5; set_if_empty: the first city stays;
    # clear_if_empty: C1, then cleared by the empty cell
    assert u1["custom"] == {"plan": "platinum", "tags": ["a", "b"], "points": 15}
    assert u1["fields"]["home_city"] == "Paris"
    assert "coupon" not in world.profile("u2")["custom"]
    assert (home_pk(external_id_key("u9")), PROFILE) not in world.profiles.items  # not under the prefix
    assert world.notifier.sent == []


def test_a_second_run_imports_nothing_new_and_a_new_file_alone_next() -> None:
    world = World()
    world.objects.drop(BUCKET, "in/a.csv", (HEADER + "u1,gold,,1,,\n").encode())
    world.run()

    again = world.run()
    assert (again["files"], again["rows"], again["created"], again["updated"]) == (0, 0, 0, 0)

    world.objects.drop(BUCKET, "in/b.csv", (HEADER + "u1,,,2,,\n").encode())
    third = world.run()
    assert (third["files"], third["rows"], third["updated"]) == (1, 1, 1)
    assert world.profile("u1")["custom"]["points"] == 3  # a.csv's 1 was not added again


def test_each_bad_row_is_named_and_passed_over_never_aborting_the_file() -> None:
    world = World(allow_create=False)
    world.profiles.items.clear()
    rows = [
        "u1,gold,,x,,",  # line 2: points is not a number
        ",gold,,,,",  # line 3: no identifier
        "u2,gold,,,",  # line 4: a cell missing
        "u3,gold,,,,",  # line 5: unknown user, may not create: skipped
        "u4,,,,,",  # line 6: nothing to change, may not create: skipped
    ]
    world.objects.drop(BUCKET, "in/a.csv", (HEADER + "\n".join(rows) + "\n").encode() + b"u5,\xff,,,,\n")

    report = world.run()

    assert report["rows"] == 6 and report["skipped"] == 2 and report["created"] == report["updated"] == 0
    assert [(f["line"], f["reason"]) for f in report["failed"]] == [
        (2, "'points' is not a number"),
        (3, "the identifier's cell 'id' is empty"),
        (4, "5 cells where the header has 6"),
        (7, "not UTF-8 text"),
    ]
    assert all(f["file"] == "in/a.csv" for f in report["failed"])
    assert report["failed_total"] == 4
    assert world.notifier.sent[0][0] == "import_rows_failed"  # the run's outcome, counts only
    assert "gold" not in json.dumps(world.notifier.sent)


def test_a_file_whose_header_lacks_a_mapped_column_is_one_failed_row_and_is_passed_over() -> None:
    world = World()
    world.objects.drop(BUCKET, "in/a.csv", b"id,plan\nu1,gold\n")
    world.objects.drop(BUCKET, "in/b.csv", (HEADER + "u1,gold,,,,\n").encode())

    report = world.run()

    assert report["failed"] == [{"file": "in/a.csv", "line": 1, "reason": "the header has no column 'tag'"}]
    assert (report["files"], report["rows"], report["created"]) == (2, 1, 1)


def test_ndjson_rows_keep_their_json_types() -> None:
    world = World(format="ndjson", mappings=[{"column": "tags", "attribute": "tags", "strategy": "add"}, MAPPINGS[2]])
    lines = [
        {"id": "u1", "tags": ["a", "b"], "points": 2.5},
        {"id": "u1", "points": 1},
        [1],
        {"id": "u2", "tags": None},
    ]
    world.objects.drop(BUCKET, "in/a.ndjson", "\n".join(json.dumps(x) for x in lines).encode())

    report = world.run()

    assert world.profile("u1")["custom"] == {"tags": ["a", "b"], "points": 3.5}
    assert [(f["line"], f["reason"]) for f in report["failed"]] == [(3, "not a JSON object")]
    assert (report["rows"], report["created"], report["updated"]) == (4, 2, 1)


def test_a_crash_midway_is_resumed_and_no_row_is_applied_twice() -> None:
    world = World(chunk_rows=3)
    rows = "".join(f"u{n % 4},,,1,,\n" for n in range(20))  # 20 rows over 4 users: 5 points each
    world.objects.drop(BUCKET, "in/a.csv", (HEADER + rows).encode())
    run_id = world.scheduler.start(world.definition)
    world.profiles.crash_after_writes = 9  # mid-chunk: some of a chunk's rows written, its checkpoint not

    with pytest.raises(Crash):
        world.runner.run("blueconic", run_id, FAR)
    assert world.runner.run("blueconic", run_id, FAR) == "done"  # the message delivered again

    assert [world.profile(f"u{n}")["custom"]["points"] for n in range(4)] == [5, 5, 5, 5]
    (report,) = world.store.runs("blueconic", 1)
    assert report.rows == 20 and report.created + report.updated + report.skipped == 20


def test_a_run_near_its_deadline_hands_itself_back_and_goes_on_from_its_chunk() -> None:
    world = World(chunk_rows=2)
    world.objects.drop(BUCKET, "in/a.csv", (HEADER + "".join(f"u{n},,,1,,\n" for n in range(5))).encode())
    run_id = world.scheduler.start(world.definition)

    assert world.runner.run("blueconic", run_id, NOW + 1000) == "continued"
    assert world.queue.queued[-1] == ("blueconic", run_id)
    assert world.objects.reads == [("in/a.csv", 0), ("in/a.csv", len(HEADER))]  # the header, then the rows
    assert world.runner.run("blueconic", run_id, FAR) == "done"
    assert world.objects.reads[-1][1] > len(HEADER)  # went on after the first chunk
    (report,) = world.store.runs("blueconic", 1)
    assert (report.rows, report.created) == (5, 5)


def test_a_missing_bucket_fails_the_run_and_notifies() -> None:
    world = World()
    world.objects.refuse = "bucket_access_denied"

    report = world.run()

    assert (report["status"], report["error"]) == ("failed", "bucket_access_denied")
    assert world.notifier.sent[0][0] == "import_failed"
    assert world.store.state("blueconic").run is None  # the next run may start


def test_a_file_replaced_while_read_fails_the_run_rather_than_apply_rows_twice() -> None:
    world = World(chunk_rows=1)
    world.objects.drop(BUCKET, "in/a.csv", (HEADER + "u1,,,1,,\nu2,,,1,,\n").encode())
    run_id = world.scheduler.start(world.definition)
    assert world.runner.run("blueconic", run_id, NOW + 1000) == "continued"
    world.objects.drop(BUCKET, "in/a.csv", (HEADER + "u1,,,1,,\nu2,,,1,,\nu3,,,1,,\n").encode())

    assert world.runner.run("blueconic", run_id, FAR) == "failed"
    (report,) = world.store.runs("blueconic", 1)
    assert report.error == "object_changed"
    assert report.failed[0]["reason"].startswith("the file changed while it was imported: lines from 3")
    assert world.profile("u1")["custom"]["points"] == 1


def test_identifiers_by_email_and_alias() -> None:
    world = World(identifier={"column": "id", "type": "email"})
    world.objects.drop(BUCKET, "in/a.csv", (HEADER + "Ana@Example.com,gold,,,,\n").encode())
    world.run()
    pointer = world.profiles.items[(home_pk(email_key("ana@example.com")), PROFILE)]
    profile = world.profiles.items[(pointer.doc["to"], PROFILE)]  # an email names a profile through a pointer
    assert profile.doc["custom"] == {"plan": "gold"} and profile.doc["fields"]["email"] == "Ana@Example.com"

    alias = World(identifier={"column": "id", "type": "alias:blueconic_id"})
    alias.objects.drop(BUCKET, "in/a.csv", (HEADER + "bc-1,gold,,,,\n").encode())
    assert alias.run()["created"] == 1


def test_the_schedule_starts_due_imports_every_n_minutes_and_requeues_a_dead_run() -> None:
    world = World()
    assert len(world.scheduler.tick()) == 1  # never run: due
    assert world.scheduler.tick() == []  # running
    run_id = world.store.state("blueconic").run.run_id  # type: ignore[union-attr]
    world.runner.run("blueconic", run_id, FAR)
    world.clock.now += 59 * 60_000
    assert world.scheduler.tick() == []  # 59 minutes later: not due
    world.clock.now += 60_000
    started = world.scheduler.tick()
    assert len(started) == 1

    queued = len(world.queue.queued)
    world.clock.now += STALE_MS + 1  # its function died: no progress heard of
    assert world.scheduler.tick() == []
    assert world.queue.queued[-1] == ("blueconic", started[0]) and len(world.queue.queued) == queued + 1


def test_a_disabled_or_running_import_does_not_start() -> None:
    world = World(enabled=False)
    with pytest.raises(ImportDisabled):
        world.scheduler.start(world.definition)
    assert world.scheduler.tick() == []

    running = World()
    running.scheduler.start(running.definition)
    with pytest.raises(ImportRunning):
        running.scheduler.start(running.definition)


def test_an_unclosed_quote_costs_one_row_and_a_long_line_is_reported() -> None:
    world = World(chunk_rows=50)
    long_cell = "x" * (1024 * 1024 + 10)
    rows = ["X-1,gold,,,,", 'X-2,"gold,,,,', "X-3,silver,,,,", f"X-4,{long_cell},,,,", "X-5,bronze,,,,"]
    world.objects.drop(BUCKET, "in/a.csv", (HEADER + "\n".join(rows) + "\n").encode())

    report = world.run()

    assert [(f["line"], f["reason"]) for f in report["failed"]] == [
        (3, "an unclosed quote"),
        (5, "a line longer than 1,048,576 bytes"),
    ]
    assert (report["rows"], report["created"]) == (5, 3)
    assert {n: world.profile(n)["custom"]["plan"] for n in ("X-1", "X-3", "X-5")} == {
        "X-1": "gold",
        "X-3": "silver",
        "X-5": "bronze",
    }


def test_ndjson_lines_that_nest_too_deep_or_hold_no_unicode_are_bad_rows_not_a_stuck_run() -> None:
    world = World(format="ndjson", mappings=[MAPPINGS[0]])
    lines = [b'{"id": "u1", "plan": "gold"}', b'{"id": "u2", "plan": "' + b"[" * 100_000 + b'"}', b"[" * 100_000]
    lines += [b'{"id": "u3", "plan": "\\ud800"}', b'{"id": 4, "plan": "silver"}']
    world.objects.drop(BUCKET, "in/a.ndjson", b"\n".join(lines))

    report = world.run()

    assert report["status"] == "done"
    assert [(f["line"], f["reason"]) for f in report["failed"]] == [(3, "JSON nested too deep"), (4, "not UTF-8 text")]
    assert world.profile("4")["custom"] == {"plan": "silver"}  # a number as an id is its text
    assert report["rows"] == report["created"] + report["updated"] + report["skipped"] + report["failed_total"]


def test_a_row_the_writer_cannot_store_is_a_bad_row_and_the_others_are_applied_once() -> None:
    world = World(chunk_rows=10)
    original = world.writer.write

    def fussy(messages: Any) -> Any:
        if any(op.get("set", {}).get("plan") == "boom" for m in messages for op in m.operations):
            raise UnicodeEncodeError("utf-8", "x", 0, 1, "surrogates not allowed")
        return original(messages)

    world.runner.writer = type("Fussy", (), {"write": staticmethod(fussy)})()
    world.objects.drop(BUCKET, "in/a.csv", (HEADER + "u1,gold,,1,,\nu2,boom,,1,,\nu3,gold,,1,,\n").encode())

    report = world.run()

    assert report["failed"] == [{"file": "in/a.csv", "line": 3, "reason": "the profile could not store a value"}]
    assert (report["created"], report["failed_total"]) == (2, 1)
    assert [world.profile(u)["custom"]["points"] for u in ("u1", "u3")] == [1, 1]


def test_file_failures_are_listed_apart_from_rows_and_the_counts_add_up() -> None:
    world = World()
    world.objects.drop(BUCKET, "in/a.csv", b"id,plan\nu1,gold\n")  # lacks mapped columns
    world.objects.drop(BUCKET, "in/b.csv", b"")  # empty
    world.objects.drop(BUCKET, "in/c.csv", (HEADER + "u1,gold,,,,\n").encode())

    report = world.run()

    assert [(f["file"], f["line"]) for f in report["failed"]] == [("in/a.csv", 1), ("in/b.csv", 1)]
    assert (report["files"], report["files_failed"], report["rows"], report["failed_total"]) == (3, 2, 1, 0)
    assert report["rows"] == report["created"] + report["updated"] + report["skipped"] + report["failed_total"]


def test_a_failed_run_is_gone_on_with_where_it_stopped() -> None:
    world = World(chunk_rows=2)
    world.objects.drop(BUCKET, "in/a.csv", (HEADER + "".join(f"u{n},,,1,,\n" for n in range(6))).encode())
    run_id = world.scheduler.start(world.definition)
    assert world.runner.run("blueconic", run_id, NOW + 1000) == "continued"  # one chunk
    world.objects.refuse = "bucket_not_found"
    assert world.runner.run("blueconic", run_id, FAR) == "failed"
    world.objects.refuse = None

    report = world.run()

    assert (report["rows"], report["created"]) == (4, 4)  # lines 4-7, not the first chunk again


def test_the_bad_rows_listed_are_bounded_in_number_and_size() -> None:
    from audience_sync.imports.ports import MAX_FAILED_BYTES, MAX_FAILED_LISTED, Run

    run = Run("r", 0)
    for line in range(3 * MAX_FAILED_LISTED):
        run.fail_row("k" * 1000, line, "reason")
    assert run.failed_total == 3 * MAX_FAILED_LISTED
    assert len(json.dumps(run.failed)) <= MAX_FAILED_BYTES + 10_000 and len(run.failed) < MAX_FAILED_LISTED
