"""LinkedIn's audiences (DMP segments): what a status and the counts mean, in plain words, how a segment is read,
and how long a new one takes to appear (docs/integrations/linkedin.md, "Segments"). Pure."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from audience_sync.destinations.base import AudienceReading, Disposition, Failure, Problem
from audience_sync.destinations.linkedin.errors import MALFORMED_RESPONSE, LinkedInError

MIN_VISIBLE_SIZE = 300
# LinkedIn answers 404 for a new segment until it propagates (at least 5 s): nothing is sent to it before this.
AUDIENCE_PROPAGATION_MS = 5000
# A 404 on this retry attempt or later (≥ 3.5 min after the first failure) means the audience is gone.
AUDIENCE_NOT_FOUND_AFTER_ATTEMPT = 3
# A 404 this long after the audience was created is not propagation any more.
AUDIENCE_NOT_FOUND_GRACE_MS = 10 * 60 * 1000
ACCOUNT_URN_PREFIX = "urn:li:sponsoredAccount:"
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
    account: str | None = None
    input_count: int | None = Field(None, alias="inputCount")
    destinations: list[_Destination] | None = None


def account_urn(ad_account_id: str) -> str:
    return f"{ACCOUNT_URN_PREFIX}{ad_account_id}"


def snapshot(segment: Any) -> AudienceReading:
    """The facts of `GET /rest/dmpSegments/{id}`: the status and counts live under the LINKEDIN destination.
    Raises MalformedSegment for a body of the wrong shape."""
    try:
        parsed = _Segment.model_validate(segment)
    except ValidationError as exc:  # the locations and kinds only: the values are LinkedIn's, not for the logs
        where = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['type']}" for e in exc.errors())
        raise MalformedSegment(f"unreadable segment ({where})") from exc
    destinations = parsed.destinations or [_Destination.model_validate({})]
    destination = next((d for d in destinations if d.destination == "LINKEDIN"), destinations[0])
    account = parsed.account
    return AudienceReading(
        audience_id=str(parsed.id),
        name=parsed.name,
        status=destination.status or "UNKNOWN",
        audience_size=destination.audience_size,
        matched_count=destination.matched_count,
        input_count=parsed.input_count,
        account_id=account.removeprefix(ACCOUNT_URN_PREFIX) if account else None,
    )


def explain(reading: AudienceReading) -> dict[str, Any]:
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


def step_error_for(status: str) -> str | None:
    """The step error a status means (EXPIRED, FAILED, ERROR), or None when the audience can be targeted."""
    return STATUS_ERRORS.get(status)


def gone(created_at_ms: int | None, now_ms: int, attempt: int = 0) -> bool:
    """A 404 means the audience is missing (step error `audience_not_found`), not a new one still propagating: the
    step did not create it, it was created longer than the grace ago, or the retry kept seeing it."""
    if attempt >= AUDIENCE_NOT_FOUND_AFTER_ATTEMPT or created_at_ms is None:
        return True
    return now_ms - created_at_ms > AUDIENCE_NOT_FOUND_GRACE_MS


# What a refusal means for a launch: the field at fault, the problem's code, and advice.
_LAUNCH_PROBLEMS = {
    Disposition.MISSING: Problem("audience", "audience_not_found", "LinkedIn has no audience with this id"),
    Disposition.DENIED: Problem("ad_account_id", "ad_account_access", "LinkedIn denied access to this ad account"),
    Disposition.RECONNECT: Problem("connection", "linkedin_invalid_token", "reconnect LinkedIn"),
}


class SegmentsApi(Protocol):
    """The part of the LinkedIn client (client.py) audiences need."""

    def create_segment(
        self, token: str, ad_account_id: str, name: str, source_platform: str, source_segment_id: str
    ) -> str: ...

    def get_segment(self, token: str, segment_id: str) -> dict[str, Any]: ...


class LinkedInAudiences:
    """The `Audiences` of the LinkedIn destination (destinations/base.py)."""

    status_errors = tuple(STATUS_ERRORS.values())

    def __init__(self, api: SegmentsApi, source_platform: str):
        self.api = api
        self.source_platform = source_platform  # sent with each new segment when set (LinkedInSourcePlatform)

    def create(self, credential: str, account_id: str, name: str, source_id: str) -> str:
        return self.api.create_segment(credential, account_id, name, self.source_platform, source_id)

    def read(self, credential: str, audience_id: str) -> AudienceReading:
        try:
            return snapshot(self.api.get_segment(credential, audience_id))
        except MalformedSegment as exc:  # LinkedIn answered, but not with anything usable: as if it had not
            raise LinkedInError(0, MALFORMED_RESPONSE, str(exc)) from exc

    def explain(self, reading: AudienceReading) -> dict[str, Any]:
        return explain(reading)

    def status_error(self, status: str) -> str | None:
        return step_error_for(status)

    def ready_at(self, created_at_ms: int | None) -> int | None:
        return None if created_at_ms is None else created_at_ms + AUDIENCE_PROPAGATION_MS

    def gone(self, created_at_ms: int | None, now_ms: int, attempt: int = 0) -> bool:
        return gone(created_at_ms, now_ms, attempt)

    def launch_problem(self, failure: Failure) -> Problem | None:
        return _LAUNCH_PROBLEMS.get(failure.disposition)
