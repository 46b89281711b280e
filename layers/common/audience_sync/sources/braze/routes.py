"""The Braze-compatible user routes (contract v2 §2). Every route: the Bearer key checked (401), the request counted
against the key's rate limit (429 with `Retry-After`), the route's permission checked (403), then the body. Every
answer after the key is known carries `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`.
Unknown top-level keys and headers (`X-Braze-Batch`, Segment's `app_group_id`) are ignored."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from audience_sync.core.clock import Clock
from audience_sync.core.errors import DomainError
from audience_sync.credentials.ports import RequestCounter
from audience_sync.credentials.ratelimit import RateLimited, count_request
from audience_sync.credentials.service import Credentials
from audience_sync.http.braze import error_response, json_object
from audience_sync.http.resolver import json_response
from audience_sync.profiles.service import ProfileService

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
    from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent


class UserApi(Protocol):
    """What the routes need (composition/management.py builds it)."""

    @property
    def credentials(self) -> Credentials: ...

    @property
    def request_counter(self) -> RequestCounter: ...

    @property
    def profile_service(self) -> ProfileService: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def requests_per_minute(self) -> int: ...


Action = Callable[[ProfileService, dict[str, Any], str], dict[str, Any]]

# path, permission, success status, action: Braze's statuses (201 for /users/track and the identity routes, 202 for
# the asynchronous merge and delete).
ROUTES: tuple[tuple[str, str, int, Action], ...] = (
    ("/users/track", "users.track", 201, lambda svc, body, rid: svc.track(body, rid)),
    ("/users/alias/new", "users.alias.new", 201, lambda svc, body, rid: svc.new_aliases(body, rid)),
    ("/users/identify", "users.identify", 201, lambda svc, body, rid: svc.identify(body, rid)),
    ("/users/merge", "users.merge", 202, lambda svc, body, rid: svc.merge(body, rid)),
    ("/users/delete", "users.delete", 202, lambda svc, body, rid: svc.delete(body, rid)),
    ("/users/export/ids", "users.export.ids", 201, lambda svc, body, rid: svc.export(body)),
)


Produce = Callable[[UserApi, "BaseProxyEvent", str], dict[str, Any]]


def serve(router: Router, services: Callable[[], UserApi], permission: str, status: int, produce: Produce) -> Response:
    """One request of the Braze-compatible API: the key, its rate limit, the permission, then `produce` (the same for
    every route: the user routes here, the catalogue's in catalogue_routes.py)."""
    api = services()
    headers: dict[str, str] = {}
    event = router.current_event
    try:
        key = api.credentials.api_key(event.headers.get("Authorization") or event.headers.get("authorization"))
        try:
            limit = key.rate_limit_per_minute or api.requests_per_minute
            state = count_request(api.request_counter, key.id, limit, api.clock.now_ms())
        except RateLimited as limited:
            headers = limited.state.headers()
            raise
        headers = state.headers()
        api.credentials.require(key, permission)
        request_id = cast("APIGatewayProxyEvent", event).request_context.request_id
        return json_response(status, produce(api, event, request_id), headers)
    except DomainError as error:
        return error_response(error, headers)


def users_router(services: Callable[[], UserApi]) -> Router:
    router = Router()
    for path, permission, status, action in ROUTES:

        def route(permission: str = permission, status: int = status, action: Action = action) -> Response:
            return serve(
                router,
                services,
                permission,
                status,
                lambda api, event, request_id: action(api.profile_service, json_object(event.body), request_id),
            )

        router.route(path, "POST")(route)
    return router
