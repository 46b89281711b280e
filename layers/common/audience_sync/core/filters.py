"""Entry filters (consent and eligibility): a user enters only if every filter holds. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from audience_sync.steps.models import EntryFilter, FilterOp, WebhookUser

_MISSING = object()


def _lookup(user: WebhookUser, name: str) -> Any:
    """A top-level field first (declared or extra), then `attributes`; `_MISSING` if neither has it."""
    if name != "attributes":
        if name in type(user).model_fields:
            value = getattr(user, name)
            if value is not None:
                return value
        elif user.model_extra and name in user.model_extra:
            return user.model_extra[name]
    return user.attributes.get(name, _MISSING)


def _holds(user: WebhookUser, rule: EntryFilter) -> bool:
    value = _lookup(user, rule.attribute)
    if rule.op is FilterOp.EXISTS:
        return value is not _MISSING and value is not None
    if rule.op is FilterOp.NOT_EXISTS:
        return value is _MISSING or value is None
    if rule.op is FilterOp.EQ:
        return value is not _MISSING and _equal(value, rule.value)
    return value is _MISSING or not _equal(value, rule.value)  # NE: an absent attribute is "not equal"


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: `true` is not `1` and `"true"` is not `true` (Python would say otherwise for the first)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def passes(user: WebhookUser, rules: Sequence[EntryFilter]) -> bool:
    return all(_holds(user, rule) for rule in rules)
