"""What a LinkedIn DMP segment's status and counts mean, in plain words (linkedin-api.md §1.3-1.4), and when a
cached reading of them is old enough to read LinkedIn again. Pure."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

MIN_VISIBLE_SIZE = 300
# GET /v1/steps/{id}/audience serves a reading younger than this without asking LinkedIn (AudienceMaxAgeSeconds):
# the public contract wants a change on LinkedIn's side to show within 60 s.
DEFAULT_MAX_AGE_SECONDS = 60
# `?refresh=true` (and a GET with no reading to show) reads LinkedIn only if the last attempt is at least this old;
# otherwise the cached view is served, its `refreshed_at` saying when it was read. Without it a dashboard polling
# with refresh=true would read LinkedIn at the API's rate (100 requests/s), against LinkedIn's unpublished daily limits.
MIN_READ_INTERVAL_SECONDS = 10
EXPLANATIONS = {
    "BUILDING": "LinkedIn is building the audience; the first build can take up to 48 hours, and no ads reach it "
    "until then (it can already be chosen in a campaign). Streaming users into an ARCHIVED audience also puts it "
    "back into BUILDING.",
    "READY": "The audience is ready to use in campaigns.",
    "UPDATING": "LinkedIn is applying recent additions or removals; the audience stays usable in campaigns.",
    "ARCHIVED": "The audience has not been used in an active or draft campaign for 30 days. Add it to a campaign "
    "to reactivate it (LinkedIn reprocesses it for up to 48 hours); an archived audience with no members cannot "
    "become READY again. New users streamed into it put it back into BUILDING.",
    "EXPIRED": "The audience was not used or changed for 90 days and LinkedIn deleted its data; it cannot be "
    "targeted. Relaunch the step with a new audience name to create a new one.",
    "FAILED": "LinkedIn could not process the data sent for this audience; it cannot be targeted. Relaunch the "
    "step with a new audience name, or check the audience in Campaign Manager.",
    "ERROR": "LinkedIn reports an error for this audience without saying why; it cannot be targeted. Check the "
    "audience in Campaign Manager, or relaunch the step with a new audience name.",
}
UNKNOWN_STATUS = "LinkedIn reported a status this service does not know."
# LinkedIn's FAQ: these three cannot be used in campaign targeting. Each becomes the step's error.
STATUS_ERRORS = {"EXPIRED": "audience_expired", "FAILED": "audience_failed", "ERROR": "audience_error"}
NOT_TARGETABLE = frozenset(STATUS_ERRORS)
SIZE_NOT_REPORTED = (
    f"LinkedIn has not reported a size yet; it shows one once the audience has at least {MIN_VISIBLE_SIZE} "
    "members, which can take up to 48 hours."
)
SIZE_TOO_SMALL = (
    f"The audience has fewer than {MIN_VISIBLE_SIZE} members; LinkedIn shows sizes from {MIN_VISIBLE_SIZE} members, "
    "and campaigns need at least that many."
)
MATCH_NOTE = (
    "LinkedIn counts inputs and matches over the last 7 days only. The size leaves out members who opted out of "
    "this kind of targeting, so a good match rate can still give a small audience."
)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The facts of one reading of a segment, as stored in the audience cache."""

    audience_id: str
    name: str | None
    status: str
    audience_size: int | None  # as LinkedIn reported it, even below MIN_VISIBLE_SIZE (shown only from there)
    matched_count: int | None
    input_count: int | None

    def to_item(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @staticmethod
    def from_item(item: dict[str, Any]) -> Snapshot:
        return Snapshot(
            audience_id=str(item["audience_id"]),
            name=item.get("name"),
            status=str(item["status"]),
            audience_size=_int(item.get("audience_size")),
            matched_count=_int(item.get("matched_count")),
            input_count=_int(item.get("input_count")),
        )


@dataclass(frozen=True, slots=True)
class CachedView:
    """A step's item in the audience cache: the last reading, and the last attempt to read LinkedIn."""

    step_id: str
    audience_id: str  # the audience the step targeted when it was read; a relaunch makes the item obsolete
    checked_at: int  # epoch ms of the last attempt (successful or not)
    reading: Snapshot | None = None  # the last successful reading (None if LinkedIn never answered)
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
        return CachedView(
            step_id=str(item["step_id"]),
            audience_id=str(item["audience_id"]),
            checked_at=int(item["checked_at"]),
            reading=Snapshot.from_item(reading) if reading else None,
            refreshed_at=_int(item.get("refreshed_at")),
            failure=item.get("failure"),
        )


class MalformedSegment(ValueError):
    """LinkedIn answered 200 with a segment this service cannot read (e.g. counts that are not numbers)."""


class _Destination(BaseModel):
    model_config = ConfigDict(extra="ignore")
    destination: str | None = None
    status: str | None = None
    audience_size: int | None = Field(None, alias="audienceSize")
    matched_count: int | None = Field(None, alias="matchedCount")


class _Segment(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: int | str = ""
    name: str | None = None
    input_count: int | None = Field(None, alias="inputCount")
    destinations: list[_Destination] | None = None


def snapshot(segment: Any) -> Snapshot:
    """The facts of `GET /rest/dmpSegments/{id}`: the status and counts live under the LINKEDIN destination.
    Raises MalformedSegment for a body of the wrong shape."""
    try:
        parsed = _Segment.model_validate(segment)
    except ValidationError as exc:  # the locations and kinds only: the values are LinkedIn's, not for the logs
        where = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['type']}" for e in exc.errors())
        raise MalformedSegment(f"unreadable segment ({where})") from exc
    destinations = parsed.destinations or [_Destination.model_validate({})]
    destination = next((d for d in destinations if d.destination == "LINKEDIN"), destinations[0])
    return Snapshot(
        audience_id=str(parsed.id),
        name=parsed.name,
        status=destination.status or "UNKNOWN",
        audience_size=destination.audience_size,
        matched_count=destination.matched_count,
        input_count=parsed.input_count,
    )


def explain(reading: Snapshot) -> dict[str, Any]:
    """The public view: status explained, size only from MIN_VISIBLE_SIZE members (and why not otherwise)."""
    size = reading.audience_size
    shown_size = size if size is not None and size >= MIN_VISIBLE_SIZE else None
    matched, inputs = reading.matched_count, reading.input_count
    return {
        "audience_id": reading.audience_id,
        "name": reading.name,
        "status": reading.status,
        "explanation": EXPLANATIONS.get(reading.status, UNKNOWN_STATUS),
        "targetable": reading.status not in NOT_TARGETABLE,
        "audience_size": shown_size,
        "size_note": None if shown_size is not None else SIZE_NOT_REPORTED if size is None else SIZE_TOO_SMALL,
        "matched_count": matched,
        "input_count": inputs,
        "match_rate": round(matched / inputs, 4) if matched is not None and inputs else None,
        "match_note": MATCH_NOTE,
    }


def describe(segment: dict[str, Any]) -> dict[str, Any]:
    return explain(snapshot(segment))


def public_view(view: CachedView) -> dict[str, Any]:
    """The cached reading explained, with when it was read and whether the last attempt to read it again failed."""
    if view.reading is None:
        raise ValueError("only a view with a reading can be shown")
    return {
        **explain(view.reading),
        "refreshed_at": view.refreshed_at,
        "stale": view.failure is not None,
        "stale_reason": view.failure,
    }


def step_error_for(status: str) -> str | None:
    """The step error a status means (EXPIRED, FAILED, ERROR), or None when the audience can be targeted."""
    return STATUS_ERRORS.get(status)


def needs_reading(
    checked_at_ms: int | None,
    now_ms: int,
    max_age_seconds: float,
    force: bool = False,
    min_interval_seconds: float = MIN_READ_INTERVAL_SECONDS,
) -> bool:
    """Whether to read LinkedIn again: never read, the last attempt is `max_age_seconds` old, or asked to (`force`)
    and the last attempt is at least `min_interval_seconds` old."""
    if checked_at_ms is None:
        return True
    age_ms = now_ms - checked_at_ms
    return age_ms >= max_age_seconds * 1000 or (force and age_ms >= min_interval_seconds * 1000)


def _int(value: Any) -> int | None:
    return int(value) if value is not None else None
