"""A campaign's status, and when it sends: its delivery by API or by action (custom events with property filters,
purchases, interactions with other campaigns; a delay, exceptions, re-eligibility, a window), validated with pydantic.

Apart from the message (models.py), whose templates need Liquid to be checked: what only routes what users did to
the campaigns listening (the profile writer, the batcher's and the retry's `received_webhook`: routing.py) imports
this and not Liquid (docs/decisions/0026).
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictInt,
    StringConstraints,
    Tag,
    field_validator,
    model_validator,
)

from audience_sync.segments.filters import FilterError, parse

ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,128}$"  # a campaign's id, a step's in a message
MAX_DELAY_SECONDS = 30 * 86_400  # Braze's longest delay is 30 days
MAX_REELIGIBLE_SECONDS = 3_650 * 86_400  # ten years: longer is "never" (null)
MAX_PROPERTY_FILTERS = 50


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    STOPPED = "stopped"


class InteractionType(StrEnum):
    """What a user did with a campaign (contract v2 §6); an interaction can trigger a follow-up campaign."""

    RECEIVED_WEBHOOK = "received_webhook"
    ENROLLED_IN_CONTROL_GROUP = "enrolled_in_control_group"
    EMAIL_RECEIVED = "email_received"
    EMAIL_OPENED = "email_opened"
    EMAIL_CLICKED = "email_clicked"
    EMAIL_ALIAS_CLICKED = "email_alias_clicked"
    PUSH_RECEIVED = "push_received"
    PUSH_OPENED = "push_opened"
    PUSH_BUTTON_CLICKED = "push_button_clicked"
    PUSH_STORY_PAGE_CLICKED = "push_story_page_clicked"
    IAM_VIEWED = "iam_viewed"
    IAM_CLICKED = "iam_clicked"
    IAM_BUTTON_CLICKED = "iam_button_clicked"
    SMS_RECEIVED = "sms_received"
    SMS_LINK_CLICKED = "sms_link_clicked"
    CONTENT_CARD_VIEWED = "content_card_viewed"
    CONTENT_CARD_CLICKED = "content_card_clicked"
    CONTENT_CARD_DISMISSED = "content_card_dismissed"
    CONVERSION_PERFORMED = "conversion_performed"


_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def iso_text(value: Any) -> Any:
    """A time given as ISO 8601 text (`2026-12-05T10:00:00Z`), not an epoch number nor a string of one (pydantic
    would read `1700000000` as seconds)."""
    if value is not None and not (isinstance(value, str) and _ISO_TIME.match(value)):
        raise ValueError("a time is ISO 8601 text, e.g. 2026-12-05T10:00:00Z")
    return value


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PropertyFilter(StrictModel):
    """A filter on the triggering event's properties: a segment attribute leaf (segments/filters.py)."""

    property: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    op: str
    value: Any = None

    @model_validator(mode="after")
    def _as_a_leaf(self) -> PropertyFilter:
        try:
            parse(self.leaf(), allow_keys=True)  # an event's properties, not a profile's attributes
        except FilterError as error:
            where = error.path.replace("/attribute", "/property")
            raise ValueError(f"{where.lstrip('/') or 'filter'}: {error.message}") from None
        return self

    def leaf(self) -> dict[str, Any]:
        leaf: dict[str, Any] = {"attribute": self.property, "op": self.op}
        if "value" in self.model_fields_set:
            leaf["value"] = self.value
        return leaf


class CustomEventTrigger(StrictModel):
    custom_event: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    property_filters: list[PropertyFilter] = Field(default_factory=list, max_length=MAX_PROPERTY_FILTERS)


class PurchaseTrigger(StrictModel):
    purchase: Annotated[str, StringConstraints(min_length=1, max_length=255)]  # a product id, or "*" for any


class Interaction(StrictModel):
    campaign_id: Annotated[str, StringConstraints(pattern=ID_PATTERN)]
    type: InteractionType


class InteractionTrigger(StrictModel):
    interaction: Interaction


def _trigger_kind(value: Any) -> str | None:
    """Which trigger a value is, by its key (errors then name that kind's fields only)."""
    for kind in ("custom_event", "purchase", "interaction"):
        if (kind in value) if isinstance(value, dict) else hasattr(value, kind):
            return kind
    return None


Trigger = Annotated[
    Annotated[CustomEventTrigger, Tag("custom_event")]
    | Annotated[PurchaseTrigger, Tag("purchase")]
    | Annotated[InteractionTrigger, Tag("interaction")],
    Discriminator(
        _trigger_kind,
        custom_error_type="invalid_trigger",
        custom_error_message="a trigger is {custom_event, property_filters?}, {purchase} or {interaction}",
    ),
]


class ApiDelivery(StrictModel):
    """Sent to the recipients of `POST /v1/campaigns/{id}/trigger`, whenever asked."""

    type: Literal["api"]


class ActionDelivery(StrictModel):
    """Sent when a user does `trigger` (after `delay_seconds`, unless an exception happens meanwhile), once per
    user unless `reeligible_after_seconds` allows it again, between `start_at` and `end_at`."""

    type: Literal["action"]
    trigger: Trigger
    delay_seconds: Annotated[StrictInt, Field(ge=0, le=MAX_DELAY_SECONDS)] = 0  # not "10", nor true
    exceptions: list[Trigger] = Field(default_factory=list, max_length=20)
    reeligible_after_seconds: Annotated[StrictInt, Field(ge=0, le=MAX_REELIGIBLE_SECONDS)] | None = None
    start_at: dt.datetime | None = None
    end_at: dt.datetime | None = None

    @field_validator("start_at", "end_at", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return iso_text(value)

    @field_validator("start_at", "end_at")
    @classmethod
    def _aware(cls, value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("a time needs its offset (ISO 8601, e.g. 2026-12-05T10:00:00Z)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ActionDelivery:
        if self.exceptions and not self.delay_seconds:
            raise ValueError("exceptions count only while a user waits out a delay: set delay_seconds")
        if self.start_at and self.end_at and self.end_at <= self.start_at:
            raise ValueError("end_at must be after start_at")
        return self
