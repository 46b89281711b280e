"""imports/ports.py against AWS in moto: the ImportStore contract on DynamoDB and the tests' fake (definitions,
state saved only at the version read, runs newest first, delete of everything), and S3 read as imports read it
(keys after a key in order, ranged reads pinned to a version, the failures that end a run)."""

from __future__ import annotations

import boto3
import pytest

from audience_sync.adapters.aws.import_objects import S3ObjectSource
from audience_sync.adapters.aws.imports_table import DynamoImportStore
from audience_sync.imports.definitions import parse
from audience_sync.imports.exceptions import RunFailed
from audience_sync.imports.ports import FileCursor, ImportStore, Run, StateConflict
from tests.fakes.import_fakes import FakeImportStore
from tests.unit.imports.test_definitions import BODY


@pytest.fixture(params=["dynamodb", "fake"])
def store(request: pytest.FixtureRequest, aws: None) -> ImportStore:
    if request.param == "fake":
        return FakeImportStore()
    boto3.client("dynamodb").create_table(
        TableName="imports",
        KeySchema=[{"AttributeName": "import_id", "KeyType": "HASH"}, {"AttributeName": "item", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "import_id", "AttributeType": "S"},
            {"AttributeName": "item", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return DynamoImportStore("imports")


def test_definitions_state_and_runs(store: ImportStore) -> None:
    definition = parse("bc", BODY)
    store.put_definition(definition)
    store.put_definition(parse("other", BODY))
    assert store.get_definition("bc") == definition
    assert sorted(d.import_id for d in store.definitions()) == ["bc", "other"]

    state = store.state("bc")
    assert (state.version, state.run, state.done_key) == (0, None, None)
    state.run = Run("r1", 1000, rows=3)
    state.file = FileCursor("in/a.csv", '"e"', 120, 7, ["id", "plan"])
    store.save_state(state)
    assert state.version == 1
    read = store.state("bc")
    assert (read.version, read.run, read.file) == (1, state.run, state.file)

    stale = store.state("bc")
    store.save_state(read)
    with pytest.raises(StateConflict):  # another runner saved since it was read
        store.save_state(stale)

    store.add_run("bc", Run("r1", 1000, finished_ms=2000, status="done"))
    store.add_run("bc", Run("r2", 3000, finished_ms=4000, status="failed", error="bucket_not_found"))
    assert [r.run_id for r in store.runs("bc", 10)] == ["r2", "r1"]
    assert [r.run_id for r in store.runs("bc", 1)] == ["r2"]

    assert store.delete("bc") is True
    assert store.get_definition("bc") is None and store.runs("bc", 10) == [] and store.state("bc").version == 0
    assert store.delete("bc") is False


@pytest.fixture
def bucket(aws: None) -> str:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="imports-in")
    for key, body in (("in/b.csv", b"id\nu2\n"), ("in/a.csv", b"id\nu1\n"), ("in/folder/", b""), ("out/c.csv", b"x")):
        s3.put_object(Bucket="imports-in", Key=key, Body=body)
    return "imports-in"


def test_keys_come_in_order_after_the_last_one_imported(bucket: str) -> None:
    source = S3ObjectSource()
    first = source.first_after(bucket, "in/", None)
    assert first is not None and first.key == "in/a.csv" and first.size == 6
    second = source.first_after(bucket, "in/", "in/a.csv")
    assert second is not None and second.key == "in/b.csv"
    assert source.first_after(bucket, "in/", "in/b.csv") is None  # "in/folder/" is a folder, not a file


def test_a_read_from_an_offset_of_the_version_first_seen(bucket: str) -> None:
    source = S3ObjectSource()
    found = source.first_after(bucket, "in/", None)
    assert found is not None
    assert b"".join(source.read(bucket, found.key, found.etag, 3)) == b"u1\n"
    assert b"".join(source.read(bucket, found.key, found.etag, 6)) == b""  # read to its end
    boto3.client("s3").put_object(Bucket=bucket, Key=found.key, Body=b"id\nu9\n")
    with pytest.raises(RunFailed) as changed:
        list(source.read(bucket, found.key, found.etag, 3))
    assert changed.value.reason == "object_changed"


def test_a_missing_bucket_ends_the_run(aws: None) -> None:
    with pytest.raises(RunFailed) as failed:
        S3ObjectSource().first_after("no-such-bucket", "", None)
    assert failed.value.reason == "bucket_not_found"
