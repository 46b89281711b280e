"""Scheduled: refresh the LinkedIn access token well before it expires (tokens last 60 days)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync.adapters.aws import secrets as secrets_store
from audience_sync.connections.service import ConnectionService, NotConnected
from audience_sync.destinations.linkedin.oauth import OAuthError
from audience_sync.settings import settings

logger = Logger()
REFRESH_WITHIN_SECONDS = 7 * 86_400


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config = settings()
    service = ConnectionService(config, secrets_store.linkedin_client_secret(config))
    try:
        refreshed = service.refresh_if_expiring(REFRESH_WITHIN_SECONDS)
    except NotConnected as exc:
        logger.warning("LinkedIn connection needs to be reconnected", extra={"status": exc.status})
        return {"refreshed": False, "status": exc.status}
    except OAuthError as exc:  # LinkedIn unreachable: the next hourly run tries again
        logger.warning("token refresh failed", extra={"error": exc.error, "status": exc.status})
        return {"refreshed": False, "status": "retry_later"}
    return {"refreshed": refreshed, "status": service.view()["status"]}
