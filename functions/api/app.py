"""Control-plane API: health, the LinkedIn connection (OAuth), sync steps, launch and metrics, the keys of the
Braze-compatible API (REST API keys, data import keys), segments, their CSV exports, campaigns and S3 imports."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Annotated, Any, TypeVar

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ValidationError

from audience_sync.adapters.aws import snapstart
from audience_sync.campaigns.delivery import CAMPAIGN_LEVELS
from audience_sync.campaigns.delivery import campaign_metrics as metrics_of
from audience_sync.campaigns.models import CampaignRequest, InteractionsRequest, TriggerRequest
from audience_sync.campaigns.preview import PreviewRequest
from audience_sync.campaigns.service import valid_campaign_id
from audience_sync.cohorts.service import cohort_views
from audience_sync.composition.container import Container
from audience_sync.core.errors import Invalid
from audience_sync.core.history import MAX_WINDOW_MINUTES, Metrics, recent
from audience_sync.core.metrics import STEP_LEVELS, campaign_counters_id, public_metrics
from audience_sync.credentials.models import DATA_IMPORT_KEY, REST_API_KEY, NewApiKey, NewImportKey
from audience_sync.http.braze import json_object
from audience_sync.http.openapi import NO_API_KEY, error_responses, success
from audience_sync.http.openapi_document import public_spec
from audience_sync.http.resolver import handle, json_response, new_resolver, normalise_request
from audience_sync.settings import Settings
from audience_sync.sources.braze import openapi as braze_openapi
from audience_sync.sources.webhook.models import WebhookBody
from audience_sync.sources.webhook.route import document_signature, users_router
from audience_sync.steps.models import StepConfig, valid_step_id
from audience_sync.steps.records import segment_step, step_view

logger = Logger()
tracer = Tracer(patch_modules=["botocore", "requests"])  # AWS, and the destinations' HTTP
app = new_resolver(logger)
M = TypeVar("M", bound=BaseModel)
CALLBACK_PATH = "/v1/connections/linkedin/callback"


@cache
def services() -> Container:
    return Container(Settings.from_env())


# Built at init, not at the first request: with SnapStart that is before the snapshot, so no restored container
# builds them (adapters/aws/snapstart.py; decision 0026).
services().warm(
    ("steps", "metrics", "connections", "launcher", "credentials", "segments", "campaigns", "exports", "imports")
)
snapstart.register()


def _stage_prefix() -> tuple[str, str]:
    """The request's domain, and the stage path ("/api") that prefixes routes on an execute-api domain."""
    context = app.current_event.request_context
    stage = context.stage if context.stage and context.stage != "$default" else ""
    domain = context.domain_name or app.current_event.headers.get("Host", "")
    return domain, f"/{stage}" if stage and domain.endswith(".amazonaws.com") else ""


def _redirect_uri() -> str:
    """The callback URL registered with LinkedIn; derived from the request unless configured."""
    configured = services().settings.api.oauth_redirect_uri
    if configured:
        return configured
    domain, prefix = _stage_prefix()
    return f"https://{domain}{prefix}{CALLBACK_PATH}"


@app.get("/v1/health", summary="Health check", responses=success(200, '{"status": "ok"}'))
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get(
    "/v1/connections/linkedin/authorize",
    summary="Start connecting LinkedIn (OAuth)",
    description="A 302 to LinkedIn's consent page; with `redirect=false`, a 200 with the same `authorization_url` "
    "(a page's script cannot read a redirect's Location: the console opens the URL itself).",
    responses={
        **success(302, "Location: LinkedIn's consent page, with a signed single-use state (10 min)"),
        **success(200, '{"authorization_url"} (redirect=false)'),
        **error_responses(400, 503),
    },
)
def authorize(redirect: Annotated[bool, Query()] = True):
    svc = services()
    url = svc.connections.begin_authorization(svc.oauth_state_key(), _redirect_uri())
    if not redirect:
        return json_response(200, {"authorization_url": url})
    return json_response(302, {"authorization_url": url}, headers={"Location": url})


@app.get(
    CALLBACK_PATH,
    summary="LinkedIn's OAuth redirect",
    description="Needs no API key (a browser redirect cannot carry it): the signed, single-use state protects it.",
    openapi_extensions=NO_API_KEY,
    responses={**success(200, "connected: the connection"), **error_responses(400, 502, 503)},
)
def callback(
    code: Annotated[str | None, Query(max_length=2048)] = None,
    state: Annotated[str | None, Query(max_length=2048)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
    error_description: Annotated[str | None, Query(max_length=1024)] = None,
) -> dict[str, Any]:
    if error:
        raise Invalid(
            "authorization_denied",
            f"LinkedIn authorization failed: {error} {error_description or ''}".strip(),
        )
    if not code or not state:
        raise Invalid("invalid_request", "code and state are required")
    svc = services()
    return svc.connections.complete_authorization(svc.oauth_state_key(), code, state)


@app.get(
    "/v1/connections/linkedin",
    summary="The LinkedIn connection (never a token)",
    responses={**success(200, "status, ad accounts, scope, token expiry times"), **error_responses(503)},
)
def connection() -> dict[str, Any]:
    return services().connections.view()


@app.delete(
    "/v1/connections/linkedin",
    summary="Disconnect LinkedIn",
    responses={**success(200, "disconnected"), **error_responses(503)},
)
def disconnect() -> dict[str, Any]:
    services().connections.disconnect()
    return services().connections.view()


@app.put(
    "/v1/steps/<step_id>",
    summary="Create or replace a step's config",
    responses={**success(200, "the step"), **error_responses(400, 413, 503)},
)
def put_step(step_id: str, config: StepConfig) -> dict[str, Any]:
    stored = services().steps.put_config(valid_step_id(step_id), config.model_dump(mode="json", exclude_none=True))
    return step_view(stored)


@app.get(
    "/v1/steps",
    summary="Every step, by id: config, status, audience, error",
    responses={**success(200, '{"steps": [step, ...]}'), **error_responses(503)},
)
def list_steps() -> dict[str, Any]:
    return {"steps": [step_view(item) for item in services().steps.list_all()]}


@app.get(
    "/v1/steps/<step_id>",
    summary="A step: config, status, audience, error",
    responses={**success(200, "the step"), **error_responses(400, 404, 503)},
)
def get_step(step_id: str) -> dict[str, Any]:
    return step_view(services().steps.get(valid_step_id(step_id)))


@app.post(
    "/v1/steps/<step_id>/launch",
    summary="Validate and launch a step (creates the LinkedIn audience if asked)",
    responses={**success(200, "active, with the audience id"), **error_responses(400, 404, 422, 502, 503)},
)
def launch(step_id: str) -> dict[str, Any]:
    return services().launcher.launch(valid_step_id(step_id))


@app.get(
    "/v1/steps/<step_id>/metrics",
    summary="A step's metrics",
    responses={
        **success(200, "entered, proceeded, synced, not_synced, pending, errored, exited (and left, removed)"),
        **error_responses(400, 404, 503),
    },
)
def step_metrics(step_id: str) -> dict[str, int]:
    svc = services()
    step = svc.steps.get(valid_step_id(step_id))  # 404 for an unknown step rather than zeros
    return public_metrics(svc.metrics.get(step_id), follows_segment=segment_step(step.get("config", {})) is not None)


# A metrics history's window: the last `minutes` minutes (core/history.py; docs/decisions/0023-metrics-history.md).
Minutes = Annotated[int, Query(ge=1, le=MAX_WINDOW_MINUTES)]


def _history_route(path: str, whose: str, level: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return app.get(
        path,
        summary=f"{whose} metrics minute by minute",
        description="One point a minute for the last `minutes` minutes (1 to 1440), the current minute last: each "
        f"metric as counted in that minute, but {level}, as it stood at the minute's end. Kept 48 hours.",
        responses={**success(200, '{"minutes", "points": [{"minute", metric: n}]}'), **error_responses(400, 404, 503)},
    )


def _recent(series: str, minutes: int, metrics: Metrics, levels: tuple[str, ...]) -> dict[str, Any]:
    svc = services()
    return recent(svc.metrics, series, minutes, svc.clock.now_ms(), metrics, levels)


@_history_route("/v1/steps/<step_id>/metrics/history", "A step's", "`pending`")
def step_metrics_history(step_id: str, minutes: Minutes = 60) -> dict[str, Any]:
    step = services().steps.get(valid_step_id(step_id))  # 404 for an unknown step rather than zeros
    follows = segment_step(step.get("config", {})) is not None
    return _recent(step_id, minutes, lambda c: public_metrics(c, follows), STEP_LEVELS)


@app.get(
    "/v1/steps/<step_id>/audience",
    summary="The step's LinkedIn audience: status explained, size, match rate (cached)",
    responses={
        **success(200, "status, explanation, size, matched count, match rate, refreshed_at"),
        **error_responses(400, 404, 409, 502, 503),
    },
)
def step_audience(step_id: str, refresh: Annotated[bool, Query()] = False) -> dict[str, Any]:
    """The cached reading while it is younger than AudienceMaxAgeSeconds, else read from LinkedIn now.
    `refresh=true` reads LinkedIn now unless the last attempt is under 10 s old (then the cached reading)."""
    return services().audience.view(valid_step_id(step_id), force=refresh)


@app.post(
    "/v1/rest-api-keys",
    summary="Create a REST API key of the Braze-compatible API (the key is shown once)",
    responses={**success(201, "id, key, name, permissions"), **error_responses(400, 503)},
)
def create_rest_api_key(request: NewApiKey) -> tuple[dict[str, Any], int]:
    return services().credentials.create_api_key(request), 201


@app.get(
    "/v1/rest-api-keys",
    summary="The REST API keys (never a key)",
    responses={**success(200, '{"keys": [{"id", "name", "permissions", "created_at"}]}'), **error_responses(503)},
)
def list_rest_api_keys() -> dict[str, Any]:
    return {"keys": services().credentials.list(REST_API_KEY)}


@app.delete(
    "/v1/rest-api-keys/<key_id>",
    summary="Revoke a REST API key (refused everywhere within 5 s)",
    responses={**success(204, "revoked"), **error_responses(404, 503)},
)
def revoke_rest_api_key(key_id: str):
    services().credentials.revoke(REST_API_KEY, key_id)
    return Response(status_code=204)


@app.post(
    "/v1/data-import-keys",
    summary="Create a data import key (a partner's client secret for cohort imports; shown once)",
    responses={**success(201, "id, partner, client_secret"), **error_responses(400, 503)},
)
def create_data_import_key(request: NewImportKey) -> tuple[dict[str, Any], int]:
    return services().credentials.create_import_key(request), 201


@app.get(
    "/v1/data-import-keys",
    summary="The data import keys (never a secret)",
    responses={**success(200, '{"keys": [{"id", "partner", "created_at"}]}'), **error_responses(503)},
)
def list_data_import_keys() -> dict[str, Any]:
    return {"keys": services().credentials.list(DATA_IMPORT_KEY)}


@app.delete(
    "/v1/data-import-keys/<key_id>",
    summary="Revoke a data import key",
    responses={**success(204, "revoked"), **error_responses(404, 503)},
)
def revoke_data_import_key(key_id: str):
    services().credentials.revoke(DATA_IMPORT_KEY, key_id)
    return Response(status_code=204)


@app.get(
    "/v1/cohorts",
    summary="The partners' cohorts (the cohort import): names, and the ids that named no user here",
    responses={
        **success(
            200, '{"cohorts": [{"partner", "cohort_id", "name", "created_at", "updated_at", "ignored_ids", "members"}]}'
        ),
        **error_responses(503),
    },
)
def list_cohorts() -> dict[str, Any]:
    return {"cohorts": cohort_views(services().cohort_store)}


@app.get(
    "/v1/segments",
    summary="Every segment, by id: its definition (GET /v1/segments/{id} adds its size and counters)",
    responses={**success(200, '{"segments": [{"id", "name", "description", "filter", ...}]}'), **error_responses(503)},
)
def list_segments() -> dict[str, Any]:
    return {"segments": services().segments.definitions()}


@app.put(
    "/v1/segments/<segment_id>",
    summary="Create or replace a segment (its filter checked whole; existing profiles swept when it is new)",
    description='Body: `{"name", "description"?, "filter"}` (contract v2 §4, docs/segments.md). A bad '
    'filter is a 400 whose `error.details` hold `{"path", "message"}`, `path` a JSON Pointer into the body.',
    responses={**success(200, "the segment, its size and counters"), **error_responses(400, 503)},
)
def put_segment(segment_id: str) -> dict[str, Any]:
    return services().segments.put(segment_id, json_object(app.current_event.body))


@app.get(
    "/v1/segments/<segment_id>",
    summary="A segment: its definition, size, and users who entered and exited (in all, and per hour)",
    responses={**success(200, "the segment"), **error_responses(400, 404, 503)},
)
def get_segment(segment_id: str) -> dict[str, Any]:
    return services().segments.get(segment_id)


@app.get(
    "/v1/segments/<segment_id>/members",
    summary="A page of a segment's members",
    responses={
        **success(200, '{"members": [{"external_id", "braze_id", "entered_at"}], "next_cursor"}'),
        **error_responses(400, 404, 503),
    },
)
def segment_members(
    segment_id: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=2048)] = None,
) -> dict[str, Any]:
    return services().segments.members(segment_id, limit, cursor)


@app.delete(
    "/v1/segments/<segment_id>",
    summary="Delete a segment (409 while a sync step uses it)",
    responses={**success(204, "deleted"), **error_responses(400, 404, 409, 503)},
)
def delete_segment(segment_id: str):
    services().segments.delete(segment_id)
    return Response(status_code=204)


@app.post(
    "/v1/segments/<segment_id>/exports",
    summary="Export a segment's members as CSV (a header row, then external_id and the fields asked, one row each)",
    description='Body: `{"format": "csv", "fields": [..]}` (contract v2 §7, docs/exports.md): a field is one of '
    "Braze's single-value fields (first_name, email, braze_id, created_at, ...) or a custom attribute's name. "
    "429 while the segment's last export runs.",
    responses={**success(202, '{"export_id"}'), **error_responses(400, 404, 429, 503)},
)
def export_segment(segment_id: str):
    started = services().exports.csv_export(segment_id, json_object(app.current_event.body))
    return json_response(202, started)


@app.get(
    "/v1/exports/<export_id>",
    summary="An export: running, done or failed, its rows, and a download link (signed anew each time)",
    responses={
        **success(200, '{"export_id", "segment_id", "format", "status", "rows", "files", "url", "expires_at", ...}'),
        **error_responses(404, 503),
    },
)
def get_export(export_id: str) -> dict[str, Any]:
    return services().exports.status(export_id)


@app.get(
    "/v1/imports",
    summary="Every import's definition, by id (GET /v1/imports/{id} adds its state)",
    responses={**success(200, '{"imports": [{"import_id", "bucket", "prefix", ...}]}'), **error_responses(503)},
)
def list_imports() -> dict[str, Any]:
    return {"imports": services().imports.definitions()}


@app.put(
    "/v1/imports/<import_id>",
    summary="Create or replace a scheduled S3 import (its definition checked whole)",
    description='Body: `{"bucket", "prefix", "format": "csv"|"ndjson", "every_minutes", "identifier": {"column", '
    '"type"}, "mappings": [{"column", "attribute", "strategy"}], "allow_create", "enabled"}` (contract v2 §8, '
    "docs/imports.md). A new bucket, prefix or format reads from the first key again.",
    responses={**success(200, "the import"), **error_responses(400, 409, 503)},
)
def put_import(import_id: str) -> dict[str, Any]:
    return services().imports.put(import_id, json_object(app.current_event.body))


@app.get(
    "/v1/imports/<import_id>",
    summary="An import: its definition, the last key imported, the running run and the next scheduled one",
    responses={**success(200, "the import"), **error_responses(400, 404, 503)},
)
def get_import(import_id: str) -> dict[str, Any]:
    return services().imports.get(import_id)


@app.delete(
    "/v1/imports/<import_id>",
    summary="Delete an import, its state and its runs",
    responses={**success(204, "deleted"), **error_responses(400, 404, 503)},
)
def delete_import(import_id: str):
    services().imports.delete(import_id)
    return Response(status_code=204)


@app.post(
    "/v1/imports/<import_id>/run",
    summary="Run an import now (409 while it is disabled or a run is in progress)",
    responses={**success(202, '{"run_id"}'), **error_responses(400, 404, 409, 503)},
)
def run_import(import_id: str):
    return json_response(202, services().imports.run_now(import_id))


@app.get(
    "/v1/imports/<import_id>/runs",
    summary="An import's runs, the running one first, then the last 50",
    responses={
        **success(
            200,
            '{"runs": [{"run_id", "status", "started_at", "finished_at", "files", "rows", "created", "updated", '
            '"skipped", "failed": [{"file", "line", "reason"}], "failed_total"}]}',
        ),
        **error_responses(400, 404, 503),
    },
)
def import_runs(import_id: str) -> dict[str, Any]:
    return services().imports.runs(import_id)


def _body(model: type[M]) -> M:
    """The request's body as `model`, for the routes that validate it themselves: read strictly (`json_object`: a
    key twice, NaN, a lone surrogate are refused), then refused as the resolver refuses a body a route's signature
    did not take: fields under "body"."""
    try:
        return model.model_validate(json_object(app.current_event.body))
    except ValidationError as error:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in error.errors()]) from None


@app.get(
    "/v1/campaigns",
    summary="Every campaign, by id: GET /v1/campaigns/{id} less its templates and property filters",
    description="Each campaign's view with `message` as `{channel, method?, step_id?}` and `delivery` without its "
    "triggers' property filters (`exceptions` as their number).",
    responses={**success(200, '{"campaigns": [{"campaign_id", "name", "status", ...}]}'), **error_responses(503)},
)
def list_campaigns() -> dict[str, Any]:
    return {"campaigns": services().campaigns.summaries()}


@app.put(
    "/v1/campaigns/<campaign_id>",
    summary="Create or replace a campaign (its templates checked: an error names the line)",
    description="Body: contract v2 §6 (docs/campaigns.md). A new campaign is a draft; an existing one keeps its "
    "status.",
    responses={**success(200, "the campaign"), **error_responses(400, 413, 503)},
)
def put_campaign(campaign_id: str) -> dict[str, Any]:
    # The body is validated here, not by the route's signature: read strictly first (`_body`).

    return services().campaigns.put(campaign_id, _body(CampaignRequest))


@app.get(
    "/v1/campaigns/<campaign_id>",
    summary="A campaign: its definition, status (draft, active, stopped) and when it moved",
    responses={**success(200, "the campaign"), **error_responses(400, 404, 503)},
)
def get_campaign(campaign_id: str) -> dict[str, Any]:
    return services().campaigns.get(campaign_id)


@app.post(
    "/v1/campaigns/<campaign_id>/publish",
    summary="Publish a campaign (active; stamps published_at); 422 lists what it refers to that is missing",
    responses={**success(200, "the campaign"), **error_responses(400, 404, 422, 503)},
)
def publish_campaign(campaign_id: str) -> dict[str, Any]:
    return services().campaigns.publish(campaign_id)


@app.post(
    "/v1/campaigns/<campaign_id>/stop",
    summary="Stop an active campaign (nothing more is sent; 409 for a draft)",
    responses={**success(200, "the campaign"), **error_responses(400, 404, 409, 503)},
)
def stop_campaign(campaign_id: str) -> dict[str, Any]:
    return services().campaigns.stop(campaign_id)


@app.post(
    "/v1/campaigns/<campaign_id>/trigger",
    summary="Send an API-triggered campaign to up to 50 recipients now (Braze's trigger/send)",
    description='Body: `{"recipients": [{"external_id", "trigger_properties"?}]}`. 202 with the send\'s '
    "dispatch_id and what became of the recipients: queued, control, aborted, failed, not_in_audience, unknown_users. "
    "409 for a draft or stopped campaign, or one its triggers send.",
    responses={**success(202, "the send"), **error_responses(400, 404, 409, 413, 503)},
)
def trigger_campaign(campaign_id: str) -> tuple[dict[str, Any], int]:

    valid_campaign_id(campaign_id)
    request = _body(TriggerRequest)
    correlation_id = app.current_event.request_context.request_id
    return services().campaign_triggers.trigger(campaign_id, request, correlation_id), 202


@app.post(
    "/v1/campaigns/<campaign_id>/preview",
    summary="A webhook message rendered for one user, nothing sent (the campaign's, or a draft's in the body)",
    description='Body: `{"external_id", "message"?, "trigger_properties"?, "event_properties"?}`. 200 `{"aborted": '
    'false, "method", "url", "headers", "body"}` as a send would render it (dispatch_id `preview`), or `{"aborted": '
    'true, "abort_message"}`. 404 for an unknown user, or an unknown campaign when the body has no message; 400 for '
    "a template that fails for this user (its line) or a campaign that sends no webhook.",
    responses={**success(200, "the rendered webhook"), **error_responses(400, 404, 413, 503)},
)
def preview_campaign(campaign_id: str) -> dict[str, Any]:

    valid_campaign_id(campaign_id)
    return services().campaign_previews.preview(campaign_id, _body(PreviewRequest))


@app.get(
    "/v1/campaigns/<campaign_id>/metrics",
    summary="A campaign's metrics: triggered, scheduled, sent, delivered, failed, aborted, control, "
    "exception_cancelled",
    responses={**success(200, "the metrics"), **error_responses(400, 404, 503)},
)
def campaign_metrics(campaign_id: str) -> dict[str, int]:

    svc = services()
    status = svc.campaigns.get(campaign_id)["status"]  # 404 for an unknown campaign rather than zeros
    return metrics_of(svc.metrics.get(campaign_counters_id(campaign_id)), status)


@_history_route("/v1/campaigns/<campaign_id>/metrics/history", "A campaign's", "`scheduled` (the users waiting)")
def campaign_metrics_history(campaign_id: str, minutes: Minutes = 60) -> dict[str, Any]:

    status = services().campaigns.get(campaign_id)["status"]  # 404 for an unknown campaign rather than zeros
    return _recent(campaign_counters_id(campaign_id), minutes, lambda c: metrics_of(c, status), CAMPAIGN_LEVELS)


@app.post(
    "/v1/interactions",
    summary="Record interactions with campaigns from channels sent elsewhere (up to 1,000)",
    description='Body: `{"interactions": [{"external_id", "campaign_id", "type", "time"?}]}`. 202 `{"accepted", '
    '"ignored"}`: an unknown campaign or user, or a repeat of the same (user, campaign, type, time), is ignored. '
    "An accepted interaction with an active campaign may trigger follow-up campaigns (docs/campaigns.md).",
    responses={**success(202, "the counts"), **error_responses(400, 413, 503)},
)
def record_interactions() -> tuple[dict[str, Any], int]:

    request = _body(InteractionsRequest)
    correlation_id = app.current_event.request_context.request_id
    return services().interactions.record(request, correlation_id), 202


def _not_served_here(step_id: str, body: WebhookBody, request_id: str) -> dict[str, Any]:
    raise AssertionError("the ingest function serves the webhook; this resolver only documents it")


SEGMENT_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["name", "filter"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "minLength": 1, "maxLength": 255},
                    "description": {"type": "string", "maxLength": 1024},
                    "filter": {"type": "object", "description": "contract v2 §4; docs/segments.md"},
                },
            }
        }
    },
}


@cache
def _spec() -> dict[str, Any]:
    webhook = new_resolver(logger)
    webhook.include_router(users_router(_not_served_here))
    platform = new_resolver(logger)
    platform.include_router(braze_openapi.documentation_router())
    spec = public_spec(app, webhook, platform)
    document_signature(spec)
    braze_openapi.finish(spec)
    # the segment route reads its body itself (errors name JSON Pointers into it): its shape, for the document
    spec["paths"]["/v1/segments/{segment_id}"]["put"]["requestBody"] = SEGMENT_BODY
    # the campaigns' routes read their bodies themselves too (`_body`)
    _document_body(spec, "put", "/v1/campaigns/{campaign_id}", CampaignRequest)
    _document_body(spec, "post", "/v1/campaigns/{campaign_id}/preview", PreviewRequest)
    _document_body(spec, "post", "/v1/campaigns/{campaign_id}/trigger", TriggerRequest)
    _document_body(spec, "post", "/v1/interactions", InteractionsRequest)
    return spec


def _document_body(spec: dict[str, Any], method: str, path: str, model: type[BaseModel]) -> None:
    """The JSON body of a route that validates it itself (`_body`), in the document (and so fuzzed)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    spec["components"]["schemas"].update(schema.pop("$defs", {}))
    spec["components"]["schemas"][model.__name__] = schema
    spec["paths"][path][method]["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
    }


@app.get("/v1/openapi.json", summary="This OpenAPI document", responses=success(200, "OpenAPI 3.1"))
def openapi() -> dict[str, Any]:
    # Relative to where the document was read, so "Try it" in a viewer reaches this API under its stage.
    return {**_spec(), "servers": [{"url": _stage_prefix()[1] or "/"}]}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(logger, event, lambda request: app.resolve(normalise_request(request), context))
