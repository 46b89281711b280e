"""Braze's catalogue (contract v2 §4, §7): `GET /segments/list?page=&sort_direction=`, `GET
/segments/details?segment_id=`, `GET /campaigns/list?page=&sort_direction=` and `GET /campaigns/details?campaign_id=`,
with the Bearer key, its rate limit and the permissions of the same names, in Braze's shapes (segments/service.py,
campaigns/service.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from audience_sync.core.errors import Invalid
from audience_sync.segments.service import SegmentService
from audience_sync.sources.braze.routes import UserApi, serve

if TYPE_CHECKING:
    from audience_sync.campaigns.service import CampaignService


class CatalogueApi(UserApi, Protocol):
    @property
    def segments(self) -> SegmentService: ...

    @property
    def campaigns(self) -> CampaignService: ...


def _page(raw: str | None) -> int:
    if raw is None or raw == "":
        return 0
    if not raw.isdigit() or len(raw) > 6:
        raise Invalid("invalid_page", "page must be a whole number from 0 to 999999")
    return int(raw)


def catalogue_router(services: Callable[[], CatalogueApi]) -> Router:
    router = Router()

    def route(path: str, permission: str, answer: Callable[[CatalogueApi, Any], dict[str, Any]]) -> None:
        def serve_route() -> Response:
            return serve(router, services, permission, 200, lambda api, event, _: answer(services(), event))

        router.get(path)(serve_route)

    def listed(event: Any) -> tuple[int, str]:
        return _page(event.get_query_string_value("page")), event.get_query_string_value("sort_direction") or "asc"

    route("/segments/list", "segments.list", lambda api, event: api.segments.braze_list(*listed(event)))
    route(
        "/segments/details",
        "segments.details",
        lambda api, event: api.segments.braze_details(event.get_query_string_value("segment_id")),
    )
    route("/campaigns/list", "campaigns.list", lambda api, event: api.campaigns.braze_list(*listed(event)))
    route(
        "/campaigns/details",
        "campaigns.details",
        lambda api, event: api.campaigns.braze_details(event.get_query_string_value("campaign_id")),
    )
    return router
