"""The Braze-compatible API (contract v2 §2, §3, §7): /users/* behind `Authorization: Bearer <REST API key>`, the
partner cohort import (/partners/{partner}/cohorts*, credentials in the body), the catalogue (/segments/list,
/segments/details, /campaigns/list, /campaigns/details) and the segment export (/users/export/segment), in Braze's
error envelope. Writes are checked, planned and queued for the profile writer; exports read the profile store or
are queued for the export function."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync.adapters.aws import snapstart
from audience_sync.composition.management import PlatformApi
from audience_sync.http import braze
from audience_sync.http.resolver import handle, normalise_request
from audience_sync.settings import Settings
from audience_sync.sources.braze.catalogue_routes import catalogue_router
from audience_sync.sources.braze.export_routes import export_router
from audience_sync.sources.braze.partner_routes import partners_router
from audience_sync.sources.braze.routes import users_router

logger = Logger()
tracer = Tracer(patch_modules=["botocore"])  # AWS calls only: patching all would import requests


@cache
def services() -> PlatformApi:
    return PlatformApi(Settings.from_env())


# Built at init, not at the first request: with SnapStart that is before the snapshot, so no restored container
# builds them (adapters/aws/snapstart.py; decision 0026).
services().warm(("credentials", "request_counter", "profile_service", "cohort_import", "segments", "exports"))
snapstart.register()


app = braze.new_resolver(logger)
app.include_router(users_router(services))
app.include_router(partners_router(services))
app.include_router(catalogue_router(services))
app.include_router(export_router(services))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(
        logger, event, lambda request: app.resolve(normalise_request(request), context), render=braze.error_response
    )
