"""What a key is, and the management API's request bodies. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# Braze's permission names (contract v2 §1); a key holds any of them.
Permission = Literal[
    "users.track",
    "users.identify",
    "users.alias.new",
    "users.delete",
    "users.merge",
    "users.export.ids",
    "users.export.segment",
    "segments.list",
    "segments.details",
    "campaigns.list",
    "campaigns.details",
]
# Braze's cohort import partners (its technology-partner pages); a data import key is for one of them.
Partner = Literal["segment", "amplitude", "mixpanel", "census", "hightouch", "heap", "rudderstack", "kubit"]
REST_API_KEY = "rest-api-key"
DATA_IMPORT_KEY = "data-import-key"
MAX_REQUESTS_PER_MINUTE = 1_000_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class NewApiKey(_Strict):
    """`POST /v1/rest-api-keys`."""

    name: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    permissions: Annotated[list[Permission], Field(min_length=1, max_length=20)]
    # Ours, beyond contract v2: a limit for this key; without it, the stack's UserApiRequestsPerMinute.
    rate_limit_per_minute: Annotated[int, Field(ge=1, le=MAX_REQUESTS_PER_MINUTE)] | None = None


class NewImportKey(_Strict):
    """`POST /v1/data-import-keys`."""

    partner: Partner


@dataclass(frozen=True)
class StoredKey:
    """A key as stored: never the key itself, only its SHA-256."""

    kind: str  # REST_API_KEY | DATA_IMPORT_KEY
    id: str
    key_hash: str
    created_at: str
    name: str = ""
    partner: str = ""
    permissions: tuple[str, ...] = ()
    rate_limit_per_minute: int | None = None

    def view(self) -> dict[str, Any]:
        """What the management API shows: everything but the hash."""
        shown: dict[str, Any] = {"id": self.id, "created_at": self.created_at}
        if self.kind == REST_API_KEY:
            shown.update(name=self.name, permissions=list(self.permissions))
            if self.rate_limit_per_minute is not None:
                shown["rate_limit_per_minute"] = self.rate_limit_per_minute
        else:
            shown["partner"] = self.partner
        return shown
