"""A step's audience as last read from its destination (the audience cache), and when a reading is old enough to
read the destination again. Pure; the cache's adapter is adapters/aws/audience_cache.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from audience_sync.destinations.base import AudienceReading

# GET /v1/steps/{id}/audience serves a reading younger than this without asking the destination
# (AudienceMaxAgeSeconds): the public contract wants a change on LinkedIn's side to show within 60 s.
DEFAULT_MAX_AGE_SECONDS = 60
# `?refresh=true` (and a GET with no reading to show) reads the destination only if the last attempt is at least this
# old; otherwise the cached view is served, its `refreshed_at` saying when it was read. Without it a dashboard
# polling with refresh=true would read LinkedIn at the API's rate (100 requests/s), against LinkedIn's unpublished
# daily limits.
MIN_READ_INTERVAL_SECONDS = 10


@dataclass(frozen=True, slots=True)
class CachedView:
    """A step's item in the audience cache: the last reading, and the last attempt to read the destination."""

    step_id: str
    audience_id: str  # the audience the step targeted when it was read; a relaunch makes the item obsolete
    checked_at: int  # epoch ms of the last attempt (successful or not)
    reading: AudienceReading | None = None  # the last successful reading (None if the destination never answered)
    refreshed_at: int | None = None  # epoch ms of that reading
    failure: str | None = None  # why the last attempt failed; the reading is then stale

    def to_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"step_id": self.step_id, "audience_id": self.audience_id, "checked_at": self.checked_at}
        if self.reading is not None:
            item["reading"] = self.reading.to_item()
            item["refreshed_at"] = self.refreshed_at
        if self.failure is not None:
            item["failure"] = self.failure
        return item

    @staticmethod
    def from_item(item: dict[str, Any]) -> CachedView:
        reading = item.get("reading")
        refreshed_at = item.get("refreshed_at")
        return CachedView(
            step_id=str(item["step_id"]),
            audience_id=str(item["audience_id"]),
            checked_at=int(item["checked_at"]),
            reading=AudienceReading.from_item(reading) if reading else None,
            refreshed_at=int(refreshed_at) if refreshed_at is not None else None,
            failure=item.get("failure"),
        )


class AudienceCache(Protocol):
    def get(self, step_id: str) -> CachedView | None: ...

    def all(self) -> dict[str, CachedView]: ...

    def put(self, view: CachedView) -> bool:
        """Store `view` unless a later attempt is stored already (the schedule and a GET may read at once)."""
        ...


def public_view(view: CachedView, explain: Callable[[AudienceReading], dict[str, Any]]) -> dict[str, Any]:
    """The cached reading explained by its destination, with when it was read and whether the last attempt to read it
    again failed."""
    if view.reading is None:
        raise ValueError("only a view with a reading can be shown")
    return {
        **explain(view.reading),
        "refreshed_at": view.refreshed_at,
        "stale": view.failure is not None,
        "stale_reason": view.failure,
    }


def needs_reading(
    checked_at_ms: int | None,
    now_ms: int,
    max_age_seconds: float,
    force: bool = False,
    min_interval_seconds: float = MIN_READ_INTERVAL_SECONDS,
) -> bool:
    """Whether to read the destination again: never read, the last attempt is `max_age_seconds` old, or asked to
    (`force`) and the last attempt is at least `min_interval_seconds` old."""
    if checked_at_ms is None:
        return True
    age_ms = now_ms - checked_at_ms
    return age_ms >= max_age_seconds * 1000 or (force and age_ms >= min_interval_seconds * 1000)
