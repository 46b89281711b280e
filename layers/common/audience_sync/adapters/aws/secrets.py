"""Secrets Manager values through Powertools Parameters (cached for 5 minutes per container)."""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

from audience_sync.settings import Settings


def linkedin_client_secret(settings: Settings) -> str:
    value = parameters.get_secret(settings.linkedin_app_secret_arn, transform="json", max_age=300)
    if not isinstance(value, dict) or not value.get("client_secret"):
        raise RuntimeError("the LinkedIn app secret has no client_secret")
    return str(value["client_secret"])


def oauth_state_key(settings: Settings) -> bytes:
    value = parameters.get_secret(settings.oauth_state_secret_arn, max_age=300)
    if not value:
        raise RuntimeError("the OAuth state secret is empty")
    return str(value).encode("utf-8")


def webhook_signing_secrets(settings: Settings) -> list[bytes]:
    """The webhook signing secrets: the secret's value split on whitespace ("new old" while rotating)."""
    value = parameters.get_secret(settings.webhook_signing_secret_arn, max_age=300)
    secrets = str(value or "").split()
    if not secrets:
        raise RuntimeError("the webhook signing secret is empty")
    return [s.encode("utf-8") for s in secrets]
