"""Secrets Manager values through Powertools Parameters (cached for 5 minutes per container, so a rotated secret
applies within 5 minutes without a deploy). A value is read when first needed, never at import."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from botocore.exceptions import ClientError

from audience_sync.adapters.aws.errors import error_code
from audience_sync.core.errors import StoreUnavailable

MAX_AGE_SECONDS = 300


def _secret(arn: str, transform: Any = None) -> Any:
    """Powertools wraps every failure of Secrets Manager (and of the JSON transform) in its own exceptions: they
    become StoreUnavailable like any other AWS failure, the original kept as the cause."""
    try:
        return parameters.get_secret(arn, transform=transform, max_age=MAX_AGE_SECONDS)
    except (GetParameterError, TransformParameterError) as error:
        cause = error.__cause__
        reason = error_code(cause) if isinstance(cause, ClientError) else type(cause or error).__name__
        raise StoreUnavailable("secrets.get", reason) from error


def oauth_client_secret(arn: str) -> str:
    """The OAuth app's client secret: a JSON secret {"client_secret": ...} (LinkedInAppSecret)."""
    value = _secret(arn, transform="json")
    if not isinstance(value, dict) or not value.get("client_secret"):
        raise RuntimeError("the OAuth app secret has no client_secret")
    return str(value["client_secret"])


def oauth_state_key(arn: str) -> bytes:
    """The key that signs OAuth `state` values (OAuthStateSecret)."""
    value = _secret(arn)
    if not value:
        raise RuntimeError("the OAuth state secret is empty")
    return str(value).encode("utf-8")


def webhook_signing_secrets(arn: str) -> list[bytes]:
    """The webhook signing secrets: the secret's value split on whitespace ("new old" while rotating)."""
    secrets = str(_secret(arn) or "").split()
    if not secrets:
        raise RuntimeError("the webhook signing secret is empty")
    return [s.encode("utf-8") for s in secrets]
