"""The step entry webhook's body (`POST /v1/steps/{step_id}/users`, contract v1), validated with pydantic."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints

from audience_sync.core.filters import MISSING

MAX_USERS_PER_WEBHOOK = 10_000

ShortText = Annotated[str, StringConstraints(max_length=1024)]


class WebhookUser(BaseModel):
    """One user entering the step. Unknown top-level fields are kept so entry filters can test them."""

    model_config = ConfigDict(extra="allow", frozen=True)

    external_id: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    email: ShortText | None = None
    first_name: ShortText | None = None
    last_name: ShortText | None = None
    android_gaid: ShortText | None = None
    ad_tracking_enabled: StrictBool | None = None  # a consent flag: "yes" or 1 is a wrong type, not true
    attributes: dict[str, Any] = Field(default_factory=dict)

    def lookup(self, name: str) -> Any:
        """What an entry filter sees for `name`: a top-level field first (declared or extra), then `attributes`;
        MISSING if neither has it (core/filters.py)."""
        if name != "attributes":
            if name in _DECLARED:
                value = getattr(self, name)
                if value is not None:
                    return value
            elif self.model_extra and name in self.model_extra:
                return self.model_extra[name]
        return self.attributes.get(name, MISSING)


# The declared fields, read once: pydantic's model_fields is a (deprecated on instances) descriptor that cost the
# entry filters a fifth of their time.
_DECLARED = frozenset(WebhookUser.model_fields)


class WebhookBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    users: Annotated[list[WebhookUser], Field(min_length=1, max_length=MAX_USERS_PER_WEBHOOK)]
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
