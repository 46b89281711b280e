"""A sync step as it is stored: statuses, the two error attributes, what the API shows of it, and where its users
go. Pure; the steps table adapter is adapters/aws/steps_table.py.

Statuses: `draft` (configured, not launched) and `active` (launched: its audience exists and it takes users).
Changing what a step targets (TARGET_FIELDS) takes an active step back to draft: it must be launched again.
"""

from __future__ import annotations

from typing import Any

from audience_sync.destinations.base import SyncTarget

ACTIVE = "active"
DRAFT = "draft"
# Changing any of these re-targets the sync, so an active step goes back to draft and must be launched again.
TARGET_FIELDS = ("destination", "ad_account_id", "audience", "action", "source")
# Step errors the sync sets from the destination's answers; the next accepted request for the step clears them.
AD_ACCOUNT_ACCESS = "ad_account_access"
AUDIENCE_NOT_FOUND = "audience_not_found"
SYNC_ERRORS = (AD_ACCOUNT_ACCESS, AUDIENCE_NOT_FOUND)
# The step item's two error attributes, each set, cleared and notified on its own: one attribute for both would
# let the sender and the audience refresh overwrite each other's error (each overwrite notified as new) and a
# reading clear a send's error. SYNC_ERROR holds SYNC_ERRORS (the refresh's own "not found" sets
# audience_not_found there too: the same fact, so the same value); AUDIENCE_STATUS_ERROR holds the errors an
# audience's status means (Audiences.status_errors: audience_expired, audience_failed, audience_error), which a
# reading with a targetable status clears. Sends never clear those.
SYNC_ERROR = "error"
AUDIENCE_STATUS_ERROR = "audience_status_error"
ERROR_ATTRIBUTES = (SYNC_ERROR, AUDIENCE_STATUS_ERROR)


def configured(existing: dict[str, Any] | None, step_id: str, config: dict[str, Any], now: int) -> dict[str, Any]:
    """The step item after `PUT /v1/steps/{id}` with `config` (a JSON object): a new draft, or the existing step
    with its new config; back to draft, its errors cleared, when the config targets something else."""
    item: dict[str, Any] = dict(existing or {"step_id": step_id, "status": DRAFT, "created_at": now})
    if existing and any(_target(existing["config"], f) != _target(config, f) for f in TARGET_FIELDS):
        item["status"] = DRAFT
        for attribute in ERROR_ATTRIBUTES:
            item.pop(attribute, None)
    item["config"] = config
    item["updated_at"] = now
    return item


def _target(config: dict[str, Any], field: str) -> Any:
    """A target field of a config; configs stored before `destination` existed were LinkedIn's, and those stored
    before `source` existed took users from the webhook."""
    if field == "destination":
        return config.get("destination", config.get("partner", "linkedin"))
    if field == "source":
        return source_of(config)
    return config.get(field)


def source_of(config: dict[str, Any]) -> dict[str, Any]:
    """Where a step's users come from: `{"type": "webhook"}` or `{"type": "segment", "segment_id", ...}`."""
    return dict(config.get("source") or {"type": "webhook"})


def segment_step(config: dict[str, Any]) -> dict[str, Any] | None:
    """The segment source of a step that follows a segment, else None."""
    source = source_of(config)
    return source if source["type"] == "segment" else None


def step_view(item: dict[str, Any]) -> dict[str, Any]:
    """`error` is the sync's error if any, else the audience status's (the contract's one error); `errors` all."""
    errors = [str(item[attribute]) for attribute in ERROR_ATTRIBUTES if item.get(attribute)]
    config = dict(item.get("config", {}))
    if config:  # a config stored before `destination` existed names its destination as `partner` only
        config["destination"] = config["partner"] = destination_of(config)
        config["source"] = source_of(config)
    return {
        "step_id": item["step_id"],
        "status": item.get("status", DRAFT),
        "config": config,
        "audience_id": item.get("audience_id"),
        "error": errors[0] if errors else None,
        "errors": errors,
        "created_at": int_or_none(item.get("created_at")),
        "updated_at": int_or_none(item.get("updated_at")),
        "launched_at": int_or_none(item.get("launched_at")),
    }


def destination_of(config: dict[str, Any]) -> str:
    return str(_target(config, "destination"))


def sync_target(item: dict[str, Any]) -> SyncTarget:
    """Where an active step's users go. One connection per destination and workspace: it bears the destination's
    name."""
    config = item["config"]
    destination = destination_of(config)
    return SyncTarget(
        destination=destination,
        connection_id=destination,
        ad_account_id=config["ad_account_id"],
        audience_id=item["audience_id"],
        action=config.get("action", "add"),
        audience_created_at=int_or_none(item.get("audience_created_at")),
    )


def int_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None
