"""An import's definition (`PUT /v1/imports/{id}`), checked whole. Pure.

`{"bucket", "prefix", "format": "csv"|"ndjson", "every_minutes", "identifier": {"column", "type": "external_id" |
"email" | "alias:<label>"}, "mappings": [{"column", "attribute", "strategy"}], "allow_create", "enabled"}`. A mapping's
`attribute` is a standard field (`first_name`, `email`, ...) or a custom attribute; `add` and `sum` only for custom
attributes (a standard field holds one value). A column is mapped at most once, and never the identifier's column.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from audience_sync.core.errors import Invalid
from audience_sync.profiles import values
from audience_sync.profiles.attributes import CONTROL_KEYS, STANDARD_FIELDS
from audience_sync.profiles.values import BadValue

STRATEGIES = ("set", "add", "sum", "set_if_empty", "clear_if_empty")
FORMATS = ("csv", "ndjson")
MAX_MAPPINGS = 200
MAX_EVERY_MINUTES = 7 * 24 * 60
MAX_PREFIX_CHARS = 512
_IMPORT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_KEYS = {"bucket", "prefix", "format", "every_minutes", "identifier", "mappings", "allow_create", "enabled"}


@dataclass(frozen=True)
class Mapping:
    column: str
    attribute: str
    strategy: str


@dataclass(frozen=True)
class ImportDefinition:
    import_id: str
    bucket: str
    prefix: str
    format: str
    every_minutes: int
    identifier_column: str
    identifier_type: str  # external_id, email or alias:<label>
    mappings: tuple[Mapping, ...]
    allow_create: bool
    enabled: bool

    def source(self) -> tuple[str, str, str]:
        """What the files are: a new bucket, prefix or format starts reading from the first key again."""
        return self.bucket, self.prefix, self.format

    def view(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "bucket": self.bucket,
            "prefix": self.prefix,
            "format": self.format,
            "every_minutes": self.every_minutes,
            "identifier": {"column": self.identifier_column, "type": self.identifier_type},
            "mappings": [asdict(m) for m in self.mappings],
            "allow_create": self.allow_create,
            "enabled": self.enabled,
        }

    @classmethod
    def from_view(cls, view: dict[str, Any]) -> ImportDefinition:
        return parse(view["import_id"], {k: v for k, v in view.items() if k != "import_id"})


def valid_import_id(import_id: str) -> str:
    if not _IMPORT_ID.match(import_id):
        raise Invalid("invalid_import_id", "import ids are 1-128 characters of A-Z a-z 0-9 _ . : -")
    return import_id


def _invalid(message: str) -> Invalid:
    return Invalid("invalid_import", message)


def _text(body: dict[str, Any], key: str, limit: int, empty: bool = False) -> str:
    value = body.get(key)
    if not isinstance(value, str) or (not value and not empty) or len(value) > limit:
        raise _invalid(f"'{key}' must be a string of {0 if empty else 1} to {limit} characters")
    return value


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key)
    if not isinstance(value, bool):
        raise _invalid(f"'{key}' must be true or false")
    return value


def _identifier(value: Any) -> tuple[str, str]:
    if not isinstance(value, dict) or set(value) != {"column", "type"}:
        raise _invalid('\'identifier\' must be {"column", "type"}')
    column = _text(value, "column", values.MAX_STRING_CHARS)
    kind = value["type"]
    if not isinstance(kind, str) or not (
        kind in ("external_id", "email") or (kind.startswith("alias:") and 0 < len(kind) - 6 <= values.MAX_STRING_CHARS)
    ):
        raise _invalid("'identifier.type' is external_id, email or alias:<label>")
    return column, kind


def _mapping(value: Any, index: int) -> Mapping:
    where = f"mappings/{index}"
    if not isinstance(value, dict) or set(value) != {"column", "attribute", "strategy"}:
        raise _invalid(f'\'{where}\' must be {{"column", "attribute", "strategy"}}')
    column, attribute, strategy = value["column"], value["attribute"], value["strategy"]
    if not isinstance(column, str) or not 0 < len(column) <= values.MAX_STRING_CHARS:
        raise _invalid(f"'{where}/column' must be a column's name")
    if not isinstance(attribute, str):
        raise _invalid(f"'{where}/attribute' must be an attribute's name")
    if strategy not in STRATEGIES:
        raise _invalid(f"'{where}/strategy' is one of {', '.join(STRATEGIES)}")
    if attribute in STANDARD_FIELDS:
        if strategy in ("add", "sum"):
            raise _invalid(f"'{where}': {strategy} needs a custom attribute; '{attribute}' is a standard field")
    elif attribute in ("external_id", "braze_id", "user_alias", "user_aliases"):
        raise _invalid(f"'{where}/attribute': '{attribute}' is an identifier, not an attribute")
    elif attribute in CONTROL_KEYS:
        raise _invalid(f"'{where}/attribute': '{attribute}' is a control key of /users/track, not an attribute")
    else:
        try:
            values.check_name(attribute)
        except BadValue as error:
            raise _invalid(f"'{where}/attribute': {error}") from None
    return Mapping(column, attribute, strategy)


def parse(import_id: str, body: Any) -> ImportDefinition:
    valid_import_id(import_id)
    if not isinstance(body, dict):
        raise _invalid("the body must be a JSON object")
    unknown = sorted(set(body) - _KEYS)
    if unknown:
        raise _invalid(f"unknown field(s): {', '.join(unknown)[:200]}")
    bucket = _text(body, "bucket", 63)
    if not _BUCKET.match(bucket) or ".." in bucket or ".-" in bucket or "-." in bucket or _IP.match(bucket):
        raise _invalid("'bucket' must be an S3 bucket name")
    prefix = _text(body, "prefix", MAX_PREFIX_CHARS, empty=True)
    if body.get("format") not in FORMATS:
        raise _invalid("'format' is csv or ndjson")
    every = body.get("every_minutes")
    if type(every) is not int or not 1 <= every <= MAX_EVERY_MINUTES:
        raise _invalid(f"'every_minutes' must be a whole number from 1 to {MAX_EVERY_MINUTES}")
    column, kind = _identifier(body.get("identifier"))
    raw = body.get("mappings")
    if not isinstance(raw, list) or not 0 < len(raw) <= MAX_MAPPINGS:
        raise _invalid(f"'mappings' must hold 1 to {MAX_MAPPINGS} mappings")
    mappings = tuple(_mapping(m, i) for i, m in enumerate(raw))
    columns = [m.column for m in mappings]
    if column in columns:
        raise _invalid(f"the identifier's column '{column[:64]}' cannot be mapped too")
    if len(set(columns)) != len(columns):
        raise _invalid("a column is mapped twice")
    if len({m.attribute for m in mappings}) != len(mappings):
        raise _invalid("an attribute is mapped twice")
    return ImportDefinition(
        import_id=import_id,
        bucket=bucket,
        prefix=prefix,
        format=body["format"],
        every_minutes=every,
        identifier_column=column,
        identifier_type=kind,
        mappings=mappings,
        allow_create=_flag(body, "allow_create"),
        enabled=_flag(body, "enabled"),
    )
