"""The partner cohort import routes (contract v2 §3): `/partners/{partner}/cohorts` and `.../cohorts/users`, with
credentials in the body (cohorts/service.py) and Braze's error envelope. 201 `{"message": "success"}`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, cast

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router

from audience_sync.cohorts.service import CohortImport
from audience_sync.core.errors import DomainError
from audience_sync.http.braze import error_response, json_object
from audience_sync.http.resolver import json_response

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent


class PartnerApi(Protocol):
    """What the routes need (composition/management.py builds it)."""

    @property
    def cohort_import(self) -> CohortImport: ...


def partners_router(services: Callable[[], PartnerApi]) -> Router:
    router = Router()

    @router.post("/partners/<partner>/cohorts")
    def define_cohort(partner: str) -> Response:
        try:
            body = json_object(router.current_event.body)
            return json_response(201, services().cohort_import.define(partner, body))
        except DomainError as error:
            return error_response(error)

    @router.post("/partners/<partner>/cohorts/users")
    def change_cohort(partner: str) -> Response:
        try:
            body = json_object(router.current_event.body)
            request_id = cast("APIGatewayProxyEvent", router.current_event).request_context.request_id
            return json_response(201, services().cohort_import.change(partner, body, request_id))
        except DomainError as error:
            return error_response(error)

    return router
