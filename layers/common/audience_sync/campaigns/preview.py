"""A webhook message rendered for one chosen user without sending anything (`POST /v1/campaigns/{id}/preview`):
what the console's composer shows beside the template, and what a developer checks before publishing.

The message is the one in the request (a draft not saved yet) or else the stored campaign's; it is checked as
`PUT /v1/campaigns/{id}` checks it, and rendered exactly as a send renders it (rendering.py), with the campaign's
id, a dispatch id of `preview`, and the trigger and event properties the request supplies. Nothing is stored,
counted, queued or logged of the user or the result: the reply holds the user's values, as a send would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import Field, ValidationError

from audience_sync.campaigns.models import WebhookMessage
from audience_sync.campaigns.ports import CampaignStore
from audience_sync.campaigns.rendering import TooLarge, compile_webhook, variables
from audience_sync.campaigns.templates import Aborted, TemplateError
from audience_sync.campaigns.triggers import StrictModel
from audience_sync.core.errors import Invalid, NotFound
from audience_sync.profiles.identity import MAX_ID_CHARS

PREVIEW_DISPATCH_ID = "preview"
ProfilesOf = Callable[[Sequence[str]], dict[str, Mapping[str, Any]]]


class PreviewRequest(StrictModel):
    """Body of `POST /v1/campaigns/{id}/preview`."""

    external_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    message: WebhookMessage | None = None  # the stored campaign's message when absent
    trigger_properties: dict[str, Any] = Field(default_factory=dict)
    event_properties: dict[str, Any] = Field(default_factory=dict)


class CampaignPreviews:
    def __init__(self, campaigns: CampaignStore, profiles_of: ProfilesOf):
        """`profiles_of`: the identified profiles of external ids (CampaignTriggers.profiles_of: one lookup)."""
        self.campaigns = campaigns
        self.profiles_of = profiles_of

    def preview(self, campaign_id: str, request: PreviewRequest) -> dict[str, Any]:
        """`{"aborted": false, "method", "url", "headers", "body"}`, or `{"aborted": true, "abort_message"}`.
        Raises NotFound (no such campaign when the request has no message; no such user), Invalid (a campaign that
        sends no webhook; a template that fails for this user)."""
        message = request.message or self._stored_message(campaign_id)
        profile = self.profiles_of([request.external_id]).get(request.external_id)
        if profile is None:
            raise NotFound("user", "user_not_found")
        values = variables(
            profile, campaign_id, PREVIEW_DISPATCH_ID, request.trigger_properties, request.event_properties
        )
        try:
            rendered = compile_webhook(message).render(values)
        except Aborted as aborted:
            return {"aborted": True, "abort_message": aborted.reason}
        except TemplateError as error:
            # Liquid's own words may quote the user's values (a message never holds user data): the line only
            where = f" at line {error.line}" if error.line is not None else ""
            raise Invalid("template_error", f"the template fails for this user{where}") from None
        except TooLarge as error:
            raise Invalid("webhook_too_large", str(error)) from None
        return {
            "aborted": False,
            "method": rendered["m"],
            "url": rendered["u"],
            "headers": rendered["h"],
            "body": rendered["b"],
        }

    def _stored_message(self, campaign_id: str) -> WebhookMessage:
        stored = self.campaigns.get(campaign_id)
        if stored is None:
            raise NotFound("campaign", "campaign_not_found")
        message = stored["definition"]["message"]
        if message.get("channel") != "webhook":
            raise Invalid("not_a_webhook", f"campaign '{campaign_id}' sends no webhook: it has nothing to preview")
        try:
            return WebhookMessage.model_validate(message)
        except ValidationError:  # saved under older, looser checks (as publish says): the client saves it again
            message = "the stored message no longer passes the checks: PUT it again"
            raise Invalid("invalid_definition", message) from None
