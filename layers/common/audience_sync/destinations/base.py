"""Destinations: where users go, behind one interface, so that every delivery shares one pipeline.

The pipeline (ingest → queue → batcher → sender → ledger, the Step Functions retry, the rate bucket, the metrics)
knows nothing about a destination but this module. A destination says:

- **authorization** (`Authorization`, or None when it needs no member token): the OAuth authorize URL, the code
  exchange, the refresh, and the accounts the member may use;
- **audiences** (`Audiences`, or None): create one, read one (`AudienceReading`), what a status means for the
  people who target it, when a new one can take users and when a "not found" means it is gone;
- **sending**: `encode` the users of one request (before the rate token, so the token's time is when the request
  leaves), `send` it and get one `Outcome` per user, and `classify` a failed request (`Failure`: retry, give up,
  reconnect, or a problem the operator must fix);
- **limits** (`Limits`: users per request, requests per second per connection) and its **retry policy**
  (`RetryPolicy`: the waits between attempts and the horizon after which waiting users count as errored).

LinkedIn Matched Audiences (`destinations/linkedin/`) is the first implementation; the outbound webhook of
campaigns (`destinations/webhook/`) the second: one user a request, each campaign's own rate (its target's
`requests_per_minute`, the campaign as the connection), no authorization and no audiences, Braze's retry rules as
its classify and retry policy, and an answer's `Retry-After` as the least wait of the users it sends to the retry
(`Outcome.wait_seconds`).

What the interface does not promise: ordering between requests (the batcher sends up to `SendConcurrency` at
once), or exactly-once sends (a crash after the destination took a request sends it again; LinkedIn's adds and
removes are idempotent, a webhook receiver gets the same `dispatch_id`). Counting is exactly once (ledger.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from audience_sync.core.backoff import RetryPolicy
from audience_sync.core.users import QueuedUser

TargetKey = tuple[str, str, str, str, bool]


class SyncTarget(BaseModel):
    """Where users go: one destination, through one connection, into one audience, with one action. A request
    never mixes targets (a LinkedIn request is one audience and one action)."""

    model_config = ConfigDict(frozen=True)

    # Messages queued before destinations had names lack it: they are LinkedIn's.
    destination: str = "linkedin"
    connection_id: str
    ad_account_id: str
    audience_id: str
    action: str
    audience_created_at: int | None = None  # epoch ms; a new audience may not take users for a few seconds
    # Users leaving the step (a segment's exits, contract v2 §5): what the destination takes counts as `removed`,
    # not `synced`. Messages queued before it existed are entries.
    leaving: bool = False
    # A rate of this target's own (a campaign's `rate_limit_per_minute`) instead of the destination's: requests in
    # any minute, shared by every sender through the bucket of (destination, connection).
    requests_per_minute: int | None = None

    @property
    def key(self) -> TargetKey:
        """What one request may hold: users of one key only (entries and exits are counted apart)."""
        return (self.destination, self.connection_id, self.audience_id, self.action, self.leaving)


# ---- what happened to each user of a request -----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Outcome:
    kind: Literal["synced", "errored", "retry", "not_synced"]
    reason: str | None = None  # machine-readable, never PII: the users' reason in the metrics
    wait_seconds: float | None = None  # a retry: the destination asked for at least this wait (Retry-After)


SYNCED = Outcome("synced")
NOT_SENT_IN_TIME = "not_sent_in_time"
NOT_SENT = Outcome("retry", NOT_SENT_IN_TIME)


# ---- what a failed request means ------------------------------------------------------------------------
class Disposition(StrEnum):
    RETRY = "retry"  # a server error, a timeout, an unreadable answer: the users wait in the retry
    THROTTLED = "throttled"  # the destination's rate limit: the users wait; readers stop for this run
    RECONNECT = "reconnect"  # the token is refused: refresh it once, then the connection needs a person
    DENIED = "denied"  # the member has no access to the account: the users wait while a person fixes it
    MISSING = "missing"  # the audience does not exist, or not yet (a new one propagating)
    GIVE_UP = "give_up"  # the request itself is wrong: its users are errored


class DestinationError(Exception):
    """A request the destination did not answer usably. `status` 0 means no answer: a timeout, a connection error,
    or a 2xx whose body cannot be read. Messages hold the destination's words, never users' data."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        request_id: str | None = None,
        retry_after_seconds: float | None = None,
    ):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id  # the destination's id of the request: what its support asks for
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed request, classified by its destination."""

    disposition: Disposition
    reason: str  # machine-readable, never PII (e.g. linkedin_429_too_many_requests)
    retry_after_seconds: float | None = None  # the destination asked for this wait (Retry-After)


@dataclass(frozen=True, slots=True)
class Limits:
    elements_per_request: int  # users in one request
    # Per connection, as the destination counts them; None: no limit of the destination's own (a target may set one).
    requests_per_second: float | None


# ---- authorization (OAuth 2.0 authorization code) -------------------------------------------------------
@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    expires_in: int
    refresh_token: str | None
    refresh_token_expires_in: int | None
    scope: str

    def __repr__(self) -> str:  # tokens must never reach a log line through a repr
        return f"TokenGrant(expires_in={self.expires_in}, scope={self.scope!r}, refreshable={bool(self.refresh_token)})"


@dataclass(frozen=True, slots=True)
class Account:
    """An ad account the connected member can see, and whether its role may manage audiences."""

    id: str
    name: str
    role: str
    usable: bool


class AuthorizationFailed(Exception):
    """The OAuth server refused or did not answer (`status` 0). `grant_is_dead`: the code or refresh token will
    never work again, the member must connect again."""

    def __init__(self, status: int, error: str, description: str, grant_is_dead: bool = False):
        super().__init__(f"OAuth {status} {error}: {description}")
        self.status = status
        self.error = error
        self.description = description
        self.grant_is_dead = grant_is_dead


class Authorization(Protocol):
    def authorize_url(self, redirect_uri: str, state: str) -> str: ...

    def exchange(self, code: str, redirect_uri: str) -> TokenGrant:
        """Raises AuthorizationFailed."""
        ...

    def refresh(self, refresh_token: str) -> TokenGrant:
        """Raises AuthorizationFailed."""
        ...

    def accounts(self, access_token: str) -> list[Account]:
        """Raises DestinationError."""
        ...


# ---- audiences ------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AudienceReading:
    """The facts of one reading of an audience, as the audience cache stores them."""

    audience_id: str
    name: str | None
    status: str
    audience_size: int | None  # as reported, even below the size the destination shows
    matched_count: int | None
    input_count: int | None
    account_id: str | None = None  # the ad account it belongs to, when the destination says

    def to_item(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__ if getattr(self, k) is not None}

    @staticmethod
    def from_item(item: dict[str, Any]) -> AudienceReading:
        def number(value: Any) -> int | None:
            return int(value) if value is not None else None

        return AudienceReading(
            audience_id=str(item["audience_id"]),
            name=item.get("name"),
            status=str(item["status"]),
            audience_size=number(item.get("audience_size")),
            matched_count=number(item.get("matched_count")),
            input_count=number(item.get("input_count")),
            account_id=item.get("account_id"),
        )


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a step cannot be launched: the config field at fault, a stable code, and what to do."""

    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


class Audiences(Protocol):
    @property
    def status_errors(self) -> tuple[str, ...]:
        """Every step error `status_error` can return."""
        ...

    def create(self, credential: str, account_id: str, name: str, source_id: str) -> str:
        """The new audience's id. Raises DestinationError."""
        ...

    def read(self, credential: str, audience_id: str) -> AudienceReading:
        """Raises DestinationError (an unreadable answer included)."""
        ...

    def explain(self, reading: AudienceReading) -> dict[str, Any]:
        """The public view of a reading: its status in plain words, whether it can be targeted, size, match rate."""
        ...

    def status_error(self, status: str) -> str | None:
        """The step error a status means (the audience cannot be targeted), or None."""
        ...

    def ready_at(self, created_at_ms: int | None) -> int | None:
        """Epoch ms from which a new audience takes users (None: at once)."""
        ...

    def gone(self, created_at_ms: int | None, now_ms: int, attempt: int = 0) -> bool:
        """Whether "not found" means the audience is gone rather than not visible yet (a new one propagating)."""
        ...

    def launch_problem(self, failure: Failure) -> Problem | None:
        """What a failed create or read means for a launch (the field at fault), or None: not the caller's fault."""
        ...


# ---- the destination ------------------------------------------------------------------------------------
class Destination(Protocol):
    @property
    def name(self) -> str:
        """The key of step configs, queued targets and rate buckets: "linkedin"."""
        ...

    @property
    def label(self) -> str:
        """For people: "LinkedIn"."""
        ...

    @property
    def metric_prefix(self) -> str:
        """Request metrics are <prefix>Requests, <prefix>Throttled, <prefix>Failed, <prefix>Latency."""
        ...

    @property
    def limits(self) -> Limits: ...

    @property
    def retry_policy(self) -> RetryPolicy: ...

    @property
    def authorization(self) -> Authorization | None: ...

    @property
    def audiences(self) -> Audiences | None: ...

    def encode(self, users: Sequence[QueuedUser], target: SyncTarget) -> bytes:
        """The body of one request for `users` (at most `limits.elements_per_request`). Pure."""
        ...

    def send(self, credential: str, target: SyncTarget, body: bytes, count: int) -> list[Outcome]:
        """One outcome per user, in order. Raises DestinationError when the request as a whole failed."""
        ...

    def classify(self, error: DestinationError) -> Failure:
        """What a failed request means. Pure."""
        ...
