"""Braze's segment catalogue (contract v2 §4, §7): `GET /segments/list?page=&sort_direction=` and
`GET /segments/details?segment_id=`, with the Bearer key, its rate limit and the permissions `segments.list` and
`segments.details`, in Braze's shapes (segments/service.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from audience_sync.core.errors import Invalid
from audience_sync.segments.service import SegmentService
from audience_sync.sources.braze.routes import UserApi, serve


class CatalogueApi(UserApi, Protocol):
    @property
    def segments(self) -> SegmentService: ...


def _page(raw: str | None) -> int:
    if raw is None or raw == "":
        return 0
    if not raw.isdigit() or len(raw) > 6:
        raise Invalid("invalid_page", "page must be a whole number from 0 to 999999")
    return int(raw)


def catalogue_router(services: Callable[[], CatalogueApi]) -> Router:
    router = Router()

    @router.get("/segments/list")
    def segments_list() -> Response:
        return serve(
            router,
            services,
            "segments.list",
            200,
            lambda api, event, _: services().segments.braze_list(
                _page(event.get_query_string_value("page")),
                event.get_query_string_value("sort_direction") or "asc",
            ),
        )

    @router.get("/segments/details")
    def segments_details() -> Response:
        return serve(
            router,
            services,
            "segments.details",
            200,
            lambda api, event, _: services().segments.braze_details(event.get_query_string_value("segment_id")),
        )

    return router
