"""The WSGI app: routing on PATH_INFO (mount-agnostic), fault injection, header checks and the request log."""

from __future__ import annotations

import logging
import random
import secrets
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from localmode.sandbox import views_control as control
from localmode.sandbox import views_oauth as oauth
from localmode.sandbox import views_rest as rest
from localmode.sandbox.config import SandboxConfig
from localmode.sandbox.context import RequestContext
from localmode.sandbox.faults import fault_body, pick_fault
from localmode.sandbox.oauth import token_id
from localmode.sandbox.responses import Reject, json_response
from localmode.sandbox.state import SandboxState

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

logger = logging.getLogger(__name__)
# environ key server.serving() sets: when the request line was read, on time.time()
ARRIVED = "sandbox.arrived"

View = Callable[..., Response]

_ROUTES: list[tuple[str, list[str], View]] = [
    ("/oauth/v2/authorization", ["GET"], oauth.authorize),
    ("/oauth/v2/accessToken", ["POST"], oauth.access_token),
    ("/oauth/v2/introspectToken", ["POST"], oauth.introspect_token),
    ("/rest/adAccountUsers", ["GET"], rest.ad_account_users),
    ("/rest/adAccounts/<int:account_id>", ["GET"], rest.ad_account),
    ("/rest/dmpSegments", ["GET"], rest.find_segments),
    ("/rest/dmpSegments", ["POST"], rest.create_segment),
    ("/rest/dmpSegments/<int:segment_id>", ["GET"], rest.get_segment),
    ("/rest/dmpSegments/<int:segment_id>", ["DELETE"], rest.delete_segment),
    ("/rest/dmpSegments/<int:segment_id>/users", ["POST"], rest.segment_users),
    ("/_sandbox", ["GET"], control.index),
    ("/_sandbox/", ["GET"], control.index),
    ("/_sandbox/segments", ["GET"], control.list_segments),
    ("/_sandbox/segments/<int:segment_id>", ["DELETE"], control.delete_segment),
    ("/_sandbox/segments/<int:segment_id>", ["PATCH"], control.update_segment),
    ("/_sandbox/segments/<int:segment_id>/members", ["GET"], control.segment_members),
    ("/_sandbox/faults", ["GET"], control.list_faults),
    ("/_sandbox/faults", ["POST"], control.add_fault),
    ("/_sandbox/faults", ["DELETE"], control.clear_faults),
    ("/_sandbox/tokens/revoke", ["POST"], control.revoke_tokens),
    ("/_sandbox/tokens/expire", ["POST"], control.expire_tokens),
    ("/_sandbox/requests", ["GET"], control.list_requests),
    ("/_sandbox/requests", ["DELETE"], control.clear_requests),
    ("/_sandbox/config", ["GET"], control.get_config),
    ("/_sandbox/config", ["PUT"], control.put_config),
    ("/_sandbox/reset", ["POST"], control.reset),
]


_SECRET_PARAMS = {"oauth2_access_token", "access_token", "refresh_token", "client_secret", "code", "token"}


def _redacted_query(request: Request) -> str:
    """The query string for the log, with anything token-like blanked out."""
    pairs = [(k, "<redacted>" if k in _SECRET_PARAMS else v) for k, v in request.args.items(multi=True)]
    return urlencode(pairs, safe=":/(),")


def _is_control(path: str) -> bool:
    return path == "/_sandbox" or path.startswith("/_sandbox/")


class LinkedInSandbox:
    """A fake LinkedIn Marketing API (OAuth + Matched Audiences) as a thread-safe WSGI app.

    ``clock`` drives every time-dependent rule (tokens, propagation, status, rate limits, the request log);
    ``rng`` decides probabilistic faults. Routes are relative, so mount it anywhere (e.g. ``/linkedin``).
    """

    def __init__(
        self,
        config: SandboxConfig | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.state = SandboxState(config or SandboxConfig(), clock, rng or random.Random())
        self.sleep: Callable[[float], None] = time.sleep  # used only for fault delay_seconds
        self._views: dict[str, View] = {}
        rules = []
        for index, (path, methods, view) in enumerate(_ROUTES):
            endpoint = f"{index}:{view.__module__}.{view.__name__}"
            self._views[endpoint] = view
            rules.append(Rule(path, methods=methods, endpoint=endpoint))
        self._map = Map(rules, strict_slashes=False, merge_slashes=False)

    @property
    def config(self) -> SandboxConfig:
        return self.state.config

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        response = self.handle(Request(environ))
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        state, path = self.state, request.path
        # Requests are served one at a time (one lock over the state), so time is taken on arrival: LinkedIn's
        # rate limit judges when requests arrive, not when a busy server gets to them. The body is read before
        # the lock too, so one large upload does not hold up the others.
        # Served by server.serving(), the request carries the time its first line was read (same clock: time.time).
        arrived = float(request.environ.get(ARRIVED) or state.now())
        request.get_data(cache=True)
        control_call = _is_control(path)
        fault = None
        if not control_call:
            with state.lock:
                fault = pick_fault(state.faults, path, state.rng)
            if fault is not None and fault.delay_seconds > 0:
                self.sleep(fault.delay_seconds)  # outside the lock: other requests keep flowing
        with state.lock:
            ctx = RequestContext(state, request, arrived=arrived)
            if fault is not None and fault.status is not None and fault.body is not None:
                response = Response(fault.body, status=fault.status, mimetype="application/json")
            elif fault is not None and fault.status is not None:
                response = json_response(fault_body(fault.status), fault.status)
            else:
                response = self._route(ctx)
            if not control_call:
                self._log(ctx, response)
        if path.startswith("/rest/"):
            response.headers["X-RestLi-Protocol-Version"] = "2.0.0"
            response.headers["X-LI-UUID"] = secrets.token_hex(12)
        return response

    def _route(self, ctx: RequestContext) -> Response:
        try:
            if ctx.request.path.startswith("/rest/"):
                rest.check_headers(ctx)
            endpoint, values = self._map.bind_to_environ(ctx.request.environ).match()
            return self._views[str(endpoint)](ctx, **values)
        except Reject as exc:
            return exc.response
        except MethodNotAllowed as exc:
            response = json_response({"status": 405, "message": "Method Not Allowed"}, 405)
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods or []))
            return response
        except NotFound:
            return json_response({"status": 404, "message": f"No route for {ctx.request.path}"}, 404)
        except HTTPException as exc:
            code = exc.code or 400
            return json_response({"status": code, "message": exc.description or exc.name}, code)
        except Exception:
            logger.exception("sandbox request %s %s failed", ctx.request.method, ctx.request.path)
            return json_response({"status": 500, "message": "Internal Server Error"}, 500)

    def _log(self, ctx: RequestContext, response: Response) -> None:
        request = ctx.request
        elements = ctx.elements
        if elements is None and request.method == "POST" and request.path.endswith("/users"):
            elements = ctx.count_elements()
        raw_token = rest.bearer_token(ctx)
        entry: dict[str, Any] = {
            "t": ctx.arrived,
            "method": request.method,
            "path": request.path,
            "query": _redacted_query(request),
            "status": response.status_code,
            "elements": elements,
            "linkedin_version": request.headers.get("LinkedIn-Version"),
            "restli_protocol_version": request.headers.get("X-Restli-Protocol-Version"),
            "restli_method": request.headers.get("X-RestLi-Method"),
            "token_id": token_id(raw_token) if raw_token else None,
        }
        self.state.requests.append(entry)
        logger.debug("%s %s -> %s (token %s)", entry["method"], entry["path"], entry["status"], entry["token_id"])
