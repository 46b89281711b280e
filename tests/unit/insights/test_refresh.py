"""AudienceRefresher: the audience cache, its staleness, step errors from LinkedIn statuses, and how a read that
LinkedIn refuses is handled. Fakes for DynamoDB and LinkedIn, a fake clock; nothing sleeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from audience_sync.connections.errors import NotConnected
from audience_sync.connections.session import TokenSession
from audience_sync.core.errors import DomainError, NotFound
from audience_sync.destinations.base import AudienceReading
from audience_sync.destinations.linkedin.audiences import AUDIENCE_NOT_FOUND_GRACE_MS
from audience_sync.destinations.linkedin.destination import LinkedInDestination
from audience_sync.destinations.linkedin.errors import LinkedInError
from audience_sync.destinations.linkedin.oauth import oauth_error
from audience_sync.destinations.linkedin.settings import LinkedInSettings
from audience_sync.http.errors import status_of
from audience_sync.insights.audience import MIN_READ_INTERVAL_SECONDS, CachedView
from audience_sync.insights.refresh import AudienceRefresher, Outcome
from audience_sync.steps.records import AUDIENCE_STATUS_ERROR, SYNC_ERROR
from tests.fakes.sync_fakes import T0, FakeClock, FakeConnections, FakeNotifier, LinkedInApiStub, store_error

MAX_AGE = 60
NO_DEADLINE = T0 + 10**9


def segment(audience_id: str, status: str, **destination: Any) -> dict[str, Any]:
    return {
        "id": int(audience_id),
        "name": f"audience {audience_id}",
        "inputCount": 1000,
        "destinations": [{"destination": "LINKEDIN", "status": status, **destination}],
    }


class FakeSegments(LinkedInApiStub):
    """GET /rest/dmpSegments/{id}: each audience answers from its script (then repeats its last answer)."""

    def __init__(self) -> None:
        self.script: dict[str, list[dict[str, Any] | Exception]] = {}
        self.calls: list[tuple[str, str]] = []

    def answer(self, audience_id: str, *answers: dict[str, Any] | Exception) -> None:
        self.script[audience_id] = list(answers)

    def get_segment(self, token: str, audience_id: str) -> dict[str, Any]:
        self.calls.append((token, audience_id))
        answers = self.script.get(audience_id) or [segment(audience_id, "READY")]
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


@dataclass
class FakeSteps:
    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    notified_sets: list[tuple[str, str]] = field(default_factory=list)

    def add(self, step_id: str, audience_id: str, status: str = "active", **extra: Any) -> None:
        self.items[step_id] = {"step_id": step_id, "status": status, "audience_id": audience_id, **extra}

    def get(self, step_id: str) -> dict[str, Any]:
        if step_id not in self.items:
            raise NotFound(f"step '{step_id}'", code="step_not_found")
        return dict(self.items[step_id])

    def launched(self) -> list[dict[str, Any]]:
        return [dict(i) for i in self.items.values() if i["status"] == "active" and i.get("audience_id")]

    def set_error(self, step_id: str, code: str, audience_id: str | None = None, attribute: str = "error") -> bool:
        item = self.items[step_id]
        if item.get(attribute) == code or (audience_id is not None and item["audience_id"] != audience_id):
            return False
        item[attribute] = code
        self.notified_sets.append((step_id, code))
        return True

    def clear_error(
        self, step_id: str, codes: tuple[str, ...], audience_id: str | None = None, attribute: str = "error"
    ) -> None:
        item = self.items[step_id]
        if item.get(attribute) in codes and (audience_id is None or item["audience_id"] == audience_id):
            del item[attribute]

    def error(self, step_id: str) -> str | None:
        """The sync's error (the sender's, and the refresh's audience_not_found)."""
        return self.items[step_id].get(SYNC_ERROR)

    def status_error(self, step_id: str) -> str | None:
        """The error from the audience's LinkedIn status."""
        return self.items[step_id].get(AUDIENCE_STATUS_ERROR)


@dataclass
class FakeCache:
    views: dict[str, CachedView] = field(default_factory=dict)
    fail_for: set[str] = field(default_factory=set)

    def get(self, step_id: str) -> CachedView | None:
        return self.views.get(step_id)

    def all(self) -> dict[str, CachedView]:
        return dict(self.views)

    def put(self, view: CachedView) -> bool:
        if view.step_id in self.fail_for:
            raise store_error("audience_cache.put")
        old = self.views.get(view.step_id)
        if old is not None and old.checked_at > view.checked_at:
            return False
        self.views[view.step_id] = view
        return True


@dataclass
class World:
    clock: FakeClock
    steps: FakeSteps
    cache: FakeCache
    linkedin: FakeSegments
    connections: FakeConnections
    notifier: FakeNotifier
    refresher: AudienceRefresher

    def run(self, deadline_ms: int = NO_DEADLINE) -> dict[str, Any]:
        return self.refresher.refresh_all(deadline_ms)

    def later(self, seconds: float = MAX_AGE) -> None:
        self.clock.sleep(seconds)

    def reads(self) -> list[str]:
        return [audience_id for _, audience_id in self.linkedin.calls]


@pytest.fixture
def w() -> World:
    clock = FakeClock()
    steps, cache, linkedin, notifier = FakeSteps(), FakeCache(), FakeSegments(), FakeNotifier()
    connections = FakeConnections()
    destination = LinkedInDestination(LinkedInSettings(), client=linkedin)
    session = TokenSession(connections, destination.classify)
    refresher = AudienceRefresher(steps, destination, destination.audiences, session, cache, notifier, clock, MAX_AGE)
    return World(clock, steps, cache, linkedin, connections, notifier, refresher)


# ---- statuses become step errors -----------------------------------------------------------------------
def test_expired_failed_and_error_become_step_errors_notified_once(w: World) -> None:
    for n, status in enumerate(["EXPIRED", "FAILED", "ERROR", "READY", "ARCHIVED"]):
        w.steps.add(f"s{n}", f"90{n}")
        w.linkedin.answer(f"90{n}", segment(f"90{n}", status))
    report = w.run()
    assert report["read"] == 5 and report["failed"] == 0 and report["stopped"] is None
    errors = [w.steps.status_error(f"s{n}") for n in range(5)]
    assert errors == ["audience_expired", "audience_failed", "audience_error", None, None]
    assert [w.steps.error(f"s{n}") for n in range(5)] == [None] * 5  # the sync's error is another attribute
    assert report["step_errors"] == [
        {"step_id": "s0", "error": "audience_expired"},
        {"step_id": "s1", "error": "audience_failed"},
        {"step_id": "s2", "error": "audience_error"},
    ]
    assert [(code, d["step_id"]) for code, d in w.notifier.sent] == [
        ("audience_expired", "s0"),
        ("audience_failed", "s1"),
        ("audience_error", "s2"),
    ]
    w.later()
    assert w.run()["read"] == 5
    assert len(w.notifier.sent) == 3  # still expired: no second notification


def test_a_targetable_status_clears_audience_errors_only(w: World) -> None:
    w.steps.add("expired", "901", **{AUDIENCE_STATUS_ERROR: "audience_expired"})
    w.steps.add("deleted", "902", error="audience_not_found")
    w.steps.add("viewer", "903", error="ad_account_access", **{AUDIENCE_STATUS_ERROR: "audience_failed"})
    w.run()
    assert [w.steps.status_error(s) for s in ("expired", "deleted", "viewer")] == [None, None, None]
    # audience_not_found is disproved (the audience exists); ad_account_access only a send can disprove
    assert [w.steps.error(s) for s in ("expired", "deleted", "viewer")] == [None, None, "ad_account_access"]
    assert w.notifier.sent == []


def test_a_draft_steps_old_audience_sets_no_error(w: World) -> None:
    w.steps.add("draft", "901", status="draft")
    w.linkedin.answer("901", segment("901", "EXPIRED"))
    view = w.refresher.view("draft")
    assert view["status"] == "EXPIRED" and view["targetable"] is False
    assert w.steps.status_error("draft") is None and w.notifier.sent == []
    assert w.run()["steps"] == 0  # the schedule reads launched steps only


def test_an_error_is_not_set_on_a_step_relaunched_meanwhile(w: World) -> None:
    w.steps.add("s1", "901")
    w.linkedin.answer("901", segment("901", "EXPIRED"))
    item = w.steps.get("s1")
    w.steps.items["s1"]["audience_id"] = "902"  # relaunched between the scan and the write
    outcome = w.refresher.read(item, None)
    assert outcome.step_error is None
    assert w.steps.status_error("s1") is None and w.notifier.sent == []


# ---- the cache and its age ---------------------------------------------------------------------------
def test_get_serves_the_cache_until_max_age_then_reads_again(w: World) -> None:
    w.steps.add("s1", "901")
    w.linkedin.answer("901", segment("901", "BUILDING"), segment("901", "READY", audienceSize=450, matchedCount=400))
    first = w.refresher.view("s1")
    assert (first["status"], first["refreshed_at"], first["stale"]) == ("BUILDING", T0, False)
    w.later(MAX_AGE - 0.001)
    assert w.refresher.view("s1") == first  # a cache hit
    assert w.reads() == ["901"]
    w.later(0.001)
    second = w.refresher.view("s1")
    assert (second["status"], second["audience_size"], second["refreshed_at"]) == ("READY", 450, T0 + MAX_AGE * 1000)
    assert w.reads() == ["901", "901"]
    w.later(MIN_READ_INTERVAL_SECONDS)
    assert w.refresher.view("s1", force=True)["refreshed_at"] == w.clock.now_ms()
    assert len(w.reads()) == 3


def test_refresh_reads_at_most_once_per_min_interval(w: World) -> None:
    w.steps.add("s1", "901")
    first = w.refresher.view("s1", force=True)
    for _ in range(100):  # a dashboard polling with ?refresh=true
        w.later(0.05)
        assert w.refresher.view("s1", force=True) == first  # the cached view; refreshed_at says when it was read
    assert w.reads() == ["901"]
    w.later(MIN_READ_INTERVAL_SECONDS - 5)  # 10 s after the last attempt
    assert w.refresher.view("s1", force=True)["refreshed_at"] == w.clock.now_ms()
    assert w.reads() == ["901", "901"]


def test_without_a_reading_an_error_is_repeated_for_the_min_interval_before_linkedin_is_asked_again(w: World) -> None:
    w.steps.add("s1", "901")
    w.linkedin.answer("901", LinkedInError(503, "UNAVAILABLE", "down"), segment("901", "READY"))
    for _ in range(5):
        with pytest.raises(DomainError) as raised:
            w.refresher.view("s1")
        assert (status_of(raised.value), raised.value.code) == (502, "linkedin_unavailable")
        w.later(1)
    assert w.reads() == ["901"]
    w.later(MIN_READ_INTERVAL_SECONDS - 5)
    assert w.refresher.view("s1")["status"] == "READY"
    assert w.reads() == ["901", "901"]


def test_a_view_of_the_audience_a_step_targeted_before_is_not_served(w: World) -> None:
    w.steps.add("s1", "902")
    w.cache.views["s1"] = CachedView("s1", "901", T0, AudienceReading("901", "old", "READY", None, None, None), T0)
    assert w.refresher.view("s1")["audience_id"] == "902"
    assert w.reads() == ["902"]


def test_the_schedule_skips_fresh_readings_and_reads_the_oldest_first(w: World) -> None:
    for step_id, audience_id in (("a", "901"), ("b", "902"), ("c", "903")):
        w.steps.add(step_id, audience_id)
    w.refresher.view("b")
    w.later(10)
    w.refresher.view("a")
    w.later(MAX_AGE - 5)  # b is 65 s old, a 55 s, c never read
    report = w.run()
    assert (report["read"], report["fresh"]) == (2, 1)
    assert w.reads() == ["902", "901", "903", "902"]


def test_a_run_stops_reading_at_its_deadline(w: World) -> None:
    for n in range(3):
        w.steps.add(f"s{n}", f"90{n}")
    report = w.run(deadline_ms=T0)
    assert (report["read"], report["not_read"], report["stopped"]) == (0, 3, "deadline")
    assert w.reads() == []


# ---- LinkedIn refuses ----------------------------------------------------------------------------------
def test_a_429_keeps_the_old_reading_marks_it_stale_and_stops_the_run(w: World) -> None:
    for n in range(3):
        w.steps.add(f"s{n}", f"90{n}")
    w.run()
    w.later()
    w.linkedin.answer("900", LinkedInError(429, "THROTTLED", "Resource level throttle limit"))
    report = w.run()
    assert (report["read"], report["failed"], report["not_read"]) == (0, 1, 2)
    assert report["stopped"] == "linkedin_429_throttled"
    assert w.reads() == ["900", "901", "902", "900"]  # nothing read after the 429
    stale = w.refresher.view("s0")  # served from the cache: the failed attempt is recent
    assert (stale["status"], stale["refreshed_at"]) == ("READY", T0)
    assert (stale["stale"], stale["stale_reason"]) == (True, "linkedin_429_throttled")
    assert len(w.reads()) == 4


@pytest.mark.parametrize(
    "failure", [LinkedInError(500, "SERVER_ERROR", "boom"), LinkedInError(0, "timeout", "ReadTimeout")]
)
def test_a_5xx_or_timeout_marks_one_reading_stale_and_the_run_goes_on(w: World, failure: LinkedInError) -> None:
    w.steps.add("s0", "900")
    w.steps.add("s1", "901")
    w.run()
    w.later()
    w.linkedin.answer("900", failure)
    w.linkedin.answer("901", segment("901", "EXPIRED"))
    report = w.run()
    assert (report["read"], report["failed"], report["stopped"]) == (1, 1, None)
    assert w.cache.views["s0"].failure == failure.reason
    assert w.cache.views["s0"].reading is not None and w.cache.views["s0"].refreshed_at == T0
    assert w.steps.status_error("s1") == "audience_expired"


def test_a_426_on_a_read_is_a_failure_and_the_run_goes_on(w: World) -> None:
    """The scheduled refresh reads LinkedIn even when no user is sent, so a stack without traffic learns of a
    LinkedIn-Version sunset from it: the client publishes LinkedInVersionSunset for a 426 on any request
    (test_client.py), this read included."""
    w.steps.add("s0", "900")
    w.steps.add("s1", "901")
    w.linkedin.answer("900", LinkedInError(426, "VERSION_MISSING", "version sunset"))
    report = w.run()
    assert (report["read"], report["failed"], report["stopped"]) == (1, 1, None)
    assert w.cache.views["s0"].failure == "linkedin_426_version_missing"


def test_without_any_reading_a_failure_is_an_error_answer(w: World) -> None:
    w.steps.add("s1", "901")
    w.linkedin.answer("901", LinkedInError(503, "UNAVAILABLE", "down"))
    with pytest.raises(DomainError) as raised:
        w.refresher.view("s1")
    assert (status_of(raised.value), raised.value.code) == (502, "linkedin_unavailable")


def test_a_401_refreshes_the_token_once_and_reads_again(w: World) -> None:
    w.steps.add("s0", "900")
    w.steps.add("s1", "901")
    w.linkedin.answer("900", LinkedInError(401, "EXPIRED_ACCESS_TOKEN", "Expired"), segment("900", "READY"))
    assert w.run()["read"] == 2
    assert [token for token, _ in w.linkedin.calls] == ["token-1", "token-2", "token-2"]
    assert w.connections.access_calls == 1  # one token for the whole run


def test_a_second_401_marks_the_connection_invalid_and_stops_the_run(w: World) -> None:
    w.steps.add("s0", "900")
    w.steps.add("s1", "901")
    w.linkedin.answer("900", LinkedInError(401, "REVOKED_ACCESS_TOKEN", "revoked"))
    report = w.run()
    assert report["stopped"] == "linkedin_invalid_token" and report["not_read"] == 1
    assert w.connections.invalid == ["linkedin_401_revoked_access_token"]
    assert w.cache.views["s0"].failure == "linkedin_invalid_token"


@pytest.mark.parametrize(
    ("raised", "stopped"),
    [
        (NotConnected("invalid_token"), "linkedin_invalid_token"),
        (NotConnected("disconnected"), "linkedin_disconnected"),
    ],
)
def test_without_a_usable_token_nothing_is_read(w: World, raised: Exception, stopped: str) -> None:
    w.steps.add("s0", "900")
    w.steps.add("s1", "901")
    w.connections.access_raises = raised
    report = w.run()
    assert (report["stopped"], report["failed"], report["not_read"]) == (stopped, 1, 1)
    assert w.reads() == []
    with pytest.raises(DomainError) as answered:
        w.refresher.view("s0")
    assert (status_of(answered.value), answered.value.code) == (409, stopped)


def test_linkedins_oauth_down_during_the_refresh_stops_the_run(w: World) -> None:
    w.steps.add("s0", "900")
    w.steps.add("s1", "901")
    w.linkedin.answer("900", LinkedInError(401, "EXPIRED_ACCESS_TOKEN", "Expired"))
    w.connections.refresh_raises = oauth_error(503, "temporarily_unavailable", "try later")
    report = w.run()
    assert report["stopped"] == "linkedin_oauth_unavailable"
    assert w.cache.views["s0"].failure == "linkedin_refresh_temporarily_unavailable"


def test_a_404_for_an_old_audience_is_audience_not_found(w: World) -> None:
    w.steps.add("s1", "901", audience_created_at=T0 - AUDIENCE_NOT_FOUND_GRACE_MS - 1)
    w.linkedin.answer("901", LinkedInError(404, "NOT_FOUND", "Could not find DMP segment"))
    report = w.run()
    assert report["step_errors"] == [{"step_id": "s1", "error": "audience_not_found"}]
    assert w.notifier.sent == [("audience_not_found", {"step_id": "s1"})]
    with pytest.raises(DomainError) as answered:
        w.refresher.view("s1")  # cached: LinkedIn is not asked again within max age
    assert (status_of(answered.value), answered.value.code) == (404, "audience_not_found")
    assert w.reads() == ["901"]


def test_a_404_for_a_new_audience_is_propagation_not_an_error(w: World) -> None:
    w.steps.add("s1", "901", audience_created_at=T0 - 2000)
    w.linkedin.answer("901", LinkedInError(404, "NOT_FOUND", "Could not find DMP segment"), segment("901", "BUILDING"))
    with pytest.raises(DomainError) as answered:
        w.refresher.view("s1")
    assert (status_of(answered.value), answered.value.code) == (404, "audience_not_found")
    assert w.steps.error("s1") is None and w.notifier.sent == []
    with pytest.raises(DomainError):
        w.refresher.view("s1")  # repeated, unread, for MIN_READ_INTERVAL_SECONDS
    w.later(MIN_READ_INTERVAL_SECONDS)
    assert w.refresher.view("s1")["status"] == "BUILDING"  # not cached for the max age: the next GET reads again
    assert len(w.reads()) == 2


def test_a_404_for_an_audience_read_before_is_audience_not_found_even_when_new(w: World) -> None:
    w.steps.add("s1", "901", audience_created_at=T0 - 2000)
    w.linkedin.answer("901", segment("901", "BUILDING"), LinkedInError(404, "NOT_FOUND", "deleted"))
    w.refresher.view("s1")
    w.later()
    w.run()
    assert w.steps.error("s1") == "audience_not_found"


def test_one_steps_failure_does_not_stop_the_others(w: World) -> None:
    w.steps.add("s0", "900")
    w.steps.add("s1", "901")
    w.linkedin.answer("901", segment("901", "FAILED"))
    w.cache.fail_for = {"s0"}  # DynamoDB refuses this step's write
    report = w.run()
    assert (report["read"], report["failed"]) == (1, 1)
    assert w.steps.status_error("s1") == "audience_failed"


def test_unknown_and_unlaunched_steps(w: World) -> None:
    w.steps.items["draft"] = {"step_id": "draft", "status": "draft"}
    with pytest.raises(DomainError) as unlaunched:
        w.refresher.view("draft")
    assert (status_of(unlaunched.value), unlaunched.value.code) == (409, "step_not_launched")
    with pytest.raises(DomainError) as unknown:
        w.refresher.view("nope")
    assert (status_of(unknown.value), unknown.value.code) == (404, "step_not_found")


# ---- concurrent attempts -------------------------------------------------------------------------------
def test_an_older_reading_landing_after_a_newer_one_changes_nothing(w: World) -> None:
    w.steps.add("s1", "101")
    scanned = w.steps.get("s1")  # the schedule's item, and its `now`, taken before the GET
    t0 = w.clock.now_ms()
    w.clock.sleep(1)
    w.linkedin.answer("101", segment("101", "READY"))
    assert w.refresher.view("s1", force=True)["status"] == "READY"  # the GET's reading, stored first
    w.clock.now_ms = lambda: t0  # type: ignore[method-assign]
    w.linkedin.answer("101", segment("101", "EXPIRED"))  # LinkedIn's slow answer to the schedule's read
    outcome = w.refresher.read(scanned, None)
    assert outcome.superseded and outcome.step_error is None
    assert outcome.view.reading is not None and outcome.view.reading.status == "READY"  # the newer view
    assert w.cache.views["s1"].reading is not None and w.cache.views["s1"].reading.status == "READY"
    assert w.steps.status_error("s1") is None and w.notifier.sent == []


def _late_answer(w: World, answer: LinkedInError) -> Outcome:
    """A read that started (step scanned, clock read) before a GET stored a newer reading, answered after it."""
    scanned = w.steps.get("s1")
    t0 = w.clock.now_ms()
    w.clock.sleep(1)
    w.refresher.view("s1")
    w.clock.now_ms = lambda: t0  # type: ignore[method-assign]
    w.linkedin.answer("101", answer)
    return w.refresher.read(scanned, None)


def test_an_older_404_landing_after_a_newer_reading_sets_no_error(w: World) -> None:
    w.steps.add("s1", "101", audience_created_at=T0 - AUDIENCE_NOT_FOUND_GRACE_MS - 1)
    outcome = _late_answer(w, LinkedInError(404, "NOT_FOUND", "Could not find DMP segment"))
    assert outcome.superseded and outcome.step_error is None and outcome.view.failure is None
    assert w.steps.error("s1") is None and w.notifier.sent == []


def test_an_older_429_landing_late_still_stops_the_run(w: World) -> None:
    w.steps.add("s1", "101")
    outcome = _late_answer(w, LinkedInError(429, "THROTTLED", "slow down"))
    assert outcome.superseded and outcome.stop == "linkedin_429_throttled"
    assert w.cache.views["s1"].failure is None  # the newer reading is not marked stale by the older attempt


# ---- the sender's errors and the refresh's ------------------------------------------------------------
def sender_sets(w: World, step_id: str, code: str) -> None:
    """What Sender._set_step_error does on a persisting 403 / 404: set the sync error, notify when new."""
    w.steps.set_error(step_id, code)


def test_the_senders_error_and_the_audience_status_error_stand_side_by_side_each_notified_once(w: World) -> None:
    w.steps.add("s1", "101")
    w.linkedin.answer("101", segment("101", "EXPIRED"))
    for _ in range(3):
        sender_sets(w, "s1", "audience_not_found")
        w.later()
        w.run()
    assert w.steps.notified_sets == [("s1", "audience_not_found"), ("s1", "audience_expired")]
    assert (w.steps.error("s1"), w.steps.status_error("s1")) == ("audience_not_found", "audience_expired")


def test_a_reading_neither_overwrites_nor_clears_ad_account_access(w: World) -> None:
    w.steps.add("s1", "101")
    sender_sets(w, "s1", "ad_account_access")
    w.linkedin.answer("101", segment("101", "EXPIRED"), segment("101", "READY"))
    w.run()
    assert (w.steps.error("s1"), w.steps.status_error("s1")) == ("ad_account_access", "audience_expired")
    w.later()
    w.run()
    assert (w.steps.error("s1"), w.steps.status_error("s1")) == ("ad_account_access", None)
    assert w.steps.notified_sets == [("s1", "ad_account_access"), ("s1", "audience_expired")]


def test_the_refreshs_404_is_the_senders_audience_not_found_not_a_second_error(w: World) -> None:
    w.steps.add("s1", "101", audience_created_at=T0 - AUDIENCE_NOT_FOUND_GRACE_MS - 1)
    sender_sets(w, "s1", "audience_not_found")
    w.linkedin.answer("101", LinkedInError(404, "NOT_FOUND", "Could not find DMP segment"))
    for _ in range(3):
        assert w.run()["step_errors"] == []  # already recorded: not new, not notified again
        w.later()
    assert w.steps.notified_sets == [("s1", "audience_not_found")]
    assert (w.steps.error("s1"), w.steps.status_error("s1")) == ("audience_not_found", None)


# ---- LinkedIn answers 200 with something unreadable ------------------------------------------------------
MALFORMED = [
    LinkedInError(0, "malformed_response", "200 without a JSON object"),  # what the client raises
    segment("901", "READY", audienceSize="lots"),
    {"id": 901, "destinations": "LINKEDIN"},
    {"id": 901, "destinations": [{"destination": "LINKEDIN", "status": 7}]},
]


@pytest.mark.parametrize("answer", MALFORMED)
def test_an_unreadable_200_is_linkedin_unavailable_or_a_stale_reading(w: World, answer: Any) -> None:
    w.steps.add("s1", "901")
    w.linkedin.answer("901", answer)
    with pytest.raises(DomainError) as raised:
        w.refresher.view("s1")
    assert (status_of(raised.value), raised.value.code) == (502, "linkedin_unavailable")
    assert "linkedin_malformed_response" in raised.value.message

    w.steps.add("s2", "902")
    w.refresher.view("s2")  # a good reading first
    w.later()
    w.linkedin.answer("902", answer)
    report = w.run()
    assert (report["read"], report["failed"], report["stopped"]) == (0, 2, None)  # the run goes on
    stale = w.refresher.view("s2")
    assert (stale["status"], stale["stale"], stale["stale_reason"]) == ("READY", True, "linkedin_malformed_response")
    assert w.steps.status_error("s2") is None and w.notifier.sent == []
