"""One request to a destination for one target, inside the shared rate limit, and what it means for each user.

The one path of every rate-limited delivery: whatever the destination (destinations/base.py), a request waits
until a new audience can take users, is encoded before its rate token is taken (so the token's time is when it
leaves), takes one token from the bucket of its destination and connection, and goes with the unit of work's token
(connections/session.py). The destination classifies what comes back, and the users get:

- accepted: each user's outcome, per user (synced, errored with the reason, or retried); clears a step error the
  sync had set.
- THROTTLED (429): sent once more with a new rate token when the destination asks for no wait or a short one
  (`Retry-After` up to THROTTLED_WAIT_SECONDS, waited here): a request that reached the destination a moment late
  and bunched with the next one in its window should not wait out the retry's first delay. A longer Retry-After,
  or a second 429: retried.
- RETRY (5xx, 408, timeout, ...): retried.
- RECONNECT (401): one token refresh and resend; then retried, and the connection `invalid_token` (notified).
- DENIED (403): retried (fixing the role within the horizon syncs them); step error `ad_account_access`
  (notified).
- MISSING (404) soon after the audience was created: retried.
- MISSING that persists (`Audiences.gone`): retried until the horizon; step error `audience_not_found` (notified).
- GIVE_UP: errored, with the reason.
- no rate token before the deadline: retried.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence

from aws_lambda_powertools import Logger

from audience_sync.connections.errors import NotConnected
from audience_sync.connections.session import AccessToken, TokenSession
from audience_sync.core.clock import Clock
from audience_sync.core.errors import StoreUnavailable
from audience_sync.core.ratelimit import BucketPolicy, per_minute_policy
from audience_sync.core.users import QueuedUser
from audience_sync.destinations.base import (
    NOT_SENT,
    AuthorizationFailed,
    Destination,
    DestinationError,
    Disposition,
    Failure,
    Outcome,
    SyncTarget,
)
from audience_sync.observability.notifications import Notifier
from audience_sync.observability.request_metrics import RequestStats
from audience_sync.pipeline.moves import STOPPED
from audience_sync.pipeline.ports import RateBuckets, TokenBucket
from audience_sync.steps.ports import StepErrors
from audience_sync.steps.records import AD_ACCOUNT_ACCESS, AUDIENCE_NOT_FOUND, SYNC_ERRORS

logger = Logger(child=True)

# A request's log lines name every webhook its users came from, this many per line: a full request of one-user
# webhooks names 5,000 (about 200 kB), more than one CloudWatch Logs event should carry.
CORRELATION_IDS_PER_LINE = 500
BODIES_BUILT_AT_ONCE = 2
# The longest Retry-After a throttled request waits inside the invocation before its one resend.
THROTTLED_WAIT_SECONDS = 2.0


class Sender:
    """Sends users to their destinations inside the shared rate limits. Each destination's token is kept for one
    invocation (`start_invocation`); several threads of one batcher may send at once."""

    def __init__(
        self,
        destinations: Mapping[str, Destination],
        sessions: Mapping[str, TokenSession],
        buckets: RateBuckets,
        steps: StepErrors,
        clock: Clock,
        notifier: Notifier,
    ):
        self.destinations = destinations
        self.sessions = sessions  # by connection id
        self.buckets = buckets
        self.steps = steps
        self.clock = clock
        self.notifier = notifier
        self._count_lock = threading.Lock()
        self._building = threading.BoundedSemaphore(BODIES_BUILT_AT_ONCE)
        self.requests_sent = 0
        self.stats = {name: RequestStats(d.metric_prefix) for name, d in destinations.items()}

    def start_invocation(self) -> None:
        for session in self.sessions.values():
            session.reset()  # a token may have been refreshed or revoked since the last invocation

    def finish_invocation(self) -> None:
        """Publish the invocation's request metrics (LinkedInRequests, LinkedInThrottled, LinkedInLatency...)."""
        for stats in self.stats.values():
            stats.flush()

    def destination(self, target: SyncTarget) -> Destination:
        return self.destinations[target.destination]

    def send(  # noqa: PLR0911 - one return for each outcome the module docstring lists
        self,
        target: SyncTarget,
        users: Sequence[QueuedUser],
        step_ids: Iterable[str],
        send_by_ms: int,
        attempt: int = 0,
        correlation_ids: Iterable[str | None] = (),
        stopped: Callable[[], bool] | None = None,
    ) -> list[Outcome]:
        """Each user's outcome, in order. `attempt` 0 is the first send; retries count up from 1.
        `correlation_ids` name the webhooks the users came from: the request's log line carries them. `stopped`,
        asked once the rate limit's token is in hand: whether the users' campaign was stopped meanwhile (then
        nothing is sent, STOPPED): at a campaign's rate a request may wait minutes for its token."""
        destination = self.destination(target)
        steps = sorted(set(step_ids))
        trace = _RequestTrace(target, len(users), attempt, correlation_ids)
        if not self._wait_until_ready(destination, target, send_by_ms):
            return [NOT_SENT] * len(users)
        # Few bodies are built at once: many threads building theirs together (a fraction of a vCPU on Lambda)
        # would hold up the request whose token just came up, and a late request bunches with the next one.
        with self._building:
            body = destination.encode(users, target)
        # A destination without authorization (an outbound webhook) needs no token; one with it has a session.
        session = self.sessions[target.connection_id] if destination.authorization is not None else None
        token: AccessToken | None = None
        if session is not None:
            try:
                token = session.token()
            except NotConnected as exc:
                return [Outcome("retry", f"{destination.name}_{exc.status}")] * len(users)
        bucket = self._bucket(destination, target)
        refreshed = resent = False  # at most one token refresh and one resend after a 429, in either order
        while True:
            if bucket is not None and not bucket.acquire(send_by_ms):
                return [NOT_SENT] * len(users)
            if stopped is not None and stopped():
                return [STOPPED] * len(users)
            try:
                with self._count_lock:
                    self.requests_sent += 1
                outcomes = self._send_once(destination, token, target, body, len(users), trace)
            except DestinationError as exc:
                failure = destination.classify(exc)
                if failure.disposition is Disposition.RECONNECT and not refreshed and session and token:
                    refreshed = True
                    fresh = self._refreshed(destination, session, token)
                    if isinstance(fresh, Outcome):
                        return [fresh] * len(users)
                    token = fresh
                    continue
                if (
                    failure.disposition is Disposition.THROTTLED
                    and not resent
                    and self._wait_to_resend(failure, send_by_ms)
                ):
                    resent = True
                    if session is not None:  # another thread may have refreshed it meanwhile
                        try:
                            token = session.token()
                        except NotConnected as not_connected:
                            return [Outcome("retry", f"{destination.name}_{not_connected.status}")] * len(users)
                    continue
                reason = self._request_failed(destination, session, failure, target, steps, attempt)
                return [_failed(failure, reason)] * len(users)
            self._clear_sync_errors(destination, steps)
            return outcomes

    def rate_per_second(self, target: SyncTarget) -> float | None:
        """The most requests a second the target's bucket lets out (None: not limited)."""
        rate, _ = self._rate(self.destination(target), target)
        return rate

    def _rate(self, destination: Destination, target: SyncTarget) -> tuple[float | None, BucketPolicy | None]:
        """The target's own per-minute rate (a campaign's) and its policy, or the destination's per-second rate."""
        if target.requests_per_minute:
            policy = per_minute_policy(target.requests_per_minute)
            return policy.rate_per_second, policy
        return destination.limits.requests_per_second, None

    def _bucket(self, destination: Destination, target: SyncTarget) -> TokenBucket | None:
        """The shared rate bucket of the target's connection at its rate (`_rate`); None when nothing limits it."""
        rate, policy = self._rate(destination, target)
        return None if rate is None else self.buckets.bucket(destination.name, target.connection_id, rate, policy)

    def _wait_to_resend(self, failure: Failure, send_by_ms: int) -> bool:
        """Whether a throttled request goes once more now: the destination asked for no wait, or a short one (which
        is waited here), and there is time. A longer Retry-After is the retry's to honour."""
        wait = failure.retry_after_seconds or 0.0
        if wait > THROTTLED_WAIT_SECONDS or self.clock.now_ms() + wait * 1000 >= send_by_ms:
            return False
        if wait:
            self.clock.sleep(wait)
        return True

    def _wait_until_ready(self, destination: Destination, target: SyncTarget, send_by_ms: int) -> bool:
        """Wait until a new audience can take users; False if that is after `send_by_ms`."""
        ready_at = destination.audiences.ready_at(target.audience_created_at) if destination.audiences else None
        if ready_at is None:
            return True
        wait_ms = ready_at - self.clock.now_ms()
        if wait_ms > 0:
            if self.clock.now_ms() + wait_ms > send_by_ms:
                return False
            self.clock.sleep(wait_ms / 1000)
        return True

    def _send_once(
        self,
        destination: Destination,
        token: AccessToken | None,
        target: SyncTarget,
        body: bytes,
        expected: int,
        trace: _RequestTrace,
    ) -> list[Outcome]:
        stats = self.stats[destination.name]
        started_ms = self.clock.now_ms()
        try:
            outcomes = destination.send(token.value if token else "", target, body, expected)
        except DestinationError as exc:
            latency_ms = self.clock.now_ms() - started_ms
            stats.record(exc.status, latency_ms)
            for fields in trace.lines(exc.status, latency_ms, exc):
                logger.warning(f"{destination.label} request failed", extra=fields)
            raise
        latency_ms = self.clock.now_ms() - started_ms
        stats.record(200, latency_ms)
        for fields in trace.lines(200, latency_ms):
            logger.info(f"{destination.label} request", extra=fields)
        return outcomes

    def _request_failed(
        self,
        destination: Destination,
        session: TokenSession | None,
        failure: Failure,
        target: SyncTarget,
        steps: list[str],
        attempt: int,
    ) -> str:
        """The users' reason for a failed request, after its side effects on the connection and the steps."""
        if failure.disposition is Disposition.RECONNECT and session is not None:
            session.mark_invalid(failure.reason)
            return f"{destination.name}_invalid_token"
        if failure.disposition is Disposition.DENIED:
            self._set_step_error(steps, AD_ACCOUNT_ACCESS)
        elif failure.disposition is Disposition.MISSING and self._audience_gone(destination, target, attempt):
            self._set_step_error(steps, AUDIENCE_NOT_FOUND)
            return f"{destination.name}_{AUDIENCE_NOT_FOUND}"
        return failure.reason

    def _audience_gone(self, destination: Destination, target: SyncTarget, attempt: int) -> bool:
        audiences = destination.audiences
        return audiences is None or audiences.gone(target.audience_created_at, self.clock.now_ms(), attempt)

    # Step errors are best effort: failing to record one must not fail the users' outcomes, which are already known.
    def _set_step_error(self, steps: list[str], code: str) -> None:
        for step_id in steps:
            try:
                if self.steps.set_error(step_id, code):
                    self.notifier.notify(code, step_id=step_id)
            except StoreUnavailable:
                logger.exception("could not record a step error", extra={"step_id": step_id, "error": code})

    def _clear_sync_errors(self, destination: Destination, steps: list[str]) -> None:
        if destination.audiences is None:  # a step error is about an audience or its ad account: none to clear
            return
        for step_id in steps:
            try:
                self.steps.clear_error(step_id, SYNC_ERRORS)
            except StoreUnavailable:
                logger.exception("could not clear a step error", extra={"step_id": step_id})

    @staticmethod
    def _refreshed(destination: Destination, session: TokenSession, stale: AccessToken) -> AccessToken | Outcome:
        """A fresh token, or the retry for users who must wait (dead grant, or the OAuth server down)."""
        try:
            return session.refreshed(stale)
        except NotConnected as dead:
            return Outcome("retry", f"{destination.name}_{dead.status}")
        except AuthorizationFailed as unavailable:
            return Outcome("retry", f"{destination.name}_refresh_{unavailable.error}")


def _failed(failure: Failure, reason: str) -> Outcome:
    """A failed request's users: errored (GIVE_UP), or retried no sooner than the destination asked."""
    if failure.disposition is Disposition.GIVE_UP:
        return Outcome("errored", reason)
    return Outcome("retry", reason, failure.retry_after_seconds)


class _RequestTrace:
    """What a request's log lines say about it: never users, only counts, the audience and the correlation ids of
    the webhooks its users came from (the id each webhook's answer carried), so any webhook can be followed to the
    request that sent its users. Several lines when there are many webhooks (`part` of `parts`)."""

    def __init__(self, target: SyncTarget, users: int, attempt: int, correlation_ids: Iterable[str | None]):
        self.ids = sorted({c for c in correlation_ids if c})
        self.request_id_field = f"{target.destination}_request_id"  # the destination's id of a failed request
        self.base: dict[str, object] = {
            "audience_id": target.audience_id,
            "action": target.action,
            "users": users,
            "attempt": attempt,
            "webhooks": len(self.ids),
        }

    def lines(self, status: int, latency_ms: float, error: DestinationError | None = None) -> list[dict[str, object]]:
        line = {**self.base, "status": status, "latency_ms": round(latency_ms, 1)}
        if error is not None:
            line["code"] = error.code
            if error.request_id:
                line[self.request_id_field] = error.request_id
        parts = [self.ids[i : i + CORRELATION_IDS_PER_LINE] for i in range(0, len(self.ids), CORRELATION_IDS_PER_LINE)]
        if len(parts) <= 1:
            return [{**line, "correlation_ids": parts[0] if parts else []}]
        return [{**line, "correlation_ids": ids, "part": n, "parts": len(parts)} for n, ids in enumerate(parts, 1)]
