"""filters.py: entry filters on top-level fields, extra fields and attributes, with JSON-strict equality."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from audience_sync.core.filters import passes
from audience_sync.sources.webhook.models import WebhookUser
from audience_sync.steps.models import EntryFilter


def user(**fields: Any) -> WebhookUser:
    return WebhookUser.model_validate({"external_id": "u-1", **fields})


def rule(attribute: str, op: str, *value: Any) -> EntryFilter:
    data: dict[str, Any] = {"attribute": attribute, "op": op}
    if value:
        data["value"] = value[0]
    return EntryFilter.model_validate(data)


def holds(u: WebhookUser, *rules: EntryFilter) -> bool:
    return passes(u, list(rules))


def test_top_level_declared_field() -> None:
    u = user(ad_tracking_enabled=True)
    assert holds(u, rule("ad_tracking_enabled", "eq", True))
    assert not holds(u, rule("ad_tracking_enabled", "eq", False))
    assert holds(u, rule("ad_tracking_enabled", "ne", False))
    assert not holds(u, rule("ad_tracking_enabled", "ne", True))
    assert holds(u, rule("ad_tracking_enabled", "exists"))
    assert not holds(u, rule("ad_tracking_enabled", "not_exists"))


def test_extra_top_level_field() -> None:
    u = user(country="ES")
    assert holds(u, rule("country", "eq", "ES"))
    assert not holds(u, rule("country", "eq", "FR"))
    assert holds(u, rule("country", "ne", "FR"))
    assert holds(u, rule("country", "exists"))
    assert not holds(u, rule("country", "not_exists"))


def test_attribute() -> None:
    u = user(attributes={"opted_in_marketing": True, "tier": "gold"})
    assert holds(u, rule("opted_in_marketing", "eq", True))
    assert holds(u, rule("tier", "eq", "gold"))
    assert not holds(u, rule("tier", "ne", "gold"))
    assert holds(u, rule("tier", "exists"))
    assert not holds(u, rule("tier", "not_exists"))


def test_top_level_wins_over_attributes() -> None:
    u = user(ad_tracking_enabled=False, country="ES", attributes={"ad_tracking_enabled": True, "country": "FR"})
    assert holds(u, rule("ad_tracking_enabled", "eq", False))
    assert not holds(u, rule("ad_tracking_enabled", "eq", True))
    assert holds(u, rule("country", "eq", "ES"))
    assert not holds(u, rule("country", "eq", "FR"))


@pytest.mark.parametrize(
    ("stored", "compared"),
    [(True, 1), (1, True), (False, 0), (0, False), ("true", True), (True, "true"), ("1", 1), (None, False)],
)
def test_json_type_strictness(stored: Any, compared: Any) -> None:
    u = user(attributes={"a": stored})
    assert not holds(u, rule("a", "eq", compared))
    assert holds(u, rule("a", "ne", compared))


def test_equal_values_of_same_json_type() -> None:
    u = user(attributes={"n": 3, "f": 1.5, "b": False, "s": "x"})
    for name, value in [("n", 3), ("n", 3.0), ("f", 1.5), ("b", False), ("s", "x")]:
        assert holds(u, rule(name, "eq", value)), name


@pytest.mark.parametrize("value", [[1, 2], {"k": "v"}, "x" * 1025])
def test_filter_values_are_bounded_json_scalars(value: Any) -> None:
    with pytest.raises(ValidationError):
        rule("a", "eq", value)


def test_absent_attribute() -> None:
    u = user(attributes={"other": 1})
    assert not holds(u, rule("missing", "eq", True))
    assert holds(u, rule("missing", "ne", True))
    assert not holds(u, rule("missing", "exists"))
    assert holds(u, rule("missing", "not_exists"))


@pytest.mark.parametrize(
    ("u", "name"),
    [
        (user(attributes={"a": None}), "a"),
        (user(a=None), "a"),
        (user(ad_tracking_enabled=None), "ad_tracking_enabled"),
    ],
)
def test_null_counts_as_not_existing(u: WebhookUser, name: str) -> None:
    assert not holds(u, rule(name, "exists"))
    assert holds(u, rule(name, "not_exists"))


def test_declared_field_null_falls_back_to_attributes() -> None:
    u = user(attributes={"ad_tracking_enabled": True})
    assert holds(u, rule("ad_tracking_enabled", "eq", True))


def test_every_filter_must_hold() -> None:
    u = user(ad_tracking_enabled=True, attributes={"opted_in_marketing": True, "do_not_sell_or_share": False})
    good = [
        rule("ad_tracking_enabled", "eq", True),
        rule("opted_in_marketing", "eq", True),
        rule("do_not_sell_or_share", "ne", True),
    ]
    assert passes(u, good)
    assert not passes(u, [*good, rule("opted_in_marketing", "not_exists")])
    assert not passes(u, [rule("missing", "exists"), *good])
    assert passes(u, [])
