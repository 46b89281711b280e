"""Import files read from S3: the first key after another under a prefix (ListObjectsV2 lists keys in UTF-8 byte
order), and an object's bytes from an offset (a ranged GET that must still be the version first seen: If-Match on
its ETag), streamed in chunks. A bucket that is gone or refuses the stack's reads, and an object replaced or deleted
while it is read, are RunFailed with the reason (the run ends failed; retrying would not help); other AWS failures
are StoreUnavailable (the run's message is delivered again and goes on from its last chunk)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import error_code, store_errors
from audience_sync.imports.exceptions import RunFailed
from audience_sync.imports.ports import ObjectInfo

CHUNK_BYTES = 1024 * 1024
_FINAL = {
    "NoSuchBucket": "bucket_not_found",
    "AccessDenied": "bucket_access_denied",
    "PreconditionFailed": "object_changed",
    "NoSuchKey": "object_changed",
}


def _final(error: ClientError) -> RunFailed | None:
    reason = _FINAL.get(error_code(error))
    return RunFailed(reason) if reason else None


class S3ObjectSource:
    def __init__(self) -> None:
        clients.create_now("s3")  # at the container's init (decision 0026)

    def first_after(self, bucket: str, prefix: str, after: str | None) -> ObjectInfo | None:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": 100}
        if after is not None:
            kwargs["StartAfter"] = after
        with store_errors("imports.list"):
            while True:
                try:
                    page = clients.s3().list_objects_v2(**kwargs)
                except ClientError as error:
                    raise (_final(error) or error) from None
                for found in page.get("Contents", []):
                    if not found["Key"].endswith("/"):  # a "folder" the console made
                        return ObjectInfo(found["Key"], found["ETag"], int(found["Size"]))
                if not page.get("IsTruncated"):
                    return None
                kwargs["ContinuationToken"] = page["NextContinuationToken"]

    def read(self, bucket: str, key: str, etag: str, offset: int) -> Iterator[bytes]:
        with store_errors("imports.read"):
            try:
                answer = clients.s3().get_object(Bucket=bucket, Key=key, IfMatch=etag, Range=f"bytes={offset}-")
            except ClientError as error:
                if error_code(error) == "InvalidRange":  # nothing after the offset: the file is read
                    return iter(())
                raise (_final(error) or error) from None
        return _chunks(answer["Body"])


def _chunks(body: Any) -> Iterator[bytes]:
    try:
        yield from body.iter_chunks(CHUNK_BYTES)
    except (ClientError, BotoCoreError) as error:  # the connection dropped mid-file: the run goes on from its chunk
        with store_errors("imports.read"):
            raise error from None
    finally:
        body.close()
