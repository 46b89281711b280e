"""Scheduled: refresh the LinkedIn access token well before it expires (tokens last 60 days)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync.composition.destinations import Destinations
from audience_sync.connections.errors import NotConnected
from audience_sync.destinations.base import AuthorizationFailed
from audience_sync.settings import Settings

logger = Logger()
REFRESH_WITHIN_SECONDS = 7 * 86_400


@cache
def services() -> Destinations:
    return Destinations(Settings.from_env())


# Built at init, not at the first event: a cold start pays for its clients once, in Lambda's init (decision 0026).
services().warm(("connections",))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    connections = services().connections
    try:
        refreshed = connections.refresh_if_expiring(REFRESH_WITHIN_SECONDS)
    except NotConnected as exc:
        logger.warning("LinkedIn connection needs to be reconnected", extra={"status": exc.status})
        return {"refreshed": False, "status": exc.status}
    except AuthorizationFailed as exc:  # LinkedIn unreachable: the next hourly run tries again
        logger.warning("token refresh failed", extra={"error": exc.error, "status": exc.status})
        return {"refreshed": False, "status": "retry_later"}
    return {"refreshed": refreshed, "status": connections.view()["status"]}
