"""API Gateway (REST, Lambda proxy) emulation: routes, API keys and gateway responses from the template.

Every `AWS::Serverless::Api` of the template is served, all on local mode's one port at the root (on AWS each has
its own base URL: the management API's `/v1/...` and, next, the Braze-compatible API's `/users/...`). Each keeps
its own stage, API-key default and gateway responses. Two APIs declaring the same method and path is an error at
start-up: on one port the second would be unreachable.
"""

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
class RestApi:
    """One AWS::Serverless::Api: its stage and its gateway responses."""

    logical_id: str
    stage: str
    responses: dict[str, Any]
    api_key_required: bool  # the API's default (Auth.ApiKeyRequired); a route may override it


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # template form, e.g. /v1/steps/{step_id}
    pattern: re.Pattern[str]
    function: LocalFunction
    api_key_required: bool
    api: RestApi


def _compile(path: str) -> re.Pattern[str]:
    """A template path as a regex: `{name}` one segment, `{name+}` (a greedy path variable) one or more. A trailing
    slash matches too, as on API Gateway's REST APIs (`/console/` reaches the `/console` route, its path as sent)."""
    escaped = re.escape(path)
    regex = re.sub(r"\\\{([A-Za-z0-9_]+)\\\+\\\}", r"(?P<\1>.+)", escaped)
    regex = re.sub(r"\\\{([A-Za-z0-9_]+)\\\}", r"(?P<\1>[^/]+)", regex)
    return re.compile(f"^{regex}/?$")


def rest_apis(template: dict[str, Any]) -> dict[str, RestApi]:
    apis = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource["Type"] != "AWS::Serverless::Api":
            continue
        props = resource.get("Properties", {})
        apis[logical_id] = RestApi(
            logical_id,
            str(props.get("StageName", "api")),
            props.get("GatewayResponses") or {},
            bool(((props.get("Auth") or {}).get("ApiKeyRequired")) or False),
        )
    return apis


def routes_from(template: dict[str, Any], functions: dict[str, LocalFunction]) -> list[Route]:
    """Every Api event of every function, each on its API (RestApiId; without one, the template's only API)."""
    apis = rest_apis(template)
    routes: list[Route] = []
    seen: dict[tuple[str, str], str] = {}
    for function in functions.values():
        for name, event in function.events.items():
            if event.get("Type") != "Api":
                continue
            props = event["Properties"]
            api_id = (props.get("RestApiId") or {}).get("Ref")
            if api_id is None:
                if len(apis) != 1:
                    raise ValueError(
                        f"{function.logical_id}.{name} names no RestApiId and the template has {len(apis)}"
                    )
                (api_id,) = apis
            api = apis[api_id]
            method, path = props["Method"].upper(), props["Path"]
            if (method, path) in seen:
                raise ValueError(
                    f"{method} {path} is declared by {seen[(method, path)]} and {api_id}: one port serves both"
                )
            seen[(method, path)] = api_id
            required = (props.get("Auth") or {}).get("ApiKeyRequired", api.api_key_required)
            routes.append(Route(method, path, _compile(path), function, bool(required), api))
    return routes


def local_api_id(logical_id: str) -> str:
    """The id an API has in local mode (its URL on AWS is https://<id>.execute-api.<region>.amazonaws.com/<stage>)."""
    return f"local-{logical_id.lower()}"


class ApiGateway:
    def __init__(self, template: dict[str, Any], functions: dict[str, LocalFunction], api_key: str):
        self.apis = rest_apis(template)
        self.routes = routes_from(template, functions)
        self.api_key = api_key

    def api_for(self, path: str) -> RestApi:
        """The API an unknown route is answered by: the one whose routes share the path's first segment, else the
        template's first (the management API)."""
        first = path.split("/")[1] if path.count("/") else ""
        for route in self.routes:
            if route.path.split("/")[1] == first:
                return route.api
        return next(iter(self.apis.values()))

    def gateway_response(self, api: RestApi, kind: str, fallback_status: int, fallback_message: str) -> Response:
        configured = api.responses.get(kind) or {}
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
            return self.gateway_response(
                self.api_for(path), "MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token"
            )
        route, found = match
        if route.api_key_required and request.headers.get("x-api-key") != self.api_key:
            return self.gateway_response(route.api, "INVALID_API_KEY", 403, "Forbidden")
        raw = request.get_data(cache=False)
        if len(raw) > API_GATEWAY_MAX_BODY:
            return self.gateway_response(route.api, "REQUEST_TOO_LARGE", 413, "Request Too Long")
        event = self._event(request, route, found.groupdict(), raw)
        started = time.monotonic()
        try:
            result = route.function.invoke(event)
        except Exception:
            logger.exception("%s failed", route.function.logical_id)
            return self.gateway_response(route.api, "DEFAULT_5XX", 502, "Internal server error")
        logger.info(
            "%s %s -> %s in %.0f ms",
            method,
            _printable(path),
            result.get("statusCode"),
            (time.monotonic() - started) * 1000,
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
                "path": f"/{route.api.stage}{request.path}",
                "stage": route.api.stage,
                "requestId": str(uuid.uuid4()),
                "requestTimeEpoch": int(time.time() * 1000),
                "domainName": request.host,
                "apiId": local_api_id(route.api.logical_id),
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


def _printable(path: str) -> str:
    """The path as one log line can hold it: a decoded %0A or %00 would split the line or make the log binary."""
    return path.encode("unicode_escape").decode("ascii") if not path.isprintable() else path
