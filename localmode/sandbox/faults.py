"""Fault injection rules for ``/_sandbox/faults``."""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from http import HTTPStatus
from typing import Any

THROTTLE_MESSAGE = "Resource level throttle limit for calls to this resource is reached."


@dataclass
class FaultRule:
    id: int
    status: int | None  # None: only delay, then answer normally
    probability: float = 1.0
    count: int | None = None  # how many times it may fire; None = unlimited
    path_contains: str | None = "/users"  # None matches every non-control path
    delay_seconds: float = 0.0
    fired: int = 0
    body: str | None = None  # answered verbatim instead of a LinkedIn error body; with a 2xx, a malformed answer

    def applies_to(self, path: str) -> bool:
        exhausted = self.count is not None and self.fired >= self.count
        return not exhausted and (self.path_contains is None or self.path_contains in path)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(body: dict[str, Any], key: str, default: float) -> float:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number")
    return float(value)


def parse_fault(body: Any, rule_id: int) -> FaultRule:
    """Build a rule from a ``POST /_sandbox/faults`` body; raises ``ValueError`` when it is invalid."""
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    unknown = set(body) - {"status", "probability", "count", "path_contains", "delay_seconds", "body"}
    if unknown:
        raise ValueError(f"unknown fields: {sorted(unknown)}")
    status = body.get("status")
    raw_body = body.get("body")
    if raw_body is not None and not isinstance(raw_body, str):
        raise ValueError("body must be a string (answered verbatim) or null")
    lowest = 200 if raw_body is not None else 400  # a 2xx only with a body: a malformed answer
    if status is not None and (isinstance(status, bool) or not isinstance(status, int) or not lowest <= status <= 599):
        raise ValueError("status must be an HTTP error status (400-599, or 200-599 with a body) or null")
    if raw_body is not None and status is None:
        raise ValueError("a body needs a status")
    probability = _number(body, "probability", 1.0)
    if not 0.0 <= probability <= 1.0:
        raise ValueError("probability must be between 0 and 1")
    count = body.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 0):
        raise ValueError("count must be a non-negative integer or null")
    path_contains = body.get("path_contains", "/users")
    if path_contains is not None and not isinstance(path_contains, str):
        raise ValueError("path_contains must be a string or null")
    delay = _number(body, "delay_seconds", 0.0)
    if delay < 0:
        raise ValueError("delay_seconds must not be negative")
    if status is None and delay == 0:
        raise ValueError("a rule needs a status, a delay_seconds, or both")
    return FaultRule(rule_id, status, probability, count, path_contains, delay, body=raw_body)


def pick_fault(rules: list[FaultRule], path: str, rng: random.Random) -> FaultRule | None:
    """The first applicable rule that fires for this request (its ``fired`` is incremented)."""
    for rule in rules:
        if not rule.applies_to(path):
            continue
        if rule.probability >= 1.0 or (rule.probability > 0.0 and rng.random() < rule.probability):
            rule.fired += 1
            return rule
    return None


def fault_body(status: int) -> dict[str, Any]:
    """A LinkedIn-style error body for an injected status."""
    if status == 429:
        return {"status": 429, "message": THROTTLE_MESSAGE}
    if status == 401:
        return {
            "status": 401,
            "serviceErrorCode": 65600,
            "code": "INVALID_ACCESS_TOKEN",
            "message": "Invalid access token",
        }
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Internal Server Error" if status >= 500 else "Error"
    return {"status": status, "message": phrase}
