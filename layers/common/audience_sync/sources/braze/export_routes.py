"""Braze's `POST /users/export/segment` (contract v2 §7): the Bearer key, its rate limit and the
`users.export.segment` permission, then the export service (exports/service.py): 201 `{"message": "success",
"object_prefix", "url"?}`, 404 for a segment that is not there, 429 while the segment's last export runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from audience_sync.http.braze import json_object
from audience_sync.sources.braze.routes import UserApi, serve

if TYPE_CHECKING:
    from audience_sync.exports.service import ExportService

EXPORT_PATH = "/users/export/segment"
EXPORT_PERMISSION = "users.export.segment"


class ExportApi(UserApi, Protocol):
    @property
    def exports(self) -> ExportService: ...


def export_router(services: Callable[[], ExportApi]) -> Router:
    router = Router()

    @router.post(EXPORT_PATH)
    def export_segment() -> Response:
        return serve(
            router,
            services,
            EXPORT_PERMISSION,
            201,
            lambda api, event, _: services().exports.segment_export(json_object(event.body)),
        )

    return router
