"""Control-plane API: health, the LinkedIn connection (OAuth), sync steps, launch and metrics."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from audience_sync import secrets_store
from audience_sync.audience_cache import AudienceCache
from audience_sync.audience_refresh import AudienceRefresher
from audience_sync.clock import SystemClock
from audience_sync.connections import ConnectionService
from audience_sync.errors import ApiError
from audience_sync.http import handle, json_response, new_resolver
from audience_sync.launcher import Launcher
from audience_sync.metrics import public_metrics
from audience_sync.metrics_store import MetricsStore
from audience_sync.models import StepConfig, valid_step_id
from audience_sync.settings import Settings, settings
from audience_sync.steps import StepRepository, step_view

logger = Logger()
tracer = Tracer()
app = new_resolver(logger)
CALLBACK_PATH = "/v1/connections/linkedin/callback"


class Services:
    def __init__(self, config: Settings):
        self.settings = config
        self.connections = ConnectionService(config, secrets_store.linkedin_client_secret(config))
        self.steps = StepRepository(config)
        self.metrics = MetricsStore(config)
        self.launcher = Launcher(config, self.steps, self.connections)
        self.audience = AudienceRefresher(
            self.steps,
            self.connections,
            AudienceCache(config.audience_views_table),
            self.connections.notifier,
            SystemClock(),
            config.audience_max_age_seconds,
        )


@cache
def services() -> Services:
    return Services(settings())


def _redirect_uri() -> str:
    """The callback URL registered with LinkedIn; derived from the request unless configured."""
    configured = services().settings.oauth_redirect_uri
    if configured:
        return configured
    context = app.current_event.request_context
    stage = context.stage if context.stage and context.stage != "$default" else ""
    domain = context.domain_name or app.current_event.headers.get("Host", "")
    prefix = f"/{stage}" if stage and domain.endswith(".amazonaws.com") else ""
    return f"https://{domain}{prefix}{CALLBACK_PATH}"


@app.get("/v1/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/v1/connections/linkedin/authorize")
def authorize():
    svc = services()
    url = svc.connections.begin_authorization(secrets_store.oauth_state_key(svc.settings), _redirect_uri())
    return json_response(302, {"authorization_url": url}, headers={"Location": url})


@app.get(CALLBACK_PATH)
def callback(
    code: Annotated[str | None, Query(max_length=2048)] = None,
    state: Annotated[str | None, Query(max_length=2048)] = None,
    error: Annotated[str | None, Query(max_length=256)] = None,
    error_description: Annotated[str | None, Query(max_length=1024)] = None,
) -> dict[str, Any]:
    if error:
        raise ApiError(
            400,
            "authorization_denied",
            f"LinkedIn authorization failed: {error} {error_description or ''}".strip(),
        )
    if not code or not state:
        raise ApiError(400, "invalid_request", "code and state are required")
    svc = services()
    return svc.connections.complete_authorization(secrets_store.oauth_state_key(svc.settings), code, state)


@app.get("/v1/connections/linkedin")
def connection() -> dict[str, Any]:
    return services().connections.view()


@app.delete("/v1/connections/linkedin")
def disconnect() -> dict[str, Any]:
    services().connections.disconnect()
    return services().connections.view()


@app.put("/v1/steps/<step_id>")
def put_step(step_id: str, config: StepConfig) -> dict[str, Any]:
    return step_view(services().steps.put_config(valid_step_id(step_id), config))


@app.get("/v1/steps/<step_id>")
def get_step(step_id: str) -> dict[str, Any]:
    return step_view(services().steps.get(valid_step_id(step_id)))


@app.post("/v1/steps/<step_id>/launch")
def launch(step_id: str) -> dict[str, Any]:
    return services().launcher.launch(valid_step_id(step_id))


@app.get("/v1/steps/<step_id>/metrics")
def step_metrics(step_id: str) -> dict[str, int]:
    svc = services()
    svc.steps.get(valid_step_id(step_id))  # 404 for an unknown step rather than zeros
    return public_metrics(svc.metrics.get(step_id))


@app.get("/v1/steps/<step_id>/audience")
def step_audience(step_id: str, refresh: Annotated[bool, Query()] = False) -> dict[str, Any]:
    """The cached reading while it is younger than AudienceMaxAgeSeconds, else read from LinkedIn now."""
    return services().audience.view(valid_step_id(step_id), force=refresh)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(app, logger, event, context)
