"""The versioned REST API under ``/rest``: header checks, ad accounts, dmpSegments and their users."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from localmode.sandbox.accounts import ACCOUNTS, account_for_urn
from localmode.sandbox.config import VERSION_RE
from localmode.sandbox.context import RequestContext
from localmode.sandbox.faults import THROTTLE_MESSAGE
from localmode.sandbox.oauth import token_id
from localmode.sandbox.responses import (
    VERSION_MISSING_MESSAGE,
    Reject,
    access_denied,
    json_response,
    li_error,
    segment_not_found,
    token_error,
    validation_failed,
)
from localmode.sandbox.rules import segment_create_error
from localmode.sandbox.segments import Segment


def bearer_token(ctx: RequestContext) -> str | None:
    scheme, _, token = ctx.request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _authenticate(ctx: RequestContext) -> None:
    raw = bearer_token(ctx)
    token = ctx.state.oauth.find_access(raw) if raw else None
    if token is None:
        raise Reject(token_error("invalid"))
    status = token.status(ctx.state.now())
    if status != "active":
        raise Reject(token_error(status))
    ctx.token = token


def check_headers(ctx: RequestContext) -> None:
    """Token, then LinkedIn-Version, then protocol version; raises ``Reject`` on the first failure."""
    _authenticate(ctx)
    headers = ctx.request.headers
    version = headers.get("LinkedIn-Version", "").strip()
    if not version:
        raise Reject(li_error(400, VERSION_MISSING_MESSAGE, "VERSION_MISSING"))
    if not VERSION_RE.match(version):
        message = f"Invalid version {version}. Use the format YYYYMM or YYYYMM.RR."
        raise Reject(li_error(400, message, "VERSION_INVALID"))
    if version[:6] < ctx.state.config.min_active_version:
        raise Reject(li_error(426, f"Requested version {version} is not active", "NONEXISTENT_VERSION"))
    if headers.get("X-Restli-Protocol-Version", "").strip() != "2.0.0":
        message = "The X-Restli-Protocol-Version: 2.0.0 header is required"
        raise Reject(li_error(400, message, "PROTOCOL_VERSION_REQUIRED"))


def _int_arg(ctx: RequestContext, name: str, default: int) -> int:
    value = ctx.request.args.get(name)
    if value is None:
        return default
    if not value.isdigit():
        raise ValueError(f"{name} must be a non-negative integer")
    return int(value)


def _segment(ctx: RequestContext, segment_id: int) -> Segment | None:
    return ctx.state.segments.get(segment_id)


def ad_account_users(ctx: RequestContext) -> Response:
    q = ctx.request.args.get("q")
    if q != "authenticatedUser":
        return li_error(400, f"Unsupported finder q={q}; use q=authenticatedUser", "ILLEGAL_ARGUMENT")
    elements = [account.to_account_user() for account in ACCOUNTS.values()]
    return json_response({"paging": {"start": 0, "count": 10, "links": []}, "elements": elements})


def ad_account(ctx: RequestContext, account_id: int) -> Response:
    account = ACCOUNTS.get(account_id)
    if account is None:
        return li_error(404, f"Could not find ad account with ID {account_id}")
    return json_response(account.to_rest())


def create_segment(ctx: RequestContext) -> Response:
    try:
        body = ctx.json_body()
    except ValueError:
        return validation_failed("Request body must be valid JSON")
    error, account = segment_create_error(body)
    if error or account is None:
        return validation_failed(error or "account is invalid")
    if not account.writable:
        return access_denied("dmpSegments", "CREATE")
    segment = ctx.state.create_segment(body, account.urn)
    headers = {
        "x-restli-id": str(segment.id),
        "x-linkedin-id": str(segment.id),
        "Location": f"/dmpSegments/{segment.id}",
    }
    return Response(status=201, headers=headers)


def find_segments(ctx: RequestContext) -> Response:
    args = ctx.request.args
    if args.get("q") != "account":
        return li_error(400, "Unsupported finder; use q=account", "ILLEGAL_ARGUMENT")
    account = account_for_urn(args.get("account"))
    if account is None:
        return access_denied("dmpSegments", "FINDER-account")
    try:
        start, count = _int_arg(ctx, "start", 0), _int_arg(ctx, "count", 10)
    except ValueError as exc:
        return li_error(400, str(exc), "ILLEGAL_ARGUMENT")
    state = ctx.state
    matches = [
        s
        for s in sorted(state.segments.values(), key=lambda s: s.id)
        if s.account == account.urn
        and args.get("sourceSegmentId", s.source_segment_id) == s.source_segment_id
        and args.get("sourcePlatform", s.source_platform) == s.source_platform
    ]
    now, ready_after = state.now(), state.config.ready_after_seconds
    page = [s.to_rest(now, ready_after) for s in matches[start : start + count]]
    paging: dict[str, Any] = {"start": start, "count": count, "total": len(matches), "links": []}
    return json_response({"paging": paging, "elements": page})


def get_segment(ctx: RequestContext, segment_id: int) -> Response:
    segment = _segment(ctx, segment_id)
    if segment is None:
        return segment_not_found(segment_id)
    return json_response(segment.to_rest(ctx.state.now(), ctx.state.config.ready_after_seconds))


def delete_segment(ctx: RequestContext, segment_id: int) -> Response:
    segment = _segment(ctx, segment_id)
    if segment is None:
        return segment_not_found(segment_id)
    account = account_for_urn(segment.account)
    if account is None or not account.writable:
        return access_denied("dmpSegments", "DELETE")
    del ctx.state.segments[segment_id]
    return Response(status=204)


def _writable_segment(ctx: RequestContext, segment_id: int) -> Segment:
    """Method header, throttle, propagation and role checks of ``/users``, in that order."""
    state, config = ctx.state, ctx.state.config
    if ctx.request.headers.get("X-RestLi-Method", "").strip() != "BATCH_CREATE":
        message = "The X-RestLi-Method: BATCH_CREATE header is required"
        raise Reject(li_error(400, message, "METHOD_REQUIRED"))
    now = state.now()
    key = token_id(ctx.token.token) if ctx.token else ""
    if not state.limiter.try_acquire(key, ctx.arrived, config.rate_limit, config.rate_window_seconds):
        raise Reject(json_response({"status": 429, "message": THROTTLE_MESSAGE}, 429))
    segment = state.segments.get(segment_id)
    if segment is None or not segment.propagated(now, config.propagation_delay_seconds):
        raise Reject(segment_not_found(segment_id))
    account = account_for_urn(segment.account)
    if account is None or not account.writable:
        raise Reject(access_denied("dmpSegmentUsers", "BATCH_CREATE"))
    return segment


def _batch(ctx: RequestContext) -> list[Any]:
    try:
        body = ctx.json_body()
    except ValueError:
        raise Reject(li_error(400, "Request body must be valid JSON", "MALFORMED_REQUEST")) from None
    elements = body.get("elements") if isinstance(body, dict) else None
    if not isinstance(elements, list):
        raise Reject(li_error(400, 'Request body must be {"elements": [...]}', "MALFORMED_REQUEST"))
    limit = ctx.state.config.max_elements
    if len(elements) > limit:
        message = f"Batch of {len(elements)} elements exceeds the maximum of {limit}"
        raise Reject(li_error(400, message, "TOO_MANY_ELEMENTS"))
    return elements


def segment_users(ctx: RequestContext, segment_id: int) -> Response:
    ctx.elements = ctx.count_elements()
    segment = _writable_segment(ctx, segment_id)
    elements = _batch(ctx)
    results = segment.apply(elements, ctx.state.now(), ctx.state.config.ready_after_seconds)
    return json_response({"elements": results})
