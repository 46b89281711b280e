"""Entry filters (consent and eligibility): a user enters only if every filter holds. Pure.

A filter names an attribute and compares what the user's `lookup` finds for it (MISSING when the user has no such
attribute). Where an attribute is looked up is the source's business: a webhook user looks at its top-level fields,
then its `attributes` (sources/webhook/models.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Protocol

MISSING: Any = object()  # what `lookup` answers for an attribute the user does not have


class FilterOp(StrEnum):
    EQ = "eq"
    NE = "ne"
    EXISTS = "exists"
    NOT_EXISTS = "not_exists"


class Rule(Protocol):
    @property
    def attribute(self) -> str: ...

    @property
    def op(self) -> FilterOp: ...

    @property
    def value(self) -> Any: ...


class Subject(Protocol):
    def lookup(self, name: str) -> Any:
        """The value of attribute `name`, or MISSING."""
        ...


def _holds(subject: Subject, rule: Rule) -> bool:
    value = subject.lookup(rule.attribute)
    if rule.op is FilterOp.EXISTS:
        return value is not MISSING and value is not None
    if rule.op is FilterOp.NOT_EXISTS:
        return value is MISSING or value is None
    if rule.op is FilterOp.EQ:
        return value is not MISSING and _equal(value, rule.value)
    return value is MISSING or not _equal(value, rule.value)  # NE: an absent attribute is "not equal"


def _equal(a: Any, b: Any) -> bool:
    """JSON equality: `true` is not `1` and `"true"` is not `true` (Python would say otherwise for the first)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def passes(subject: Subject, rules: Sequence[Rule]) -> bool:
    # not all() over a generator: a fifth of the time, per user on the ingest's hot path (make bench)
    for rule in rules:  # noqa: SIM110
        if not _holds(subject, rule):
            return False
    return True
