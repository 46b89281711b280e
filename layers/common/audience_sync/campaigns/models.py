"""A campaign's definition (`PUT /v1/campaigns/{id}`, contract v2 §6), validated with pydantic: its message (an
outbound webhook with Liquid templates, or entry into a sync step), its audience, and its delivery (by API, or by
action: custom events with property filters, purchases, interactions with other campaigns; a delay, exceptions,
re-eligibility, a window). Everything a send needs is checked here, so a saved campaign never fails for its shape:
templates are parsed (their errors name the line), property filters are the segment filter language's attribute
leaves (the same checks and semantics: segments/filters.py), times are ISO 8601.
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

from audience_sync.campaigns.templates import compile_template
from audience_sync.profiles.identity import MAX_ID_CHARS
from audience_sync.segments.filters import FilterError, parse

_ID = r"^[A-Za-z0-9_.:-]{1,128}$"
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$")  # an HTTP token (RFC 9110)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # a header value or url holds none (tab aside: headers may)
MAX_HEADERS = 50
MAX_DELAY_SECONDS = 30 * 86_400  # Braze's longest delay is 30 days
MAX_REELIGIBLE_SECONDS = 3_650 * 86_400  # ten years: longer is "never" (null)
MAX_PROPERTY_FILTERS = 50
MAX_DEFINITION_BYTES = 350_000  # one DynamoDB item (400 KB) with room for the status and times
RATE_LIMITS = (10, 500_000)  # Braze's per-campaign delivery limit, messages a minute
MAX_RECIPIENTS = 50  # in one trigger call, as Braze's trigger/send takes
# Headers HTTP itself sets or that frame the message: a template's value would make a malformed request
# (Transfer-Encoding with a Content-Length) or one aimed elsewhere (Host).
FRAMING_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "upgrade",
        "te",
        "trailer",
        "proxy-authorization",
        "proxy-connection",
    }
)


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


Template = Annotated[str, StringConstraints(max_length=100_000)]


def _checked_template(value: str) -> str:
    compile_template(value)  # TemplateError (a ValueError) names the line: pydantic reports it on the field
    return value


class WebhookMessage(StrictModel):
    """An outbound webhook (Braze's webhook composer): url, headers and body are Liquid templates."""

    channel: Literal["webhook"]
    url: Template
    method: Literal["POST", "PUT", "GET", "DELETE"] = "POST"
    headers: dict[str, Template] = Field(default_factory=dict, max_length=MAX_HEADERS)
    body: Template = ""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        # Liquid may fill in the rest, but not the scheme: a webhook goes over HTTP(S) only
        if not value.lower().startswith(("https://", "http://")):
            raise ValueError("the url must start with https:// or http://")
        if _CONTROL.search(value) or "\t" in value:
            raise ValueError("the url holds a control character (a line break?)")
        return _checked_template(value)

    @field_validator("body")
    @classmethod
    def _body(cls, value: str) -> str:
        return _checked_template(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, headers: dict[str, str]) -> dict[str, str]:
        for name, value in headers.items():
            if not _HEADER_NAME.match(name):
                raise ValueError(f"header names are HTTP tokens (letters, digits and !#$%&'*+.^_`|~-): {name[:64]!r}")
            if name.lower() in FRAMING_HEADERS:
                raise ValueError(f"header {name}: set by HTTP itself, not by a campaign")
            if _CONTROL.search(value):  # a line break would end the header: it could never be sent
                raise ValueError(f"header {name}: its value holds a control character (a line break?)")
            try:
                _checked_template(value)
            except ValueError as error:
                raise ValueError(f"header {name}: {error}") from None
        return headers

    @model_validator(mode="after")
    def _no_body_on_get(self) -> WebhookMessage:
        if self.method == "GET" and self.body.strip():
            raise ValueError("a GET webhook has no body")
        return self


class AudienceSyncMessage(StrictModel):
    """The user enters sync step `step_id` (its match fields and consent read from the profile)."""

    channel: Literal["audience_sync"]
    step_id: Annotated[str, StringConstraints(pattern=_ID)]


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
    campaign_id: Annotated[str, StringConstraints(pattern=_ID)]
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


class Audience(StrictModel):
    segment_id: Annotated[str, StringConstraints(pattern=_ID)]


class CampaignRequest(StrictModel):
    """Body of `PUT /v1/campaigns/{id}`."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    message: Annotated[WebhookMessage | AudienceSyncMessage, Field(discriminator="channel")]
    audience: Audience | None = None
    delivery: Annotated[ApiDelivery | ActionDelivery, Field(discriminator="type")]
    control_group_percent: Annotated[StrictInt, Field(ge=0, le=50)] = 0
    rate_limit_per_minute: Annotated[StrictInt, Field(ge=RATE_LIMITS[0], le=RATE_LIMITS[1])] | None = None

    @model_validator(mode="after")
    def _fits_one_item(self) -> CampaignRequest:
        """Stored as one DynamoDB item (400 KB at most): a definition past that is the client's to shorten."""
        size = len(self.model_dump_json(exclude_none=True).encode("utf-8"))
        if size > MAX_DEFINITION_BYTES:
            raise ValueError(f"a campaign's definition holds at most {MAX_DEFINITION_BYTES:,} bytes of JSON ({size:,})")
        return self


class Recipient(StrictModel):
    external_id: Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS)]  # as profiles take them
    trigger_properties: dict[str, Any] = Field(default_factory=dict)


class TriggerRequest(StrictModel):
    """Body of `POST /v1/campaigns/{id}/trigger`: up to MAX_RECIPIENTS users (Braze's limit of one call)."""

    recipients: Annotated[list[Recipient], Field(min_length=1, max_length=MAX_RECIPIENTS)]

    @model_validator(mode="after")
    def _each_once(self) -> TriggerRequest:
        seen: set[str] = set()
        for recipient in self.recipients:
            if recipient.external_id in seen:  # one send a user a call: its dispatch_id names one send
                raise ValueError(f"recipient {recipient.external_id[:64]!r} is listed twice")
            seen.add(recipient.external_id)
        return self


MAX_INTERACTIONS = 1_000  # in one POST /v1/interactions (contract v2 §6)


class InteractionRecord(StrictModel):
    """One interaction from a channel we do not send ourselves; `time` defaults to when it is received (a time
    without an offset is UTC)."""

    external_id: Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS)]
    campaign_id: Annotated[str, StringConstraints(pattern=_ID)]
    type: InteractionType
    time: dt.datetime | None = None

    @field_validator("time", mode="before")
    @classmethod
    def _iso(cls, value: Any) -> Any:
        return iso_text(value)

    def posted_ms(self, now_ms: int) -> int:
        """The time as posted (what makes a repeat the same interaction)."""
        if self.time is None:
            return now_ms
        moment = self.time if self.time.tzinfo is not None else self.time.replace(tzinfo=dt.UTC)
        return int(moment.timestamp() * 1000)

    def time_ms(self, now_ms: int) -> int:
        """When it happened; a time in the future is taken as now (as /users/track takes events' times)."""
        return min(self.posted_ms(now_ms), now_ms)


class InteractionsRequest(StrictModel):
    """Body of `POST /v1/interactions`."""

    interactions: Annotated[list[InteractionRecord], Field(min_length=1, max_length=MAX_INTERACTIONS)]
