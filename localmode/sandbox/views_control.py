"""The control API under ``/_sandbox`` (no auth, JSON) for tests and people. Never exposes raw tokens."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Response

from localmode.sandbox.context import RequestContext
from localmode.sandbox.faults import parse_fault
from localmode.sandbox.responses import json_response
from localmode.sandbox.segments import STATUSES

INDEX = {
    "name": "LinkedIn sandbox control API",
    "endpoints": {
        "GET /_sandbox/segments": "segments with status and member_count",
        "GET /_sandbox/segments/{id}/members": "members of a segment",
        "DELETE /_sandbox/segments/{id}": "delete a segment",
        "PATCH /_sandbox/segments/{id}": "set status, audience_size, matched_count (null: back to the members) "
        "or input_count",
        "GET|POST|DELETE /_sandbox/faults": "list / add / clear fault injection rules",
        "POST /_sandbox/tokens/revoke": "revoke all access and refresh tokens",
        "POST /_sandbox/tokens/expire": "expire all access tokens (refresh tokens keep working)",
        "GET|DELETE /_sandbox/requests": "request log / clear it",
        "GET|PUT /_sandbox/config": "read / partially update the configuration",
        "POST /_sandbox/reset": "drop all state, keep the configuration",
    },
}


def _error(status: int, message: str) -> Response:
    return json_response({"status": status, "message": message}, status)


def _json_object(ctx: RequestContext) -> dict[str, Any]:
    body = ctx.json_body()
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


def index(ctx: RequestContext) -> Response:
    return json_response(INDEX)


def list_segments(ctx: RequestContext) -> Response:
    state = ctx.state
    now, ready_after = state.now(), state.config.ready_after_seconds
    segments = sorted(state.segments.values(), key=lambda s: s.id)
    return json_response([s.to_control(now, ready_after) for s in segments])


def segment_members(ctx: RequestContext, segment_id: int) -> Response:
    segment = ctx.state.segments.get(segment_id)
    if segment is None:
        return _error(404, f"No segment {segment_id}")
    return json_response({"members": segment.sorted_members()})


def delete_segment(ctx: RequestContext, segment_id: int) -> Response:
    if ctx.state.segments.pop(segment_id, None) is None:
        return _error(404, f"No segment {segment_id}")
    return json_response({"deleted": segment_id})


def update_segment(ctx: RequestContext, segment_id: int) -> Response:
    """Put a segment into a state LinkedIn reaches only after hours or days (EXPIRED after 90 days unused, ...)."""
    segment = ctx.state.segments.get(segment_id)
    if segment is None:
        return _error(404, f"No segment {segment_id}")
    try:
        body = _json_object(ctx)
        _check_segment_update(body)
    except ValueError as exc:
        return _error(400, str(exc))
    if "status" in body:
        segment.status_override = body["status"]
    if "audience_size" in body:
        segment.audience_size_override = body["audience_size"]
    if "matched_count" in body:
        segment.matched_count_override = body["matched_count"]
    if "input_count" in body:
        segment.input_count = body["input_count"]
    return json_response(segment.to_rest(ctx.state.now(), ctx.state.config.ready_after_seconds))


def _check_segment_update(body: dict[str, Any]) -> None:
    unknown = set(body) - {"status", "audience_size", "matched_count", "input_count"}
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    if "status" in body and body["status"] not in (*STATUSES, None):
        raise ValueError(f"status must be one of {list(STATUSES)} or null")
    counts = {k: v for k, v in body.items() if k != "status"}
    if any(not (v is None or (type(v) is int and v >= 0)) for v in counts.values()):
        raise ValueError("counts must be non-negative integers or null")
    if "input_count" in body and body["input_count"] is None:
        raise ValueError("input_count cannot be null")


def list_faults(ctx: RequestContext) -> Response:
    return json_response([rule.to_dict() for rule in ctx.state.faults])


def add_fault(ctx: RequestContext) -> Response:
    try:
        rule = parse_fault(ctx.json_body(), ctx.state.next_fault_id())
    except ValueError as exc:
        return _error(400, str(exc))
    ctx.state.faults.append(rule)
    return json_response(rule.to_dict(), 201)


def clear_faults(ctx: RequestContext) -> Response:
    cleared = len(ctx.state.faults)
    ctx.state.faults.clear()
    return json_response({"cleared": cleared})


def revoke_tokens(ctx: RequestContext) -> Response:
    return json_response({"revoked": ctx.state.oauth.revoke_all()})


def expire_tokens(ctx: RequestContext) -> Response:
    return json_response({"expired": ctx.state.oauth.expire_all(ctx.state.now())})


def list_requests(ctx: RequestContext) -> Response:
    return json_response(list(ctx.state.requests))


def clear_requests(ctx: RequestContext) -> Response:
    cleared = len(ctx.state.requests)
    ctx.state.requests.clear()
    return json_response({"cleared": cleared})


def get_config(ctx: RequestContext) -> Response:
    return json_response(ctx.state.config.to_dict())


def put_config(ctx: RequestContext) -> Response:
    try:
        ctx.state.config.update(_json_object(ctx))
    except ValueError as exc:
        return _error(400, str(exc))
    return json_response(ctx.state.config.to_dict())


def reset(ctx: RequestContext) -> Response:
    ctx.state.reset()
    return json_response({"reset": True, "config": ctx.state.config.to_dict()})
