"""exports/ports.py against AWS in moto: ExportJobs (DynamoDB, the same contract as the tests' fake: one running
export per segment, a dead job's lock expiring, a finished job freeing only its own lock) and the S3 object store
(multipart streams, an object whole or absent, a missing bucket a final failure, presigned links)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from audience_sync.adapters.aws import export_objects
from audience_sync.adapters.aws.export_objects import S3ObjectStore
from audience_sync.adapters.aws.exports_table import DynamoExportJobs
from audience_sync.exports.exceptions import ExportFailed, ExportRunning
from audience_sync.exports.jobs import DONE, ExportJob, ExportSpec
from audience_sync.exports.ports import ExportJobs
from tests.fakes.export_fakes import FakeExportJobs

T0 = 1_796_000_000_000
MIB = 1024 * 1024


@pytest.fixture(params=["dynamodb", "fake"])
def jobs(request: pytest.FixtureRequest, aws: None) -> ExportJobs:
    if request.param == "fake":
        return FakeExportJobs()
    boto3.client("dynamodb").create_table(
        TableName="exports",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return DynamoExportJobs("exports")


def _job(export_id: str, segment_id: str = "vip", at: int = T0) -> ExportJob:
    spec = ExportSpec(segment_id, "url", ("external_id",), ("plan",), callback="https://example.com/cb")
    return ExportJob(export_id, spec, "files", at)


def test_a_job_is_stored_whole_and_its_progress_kept(jobs: ExportJobs) -> None:
    jobs.create(_job("e-1"), T0 + 1000)
    assert jobs.get("e-1") == _job("e-1")
    moved = _job("e-1").progressed(5, 1, "cursor-1")
    jobs.save(moved)
    assert jobs.get("e-1") == moved
    assert jobs.get("e-2") is None


def test_one_running_export_per_segment_until_it_finishes_or_its_lock_expires(jobs: ExportJobs) -> None:
    jobs.create(_job("e-1"), T0 + 1000)
    with pytest.raises(ExportRunning):
        jobs.create(_job("e-2", at=T0 + 999), T0 + 5000)
    assert jobs.get("e-2") is None  # refused whole: no job without its lock
    jobs.create(_job("e-3", segment_id="other"), T0 + 1000)

    jobs.create(_job("e-4", at=T0 + 1001), T0 + 9000)  # e-1 died: its lock expired
    jobs.finish(_job("e-1").ended(DONE, T0 + 2000))  # e-1's end frees nothing it no longer holds
    with pytest.raises(ExportRunning):
        jobs.create(_job("e-5", at=T0 + 2001), T0 + 9000)

    jobs.save(_job("e-4", at=T0 + 1001).progressed(5, 1, "c"), T0 + 20_000)  # progress keeps the segment longer
    with pytest.raises(ExportRunning):
        jobs.create(_job("e-7", at=T0 + 9001), T0 + 30_000)
    jobs.finish(_job("e-4", at=T0 + 1001).ended(DONE, T0 + 3000))
    jobs.create(_job("e-6", at=T0 + 3001), T0 + 9000)
    finished = jobs.get("e-4")
    assert finished is not None and finished.status == DONE


@pytest.fixture
def bucket(aws: None) -> str:
    boto3.client("s3").create_bucket(Bucket="export-files")
    return "export-files"


def test_a_stream_is_uploaded_in_parts_and_exists_only_once_closed(
    bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(export_objects, "PART_BYTES", 5 * MIB)
    store = S3ObjectStore()
    stream = store.stream(bucket, "exports/e-1/vip.csv", "text/csv")
    chunk = b"x" * (MIB // 2 - 1) + b"\n"
    for _ in range(23):
        stream.write(chunk)
    assert len(stream.parts) == 2  # 11.5 MiB so far: two parts sent, the rest buffered
    s3 = boto3.client("s3")
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0

    stream.close()
    body = s3.get_object(Bucket=bucket, Key="exports/e-1/vip.csv")["Body"].read()
    assert body == chunk * 23


def test_an_aborted_stream_leaves_nothing(bucket: str) -> None:
    store = S3ObjectStore()
    stream = store.stream(bucket, "exports/e-1/vip.zip", "application/zip")
    stream.write(b"half")
    stream.abort()
    s3 = boto3.client("s3")
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_an_empty_stream_is_an_empty_object(bucket: str) -> None:
    stream = S3ObjectStore().stream(bucket, "exports/e-1/empty.csv", "text/csv")
    stream.close()
    assert boto3.client("s3").get_object(Bucket=bucket, Key="exports/e-1/empty.csv")["Body"].read() == b""


def test_a_missing_bucket_is_a_final_failure_not_a_retry(aws: None) -> None:
    store = S3ObjectStore()
    with pytest.raises(ExportFailed) as failed:
        store.put("no-such-bucket", "segment-export/x/000000.gz", b"", "application/gzip")
    assert failed.value.code == "bucket_not_found"
    with pytest.raises(ExportFailed):
        store.stream("no-such-bucket", "exports/x.zip", "application/zip")


def test_links_are_signed_for_one_object_at_the_public_endpoint(bucket: str) -> None:
    url = S3ObjectStore("http://127.0.0.1:3000/_aws").presign(bucket, "exports/e-1/vip.zip", 3600)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "http",
        "127.0.0.1:3000",
        "/_aws/export-files/exports/e-1/vip.zip",
    )
    query = parse_qs(parts.query)
    assert query["X-Amz-Expires"] == ["3600"] and query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]

    aws_url = urlsplit(S3ObjectStore().presign(bucket, "exports/e-1/vip.zip", 60))
    assert aws_url.scheme == "https" and "export-files" in aws_url.netloc + aws_url.path
