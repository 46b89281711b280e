"""An export job as stored (adapters/aws/exports_table.py) and shown (`GET /v1/exports/{id}`). Pure.

Three outputs (contract v2 §7):
- `url`: Braze's export without a customer bucket: one `.zip` of newline-delimited JSON users (an entry of at most
  FILE_USERS users each) in the service's bucket, behind a presigned URL, the callback posted when it is ready;
- `bucket`: Braze's export into the customer's bucket: files of at most FILE_USERS users, `.zip` or `.gz`, under
  `segment-export/<segment_id>/<YYYY-MM-dd>/<object_prefix>/`;
- `csv`: the management API's CSV, one object in the service's bucket, a header row then one row per member.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

FILE_USERS = 5_000  # users in one file (or zip entry): Braze's "about one file per 5,000 users"
Output = Literal["url", "bucket", "csv"]
Status = Literal["running", "done", "failed"]
RUNNING: Status = "running"
DONE: Status = "done"
FAILED: Status = "failed"


@dataclass(frozen=True)
class ExportSpec:
    """What was asked (checked by exports/requests.py)."""

    segment_id: str
    output: Output
    fields: tuple[str, ...]
    custom_attributes: tuple[str, ...] | None = None  # Braze's custom_attributes_to_export
    compression: Literal["zip", "gzip", "none"] = "zip"
    callback: str | None = None


@dataclass(frozen=True)
class ExportJob:
    export_id: str  # for Braze's exports, the object prefix it answered with
    spec: ExportSpec
    bucket: str
    created_ms: int
    status: Status = RUNNING
    rows: int = 0
    files: int = 0
    cursor: str | None = None  # `bucket`: the members' cursor where the next file starts
    finished_ms: int | None = None
    error: str | None = None
    attempts: int = 0  # runs started: a `url` or `csv` export starts again from its first member

    @property
    def finished(self) -> bool:
        return self.status != RUNNING

    @property
    def prefix(self) -> str:
        """Where its objects are: Braze's layout in the customer's bucket, the job's own folder in the service's."""
        if self.spec.output == "bucket":
            day = dt.datetime.fromtimestamp(self.created_ms / 1000, dt.UTC).strftime("%Y-%m-%d")
            return f"segment-export/{self.spec.segment_id}/{day}/{self.export_id}/"
        return f"exports/{self.export_id}/"

    @property
    def key(self) -> str:
        """The one object of a `url` or `csv` export."""
        suffix = "csv" if self.spec.output == "csv" else "zip"
        return f"{self.prefix}{self.spec.segment_id}.{suffix}"

    def file_key(self, number: int) -> str:
        """The `number`th file of a `bucket` export (0-based): numbered, so a file written again after a crash
        replaces itself."""
        suffix = "gz" if self.spec.compression == "gzip" else "zip"
        return f"{self.prefix}{number:06d}.{suffix}"

    def progressed(self, rows: int, files: int, cursor: str | None) -> ExportJob:
        return replace(self, rows=rows, files=files, cursor=cursor)

    def ended(self, status: Status, now_ms: int, error: str | None = None) -> ExportJob:
        return replace(self, status=status, finished_ms=now_ms, error=error)

    def to_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["spec"]["fields"] = list(self.spec.fields)
        if self.spec.custom_attributes is not None:
            record["spec"]["custom_attributes"] = list(self.spec.custom_attributes)
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ExportJob:
        raw = dict(record["spec"])
        raw["fields"] = tuple(raw["fields"])
        if raw.get("custom_attributes") is not None:
            raw["custom_attributes"] = tuple(raw["custom_attributes"])
        values = {k: v for k, v in record.items() if k in cls.__dataclass_fields__ and k != "spec"}
        return cls(spec=ExportSpec(**raw), **values)
