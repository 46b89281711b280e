"""The export runner (exports/runner.py) on in-memory ports: every member once in Braze's files, resumed after a crash
without doubles, handed back near its deadline, one zip or CSV streamed, the callback, and failures reported."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from typing import Any

import pytest

from audience_sync.exports.exceptions import ExportFailed
from audience_sync.exports.jobs import FILE_USERS, ExportJob, ExportSpec
from audience_sync.exports.runner import MAX_ATTEMPTS, ExportRunner
from audience_sync.profiles.document import PROFILE, event_sk, home_pk, new_profile, pointer_to
from audience_sync.profiles.identity import external_id_key
from audience_sync.profiles.ports import Item
from audience_sync.segments.ports import Member
from tests.fakes.export_fakes import (
    Broken,
    FakeCallbacks,
    FakeExportJobs,
    FakeExportQueue,
    FakeMemberPages,
    FakeObjectStore,
)
from tests.fakes.profile_fakes import FakeProfileStore
from tests.fakes.sync_fakes import FakeClock, FakeNotifier

NOW = 1_796_000_000_000  # 2026-11-30T..Z
FAR = NOW + 10**9  # a deadline that never comes


SMALL = 4  # users a file in most tests (the real SMALL in the first)


class World:
    def __init__(self, users: int = 0, file_users: int = SMALL):
        self.jobs = FakeExportJobs()
        self.queue = FakeExportQueue()
        self.members = FakeMemberPages()
        self.profiles = FakeProfileStore()
        self.objects = FakeObjectStore()
        self.callbacks = FakeCallbacks()
        self.notifier = FakeNotifier()
        self.clock = FakeClock(NOW)
        self.runner = ExportRunner(
            self.jobs,
            self.queue,
            self.members,
            self.profiles,
            self.objects,
            self.callbacks,
            self.notifier,
            self.clock,
            url_seconds=3600,
            lock_seconds=7200,
            file_users=file_users,
        )
        for n in range(users):
            self.user(f"u{n}", plan="gold" if n % 2 else "free")

    def user(self, external_id: str, **custom: Any) -> Member:
        home = home_pk(external_id_key(external_id))
        doc = new_profile("b-" + external_id, external_id, "2026-11-01T00:00:00.000Z")
        doc["fields"] = {"first_name": "Ana", "email": f"{external_id}@example.com"}
        doc["custom"] = dict(custom)
        self.profiles.items[(home, PROFILE)] = Item(home, PROFILE, doc, 1)
        member = Member("b-" + external_id, external_id, "2026-11-02T00:00:00.000Z", home)
        self.members.members_of("vip").append(member)
        return member

    def start(self, output: str = "bucket", **spec: Any) -> ExportJob:
        fields = spec.pop("fields", ("external_id", "email", "custom_attributes"))
        job = ExportJob("e-1", ExportSpec("vip", output, tuple(fields), **spec), "bucket-1", NOW)  # type: ignore[arg-type]
        self.jobs.create(job, NOW + 7_200_000)
        return job


def _lines(data: bytes, key: str) -> list[dict[str, Any]]:
    if key.endswith(".gz"):
        text = gzip.decompress(data)
    else:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            text = b"".join(archive.read(name) for name in archive.namelist())
    return [json.loads(line) for line in text.splitlines()]


def _bucket_users(world: World) -> list[dict[str, Any]]:
    users: list[dict[str, Any]] = []
    for (_, key), data in sorted(world.objects.objects.items()):
        users += _lines(data, key)
    return users


def test_a_bucket_export_writes_every_member_once_in_files_of_5000_at_brazes_layout() -> None:
    world = World(2 * FILE_USERS + 1, file_users=FILE_USERS)
    job = world.start(compression="gzip", callback="https://example.com/done")

    assert world.runner.run(job.export_id, FAR) == "done"

    keys = sorted(key for _, key in world.objects.objects)
    prefix = "segment-export/vip/2026-11-30/e-1/"
    assert keys == [f"{prefix}000000.gz", f"{prefix}000001.gz", f"{prefix}000002.gz"]
    sizes = [len(_lines(world.objects.objects[("bucket-1", k)], k)) for k in keys]
    assert sizes == [FILE_USERS, FILE_USERS, 1]
    users = _bucket_users(world)
    assert sorted(u["external_id"] for u in users) == sorted(f"u{n}" for n in range(2 * FILE_USERS + 1))
    assert users[1] == {"external_id": "u1", "email": "u1@example.com", "custom_attributes": {"plan": "gold"}}
    done = world.jobs.jobs["e-1"]
    assert (done.status, done.rows, done.files) == ("done", 2 * FILE_USERS + 1, 3)
    assert "vip" not in world.jobs.locks  # the segment is free for the next export
    assert [json.loads(body) for _, body in world.callbacks.posted] == [{"success": True}]


def test_a_crash_mid_export_resumes_after_the_last_file_recorded_nothing_doubled() -> None:
    world = World(2 * SMALL + 1)
    job = world.start()
    world.objects.fail_after = 1  # the second file's put fails: the function dies there

    with pytest.raises(Broken):
        world.runner.run(job.export_id, FAR)
    assert world.jobs.jobs["e-1"].files == 1

    assert world.runner.run(job.export_id, FAR) == "done"
    written = [key.rsplit("/", 1)[1] for _, key in world.objects.puts]
    assert written == ["000000.zip", "000001.zip", "000002.zip"]  # the first file is not written again
    users = _bucket_users(world)
    assert len(users) == len({u["external_id"] for u in users}) == 2 * SMALL + 1


def test_a_run_near_its_deadline_hands_the_job_back_to_the_queue() -> None:
    world = World(SMALL + 3)
    job = world.start()

    assert world.runner.run(job.export_id, NOW + 60_000) == "continued"  # within the margin after one file
    assert world.queue.queued == ["e-1"] and world.jobs.jobs["e-1"].files == 1
    assert world.runner.run(job.export_id, FAR) == "done"
    assert len(_bucket_users(world)) == SMALL + 3


def test_a_url_export_streams_one_zip_of_5000_user_entries_and_calls_back_with_its_link() -> None:
    world = World(SMALL + 2)
    world.profiles.items[(home_pk(external_id_key("u0")), event_sk("Order"))] = Item(
        home_pk(external_id_key("u0")), event_sk("Order"), {"first": "2026-11-01", "last": "2026-11-03", "count": 2}, 1
    )
    job = world.start(
        "url", fields=("external_id", "custom_events"), custom_attributes=("plan",), callback="https://e.com/cb"
    )

    assert world.runner.run(job.export_id, FAR) == "done"

    (stream,) = world.objects.streams
    assert stream.state == "closed" and stream.key == "exports/e-1/vip.zip"
    with zipfile.ZipFile(io.BytesIO(world.objects.objects[("bucket-1", stream.key)])) as archive:
        assert archive.namelist() == ["000000.txt", "000001.txt"]
        first = [json.loads(line) for line in archive.read("000000.txt").splitlines()]
        assert len(first) == SMALL
        assert len(archive.read("000001.txt").splitlines()) == 2
    assert first[0] == {
        "external_id": "u0",
        "custom_events": [{"name": "Order", "first": "2026-11-01", "last": "2026-11-03", "count": 2}],
        "custom_attributes": {"plan": "free"},  # custom_attributes_to_export, without all of them
    }
    (callback,) = world.callbacks.posted
    assert json.loads(callback[1]) == {
        "success": True,
        "url": "https://bucket-1.s3.example/exports/e-1/vip.zip?expires=3600",
    }


def test_members_whose_profile_is_gone_are_left_out_and_a_moved_profile_is_followed() -> None:
    world = World(3)
    del world.profiles.items[(home_pk(external_id_key("u1")), PROFILE)]  # deleted since it entered
    # u2 was identified: its old key is a pointer to where the profile is now
    old = home_pk(external_id_key("u2"))
    moved = world.profiles.items.pop((old, PROFILE))
    new_home = home_pk(external_id_key("u2-new"))
    world.profiles.items[(new_home, PROFILE)] = Item(new_home, PROFILE, moved.doc, 1)
    world.profiles.items[(old, PROFILE)] = Item(old, PROFILE, pointer_to(new_home, moved.doc), 1)
    job = world.start("url")

    world.runner.run(job.export_id, FAR)

    (stream,) = world.objects.streams
    users = _lines(world.objects.objects[("bucket-1", stream.key)], stream.key)
    assert [u["external_id"] for u in users] == ["u0", "u2"]
    assert world.jobs.jobs["e-1"].rows == 2


def test_a_csv_export_writes_a_header_then_one_row_per_member() -> None:
    world = World()
    world.user("u,1", tags=["a", "b"], score=3.5, vip=True)
    world.user("u2")
    job = world.start("csv", fields=("email", "tags", "score", "vip", "first_name"), compression="none")

    assert world.runner.run(job.export_id, FAR) == "done"

    (stream,) = world.objects.streams
    assert stream.key == "exports/e-1/vip.csv"
    rows = list(csv.reader(io.StringIO(world.objects.objects[("bucket-1", stream.key)].decode("utf-8"))))
    assert rows == [
        ["external_id", "email", "tags", "score", "vip", "first_name"],
        ["u,1", "u,1@example.com", '["a","b"]', "3.5", "true", "Ana"],
        ["u2", "u2@example.com", "", "", "", "Ana"],
    ]
    assert world.jobs.jobs["e-1"].rows == 2  # the header is not a row


@pytest.mark.parametrize("output", ["bucket", "url"])
def test_an_empty_segment_still_gives_one_empty_file(output: str) -> None:
    world = World()
    job = world.start(output)

    assert world.runner.run(job.export_id, FAR) == "done"

    (data,) = world.objects.objects.values()
    key = next(iter(world.objects.objects))[1]
    assert _lines(data, key) == []
    assert (world.jobs.jobs["e-1"].rows, world.jobs.jobs["e-1"].files) == (0, 1)


def test_a_url_export_that_keeps_crashing_starts_over_then_fails_and_frees_its_segment() -> None:
    world = World(10)
    job = world.start("url", callback="https://e.com/cb")
    for _ in range(MAX_ATTEMPTS):
        world.objects.fail_after = 0
        with pytest.raises(Broken):
            world.runner.run(job.export_id, FAR)
    assert all(stream.state == "aborted" for stream in world.objects.streams)  # nothing half-written stays

    assert world.runner.run(job.export_id, FAR) == "failed"
    failed = world.jobs.jobs["e-1"]
    assert (failed.status, failed.error) == ("failed", "attempts")
    assert "vip" not in world.jobs.locks
    assert world.notifier.sent == [("export_failed", {"export_id": "e-1", "segment_id": "vip", "reason": "attempts"})]
    assert [json.loads(body) for _, body in world.callbacks.posted] == [{"success": False}]
    assert world.runner.run(job.export_id, FAR) == "skipped"  # delivered again: nothing more happens


def test_a_bucket_that_refuses_fails_the_export_with_its_reason() -> None:
    world = World(3)
    job = world.start()
    world.objects.fail_after = 0
    world.objects.fail_with = lambda: ExportFailed("bucket_not_found")

    assert world.runner.run(job.export_id, FAR) == "failed"
    assert world.jobs.jobs["e-1"].error == "bucket_not_found"
    assert world.notifier.sent[0][1]["reason"] == "bucket_not_found"


def test_a_callback_that_fails_is_tried_three_times_then_notified_and_the_export_stays_done() -> None:
    world = World(1)
    world.callbacks.script = [500, 0, 503]
    job = world.start(callback="https://e.com/cb")

    assert world.runner.run(job.export_id, FAR) == "done"
    assert len(world.callbacks.posted) == 3
    assert world.clock.sleeps == [2.0, 4.0]  # paused between tries (the fake clock: no wall-clock wait)
    assert world.notifier.sent == [("export_callback_failed", {"export_id": "e-1", "status": 503})]
    assert world.jobs.jobs["e-1"].status == "done"


def test_a_streamed_export_is_written_batch_by_batch_as_its_members_are_read() -> None:
    world = World(3 * SMALL)
    job = world.start("csv", fields=("email",), compression="none")
    world.runner.run(job.export_id, FAR)

    (stream,) = world.objects.streams
    assert stream.data.count(b"\r\n") == 3 * SMALL + 1
    # the header, then one write per batch of SMALL members: never the segment at once
    assert len(stream.writes) == 4 and max(stream.writes) < 2 * min(stream.writes[1:])
    assert all(limit <= 1000 for _, limit, _ in world.members.pages)


def test_a_long_export_keeps_its_segment_while_it_makes_progress() -> None:
    world = World(SMALL * 3)
    job = world.start()
    assert world.runner.run(job.export_id, NOW + 60_000) == "continued"
    world.clock.now += 7_200_000  # two hours later: it is still the segment's running export
    assert world.runner.run(job.export_id, NOW + 7_200_000 + 60_000) == "continued"
    assert world.jobs.locks["vip"] == ("e-1", world.clock.now + 7_200_000)
