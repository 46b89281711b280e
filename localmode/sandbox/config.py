"""Sandbox configuration: timings, limits and OAuth client credentials."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# LinkedIn-Version values: YYYYMM or YYYYMM.RR (month 01-12).
VERSION_RE = re.compile(r"^\d{4}(0[1-9]|1[0-2])(\.\d{2})?$")
_MONTH_RE = re.compile(r"^\d{4}(0[1-9]|1[0-2])$")


@dataclass
class SandboxConfig:
    """Tunable behaviour of the sandbox; every field can be changed at runtime via ``PUT /_sandbox/config``."""

    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret"  # noqa: S105 - public sandbox default
    propagation_delay_seconds: float = 3.0  # /users on a new segment answers 404 for this long
    ready_after_seconds: float = 10.0  # BUILDING -> READY
    # per access token on /dmpSegments/{id}/users: at most rate_limit requests in any sliding window (LinkedIn: 600/min)
    rate_limit: int = 600
    rate_window_seconds: float = 60.0
    max_elements: int = 5000
    min_active_version: str = "202512"  # LinkedIn-Version below this -> 426 NONEXISTENT_VERSION
    access_token_ttl: int = 5184000
    refresh_token_ttl: int = 31536000

    def __post_init__(self) -> None:
        for name, value in self.to_dict().items():
            setattr(self, name, _checked(name, value))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def update(self, patch: Mapping[str, Any]) -> None:
        """Apply a partial update atomically; raises ``ValueError`` (nothing changed) on a bad field or value."""
        checked = {name: _checked(name, value) for name, value in patch.items()}
        for name, value in checked.items():
            setattr(self, name, value)


_DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(SandboxConfig)}


def _checked(name: str, value: Any) -> Any:
    if name not in _DEFAULTS:
        raise ValueError(f"unknown config field {name!r}")
    kind = type(_DEFAULTS[name])
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{name} must be a {kind.__name__}")
    if kind is str:
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty string")
        if name == "min_active_version" and not _MONTH_RE.match(value):
            raise ValueError("min_active_version must look like YYYYMM")
        return value
    if isinstance(value, str) or (kind is int and not isinstance(value, int)):
        raise ValueError(f"{name} must be a {kind.__name__}")
    if name == "rate_window_seconds" and value <= 0:
        raise ValueError("rate_window_seconds must be positive")
    if value < 0 or (kind is int and value < 1):
        raise ValueError(f"{name} must be {'positive' if kind is int else 'non-negative'}")
    return kind(value)
