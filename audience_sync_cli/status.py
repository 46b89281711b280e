"""Read-only commands: the LinkedIn connection, the steps and their metrics.

They use the domain's repositories, which read DynamoDB only: no KMS decrypt, no secret. The connection's view
never holds a token.
"""

from __future__ import annotations

import json
from typing import Any

from audience_sync.core.errors import NotFound
from audience_sync.core.metrics import PUBLIC_METRICS, SEGMENT_METRICS, public_metrics, reasons
from audience_sync.observability.notifications import ADVICE
from audience_sync.steps.records import step_view
from audience_sync_cli.render import Report, expiry, fields, table, when, when_ms
from audience_sync_cli.stack import CliError, Stack


def connection(stack: Stack, now: float) -> Report:
    # view() reads the connection item only: no token is decrypted and no secret is read.
    view = stack.container().connections.view()
    lines = [f"LinkedIn connection: {view['status']}"]
    if view["status"] == "disconnected":
        lines.append("  connect with GET /v1/connections/linkedin/authorize")
        return Report(view, "\n".join(lines))
    lines.append(
        fields(
            [
                ("scope", view["scope"]),
                ("connected at", when(view["connected_at"])),
                ("access token expires", expiry(view["access_token_expires_at"], now)),
                ("refresh token expires", expiry(view["refresh_token_expires_at"], now)),
                ("error", _with_advice(view["error"], "invalid_token" if view["status"] == "invalid_token" else None)),
            ]
        )
    )
    accounts = view["ad_accounts"]
    lines += ["", "Ad accounts"]
    lines.append(
        table(["ID", "NAME", "ROLE", "USABLE"], [[a["id"], a["name"], a["role"], a["usable"]] for a in accounts])
        if accounts
        else "  none"
    )
    return Report(view, "\n".join(lines))


def steps(stack: Stack) -> Report:
    views = [step_view(item) for item in stack.container().steps.list_all()]
    if not views:
        return Report({"steps": []}, "No steps yet (create one with PUT /v1/steps/{step_id}).")
    rows = [
        [v["step_id"], v["status"], v["audience_id"], ",".join(v["errors"]) or None, when_ms(v["updated_at"])]
        for v in views
    ]
    return Report({"steps": views}, table(["STEP", "STATUS", "AUDIENCE", "ERROR", "UPDATED"], rows))


def step(stack: Stack, step_id: str) -> Report:
    container = stack.container()
    try:
        view = step_view(container.steps.get(step_id))
    except NotFound as exc:
        raise CliError(f"step '{step_id}' not found in stack '{stack.name}'") from exc
    counters = container.metrics.get(step_id)
    config = view["config"]
    lines = [f"Step {step_id}: {view['status']}"]
    lines.append(
        fields(
            [
                ("audience id", view["audience_id"]),
                *[("error", _with_advice(error, error)) for error in view["errors"] or [None]],
                ("ad account", config.get("ad_account_id")),
                ("audience", _audience(config.get("audience") or {})),
                ("action", config.get("action")),
                ("match fields", ", ".join(config.get("match_fields") or [])),
                ("entry filters", "; ".join(_filter(f) for f in config.get("entry_filters") or [])),
                ("last step", config.get("last_step")),
                ("created at", when_ms(view["created_at"])),
                ("updated at", when_ms(view["updated_at"])),
                ("launched at", when_ms(view["launched_at"])),
            ]
        )
    )
    data = {"step": view, **_metrics_document(counters)}
    lines += ["", _metrics_section([(step_id, counters)], with_step=False)]
    return Report(data, "\n".join(lines))


def metrics(stack: Stack, step_id: str | None) -> Report:
    container = stack.container()
    repository = container.steps
    if step_id is None:
        step_ids = [item["step_id"] for item in repository.list_all()]
    else:
        try:
            repository.get(step_id)
        except NotFound as exc:
            raise CliError(f"step '{step_id}' not found in stack '{stack.name}'") from exc
        step_ids = [step_id]
    store = container.metrics
    counted = [(s, store.get(s)) for s in step_ids]
    data = {"steps": [{"step_id": s, **_metrics_document(item)} for s, item in counted]}
    if not counted:
        return Report(data, "No steps yet.")
    return Report(data, _metrics_section(counted, with_step=True))


def _metrics_document(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "metrics": public_metrics(item),
        "not_synced_reasons": reasons(item, "not_synced"),
        "errored_reasons": reasons(item, "errored"),
    }


def _metrics_section(counted: list[tuple[str, dict[str, Any]]], with_step: bool) -> str:
    first = ["STEP"] if with_step else []
    shown = [(s, public_metrics(item)) for s, item in counted]
    # a step with removals (it follows a segment, or a deleted user left it) adds `left` and `removed`
    names = PUBLIC_METRICS + (SEGMENT_METRICS if any("left" in values for _, values in shown) else ())
    rows = [([s] if with_step else []) + [values.get(name, 0) for name in names] for s, values in shown]
    parts = ["Metrics", table(first + [name.upper() for name in names], rows)]
    for counter, title in (("not_synced", "Not synced reasons"), ("errored", "Errored reasons")):
        reason_rows = [
            ([s] if with_step else []) + [reason, n]
            for s, item in counted
            for reason, n in sorted(reasons(item, counter).items())
        ]
        parts += ["", title, table([*first, "REASON", "USERS"], reason_rows) if reason_rows else "  none"]
    return "\n".join(parts)


def _with_advice(error: str | None, code: str | None) -> str | None:
    if not error:
        return None
    advice = ADVICE.get(code or "")
    return f"{error}: {advice}" if advice else error


def _audience(audience: dict[str, Any]) -> str | None:
    if audience.get("id"):
        return f"existing {audience['id']}"
    if audience.get("name"):
        return f"new, named {audience['name']!r}"
    return None


def _filter(entry_filter: dict[str, Any]) -> str:
    """`ad_tracking_enabled eq true`: the value as JSON, which is how filters compare it."""
    text = f"{entry_filter.get('attribute')} {entry_filter.get('op')}"
    if entry_filter.get("op") in ("exists", "not_exists"):
        return text
    return f"{text} {json.dumps(entry_filter.get('value'))}"
