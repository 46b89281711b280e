"""Reading steps' audiences from their destination into the audience cache, and what a reading means for the step.

`GET /v1/steps/{id}/audience` reads LinkedIn only when the cached reading is `AudienceMaxAgeSeconds` old, or with
`?refresh=true` (or nothing to show but an error) when the last attempt is MIN_READ_INTERVAL_SECONDS old; the
scheduled AudienceRefreshFunction reads every launched step whose reading is that old.

LinkedIn answers, and what becomes of the cached view, the step (only an active one) and the schedule's run:
- 200, status EXPIRED / FAILED / ERROR: the new reading; step error `audience_expired` / `audience_failed` /
  `audience_error` in the step's AUDIENCE_STATUS_ERROR attribute (notified once).
- 200, any other status: the new reading; clears those step errors and a sync error `audience_not_found`.
- 200 that cannot be read (not a JSON object, counts that are not numbers): as a 5xx, `linkedin_malformed_response`.
  (The statuses and their meanings are LinkedIn's, the first destination with audiences: Audiences.status_error
  and Audiences.gone in destinations/linkedin/audiences.py.)
- 404 for an audience read before, not created by the step, or created over 10 min ago (the sender's rule): the old
  reading kept, failure `audience_not_found`; step error `audience_not_found` in the sync error attribute, where
  the sender records the same fact (notified once).
- 404 for an audience created less than 10 min ago: failure `audience_not_visible_yet` (LinkedIn propagating it).
- 401: one token refresh and a second read; 401 again: failure `linkedin_invalid_token`, the connection
  `invalid_token` (notified once); the run stops.
- no usable token (disconnected, invalid_token): failure `linkedin_<status>` without calling LinkedIn; the run stops.
- 429: the old reading kept, stale; the run stops (the steps not read keep theirs).
- 5xx, timeout, anything else: the old reading kept, stale; the run goes on.

An attempt's view is stored only if no later attempt is stored already (a GET and the schedule may read at once);
an attempt that lands after a later one changes nothing on the step, and the later view is the one shown.

Reads take no token from the DynamoDB bucket: LinkedIn's per-minute limit (600/min per member) is documented for
`/dmpSegments/{id}/users` only, reads count against the unpublished daily limits (docs/integrations/linkedin.md,
"Limits"), and a read
must not hold up a send. So reads are few instead: one per step per max age at most, one at a time, none after a 429.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from audience_sync.connections.errors import NotConnected
from audience_sync.connections.session import TokenSession
from audience_sync.core.clock import Clock
from audience_sync.core.errors import Conflict, NotFound, UpstreamFailed
from audience_sync.destinations.base import Audiences, AuthorizationFailed, Destination, DestinationError, Disposition
from audience_sync.insights.audience import AudienceCache, CachedView, needs_reading, public_view
from audience_sync.observability.notifications import Notifier
from audience_sync.steps.ports import LaunchedSteps
from audience_sync.steps.records import (
    ACTIVE,
    AUDIENCE_NOT_FOUND,
    AUDIENCE_STATUS_ERROR,
    SYNC_ERROR,
    int_or_none,
)

logger = Logger(child=True)

NOT_VISIBLE_YET = "audience_not_visible_yet"


@dataclass(frozen=True, slots=True)
class Outcome:
    view: CachedView
    stop: str | None = None  # why the schedule reads no more audiences this run
    step_error: str | None = None  # a step error this attempt set (new, so notified)
    superseded: bool = False  # a later attempt was stored first: `view` is that one, and this one changed nothing


class AudienceRefresher:
    """Reads the audiences of the steps of one destination (LinkedIn's, today the only one with audiences)."""

    def __init__(
        self,
        steps: LaunchedSteps,
        destination: Destination,
        audiences: Audiences,
        session: TokenSession,
        cache: AudienceCache,
        notifier: Notifier,
        clock: Clock,
        max_age_seconds: float,
    ):
        self.steps = steps
        self.destination = destination
        self.audiences = audiences
        self.session = session
        self.cache = cache
        self.notifier = notifier
        self.clock = clock
        self.max_age_seconds = max_age_seconds
        name = destination.name
        self.invalid_token = f"{name}_invalid_token"
        self.not_connected = frozenset({f"{name}_disconnected", self.invalid_token})

    # ---- GET /v1/steps/{id}/audience ---------------------------------------------------------------
    def view(self, step_id: str, force: bool = False) -> dict[str, Any]:
        item = self.steps.get(step_id)
        if not item.get("audience_id"):
            label = self.destination.label
            raise Conflict("step_not_launched", f"the step has no {label} audience yet; launch it first")
        cached = _same_audience(item, self.cache.get(step_id))
        if cached is None or not self._servable(cached, force):
            self.session.reset()  # a token may have been refreshed or revoked since the last request
            cached = self.read(item, cached).view
        return self.answer(cached)

    def _servable(self, cached: CachedView, force: bool) -> bool:
        if cached.reading is None and cached.failure in self.not_connected:
            return False  # LinkedIn is not called until the connection is usable, and then at once
        # Without a reading there is nothing to show but an error: read again as if asked to (so at most once per
        # MIN_READ_INTERVAL_SECONDS), unless LinkedIn said the audience is deleted.
        unread = cached.reading is None and cached.failure != AUDIENCE_NOT_FOUND
        return not needs_reading(cached.checked_at, self.clock.now_ms(), self.max_age_seconds, force or unread)

    # ---- the schedule ------------------------------------------------------------------------------
    def refresh_all(self, deadline_ms: int) -> dict[str, Any]:
        """Read every launched step whose reading is old, oldest first (a run cut short starts with the rest)."""
        self.session.reset()
        cached = self.cache.all()
        steps = [(item, _same_audience(item, cached.get(item["step_id"]))) for item in self.steps.launched()]
        steps.sort(key=lambda pair: pair[1].checked_at if pair[1] else -1)
        report: dict[str, Any] = {
            "steps": len(steps),
            "fresh": 0,  # read less than the max age ago: not read again
            "read": 0,
            "failed": 0,  # LinkedIn refused or did not answer (the reading stays, stale), or DynamoDB failed
            "not_read": 0,  # after the run stopped
            "step_errors": [],  # step errors this run set
            "stopped": None,  # why the run stopped early: a 429, no usable token, its deadline
        }
        for item, view in steps:
            now = self.clock.now_ms()
            if view is not None and not needs_reading(view.checked_at, now, self.max_age_seconds):
                report["fresh"] += 1
                continue
            if report["stopped"] is None and now >= deadline_ms:
                report["stopped"] = "deadline"
            if report["stopped"] is not None:
                report["not_read"] += 1
                continue
            try:
                outcome = self.read(item, view)
            except Exception:  # one step's surprise must not keep the others unread
                logger.exception("could not refresh a step's audience", extra={"step_id": item["step_id"]})
                report["failed"] += 1
                continue
            report["failed" if outcome.view.failure else "read"] += 1
            if outcome.step_error:
                report["step_errors"].append({"step_id": item["step_id"], "error": outcome.step_error})
            report["stopped"] = outcome.stop
        return report

    # ---- one attempt -------------------------------------------------------------------------------
    def read(self, item: dict[str, Any], cached: CachedView | None) -> Outcome:
        """Read the step's audience from its destination, store what came of it, and apply it to the step."""
        now = self.clock.now_ms()
        name = self.destination.name
        audience_id = str(item["audience_id"])
        try:
            reading = self.session.call(lambda token: self.audiences.read(token, audience_id))
        except NotConnected as exc:
            return self._failed(item, cached, now, f"{name}_{exc.status}", stop=f"{name}_{exc.status}")
        except AuthorizationFailed as exc:  # the OAuth server did not answer the refresh of an expired token
            return self._failed(item, cached, now, f"{name}_refresh_{exc.error}", stop=f"{name}_oauth_unavailable")
        except DestinationError as exc:
            return self._refused(item, cached, now, exc)
        view = CachedView(item["step_id"], str(item["audience_id"]), now, reading, now)
        if not self.cache.put(view):
            return self._superseded(item, view)
        return Outcome(view, step_error=self._apply_status(item, reading.status))

    def _refused(self, item: dict[str, Any], cached: CachedView | None, now: int, exc: DestinationError) -> Outcome:
        failure = self.destination.classify(exc)
        if failure.disposition is Disposition.MISSING:
            created_at = int_or_none(item.get("audience_created_at"))
            if (cached is not None and cached.reading is not None) or self.audiences.gone(created_at, now):
                outcome = self._failed(item, cached, now, AUDIENCE_NOT_FOUND)
                if outcome.superseded or not self._set_step_error(item, AUDIENCE_NOT_FOUND, SYNC_ERROR):
                    return outcome
                return Outcome(outcome.view, step_error=AUDIENCE_NOT_FOUND)
            return self._failed(item, cached, now, NOT_VISIBLE_YET)
        if failure.disposition is Disposition.RECONNECT:  # refused again with a token refreshed just now
            self.session.mark_invalid(failure.reason)
            return self._failed(item, cached, now, self.invalid_token, stop=self.invalid_token)
        logger.warning(
            f"{self.destination.label} did not answer an audience read", extra={"status": exc.status, "code": exc.code}
        )
        throttled = failure.disposition is Disposition.THROTTLED
        return self._failed(item, cached, now, failure.reason, stop=failure.reason if throttled else None)

    def _failed(
        self, item: dict[str, Any], cached: CachedView | None, now: int, failure: str, stop: str | None = None
    ) -> Outcome:
        """The old reading stays, marked stale by the failure."""
        view = CachedView(
            item["step_id"],
            str(item["audience_id"]),
            now,
            cached.reading if cached else None,
            cached.refreshed_at if cached else None,
            failure,
        )
        if not self.cache.put(view):
            return self._superseded(item, view, stop)
        return Outcome(view, stop)

    def _superseded(self, item: dict[str, Any], view: CachedView, stop: str | None = None) -> Outcome:
        """A later attempt is stored already (e.g. a GET's, while the schedule waited for the destination): it is
        the one to show, and this older one must not change the step. Its `stop` still holds (a 429 is the
        destination's now)."""
        later = _same_audience(item, self.cache.get(item["step_id"]))
        return Outcome(later or view, stop, superseded=True)

    def _apply_status(self, item: dict[str, Any], status: str) -> str | None:
        code = self.audiences.status_error(status)
        if code is not None:
            return code if self._set_step_error(item, code, AUDIENCE_STATUS_ERROR) else None
        if item.get("status") != ACTIVE:
            return None
        audience_id = str(item["audience_id"])
        status_errors = self.audiences.status_errors
        if item.get(AUDIENCE_STATUS_ERROR) in status_errors:
            self.steps.clear_error(item["step_id"], status_errors, audience_id, AUDIENCE_STATUS_ERROR)
        # The audience exists. Never ad_account_access: a read does not prove write access.
        if item.get(SYNC_ERROR) == AUDIENCE_NOT_FOUND:
            self.steps.clear_error(item["step_id"], (AUDIENCE_NOT_FOUND,), audience_id, SYNC_ERROR)
        return None

    def _set_step_error(self, item: dict[str, Any], code: str, attribute: str) -> bool:
        """Set an error of an active step (a draft's old audience is no one's concern); notified when new."""
        if item.get("status") != ACTIVE or item.get(attribute) == code:
            return False
        if not self.steps.set_error(item["step_id"], code, str(item["audience_id"]), attribute):
            return False
        self.notifier.notify(code, step_id=item["step_id"])
        return True

    def answer(self, view: CachedView) -> dict[str, Any]:
        """What `GET /v1/steps/{id}/audience` answers for a cached view: the reading, or why there is none."""
        label = self.destination.label
        if view.failure == AUDIENCE_NOT_FOUND:
            raise NotFound("audience", AUDIENCE_NOT_FOUND, f"{label} has no audience with this id (deleted?)")
        if view.reading is not None:
            return public_view(view, self.audiences.explain)
        if view.failure == NOT_VISIBLE_YET:
            raise NotFound(
                "audience", AUDIENCE_NOT_FOUND, f"{label} does not show this new audience yet; try again in a minute"
            )
        if view.failure in self.not_connected:
            raise Conflict(str(view.failure), f"reconnect {label} to read the audience")
        raise UpstreamFailed(f"{self.destination.name}_unavailable", f"{label} did not answer ({view.failure})")


def _same_audience(item: dict[str, Any], view: CachedView | None) -> CachedView | None:
    """A cached view of the audience the step targets now; one of an audience it targeted before is ignored."""
    return view if view is not None and view.audience_id == str(item.get("audience_id")) else None
