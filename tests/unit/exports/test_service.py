"""The export service (exports/service.py) and the bodies it takes (exports/requests.py): checked whole before
anything is stored, one running export per segment, a job that could not be queued failed at once, fresh links."""

from __future__ import annotations

import re
from typing import Any

import pytest

from audience_sync.core.errors import Invalid, NotFound, Unavailable
from audience_sync.exports.exceptions import ExportRunning
from audience_sync.exports.jobs import DONE
from audience_sync.exports.requests import MAX_CUSTOM_ATTRIBUTES
from audience_sync.exports.service import ExportService
from tests.fakes.export_fakes import FakeExportJobs, FakeExportQueue, FakeObjectStore, FakeSegments
from tests.fakes.sync_fakes import FakeClock

NOW = 1_796_000_000_000
BODY = {"segment_id": "vip", "fields_to_export": ["external_id", "email"]}


def _service(customer_bucket: str | None = None) -> tuple[ExportService, FakeExportJobs, FakeExportQueue, FakeClock]:
    jobs, queue, clock = FakeExportJobs(), FakeExportQueue(), FakeClock(NOW)
    service = ExportService(
        jobs,
        queue,
        FakeObjectStore(),
        FakeSegments({"vip", "other"}),
        clock,
        files_bucket="files",
        customer_bucket=customer_bucket,
        url_seconds=3600,
        lock_seconds=7200,
    )
    return service, jobs, queue, clock


def test_a_segment_export_answers_brazes_prefix_and_the_link_its_zip_will_have() -> None:
    service, jobs, queue, _ = _service()

    reply = service.segment_export({**BODY, "callback_endpoint": "https://example.com/cb", "X-unknown": 1})

    prefix = reply["object_prefix"]
    assert re.fullmatch(r"[0-9a-f-]{36}-1796000000", prefix)
    assert reply == {
        "message": "success",
        "object_prefix": prefix,
        "url": f"https://files.s3.example/exports/{prefix}/vip.zip?expires=3600",
    }
    assert queue.queued == [prefix]
    job = jobs.jobs[prefix]
    assert (job.spec.output, job.spec.callback, job.bucket) == ("url", "https://example.com/cb", "files")


def test_with_a_customer_bucket_files_go_there_gzip_allowed_and_no_link() -> None:
    service, jobs, _, _ = _service("customer-bucket")

    reply = service.segment_export({**BODY, "output_format": "gzip"})

    assert set(reply) == {"message", "object_prefix"}
    job = jobs.jobs[reply["object_prefix"]]
    assert (job.spec.output, job.spec.compression, job.bucket) == ("bucket", "gzip", "customer-bucket")
    assert job.prefix == f"segment-export/vip/2026-11-30/{reply['object_prefix']}/"


def test_one_running_export_per_segment_a_second_is_a_429_until_the_first_ends() -> None:
    service, jobs, _, clock = _service()
    first = service.segment_export(BODY)["object_prefix"]

    with pytest.raises(ExportRunning) as refused:
        service.csv_export("vip", {"format": "csv", "fields": []})
    assert refused.value.retry_after_seconds > 0
    service.segment_export({**BODY, "segment_id": "other"})  # another segment is not held

    jobs.finish(jobs.jobs[first].ended(DONE, clock.now_ms()))
    service.segment_export(BODY)


def test_a_lock_a_dead_job_held_expires() -> None:
    service, _, _, clock = _service()
    service.segment_export(BODY)
    clock.now += 7200 * 1000 + 1
    service.segment_export(BODY)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"fields_to_export": ["email"]}, "'segment_id' is required"),
        ({"segment_id": "vip"}, "'fields_to_export' is required"),
        ({**BODY, "fields_to_export": ["emails"]}, "unknown fields_to_export: emails"),
        ({**BODY, "output_format": "gzip"}, "needs an export bucket"),
        ({**BODY, "output_format": "tar"}, "'output_format'"),
        ({**BODY, "callback_endpoint": "ftp://example.com"}, "'callback_endpoint'"),
        ({**BODY, "callback_endpoint": "https://user:pw@example.com/"}, "no credentials"),
        ({**BODY, "callback_endpoint": 7}, "'callback_endpoint'"),
        ({**BODY, "custom_attributes_to_export": ["a"] * 2}, "names a field twice"),
        ({**BODY, "custom_attributes_to_export": [f"a{n}" for n in range(MAX_CUSTOM_ATTRIBUTES + 1)]}, "at most 500"),
        ({**BODY, "custom_attributes_to_export": [""]}, "'custom_attributes_to_export'"),
        ({**BODY, "fields_to_export": ["email"] * 30_000}, "names a field twice"),
        ({**BODY, "callback_endpoint": "http://:secret@example.com/cb"}, "no credentials"),
        ({**BODY, "callback_endpoint": "http://example.com:99999/cb"}, "a valid port"),
        ({**BODY, "callback_endpoint": "http://example.com:abc/cb"}, "a valid port"),
        ({**BODY, "callback_endpoint": "http://example.com:0/cb"}, "a valid port"),
    ],
)
def test_a_bad_body_is_a_400_and_nothing_is_stored(body: dict[str, Any], message: str) -> None:
    service, jobs, queue, _ = _service()
    with pytest.raises(Invalid) as refused:
        service.segment_export(body)
    assert message in refused.value.message
    assert not jobs.jobs and not queue.queued


@pytest.mark.parametrize("segment_id", ["nope", "step:welcome"])
def test_a_segment_that_is_not_there_is_a_404(segment_id: str) -> None:
    service, jobs, _, _ = _service()
    with pytest.raises(NotFound):
        service.segment_export({**BODY, "segment_id": segment_id})
    with pytest.raises(NotFound):
        service.csv_export(segment_id, {"format": "csv", "fields": []})
    assert not jobs.jobs


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"format": "json", "fields": []}, "'format' must be 'csv'"),
        ({"format": "csv", "fields": ["external_id"]}, "always the first column"),
        ({"format": "csv", "fields": "email"}, "'fields' must be an array"),
        ({"format": "csv", "fields": ["email", "email"]}, "twice"),
        ({"format": "csv", "fields": ["email", "custom_events"]}, "holds several values"),
    ],
)
def test_a_bad_csv_body_is_a_400(body: dict[str, Any], message: str) -> None:
    service, jobs, _, _ = _service()
    with pytest.raises(Invalid) as refused:
        service.csv_export("vip", body)
    assert message in refused.value.message and not jobs.jobs


def test_a_job_that_could_not_be_queued_is_failed_at_once_and_frees_its_segment() -> None:
    service, jobs, queue, _ = _service()
    queue.fail = Unavailable("queue_unavailable", "down")

    with pytest.raises(Unavailable):
        service.csv_export("vip", {"format": "csv", "fields": ["email"]})

    (job,) = jobs.jobs.values()
    assert (job.status, job.error) == ("failed", "not_queued")
    assert not jobs.locks


def test_status_gives_a_fresh_link_only_once_done() -> None:
    service, jobs, _, clock = _service()
    export_id = service.csv_export("vip", {"format": "csv", "fields": ["email"]})["export_id"]

    running = service.status(export_id)
    assert (running["status"], running["url"], running["rows"]) == ("running", None, 0)

    jobs.finish(jobs.jobs[export_id].progressed(3, 1, None).ended(DONE, clock.now_ms()))
    clock.now += 60_000
    done = service.status(export_id)
    assert done["status"] == "done" and done["rows"] == 3 and done["format"] == "csv"
    assert done["url"] == f"https://files.s3.example/exports/{export_id}/vip.csv?expires=3600"
    assert done["expires_at"] == "2026-11-30T01:54:20.000Z"  # an hour after it was asked for


@pytest.mark.parametrize("export_id", ["nope", "0" * 32, "../../etc"])
def test_an_unknown_export_is_a_404(export_id: str) -> None:
    service, _, _, _ = _service()
    with pytest.raises(NotFound):
        service.status(export_id)
