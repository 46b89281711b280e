"""One LinkedIn request for one target, and what it means for each user in it (linkedin-api.md §4).

| answer | the users | side effect |
|---|---|---|
| 2xx, element 2xx | synced | clears a step error the sync had set |
| element 4xx | that user errored, with the reason | |
| element 429/5xx, request 429/5xx/408/409/423, timeout | retried | |
| 426 (LinkedIn-Version sunset) | retried | `LinkedInVersionSunset` metric (alarmed) |
| 401 | one token refresh and resend; then retried | connection `invalid_token` (notified) |
| 403 | retried (fixing the role within the horizon syncs them) | step error `ad_account_access` (notified) |
| 404 soon after the audience was created | retried | |
| 404 that persists | retried until the horizon | step error `audience_not_found` (notified) |
| no rate-limit token before the deadline | retried | |
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from audience_sync.adapters.aws.rate_bucket import DynamoTokenBucket
from audience_sync.connections.service import AccessToken, ConnectionService, NotConnected
from audience_sync.core.backoff import AUDIENCE_PROPAGATION_MS, audience_not_found_persists
from audience_sync.core.clock import Clock
from audience_sync.core.users import QueuedUser, linkedin_element
from audience_sync.destinations.linkedin.client import ElementResult, LinkedInClient, encode_users_body
from audience_sync.destinations.linkedin.errors import Disposition, LinkedInError, element_disposition
from audience_sync.destinations.linkedin.oauth import OAuthError
from audience_sync.observability.notifications import Notifier
from audience_sync.observability.request_metrics import RequestStats, version_sunset
from audience_sync.pipeline.messages import SyncTarget
from audience_sync.steps.repository import AD_ACCOUNT_ACCESS, AUDIENCE_NOT_FOUND, SYNC_ERRORS, StepRepository

logger = Logger(child=True)

NOT_SENT_IN_TIME = "not_sent_in_time"
# A request's log lines name every webhook its users came from, this many per line: a full request of one-user
# webhooks names 5,000 (about 200 kB), more than one CloudWatch Logs event should carry.
CORRELATION_IDS_PER_LINE = 500
BODIES_BUILT_AT_ONCE = 2


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str  # "synced" | "errored" | "retry"
    reason: str | None = None


SYNCED = Outcome("synced")
NOT_SENT = Outcome("retry", NOT_SENT_IN_TIME)


def element_outcome(result: ElementResult) -> Outcome:
    """A user's outcome from its element's result: a 4xx ends only that user; throttles and 5xx retry."""
    disposition = element_disposition(result.status)
    if disposition is Disposition.OK:
        return SYNCED
    if disposition is Disposition.RETRY:
        return Outcome("retry", f"linkedin_element_{result.status}")
    return Outcome("errored", f"linkedin_{result.status}_{(result.code or 'invalid_element').lower()}")


class Sender:
    """Sends users to LinkedIn inside the shared rate limit. Caches the access token for one invocation; several
    threads of one batcher may send at once (the token and its refresh are behind a lock)."""

    def __init__(
        self,
        connections: ConnectionService,
        steps: StepRepository,
        bucket: DynamoTokenBucket,
        clock: Clock,
        notifier: Notifier,
        linkedin: LinkedInClient | None = None,
    ):
        self.connections = connections
        self.steps = steps
        self.bucket = bucket
        self.clock = clock
        self.notifier = notifier
        self.linkedin = linkedin or connections.linkedin
        self._token: AccessToken | None = None
        self._no_token: Outcome | None = None
        self._token_lock = threading.Lock()
        self._count_lock = threading.Lock()
        self._building = threading.BoundedSemaphore(BODIES_BUILT_AT_ONCE)
        self.requests_sent = 0
        self.stats = RequestStats()

    def start_invocation(self) -> None:
        self._token = None  # a token may have been refreshed or revoked since the last invocation
        self._no_token = None

    def finish_invocation(self) -> None:
        """Publish the invocation's request metrics (LinkedInRequests, LinkedInThrottled, LinkedInLatency...)."""
        self.stats.flush()

    def send(
        self,
        target: SyncTarget,
        users: Sequence[QueuedUser],
        step_ids: Iterable[str],
        send_by_ms: int,
        attempt: int = 0,
        correlation_ids: Iterable[str | None] = (),
    ) -> list[Outcome]:
        """Each user's outcome, in order. `attempt` 0 is the first send; retries count up from 1.
        `correlation_ids` name the webhooks the users came from: the request's log line carries them."""
        steps = sorted(set(step_ids))
        trace = _RequestTrace(target, len(users), attempt, correlation_ids)
        if target.audience_created_at is not None:
            wait_ms = target.audience_created_at + AUDIENCE_PROPAGATION_MS - self.clock.now_ms()
            if wait_ms > 0:
                if self.clock.now_ms() + wait_ms > send_by_ms:
                    return [NOT_SENT] * len(users)
                self.clock.sleep(wait_ms / 1000)
        # Few bodies are built at once: many threads building theirs together (a fraction of a vCPU on Lambda)
        # would hold up the request whose token just came up, and a late request bunches with the next one.
        with self._building:
            body = encode_users_body([linkedin_element(u, target.action) for u in users])
        try:
            token = self._access_token()
        except NotConnected as exc:
            return [Outcome("retry", f"linkedin_{exc.status}")] * len(users)
        for first_try in (True, False):
            if not self.bucket.acquire(send_by_ms):
                return [NOT_SENT] * len(users)
            try:
                with self._count_lock:
                    self.requests_sent += 1
                results = self._send_users(token, target, body, len(users), trace)
            except LinkedInError as exc:
                if exc.disposition is Disposition.REFRESH_TOKEN and first_try:
                    refreshed = self._refreshed(token)
                    if isinstance(refreshed, Outcome):
                        return [refreshed] * len(users)
                    token = refreshed
                    continue
                return [Outcome("retry", self._request_failed(exc, target, steps, attempt))] * len(users)
            self._clear_sync_errors(steps)
            return [element_outcome(result) for result in results]
        raise AssertionError("unreachable: the second try always returns")

    def _send_users(
        self, token: AccessToken, target: SyncTarget, body: bytes, expected: int, trace: _RequestTrace
    ) -> list[ElementResult]:
        started_ms = self.clock.now_ms()
        try:
            results = self.linkedin.send_users(token.value, target.audience_id, body, expected)
        except LinkedInError as exc:
            latency_ms = self.clock.now_ms() - started_ms
            self.stats.record(exc.status, latency_ms)
            for fields in trace.lines(exc.status, latency_ms, exc):
                logger.warning("LinkedIn request failed", extra=fields)
            raise
        latency_ms = self.clock.now_ms() - started_ms
        self.stats.record(200, latency_ms)
        for fields in trace.lines(200, latency_ms):
            logger.info("LinkedIn request", extra=fields)
        return results

    def _request_failed(self, exc: LinkedInError, target: SyncTarget, steps: list[str], attempt: int) -> str:
        if exc.disposition is Disposition.REFRESH_TOKEN:
            self.connections.mark_invalid(exc.reason)
            return "linkedin_invalid_token"
        if exc.disposition is Disposition.ACCESS_DENIED:
            self._set_step_error(steps, AD_ACCOUNT_ACCESS)
        elif exc.disposition is Disposition.NOT_FOUND and self._not_found_persists(target, attempt):
            self._set_step_error(steps, AUDIENCE_NOT_FOUND)
            return f"linkedin_{AUDIENCE_NOT_FOUND}"
        elif exc.status == 426:
            version_sunset(exc.code)
        return exc.reason

    def _not_found_persists(self, target: SyncTarget, attempt: int) -> bool:
        return audience_not_found_persists(target.audience_created_at, self.clock.now_ms(), attempt)

    # Step errors are best effort: failing to record one must not fail the users' outcomes, which are already known.
    def _set_step_error(self, steps: list[str], code: str) -> None:
        for step_id in steps:
            try:
                if self.steps.set_error(step_id, code):
                    self.notifier.notify(code, step_id=step_id)
            except (ClientError, BotoCoreError):
                logger.exception("could not record a step error", extra={"step_id": step_id, "error": code})

    def _clear_sync_errors(self, steps: list[str]) -> None:
        for step_id in steps:
            try:
                self.steps.clear_error(step_id, SYNC_ERRORS)
            except (ClientError, BotoCoreError):
                logger.exception("could not clear a step error", extra={"step_id": step_id})

    def _access_token(self) -> AccessToken:
        with self._token_lock:
            if self._token is None:
                self._token = self.connections.access_token()
            return self._token

    def _refreshed(self, stale: AccessToken) -> AccessToken | Outcome:
        """A fresh token, or the retry for users who must wait (dead grant, or LinkedIn's OAuth down)."""
        with self._token_lock:
            if self._no_token is not None:
                return self._no_token  # this invocation already found the grant dead: no refresh per request
            if self._token is not None and self._token != stale:
                return self._token  # another request of this invocation refreshed it already
            return self._refresh(stale)

    def _refresh(self, stale: AccessToken) -> AccessToken | Outcome:
        try:
            self._token = self.connections.refresh(stale)
        except NotConnected as dead:
            self._no_token = Outcome("retry", f"linkedin_{dead.status}")
            return self._no_token
        except OAuthError as unavailable:
            return Outcome("retry", f"linkedin_refresh_{unavailable.error}")
        return self._token


class _RequestTrace:
    """What a LinkedIn request's log lines say about it: never users, only counts, the audience and the correlation
    ids of the webhooks its users came from (the id each webhook's answer carried), so any webhook can be followed to
    the request that sent its users. Several lines when there are many webhooks (`part` of `parts`)."""

    def __init__(self, target: SyncTarget, users: int, attempt: int, correlation_ids: Iterable[str | None]):
        self.ids = sorted({c for c in correlation_ids if c})
        self.base: dict[str, object] = {
            "audience_id": target.audience_id,
            "action": target.action,
            "users": users,
            "attempt": attempt,
            "webhooks": len(self.ids),
        }

    def lines(self, status: int, latency_ms: float, error: LinkedInError | None = None) -> list[dict[str, object]]:
        line = {**self.base, "status": status, "latency_ms": round(latency_ms, 1)}
        if error is not None:
            line["code"] = error.code
            if error.request_id:
                line["linkedin_request_id"] = error.request_id
        parts = [self.ids[i : i + CORRELATION_IDS_PER_LINE] for i in range(0, len(self.ids), CORRELATION_IDS_PER_LINE)]
        if len(parts) <= 1:
            return [{**line, "correlation_ids": parts[0] if parts else []}]
        return [{**line, "correlation_ids": ids, "part": n, "parts": len(parts)} for n, ids in enumerate(parts, 1)]
