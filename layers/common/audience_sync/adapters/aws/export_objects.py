"""Export files in S3: whole small objects (a `bucket` export's files), objects streamed as multipart uploads (a
`url` zip, a CSV), and presigned download links.

A stream buffers PART_BYTES and uploads a part at a time (S3 takes parts of 5 MiB at least, but the last), so an
export of any size holds one part in memory. An upload given up is aborted; one a crash left unfinished is dropped by
the bucket's lifecycle rule (AbortIncompleteMultipartUpload), never completed: an object exists whole or not at all.

A bucket that is gone, or that refuses the stack's writes (the customer's bucket: its policy, its KMS key), is not
worth retrying: ExportFailed names the reason and the job fails. Other AWS failures are StoreUnavailable (retried).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import error_code, store_errors
from audience_sync.exports.exceptions import ExportFailed

if TYPE_CHECKING:
    from mypy_boto3_s3.type_defs import CompletedPartTypeDef

PART_BYTES = 8 * 1024 * 1024
_FINAL = {"NoSuchBucket": "bucket_not_found", "AccessDenied": "bucket_access_denied", "KMS.NotFoundException": "kms"}


def _checked(operation: str, call: Any) -> Any:
    with store_errors(operation):
        try:
            return call()
        except ClientError as error:
            reason = _FINAL.get(error_code(error))
            if reason is not None:
                raise ExportFailed(reason) from None
            raise


class S3ObjectStream:
    def __init__(self, bucket: str, key: str, content_type: str):
        self.bucket, self.key = bucket, key
        self.upload_id: str = _checked(
            "exports.stream",
            lambda: clients.s3().create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type)["UploadId"],
        )
        self.buffer = bytearray()
        self.parts: list[CompletedPartTypeDef] = []

    def _upload(self) -> None:
        number, body = len(self.parts) + 1, bytes(self.buffer)
        answer = _checked(
            "exports.part",
            lambda: clients.s3().upload_part(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number, Body=body
            ),
        )
        self.parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        self.buffer.clear()

    def write(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) >= PART_BYTES:
            self._upload()

    def close(self) -> None:
        if self.buffer or not self.parts:  # the last part may be small (or empty, for an empty object)
            self._upload()
        _checked(
            "exports.complete",
            lambda: clients.s3().complete_multipart_upload(
                Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": self.parts}
            ),
        )

    def abort(self) -> None:
        try:
            clients.s3().abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
        except Exception:
            return


class S3ObjectStore:
    def __init__(self, public_endpoint: str | None = None):
        clients.create_now("s3")  # at the container's init (decision 0026)
        clients.s3_presigner(public_endpoint)
        self.public_endpoint = public_endpoint  # local mode: the port the links must download from

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> None:
        _checked(
            "exports.put", lambda: clients.s3().put_object(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
        )

    def stream(self, bucket: str, key: str, content_type: str) -> S3ObjectStream:
        return S3ObjectStream(bucket, key, content_type)

    def presign(self, bucket: str, key: str, seconds: int) -> str:
        with store_errors("exports.presign"):
            url: str = clients.s3_presigner(self.public_endpoint).generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=seconds
            )
            return url
