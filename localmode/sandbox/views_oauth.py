"""OAuth 2.0 endpoints: ``/oauth/v2/authorization``, ``/oauth/v2/accessToken``, ``/oauth/v2/introspectToken``."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from werkzeug.wrappers import Response

from localmode.sandbox.context import RequestContext
from localmode.sandbox.oauth import OAuthError
from localmode.sandbox.responses import Reject, json_response, oauth_error

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _redirect_uri_error(redirect_uri: str) -> str | None:
    if not redirect_uri:
        return "redirect_uri is required"
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "redirect_uri must be an absolute http(s) URL"
    if parts.fragment or "#" in redirect_uri:
        return "redirect_uri must not contain a fragment"
    return None


def _authorize_params(ctx: RequestContext) -> tuple[str, str, tuple[str, ...]]:
    """(client_id, redirect_uri, scopes) of a valid authorization request; raises ``Reject`` otherwise."""
    args, config = ctx.request.args, ctx.state.config
    client_id = args.get("client_id", "")
    redirect_uri = args.get("redirect_uri", "")
    scopes = tuple(args.get("scope", "").split())
    if client_id and client_id != config.client_id:
        raise Reject(oauth_error(400, "unauthorized_client", "Unknown client_id"))
    checks = [
        (bool(client_id), "client_id is required"),
        (args.get("response_type") == "code", "response_type must be code"),
        (not _redirect_uri_error(redirect_uri), _redirect_uri_error(redirect_uri) or ""),
        (bool(scopes), "scope is required"),
        (not any("," in s for s in scopes), "scope must be space-delimited, not comma-delimited"),
    ]
    error = next((message for ok, message in checks if not ok), None)
    if error:
        raise Reject(oauth_error(400, "invalid_request", error))
    return client_id, redirect_uri, scopes


def authorize(ctx: RequestContext) -> Response:
    """Approve at once: no login page, straight back to ``redirect_uri`` with a code."""
    client_id, redirect_uri, scopes = _authorize_params(ctx)
    code = ctx.state.oauth.issue_code(client_id, redirect_uri, scopes, ctx.state.now())
    parts = urlsplit(redirect_uri)
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("code", code)]
    state = ctx.request.args.get("state")
    if state:
        query.append(("state", state))
    location = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))
    return Response(status=302, headers={"Location": location})


def _authenticate_client(ctx: RequestContext) -> None:
    form, config = ctx.request.form, ctx.state.config
    client_id, secret = form.get("client_id"), form.get("client_secret")
    if not client_id or not secret:
        raise Reject(oauth_error(400, "invalid_request", "client_id and client_secret are required"))
    if client_id != config.client_id or secret != config.client_secret:
        raise Reject(oauth_error(401, "invalid_client", "Client authentication failed"))


def _required(ctx: RequestContext, *names: str) -> list[str]:
    values = [ctx.request.form.get(name, "") for name in names]
    if not all(values):
        raise Reject(oauth_error(400, "invalid_request", f"{' and '.join(names)} required"))
    return values


def access_token(ctx: RequestContext) -> Response:
    config, now = ctx.state.config, ctx.state.now()
    (grant_type,) = _required(ctx, "grant_type")
    if grant_type not in ("authorization_code", "refresh_token"):
        return oauth_error(400, "unsupported_grant_type", f"grant_type {grant_type} is not supported")
    _authenticate_client(ctx)
    store = ctx.state.oauth
    try:
        if grant_type == "authorization_code":
            code, redirect_uri = _required(ctx, "code", "redirect_uri")
            grant = store.exchange_code(
                code, config.client_id, redirect_uri, now, config.access_token_ttl, config.refresh_token_ttl
            )
        else:
            (refresh,) = _required(ctx, "refresh_token")
            grant = store.use_refresh_token(refresh, config.client_id, now, config.access_token_ttl)
    except OAuthError as exc:
        return oauth_error(exc.status, exc.error, exc.description)
    return json_response(grant, 200, _NO_STORE)


def introspect_token(ctx: RequestContext) -> Response:
    _authenticate_client(ctx)
    token = ctx.state.oauth.find_access(ctx.request.form.get("token", ""))
    if token is None:
        return json_response({"active": False})
    status = token.status(ctx.state.now())
    return json_response(
        {
            "active": status == "active",
            "client_id": token.client_id,
            "authorized_at": int(token.created_at),
            "created_at": int(token.created_at),
            "status": status,
            "expires_at": int(token.expires_at),
            "scope": ",".join(token.scopes),
            "auth_type": "3L",
        }
    )
