"""Reading steps' LinkedIn audiences into the audience cache, and what a reading means for the step.

`GET /v1/steps/{id}/audience` reads LinkedIn only when the cached reading is `AudienceMaxAgeSeconds` old, or with
`?refresh=true` (or nothing to show but an error) when the last attempt is MIN_READ_INTERVAL_SECONDS old; the
scheduled AudienceRefreshFunction reads every launched step whose reading is that old.

LinkedIn answers, and what becomes of the cached view, the step (only an active one) and the schedule's run:
- 200, status EXPIRED / FAILED / ERROR: the new reading; step error `audience_expired` / `audience_failed` /
  `audience_error` in the step's AUDIENCE_STATUS_ERROR attribute (notified once).
- 200, any other status: the new reading; clears those step errors and a sync error `audience_not_found`.
- 200 that cannot be read (not a JSON object, counts that are not numbers): as a 5xx, `linkedin_malformed_response`.
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
`/dmpSegments/{id}/users` only, reads count against the unpublished daily limits (linkedin-api.md §3), and a read
must not hold up a send. So reads are few instead: one per step per max age at most, one at a time, none after a 429.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from audience_sync.adapters.aws.audience_cache import AudienceCache
from audience_sync.connections.service import AccessToken, ConnectionService, NotConnected
from audience_sync.core.backoff import audience_not_found_persists
from audience_sync.core.clock import Clock
from audience_sync.core.errors import ApiError
from audience_sync.destinations.linkedin.errors import MALFORMED_RESPONSE, Disposition, LinkedInError
from audience_sync.destinations.linkedin.oauth import OAuthError
from audience_sync.insights.audience import (
    CachedView,
    MalformedSegment,
    Snapshot,
    needs_reading,
    public_view,
    snapshot,
    step_error_for,
)
from audience_sync.observability.notifications import Notifier
from audience_sync.observability.request_metrics import version_sunset
from audience_sync.steps.repository import (
    ACTIVE,
    AUDIENCE_NOT_FOUND,
    AUDIENCE_STATUS_ERROR,
    AUDIENCE_STATUS_ERRORS,
    SYNC_ERROR,
    StepRepository,
    int_or_none,
)

logger = Logger(child=True)

NOT_VISIBLE_YET = "audience_not_visible_yet"
INVALID_TOKEN = "linkedin_invalid_token"  # noqa: S105 - an error code, not a secret
NOT_CONNECTED = frozenset({"linkedin_disconnected", INVALID_TOKEN})


@dataclass(frozen=True, slots=True)
class Outcome:
    view: CachedView
    stop: str | None = None  # why the schedule reads no more audiences this run
    step_error: str | None = None  # a step error this attempt set (new, so notified)
    superseded: bool = False  # a later attempt was stored first: `view` is that one, and this one changed nothing


class AudienceRefresher:
    def __init__(
        self,
        steps: StepRepository,
        connections: ConnectionService,
        cache: AudienceCache,
        notifier: Notifier,
        clock: Clock,
        max_age_seconds: float,
    ):
        self.steps = steps
        self.connections = connections
        self.cache = cache
        self.notifier = notifier
        self.clock = clock
        self.max_age_seconds = max_age_seconds
        self._token: AccessToken | None = None

    # ---- GET /v1/steps/{id}/audience ---------------------------------------------------------------
    def view(self, step_id: str, force: bool = False) -> dict[str, Any]:
        item = self.steps.get(step_id)
        if not item.get("audience_id"):
            raise ApiError(409, "step_not_launched", "the step has no LinkedIn audience yet; launch it first")
        cached = _same_audience(item, self.cache.get(step_id))
        if cached is None or not self._servable(cached, force):
            self._token = None  # a token may have been refreshed or revoked since the last request
            cached = self.read(item, cached).view
        return answer(cached)

    def _servable(self, cached: CachedView, force: bool) -> bool:
        if cached.reading is None and cached.failure in NOT_CONNECTED:
            return False  # LinkedIn is not called until the connection is usable, and then at once
        # Without a reading there is nothing to show but an error: read again as if asked to (so at most once per
        # MIN_READ_INTERVAL_SECONDS), unless LinkedIn said the audience is deleted.
        unread = cached.reading is None and cached.failure != AUDIENCE_NOT_FOUND
        return not needs_reading(cached.checked_at, self.clock.now_ms(), self.max_age_seconds, force or unread)

    # ---- the schedule ------------------------------------------------------------------------------
    def refresh_all(self, deadline_ms: int) -> dict[str, Any]:
        """Read every launched step whose reading is old, oldest first (a run cut short starts with the rest)."""
        self._token = None
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
        """Read the step's audience from LinkedIn, store what came of it, and apply it to the step."""
        now = self.clock.now_ms()
        try:
            reading = self._read_segment(str(item["audience_id"]))
        except NotConnected as exc:
            return self._failed(item, cached, now, f"linkedin_{exc.status}", stop=f"linkedin_{exc.status}")
        except OAuthError as exc:  # LinkedIn's OAuth did not answer the refresh of an expired token
            return self._failed(item, cached, now, f"linkedin_refresh_{exc.error}", stop="linkedin_oauth_unavailable")
        except LinkedInError as exc:
            return self._refused(item, cached, now, exc)
        view = CachedView(item["step_id"], str(item["audience_id"]), now, reading, now)
        if not self.cache.put(view):
            return self._superseded(item, view)
        return Outcome(view, step_error=self._apply_status(item, reading.status))

    def _refused(self, item: dict[str, Any], cached: CachedView | None, now: int, exc: LinkedInError) -> Outcome:
        if exc.disposition is Disposition.NOT_FOUND:
            created_at = int_or_none(item.get("audience_created_at"))
            if (cached is not None and cached.reading is not None) or audience_not_found_persists(created_at, now):
                outcome = self._failed(item, cached, now, AUDIENCE_NOT_FOUND)
                if outcome.superseded or not self._set_step_error(item, AUDIENCE_NOT_FOUND, SYNC_ERROR):
                    return outcome
                return Outcome(outcome.view, step_error=AUDIENCE_NOT_FOUND)
            return self._failed(item, cached, now, NOT_VISIBLE_YET)
        if exc.disposition is Disposition.REFRESH_TOKEN:  # 401 again with a token refreshed just now
            self.connections.mark_invalid(exc.reason)
            return self._failed(item, cached, now, INVALID_TOKEN, stop=INVALID_TOKEN)
        if exc.status == 426:
            version_sunset(exc.code)
        logger.warning("LinkedIn did not answer an audience read", extra={"status": exc.status, "code": exc.code})
        return self._failed(item, cached, now, exc.reason, stop=exc.reason if exc.status == 429 else None)

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
        """A later attempt is stored already (e.g. a GET's, while the schedule waited for LinkedIn): it is the one
        to show, and this older one must not change the step. Its `stop` still holds (a 429 is LinkedIn's now)."""
        later = _same_audience(item, self.cache.get(item["step_id"]))
        return Outcome(later or view, stop, superseded=True)

    def _apply_status(self, item: dict[str, Any], status: str) -> str | None:
        code = step_error_for(status)
        if code is not None:
            return code if self._set_step_error(item, code, AUDIENCE_STATUS_ERROR) else None
        if item.get("status") != ACTIVE:
            return None
        audience_id = str(item["audience_id"])
        if item.get(AUDIENCE_STATUS_ERROR) in AUDIENCE_STATUS_ERRORS:
            self.steps.clear_error(item["step_id"], AUDIENCE_STATUS_ERRORS, audience_id, AUDIENCE_STATUS_ERROR)
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

    def _read_segment(self, audience_id: str) -> Snapshot:
        try:
            return snapshot(self._get_segment(audience_id))
        except MalformedSegment as exc:  # LinkedIn answered, but not with anything usable: as if it had not
            raise LinkedInError(0, MALFORMED_RESPONSE, str(exc)) from exc

    def _get_segment(self, audience_id: str) -> dict[str, Any]:
        """GET the segment with the run's token, refreshing it once if LinkedIn answers 401."""
        token = self._token or self.connections.access_token()
        self._token = token
        try:
            return self.connections.linkedin.get_segment(token.value, audience_id)
        except LinkedInError as exc:
            if exc.disposition is not Disposition.REFRESH_TOKEN:
                raise
        self._token = self.connections.refresh(token)
        return self.connections.linkedin.get_segment(self._token.value, audience_id)


def answer(view: CachedView) -> dict[str, Any]:
    """What `GET /v1/steps/{id}/audience` answers for a cached view: the reading, or why there is none."""
    if view.failure == AUDIENCE_NOT_FOUND:
        raise ApiError(404, AUDIENCE_NOT_FOUND, "LinkedIn has no audience with this id (deleted?)")
    if view.reading is not None:
        return public_view(view)
    if view.failure == NOT_VISIBLE_YET:
        raise ApiError(404, AUDIENCE_NOT_FOUND, "LinkedIn does not show this new audience yet; try again in a minute")
    if view.failure in NOT_CONNECTED:
        raise ApiError(409, str(view.failure), "reconnect LinkedIn to read the audience")
    raise ApiError(502, "linkedin_unavailable", f"LinkedIn did not answer ({view.failure})")


def _same_audience(item: dict[str, Any], view: CachedView | None) -> CachedView | None:
    """A cached view of the audience the step targets now; one of an audience it targeted before is ignored."""
    return view if view is not None and view.audience_id == str(item.get("audience_id")) else None
