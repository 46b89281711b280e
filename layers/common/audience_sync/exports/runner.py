"""The export function's work: one job, from a segment's members to S3. Pure but for its ports.

Members are read from the members' index page by page and their profiles in batches (strongly consistent reads),
each member's profile once; users are encoded and written as they are read, so memory holds one file's users, never
the segment. A member whose profile is gone (deleted since) is left out; `rows` counts the users written.

Crash semantics:
- `bucket`: a file per FILE_USERS members, numbered. After each file the job records the members' cursor, its rows and
  files: a crash resumes after the last recorded file, and the next file is written again whole under the same key,
  so no user is doubled or lost. A run nearing its deadline records where it is and hands the job back to the queue
  (a segment of millions takes longer than one Lambda's 15 minutes).
- `url` and `csv`: one object written as a stream (a multipart upload). A crash leaves an unfinished upload, which S3
  drops (the bucket's lifecycle), and the job's next delivery starts over from the first member.
- A job started MAX_ATTEMPTS times without progress is failed, its segment freed, the failure notified.
- Once the job is recorded done (or failed), its callback is posted (CALLBACK_ATTEMPTS tries); a callback that fails
  is notified on the integration-errors topic and never fails the export (its files are there).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from audience_sync.core.clock import Clock
from audience_sync.exports.exceptions import ExportFailed
from audience_sync.exports.files import ZipStream, csv_text, entry_name, gzip_file, user_line, zip_file
from audience_sync.exports.jobs import DONE, FAILED, FILE_USERS, ExportJob, Status
from audience_sync.exports.ports import Callbacks, ExportJobs, ExportQueue, MemberPages, ObjectStore, ProfileReads
from audience_sync.exports.requests import CSV_FIELDS
from audience_sync.observability.notifications import Notifier
from audience_sync.profiles.document import PROFILE, export_view, follow, home_pk
from audience_sync.profiles.identity import external_id_key
from audience_sync.profiles.ports import Item
from audience_sync.profiles.values import plain
from audience_sync.segments.ports import Member

MAX_ATTEMPTS = 3
PAGE = 1000  # members read at once (the members' index pages at most 1,000)
DEADLINE_MARGIN_MS = 120_000  # what a `bucket` run keeps for one more file before it hands the job back
CALLBACK_ATTEMPTS = 3
CALLBACK_PAUSE_SECONDS = 2.0
END = "-"  # a `bucket` job's cursor once every member is written (a members' cursor is never "-")
ACTIVITY = frozenset({"custom_events", "purchases"})

Profile = tuple[Item, list[tuple[str, dict[str, Any]]]]  # a profile and its events' and purchases' summaries


class ExportRunner:
    def __init__(
        self,
        jobs: ExportJobs,
        queue: ExportQueue,
        members: MemberPages,
        profiles: ProfileReads,
        objects: ObjectStore,
        callbacks: Callbacks,
        notifier: Notifier,
        clock: Clock,
        url_seconds: int,
        lock_seconds: int,
        file_users: int = FILE_USERS,
    ):
        self.jobs = jobs
        self.queue = queue
        self.members = members
        self.profiles = profiles
        self.objects = objects
        self.callbacks = callbacks
        self.notifier = notifier
        self.clock = clock
        self.url_seconds = url_seconds
        self.lock_seconds = lock_seconds
        self.file_users = file_users

    def run(self, export_id: str, deadline_ms: int) -> str:
        """Run (or go on with) a job: `done`, `failed`, `continued` (handed back to the queue) or `skipped` (unknown
        or already finished: a message delivered again). Store and S3 failures other than ExportFailed raise: the
        message is delivered again."""
        job = self.jobs.get(export_id)
        if job is None or job.finished:
            return "skipped"
        job = replace(job, attempts=job.attempts + 1)
        if job.attempts > MAX_ATTEMPTS:
            return self._end(job, FAILED, "attempts")
        self._progress(job)
        try:
            if job.spec.output == "bucket":
                job, more = self._files(job, deadline_ms)
                if more:
                    self.queue.enqueue(export_id)
                    return "continued"
            else:
                job = self._one_object(job)
        except ExportFailed as failed:
            return self._end(job, FAILED, failed.code)
        return self._end(job, DONE)

    # ---- reading -------------------------------------------------------------------------------------------
    def _batches(self, job: ExportJob, cursor: str | None) -> Iterator[tuple[list[Profile], str | None]]:
        """The members' live profiles, `file_users` members at a time, each with the cursor after it (None: the
        last). Pages end where a batch does, so a batch's cursor is exact."""
        while True:
            batch: list[Member] = []
            while len(batch) < self.file_users:
                limit = min(PAGE, self.file_users - len(batch))
                page, cursor = self.members.members(job.spec.segment_id, limit, cursor)
                batch += page
                if cursor is None:
                    break
            yield self._read(batch, activity=bool(ACTIVITY & set(job.spec.fields))), cursor
            if cursor is None:
                return

    def _read(self, members: list[Member], activity: bool) -> list[Profile]:
        homes = {
            m.braze_id: m.home or (home_pk(external_id_key(m.external_id)) if m.external_id else None) for m in members
        }
        found = self.profiles.get([(home, PROFILE) for home in homes.values() if home is not None])
        read: list[Profile] = []
        for member in members:
            home = homes[member.braze_id]
            item = found.get((home, PROFILE)) if home is not None else None
            if item is not None and "to" in item.doc:  # the profile moved (an identify): follow its pointers
                moved = follow(item, lambda pk: self.profiles.get([(pk, PROFILE)]).get((pk, PROFILE)))
                item = self.profiles.get([(moved, PROFILE)]).get((moved, PROFILE)) if moved else None
            if item is None or item.doc.get("braze_id") != member.braze_id:
                continue  # deleted since it entered (its exit is on its way)
            summaries = [(i.sk, i.doc) for i in self.profiles.items_of(item.pk) if i.sk != PROFILE] if activity else []
            read.append((item, summaries))
        return read

    # ---- encoding ------------------------------------------------------------------------------------------
    def _user(self, job: ExportJob, profile: Profile) -> dict[str, Any]:
        item, summaries = profile
        view = export_view(item.doc, summaries, job.spec.fields)
        chosen = job.spec.custom_attributes
        if chosen is not None and "custom_attributes" not in job.spec.fields:
            custom = item.doc.get("custom", {})
            picked = {name: plain(custom[name]) for name in chosen if name in custom}
            if picked:
                view["custom_attributes"] = picked
        return view

    def _row(self, job: ExportJob, profile: Profile) -> list[Any]:
        doc = profile[0].doc
        standard = export_view(doc, [], [f for f in job.spec.fields if f in CSV_FIELDS])
        custom = doc.get("custom", {})
        row: list[Any] = [doc.get("external_id")]
        for name in job.spec.fields:
            row.append(standard.get(name) if name in CSV_FIELDS else plain(custom.get(name)))
        return row

    # ---- writing -------------------------------------------------------------------------------------------
    def _files(self, job: ExportJob, deadline_ms: int) -> tuple[ExportJob, bool]:
        """A `bucket` export from where it was: (the job, True if it must go on in another run)."""
        if job.cursor == END:
            return job, False
        for profiles, cursor in self._batches(job, job.cursor):
            lines = [user_line(self._user(job, p)) for p in profiles]
            files = job.files
            if lines or (cursor is None and files == 0):  # no empty file, but one for an empty segment
                key = job.file_key(files)
                if job.spec.compression == "gzip":
                    self.objects.put(job.bucket, key, gzip_file(lines), "application/gzip")
                else:
                    self.objects.put(job.bucket, key, zip_file(entry_name(files), lines), "application/zip")
                files += 1
            job = replace(job.progressed(job.rows + len(lines), files, cursor or END), attempts=0)
            self._progress(job)
            if cursor is not None and self.clock.now_ms() > deadline_ms - DEADLINE_MARGIN_MS:
                return job, True
        return job, False

    def _one_object(self, job: ExportJob) -> ExportJob:
        """A `url` zip or a `csv`, streamed from the first member."""
        job = job.progressed(0, 0, None)
        csv = job.spec.output == "csv"
        stream = self.objects.stream(job.bucket, job.key, "text/csv; charset=utf-8" if csv else "application/zip")
        try:
            archive = None if csv else ZipStream(stream)
            if csv:
                stream.write(csv_text([["external_id", *job.spec.fields]]))
            for profiles, _ in self._batches(job, None):
                if archive is not None:
                    archive.add(entry_name(job.files), (user_line(self._user(job, p)) for p in profiles))
                else:
                    stream.write(csv_text([self._row(job, p) for p in profiles]))
                job = job.progressed(job.rows + len(profiles), job.files + 1, None)
                self._progress(job)
            if archive is not None:
                archive.close()
            stream.close()
        except BaseException:
            stream.abort()
            raise
        return job

    def _progress(self, job: ExportJob) -> None:
        """Record where the job is, and keep its segment's lock for another lock period (a long export stays the
        segment's one running export; one that died frees it a period after it was last heard of)."""
        self.jobs.save(job, self.clock.now_ms() + self.lock_seconds * 1000)

    # ---- the end -------------------------------------------------------------------------------------------
    def _end(self, job: ExportJob, status: Status, error: str | None = None) -> str:
        job = job.ended(status, self.clock.now_ms(), error)
        self.jobs.finish(job)
        if status == FAILED:
            self.notifier.notify("export_failed", export_id=job.export_id, segment_id=job.spec.segment_id, reason=error)
        if job.spec.callback is not None:
            self._callback(job)
        return status

    def _callback(self, job: ExportJob) -> None:
        assert job.spec.callback is not None
        body: dict[str, Any] = {"success": job.status == DONE}
        if job.status == DONE and job.spec.output == "url":
            body["url"] = self.objects.presign(job.bucket, job.key, self.url_seconds)
        for attempt in range(CALLBACK_ATTEMPTS):
            if attempt:
                self.clock.sleep(CALLBACK_PAUSE_SECONDS * attempt)
            status = self.callbacks.post(job.spec.callback, json.dumps(body))
            if 200 <= status < 300:
                return
        self.notifier.notify("export_callback_failed", export_id=job.export_id, status=status)
