"""What an export asks for, checked whole before anything is stored (a bad body is a 400 naming the field). Pure.

`POST /users/export/segment` takes Braze's body: `segment_id`, `fields_to_export` (Braze's names; profiles/
document.py), `custom_attributes_to_export` (at most 500 names; ignored when `custom_attributes` is among the fields,
as Braze does), `callback_endpoint`, `output_format` (`zip`, or `gzip`, which only a customer bucket takes).
`POST /v1/segments/{id}/exports` takes `{"format": "csv", "fields": [...]}`: a field is one of Braze's single-value
fields (`first_name`, `email`, `braze_id`, `created_at`, ...) or else a custom attribute's name.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from audience_sync.core.errors import Invalid
from audience_sync.exports.jobs import ExportSpec
from audience_sync.profiles.document import EXPORT_FIELDS
from audience_sync.profiles.reader import fields_to_export

MAX_CUSTOM_ATTRIBUTES = 500  # Braze's limit of custom_attributes_to_export
MAX_CSV_FIELDS = 200
MAX_NAME_CHARS = 255
MAX_URL_CHARS = 2048
# Braze's fields of several values, which no CSV cell holds; the others hold one (lists and objects of custom
# attributes are JSON text in a cell)
MULTI_VALUE_FIELDS = frozenset({"user_aliases", "custom_attributes", "custom_events", "purchases"})
CSV_FIELDS = tuple(f for f in EXPORT_FIELDS if f != "external_id" and f not in MULTI_VALUE_FIELDS)


def _names(value: Any, field: str, limit: int) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= MAX_NAME_CHARS for v in value):
        raise Invalid("invalid_request", f"'{field}' must be an array of names of 1 to {MAX_NAME_CHARS} characters")
    if len(value) > limit:
        raise Invalid("invalid_request", f"'{field}' takes at most {limit} names")
    if len(set(value)) != len(value):
        raise Invalid("invalid_request", f"'{field}' names a field twice")
    return value


def _callback(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_URL_CHARS:
        raise Invalid("invalid_request", f"'callback_endpoint' must be a URL of at most {MAX_URL_CHARS} characters")
    try:
        parts = urlsplit(value)
        port = parts.port  # ValueError for a port that is not a number from 0 to 65535
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and port != 0
        ok = ok and parts.username is None and parts.password is None
    except ValueError:
        ok = False
    if not ok:
        raise Invalid(
            "invalid_request", "'callback_endpoint' must be an http(s) URL with a host, a valid port and no credentials"
        )
    return value


def segment_export(body: dict[str, Any], customer_bucket: bool) -> ExportSpec:
    """Braze's body. `customer_bucket`: the stack has one (`ExportBucket`), so files go there and no URL is made."""
    segment_id = body.get("segment_id")
    if not isinstance(segment_id, str) or not segment_id:
        raise Invalid("invalid_request", "'segment_id' is required: the id of a segment of the management API")
    fields = fields_to_export(body)
    if fields is None:
        raise Invalid("invalid_request", "'fields_to_export' is required: the names of the fields to export")
    if len(set(fields)) != len(fields):
        raise Invalid("invalid_request", "'fields_to_export' names a field twice")
    custom = body.get("custom_attributes_to_export")
    if custom is not None:
        custom = _names(custom, "custom_attributes_to_export", MAX_CUSTOM_ATTRIBUTES)
    output_format = body.get("output_format", "zip")
    if output_format not in ("zip", "gzip"):
        raise Invalid("invalid_request", "'output_format' is 'zip' or 'gzip'")
    if output_format == "gzip" and not customer_bucket:
        raise Invalid("invalid_request", "'output_format' 'gzip' needs an export bucket (ExportBucket); use 'zip'")
    return ExportSpec(
        segment_id=segment_id,
        output="bucket" if customer_bucket else "url",
        fields=tuple(fields),
        custom_attributes=tuple(custom) if custom is not None else None,
        compression=output_format,
        callback=_callback(body.get("callback_endpoint")),
    )


def csv_export(segment_id: str, body: dict[str, Any]) -> ExportSpec:
    if body.get("format") != "csv":
        raise Invalid("invalid_request", "'format' must be 'csv'")
    fields = _names(body.get("fields", []), "fields", MAX_CSV_FIELDS)
    if "external_id" in fields:
        raise Invalid("invalid_request", "'fields' must not name external_id: it is always the first column")
    several = sorted(set(fields) & MULTI_VALUE_FIELDS)
    if several:
        raise Invalid("invalid_request", f"'fields': {several[0]} holds several values, not one a cell can hold")
    return ExportSpec(segment_id=segment_id, output="csv", fields=tuple(fields), compression="none")
