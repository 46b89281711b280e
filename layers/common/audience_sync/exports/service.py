"""Exports behind the HTTP edge: Braze's `POST /users/export/segment`, the management API's `POST
/v1/segments/{id}/exports` (CSV) and `GET /v1/exports/{id}`. A request is checked whole, its job stored with its
segment's lock (one running export per segment: a second is a 429), then queued for the export function
(exports/runner.py). A job that could not be queued is failed at once (its segment freed) and the request answered
503: nothing runs that the client was not told of."""

from __future__ import annotations

import re
import uuid
from typing import Any

from audience_sync.core.clock import Clock
from audience_sync.core.errors import NotFound
from audience_sync.exports.jobs import DONE, FAILED, ExportJob, ExportSpec
from audience_sync.exports.ports import ExportJobs, ExportQueue, ObjectStore, Segments
from audience_sync.exports.requests import csv_export, segment_export
from audience_sync.profiles.values import format_ms

_EXPORT_ID = re.compile(r"^[0-9a-f-]{32,36}(-[0-9]{1,12})?$")


class ExportService:
    def __init__(
        self,
        jobs: ExportJobs,
        queue: ExportQueue,
        objects: ObjectStore,
        segments: Segments,
        clock: Clock,
        files_bucket: str,
        customer_bucket: str | None,
        url_seconds: int,
        lock_seconds: int,
    ):
        self.jobs = jobs
        self.queue = queue
        self.objects = objects
        self.segments = segments
        self.clock = clock
        self.files_bucket = files_bucket
        self.customer_bucket = customer_bucket
        self.url_seconds = url_seconds
        self.lock_seconds = lock_seconds

    def _start(self, export_id: str, spec: ExportSpec, now_ms: int) -> ExportJob:
        self.segments.exportable(spec.segment_id)
        bucket = self.customer_bucket if spec.output == "bucket" and self.customer_bucket else self.files_bucket
        job = ExportJob(export_id, spec, bucket=bucket, created_ms=now_ms)
        self.jobs.create(job, now_ms + self.lock_seconds * 1000)
        try:
            self.queue.enqueue(export_id)
        except Exception:
            self.jobs.finish(job.ended(FAILED, self.clock.now_ms(), "not_queued"))
            raise
        return job

    def segment_export(self, body: dict[str, Any]) -> dict[str, Any]:
        """Braze's export: `object_prefix` (`<uuid>-<unix seconds>`, also the export's id), and without a customer
        bucket the `url` the zip will be at."""
        spec = segment_export(body, self.customer_bucket is not None)
        now_ms = self.clock.now_ms()
        job = self._start(f"{uuid.uuid4()}-{now_ms // 1000}", spec, now_ms)
        reply: dict[str, Any] = {"message": "success", "object_prefix": job.export_id}
        if spec.output == "url":
            reply["url"] = self.objects.presign(job.bucket, job.key, self.url_seconds)
        return reply

    def csv_export(self, segment_id: str, body: dict[str, Any]) -> dict[str, Any]:
        spec = csv_export(segment_id, body)
        job = self._start(uuid.uuid4().hex, spec, self.clock.now_ms())
        return {"export_id": job.export_id}

    def status(self, export_id: str) -> dict[str, Any]:
        job = self.jobs.get(export_id) if _EXPORT_ID.match(export_id) else None
        if job is None:
            raise NotFound("export", "export_not_found")
        view: dict[str, Any] = {
            "export_id": job.export_id,
            "segment_id": job.spec.segment_id,
            "format": "csv" if job.spec.output == "csv" else job.spec.compression,
            "status": job.status,
            "rows": job.rows,
            "files": job.files,
            "created_at": format_ms(job.created_ms),
            "finished_at": format_ms(job.finished_ms) if job.finished_ms is not None else None,
            "url": None,
            "expires_at": None,
        }
        if job.status == FAILED:
            view["error"] = job.error
        if job.spec.output == "bucket":
            view["bucket"], view["object_prefix"] = job.bucket, job.prefix
        elif job.status == DONE:  # a fresh link each time it is asked for
            now_ms = self.clock.now_ms()
            view["url"] = self.objects.presign(job.bucket, job.key, self.url_seconds)
            view["expires_at"] = format_ms(now_ms + self.url_seconds * 1000)
        return view
