"""A webhook campaign's message rendered for one user (contract v2 §6). Pure.

What a template can read: Braze's standard tags from the profile (`${user_id}` is the external id, `${city}` the
profile's `home_city`, `${email_address}` its `email`, `${phone_number}` its `phone`), its custom attributes, the
triggering event's properties, an API trigger's `trigger_properties`, and the campaign's id and the send's
dispatch_id. A value the profile does not have renders empty, as in Braze.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from audience_sync.campaigns.models import WebhookMessage
from audience_sync.campaigns.templates import USER, CompiledTemplate, compile_template
from audience_sync.profiles.values import plain

# A rendered webhook rides in one sync-queue message (SQS takes 256 KiB): url, headers and body together.
MAX_RENDERED_BYTES = 200_000
# Braze's standard tags -> the profile's standard fields.
_STANDARD_TAGS = {
    "first_name": "first_name",
    "last_name": "last_name",
    "email_address": "email",
    "phone_number": "phone",
    "city": "home_city",
    "country": "country",
    "language": "language",
    "time_zone": "time_zone",
    # Braze's too, though contract v2 §6 does not list them: the Lytics webhook sends both (docs/integrations/lytics.md)
    "gender": "gender",
    "date_of_birth": "dob",
}


class TooLarge(ValueError):
    """The rendered webhook is over MAX_RENDERED_BYTES."""


def variables(
    profile: Mapping[str, Any],
    campaign_id: str,
    dispatch_id: str,
    trigger_properties: Mapping[str, Any] | None = None,
    event_properties: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What a template reads for one user (templates.py names the roots)."""
    fields = profile.get("fields", {})
    user: dict[str, Any] = {tag: plain(fields.get(name)) for tag, name in _STANDARD_TAGS.items()}
    user["user_id"] = profile.get("external_id")
    user["braze_id"] = profile.get("braze_id")
    return {
        USER: user,
        "custom_attribute": plain(profile.get("custom", {})),
        "event_properties": dict(event_properties or {}),
        "api_trigger_properties": dict(trigger_properties or {}),
        "campaign": {"api_id": campaign_id, "dispatch_id": dispatch_id},
    }


@dataclass(frozen=True)
class CompiledWebhook:
    method: str
    url: CompiledTemplate
    headers: tuple[tuple[str, CompiledTemplate], ...]
    body: CompiledTemplate

    def render(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The webhook for one user as the queue carries it (destinations/webhook: method, url, headers, body).
        Raises Aborted (`abort_message`), TemplateError (a render-time error) and TooLarge."""
        rendered = {
            "m": self.method,
            "u": self.url.render(values).strip(),
            "h": {name: template.render(values) for name, template in self.headers},
            "b": "" if self.method == "GET" else self.body.render(values),
        }
        size = len(json.dumps(rendered, separators=(",", ":")))
        if size > MAX_RENDERED_BYTES:
            raise TooLarge(f"the rendered webhook holds {size} bytes, more than {MAX_RENDERED_BYTES}")
        return rendered


def compile_webhook(message: WebhookMessage) -> CompiledWebhook:
    return CompiledWebhook(
        method=message.method,
        url=compile_template(message.url),
        headers=tuple((name, compile_template(value)) for name, value in message.headers.items()),
        body=compile_template(message.body),
    )
