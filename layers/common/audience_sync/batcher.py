"""The batcher: queued users → packed LinkedIn requests → per-user outcomes → counters.

Accounting is per SQS message: a message's outcomes are counted only once the whole message is
settled (every user synced, errored, or handed to the retry; users not sent before the deadline go to
the retry too, so they never wait out the queue's visibility timeout or drift towards the DLQ). A message
that cannot be settled (the retry hand-off failed, or it is unreadable) is reported as a batch item failure
and counts nothing, so its redelivery cannot double count.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from audience_sync.clock import Clock
from audience_sync.connections import AccessToken, ConnectionService, NotConnected
from audience_sync.linkedin.client import ElementResult, LinkedInClient, encode_users_body
from audience_sync.linkedin.errors import Disposition, LinkedInError, element_disposition
from audience_sync.linkedin.oauth import OAuthError
from audience_sync.metrics import StepDelta
from audience_sync.metrics_store import MetricsStore
from audience_sync.normalise import QueuedUser, linkedin_element
from audience_sync.packing import PackedRequest, pack
from audience_sync.publisher import PublishError, QueuePublisher, message_bodies
from audience_sync.queue_message import QueuedMessage
from audience_sync.ratelimit_store import DynamoTokenBucket
from audience_sync.retry import AUDIENCE_PROPAGATION_MS, horizon_passed, retry_delay_seconds
from audience_sync.settings import Settings
from audience_sync.steps import StepRepository

logger = Logger(child=True)

# Time kept back from the Lambda deadline: one LinkedIn request (read timeout) plus settling.
REQUEST_BUDGET_MS = 35_000
NOT_SENT_IN_TIME = "not_sent_in_time"


@dataclass(frozen=True, slots=True)
class Outcome:
    kind: str  # "synced" | "errored" | "deferred"
    reason: str | None = None


SYNCED = Outcome("synced")


def element_outcome(result: ElementResult) -> Outcome:
    """A user's outcome from its element's result: a 4xx ends only that user; throttles and 5xx retry."""
    disposition = element_disposition(result.status)
    if disposition is Disposition.OK:
        return SYNCED
    if disposition is Disposition.RETRY:
        return Outcome("deferred", f"linkedin_element_{result.status}")
    return Outcome("errored", f"linkedin_{result.status}_{(result.code or 'invalid_element').lower()}")


class Batcher:
    def __init__(
        self,
        settings: Settings,
        connections: ConnectionService,
        metrics: MetricsStore,
        steps: StepRepository,
        bucket: DynamoTokenBucket,
        publisher: QueuePublisher,
        clock: Clock,
        linkedin: LinkedInClient | None = None,
    ):
        self.settings = settings
        self.connections = connections
        self.metrics = metrics
        self.steps = steps
        self.bucket = bucket
        self.publisher = publisher
        self.clock = clock
        self.linkedin = linkedin or connections.linkedin
        self._token: AccessToken | None = None
        self.requests_sent = 0

    # ---- entry point ---------------------------------------------------------------------------
    def handle(self, records: list[dict[str, Any]], deadline_ms: int) -> list[str]:
        """Process SQS records; return the message ids to report as batch item failures."""
        failed: list[str] = []
        messages: list[QueuedMessage] = []
        message_ids: list[str] = []
        for record in records:
            try:
                messages.append(QueuedMessage.model_validate_json(record["body"]))
                message_ids.append(record["messageId"])
            except (ValidationError, KeyError):
                logger.error(
                    "unreadable sync message; it will reach the DLQ",
                    extra={"message_id": record.get("messageId")},
                )
                failed.append(str(record.get("messageId")))
        self._token = None
        outcomes: list[list[Outcome | None]] = [[None] * len(m.users) for m in messages]
        for request in pack(messages, self.settings.max_elements):
            self._send(request, messages, outcomes, deadline_ms)
        failed += self._settle(messages, message_ids, outcomes)
        return failed

    # ---- one LinkedIn request ------------------------------------------------------------------
    def _send(
        self,
        request: PackedRequest,
        messages: list[QueuedMessage],
        outcomes: list[list[Outcome | None]],
        deadline_ms: int,
    ) -> None:
        target = request.target
        users = [messages[ref.message].users[ref.user] for ref in request.users]

        def mark_all(outcome: Outcome) -> None:
            for ref in request.users:
                outcomes[ref.message][ref.user] = outcome

        send_by = deadline_ms - REQUEST_BUDGET_MS
        if target.audience_created_at is not None:
            wait_ms = target.audience_created_at + AUDIENCE_PROPAGATION_MS - self.clock.now_ms()
            if wait_ms > 0:
                if self.clock.now_ms() + wait_ms > send_by:
                    return
                self.clock.sleep(wait_ms / 1000)
        body = encode_users_body([linkedin_element(u, target.action) for u in users])
        try:
            token = self._access_token()
        except NotConnected as exc:
            mark_all(Outcome("deferred", f"linkedin_{exc.status}"))
            return
        for attempt in range(2):
            if not self.bucket.acquire(send_by):
                return  # left unsent: the message goes back to the queue or its users are deferred
            try:
                self.requests_sent += 1
                results = self.linkedin.send_users(token.value, target.audience_id, body, len(users))
            except LinkedInError as exc:
                if exc.disposition is Disposition.REFRESH_TOKEN and attempt == 0:
                    refreshed = self._refreshed(token)
                    if isinstance(refreshed, Outcome):
                        mark_all(refreshed)
                        return
                    token = refreshed
                    continue
                mark_all(Outcome("deferred", self._request_failed(exc, request, messages)))
                return
            for ref, result in zip(request.users, results, strict=True):
                outcomes[ref.message][ref.user] = element_outcome(result)
            return

    def _request_failed(self, exc: LinkedInError, request: PackedRequest, messages: list[QueuedMessage]) -> str:
        logger.warning(
            "LinkedIn request failed",
            extra={"status": exc.status, "code": exc.code, "users": len(request.users)},
        )
        if exc.disposition is Disposition.REFRESH_TOKEN:
            self.connections.mark_invalid(exc.reason)
            return "linkedin_invalid_token"
        if exc.disposition is Disposition.ACCESS_DENIED:
            for step_id in {messages[ref.message].step_id for ref in request.users}:
                self.steps.set_error(step_id, "ad_account_access")
        return exc.reason

    def _access_token(self) -> AccessToken:
        if self._token is None:
            self._token = self.connections.access_token()
        return self._token

    def _refreshed(self, stale: AccessToken) -> AccessToken | Outcome:
        """A fresh token, or the deferral for users who must wait (dead grant, or LinkedIn's OAuth down)."""
        try:
            self._token = self.connections.refresh(stale)
        except NotConnected as dead:
            return Outcome("deferred", f"linkedin_{dead.status}")
        except OAuthError as unavailable:
            return Outcome("deferred", f"linkedin_refresh_{unavailable.error}")
        return self._token

    # ---- accounting --------------------------------------------------------------------------
    def _settle(
        self, messages: list[QueuedMessage], message_ids: list[str], outcomes: list[list[Outcome | None]]
    ) -> list[str]:
        failed: list[str] = []
        deltas: dict[str, StepDelta] = defaultdict(StepDelta)
        now = self.clock.now_ms()
        for message, message_id, results in zip(messages, message_ids, outcomes, strict=True):
            delta = StepDelta()
            retry_users: list[QueuedUser] = []
            retry_reason = NOT_SENT_IN_TIME
            for user, outcome in zip(message.users, results, strict=True):
                if outcome is None or outcome.kind == "deferred":
                    retry_users.append(user)
                    if outcome is not None and outcome.reason:
                        retry_reason = outcome.reason
                elif outcome.kind == "synced":
                    delta.add("synced")
                else:
                    delta.add("errored", reason=outcome.reason)
            if retry_users and not self._retry(message, retry_users, retry_reason, now, delta):
                failed.append(message_id)
                continue
            deltas[message.step_id].merge(delta)
        for step_id, delta in deltas.items():
            if delta:  # only retries: nothing to count yet
                self.metrics.apply(step_id, delta)
        return failed

    def _retry(self, message: QueuedMessage, users: list[QueuedUser], reason: str, now: int, delta: StepDelta) -> bool:
        """Hand `users` to the retry, or count them errored past the horizon. False if the hand-off failed."""
        scale = self.settings.time_scale
        if horizon_passed(message.first_enqueued_at, now, self.settings.retry_horizon_seconds, scale):
            delta.add("errored", len(users), reason=f"retry_horizon_{reason}")
            return True
        retry = message.model_copy(update={"attempt": message.attempt + 1, "last_error": reason, "users": users})
        try:
            self.publisher.send(
                message_bodies(retry, users),
                delay_seconds=retry_delay_seconds(message.attempt, scale),
                correlation_id=message.correlation_id,
            )
        except PublishError:
            logger.exception("could not hand users to the retry; the message returns to the queue")
            return False
        return True
