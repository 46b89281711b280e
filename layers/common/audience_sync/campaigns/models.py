"""A campaign's definition (`PUT /v1/campaigns/{id}`, contract v2 §6), validated with pydantic: its message (an
outbound webhook with Liquid templates, or entry into a sync step), its audience, and its delivery (by API, or by
action: triggers.py). Everything a send needs is checked here, so a saved campaign never fails for its shape:
templates are parsed (their errors name the line), property filters are the segment filter language's attribute
leaves (the same checks and semantics: segments/filters.py), times are ISO 8601. Also the bodies of a trigger call
and of `POST /v1/interactions`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    StrictInt,
    StringConstraints,
    field_validator,
    model_validator,
)

from audience_sync.campaigns.templates import compile_template
from audience_sync.campaigns.triggers import (
    ID_PATTERN,
    ActionDelivery,
    ApiDelivery,
    InteractionType,
    StrictModel,
    iso_text,
)
from audience_sync.profiles.identity import MAX_ID_CHARS

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$")  # an HTTP token (RFC 9110)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # a header value or url holds none (tab aside: headers may)
MAX_HEADERS = 50
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
    step_id: Annotated[str, StringConstraints(pattern=ID_PATTERN)]


class Audience(StrictModel):
    segment_id: Annotated[str, StringConstraints(pattern=ID_PATTERN)]


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
    campaign_id: Annotated[str, StringConstraints(pattern=ID_PATTERN)]
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
