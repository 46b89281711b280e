"""API Gateway (REST, Lambda proxy) emulation: routes, API keys and gateway responses from the template."""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from werkzeug.datastructures import Headers
from werkzeug.wrappers import Request, Response

from localmode.functions import LocalFunction

logger = logging.getLogger("localmode.api")
API_GATEWAY_MAX_BODY = 10 * 1024 * 1024


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # template form, e.g. /v1/steps/{step_id}
    pattern: re.Pattern[str]
    function: LocalFunction
    api_key_required: bool


def _compile(path: str) -> re.Pattern[str]:
    regex = re.sub(r"\\\{([A-Za-z0-9_]+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    return re.compile(f"^{regex}$")


def routes_from(template: dict[str, Any], functions: dict[str, LocalFunction], api_id: str) -> list[Route]:
    api = template["Resources"][api_id]["Properties"]
    api_default = bool(((api.get("Auth") or {}).get("ApiKeyRequired")) or False)
    routes = []
    for function in functions.values():
        for event in function.events.values():
            if event.get("Type") != "Api":
                continue
            props = event["Properties"]
            if props.get("RestApiId", {}).get("Ref", api_id) != api_id:
                continue
            required = (props.get("Auth") or {}).get("ApiKeyRequired", api_default)
            routes.append(
                Route(props["Method"].upper(), props["Path"], _compile(props["Path"]), function, bool(required))
            )
    return routes


class ApiGateway:
    def __init__(
        self, template: dict[str, Any], functions: dict[str, LocalFunction], api_id: str, api_key: str, stage: str
    ):
        self.routes = routes_from(template, functions, api_id)
        self.responses = (template["Resources"][api_id]["Properties"].get("GatewayResponses")) or {}
        self.api_key = api_key
        self.stage = stage

    def gateway_response(self, kind: str, fallback_status: int, fallback_message: str) -> Response:
        configured = self.responses.get(kind) or {}
        status = int(configured.get("StatusCode", fallback_status))
        body = ((configured.get("ResponseTemplates") or {}).get("application/json")) or json.dumps(
            {"message": fallback_message}
        )
        return Response(body, status=status, content_type="application/json")

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        path, method = request.path, request.method.upper()
        match = next(((r, m) for r in self.routes if r.method == method and (m := r.pattern.match(path))), None)
        if match is None:
            return self.gateway_response("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")
        route, found = match
        if route.api_key_required and request.headers.get("x-api-key") != self.api_key:
            return self.gateway_response("INVALID_API_KEY", 403, "Forbidden")
        raw = request.get_data(cache=False)
        if len(raw) > API_GATEWAY_MAX_BODY:
            return self.gateway_response("REQUEST_TOO_LARGE", 413, "Request Too Long")
        event = self._event(request, route, found.groupdict(), raw)
        started = time.monotonic()
        try:
            result = route.function.invoke(event)
        except Exception:
            logger.exception("%s failed", route.function.logical_id)
            return self.gateway_response("DEFAULT_5XX", 502, "Internal server error")
        logger.info(
            "%s %s -> %s in %.0f ms", method, path, result.get("statusCode"), (time.monotonic() - started) * 1000
        )
        return self._response(result)

    def _event(self, request: Request, route: Route, params: dict[str, str], raw: bytes) -> dict[str, Any]:
        try:
            body: str | None = raw.decode("utf-8") if raw else None
            is_base64 = False
        except UnicodeDecodeError:
            body, is_base64 = base64.b64encode(raw).decode("ascii"), True
        query = request.args
        headers = dict(request.headers.items())
        return {
            "resource": route.path,
            "path": request.path,
            "httpMethod": route.method,
            "headers": headers,
            "multiValueHeaders": {k: request.headers.getlist(k) for k in headers},
            "queryStringParameters": {k: query[k] for k in query} or None,
            "multiValueQueryStringParameters": {k: query.getlist(k) for k in query} or None,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": route.path,
                "httpMethod": route.method,
                "path": f"/{self.stage}{request.path}",
                "stage": self.stage,
                "requestId": str(uuid.uuid4()),
                "requestTimeEpoch": int(time.time() * 1000),
                "domainName": request.host,
                "apiId": "local",
                "accountId": "123456789012",
                "identity": {"sourceIp": request.remote_addr, "apiKey": request.headers.get("x-api-key")},
            },
            "body": body,
            "isBase64Encoded": is_base64,
        }

    @staticmethod
    def _response(result: dict[str, Any]) -> Response:
        headers = Headers()
        for key, value in (result.get("headers") or {}).items():
            headers[key] = value
        for key, values in (result.get("multiValueHeaders") or {}).items():
            for value in values:
                headers.add(key, value)
        body = result.get("body") or ""
        data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
        return Response(data, status=int(result.get("statusCode", 200)), headers=headers)
