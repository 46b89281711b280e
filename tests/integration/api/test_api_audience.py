"""GET /v1/steps/{step_id}/audience and the scheduled AudienceRefreshFunction: LinkedIn's status and counts,
explained, cached in DynamoDB (AudienceViewsTable) for AudienceMaxAgeSeconds (60 s), refreshed on demand and on a
schedule; EXPIRED / FAILED / ERROR become step errors. LinkedIn is the sandbox; its control API plays the states
LinkedIn reaches after hours or days. Time passes by dating the cached reading back, never by sleeping."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from audience_sync.composition.container import Container
from audience_sync.destinations.linkedin.audiences import EXPLANATIONS
from audience_sync.insights.audience import MIN_READ_INTERVAL_SECONDS
from audience_sync.settings import Settings
from audience_sync.steps.records import AD_ACCOUNT_ACCESS, AUDIENCE_NOT_FOUND
from tests.integration.api.api_helpers import Api, assert_error
from tests.integration.retry.retry_support import Notifications
from tests.stack_support import age_audience

SCHEDULE_EVENT = json.loads(
    (Path(__file__).resolve().parents[3] / "events" / "audience_refresh_schedule.json").read_text(encoding="utf-8")
)
MAX_AGE_MS = 60_000  # the template's AudienceMaxAgeSeconds
MIN_INTERVAL_MS = MIN_READ_INTERVAL_SECONDS * 1000  # ?refresh=true reads LinkedIn at most this often
# docs/integrations/linkedin.md, "Segments": every status LinkedIn documents.
STATUSES = ["BUILDING", "READY", "UPDATING", "ARCHIVED", "EXPIRED", "FAILED", "ERROR"]
STEP_ERRORS = {"EXPIRED": "audience_expired", "FAILED": "audience_failed", "ERROR": "audience_error"}


# ---- helpers ------------------------------------------------------------------------------------------
def sandbox(api: Api, method: str, path: str, body: Any = None) -> Any:
    reply = requests.request(method, f"{api.stack.sandbox.url}/_sandbox{path}", json=body, timeout=10)
    assert reply.status_code < 300, reply.text
    return reply.json()


def set_segment(api: Api, audience_id: str, **state: Any) -> None:
    """What LinkedIn would report after hours or days: a status, and counts (PATCH of the sandbox's control API)."""
    sandbox(api, "PATCH", f"/segments/{audience_id}", state)


def reads(api: Api, audience_id: str) -> int:
    """GET /rest/dmpSegments/{id} requests LinkedIn (the sandbox) has received."""
    log = sandbox(api, "GET", "/requests")
    return sum(1 for r in log if r["method"] == "GET" and r["path"].endswith(f"/dmpSegments/{audience_id}"))


def views_table(api: Api) -> Any:
    return boto3.resource("dynamodb").Table(api.stack.stack.ref("AudienceViewsTable"))


def age_views(api: Api, by_ms: int = MAX_AGE_MS) -> None:
    """Date every cached reading (and attempt) back, as if `by_ms` had passed."""
    for item in views_table(api).scan()["Items"]:
        changes = {"checked_at": int(item["checked_at"]) - by_ms}
        if "refreshed_at" in item:
            changes["refreshed_at"] = int(item["refreshed_at"]) - by_ms
        views_table(api).update_item(
            Key={"step_id": item["step_id"]},
            UpdateExpression="SET " + ", ".join(f"{k} = :{k}" for k in changes),
            ExpressionAttributeValues={f":{k}": v for k, v in changes.items()},
        )


def run_schedule(api: Api) -> dict[str, Any]:
    report: dict[str, Any] = api.stack.invoke("AudienceRefreshFunction", SCHEDULE_EVENT)
    return report


def audience(api: Api, step_id: str, refresh: bool = False) -> dict[str, Any]:
    reply = api.get(f"/v1/steps/{step_id}/audience" + ("?refresh=true" if refresh else ""))
    assert reply.status == 200, reply.text
    return dict(reply.json)


def step_error(api: Api, step_id: str) -> str | None:
    reply = api.get(f"/v1/steps/{step_id}")
    assert reply.status == 200, reply.text
    error: str | None = reply.json["error"]
    return error


def step_errors(api: Api, step_id: str) -> tuple[str | None, list[str]]:
    reply = api.get(f"/v1/steps/{step_id}")
    assert reply.status == 200, reply.text
    return reply.json["error"], reply.json["errors"]


def sender_sets(step_id: str, code: str) -> bool:
    """What the sender does on a persisting 403 / 404 (Sender._set_step_error): set the error, notify it if new."""
    container = Container(Settings.from_env())
    new = container.steps.set_error(step_id, code)
    if new:
        container.notifier.notify(code, step_id=step_id)
    return new


@pytest.fixture
def notifications(api: Api) -> Notifications:
    return Notifications(api.stack.stack.ref("IntegrationErrorsTopic"))


# ---- on demand ----------------------------------------------------------------------------------------
def test_new_audience_is_building_and_its_size_is_hidden_below_300(api: Api) -> None:
    audience_id = api.active_step("s1")
    view = audience(api, "s1")
    assert view["audience_id"] == audience_id
    assert view["status"] == "BUILDING"
    assert view["explanation"] == EXPLANATIONS["BUILDING"]
    assert "48 hours" in view["explanation"]
    assert view["targetable"] is True
    assert view["audience_size"] is None
    assert "300" in view["size_note"]
    assert isinstance(view["refreshed_at"], int)
    assert (view["stale"], view["stale_reason"]) == (False, None)


def test_a_cached_reading_is_served_without_asking_linkedin_until_it_is_60_s_old(api: Api) -> None:
    audience_id = api.active_step("s1")
    first = audience(api, "s1")
    assert reads(api, audience_id) == 1
    set_segment(api, audience_id, status="READY", audience_size=1200, matched_count=900, input_count=2000)

    assert audience(api, "s1") == first  # a cache hit: LinkedIn is not asked
    assert reads(api, audience_id) == 1

    age_views(api)  # 60 s later the reading is stale: the next GET reads LinkedIn again
    fresh = audience(api, "s1")
    assert reads(api, audience_id) == 2
    assert (fresh["status"], fresh["audience_size"], fresh["matched_count"]) == ("READY", 1200, 900)
    assert fresh["match_rate"] == 0.45
    assert fresh["refreshed_at"] > first["refreshed_at"]

    set_segment(api, audience_id, status="UPDATING")
    age_views(api, MIN_INTERVAL_MS)
    assert audience(api, "s1", refresh=True)["status"] == "UPDATING"  # ?refresh=true reads before the max age
    assert reads(api, audience_id) == 3


def test_refresh_reads_linkedin_at_most_once_per_min_interval(api: Api) -> None:
    audience_id = api.active_step("s1")
    first = audience(api, "s1", refresh=True)
    set_segment(api, audience_id, status="READY")
    for _ in range(5):  # a dashboard polling with ?refresh=true
        assert audience(api, "s1", refresh=True) == first  # the cached view; refreshed_at says when it was read
    assert reads(api, audience_id) == 1
    age_views(api, MIN_INTERVAL_MS)
    again = audience(api, "s1", refresh=True)
    assert again["status"] == "READY" and again["refreshed_at"] > first["refreshed_at"]
    assert reads(api, audience_id) == 2


def test_every_status_is_explained_and_an_untargetable_one_is_a_step_error_until_it_recovers(api: Api) -> None:
    audience_id = api.active_step("s1")
    for status in STATUSES:
        set_segment(api, audience_id, status=status)
        age_views(api, MIN_INTERVAL_MS)
        view = audience(api, "s1", refresh=True)
        assert view["status"] == status
        assert view["explanation"] == EXPLANATIONS[status]
        assert view["targetable"] is (status not in STEP_ERRORS)
        assert step_error(api, "s1") == STEP_ERRORS.get(status), status
    set_segment(api, audience_id, status="READY")
    age_views(api, MIN_INTERVAL_MS)
    audience(api, "s1", refresh=True)
    assert step_error(api, "s1") is None  # LinkedIn reports a targetable status again: the error is gone


def test_a_deleted_audience_is_audience_not_found(api: Api) -> None:
    audience_id = api.active_step("s1")
    audience(api, "s1")
    sandbox(api, "DELETE", f"/segments/{audience_id}")
    audience(api, "s1")  # still the cached reading
    age_views(api, MIN_INTERVAL_MS)
    assert_error(api.get("/v1/steps/s1/audience?refresh=true"), 404, "audience_not_found")
    assert step_error(api, "s1") == "audience_not_found"  # it had been read: not a new audience propagating


def test_bad_requests(api: Api) -> None:
    assert api.put_step("draft-step").status == 200
    assert_error(api.get("/v1/steps/draft-step/audience"), 409, "step_not_launched")
    assert_error(api.get("/v1/steps/nope/audience"), 404, "step_not_found")
    api.active_step("s1")
    assert_error(api.get("/v1/steps/s1/audience?refresh=maybe"), 400, "invalid_request")


# ---- the schedule -------------------------------------------------------------------------------------
def test_the_schedule_refreshes_every_launched_step_and_untargetable_audiences_become_step_errors(
    api: Api, notifications: Notifications
) -> None:
    audiences = {status: api.active_step(status.lower()) for status in ("EXPIRED", "FAILED", "ERROR", "READY")}
    for status, audience_id in audiences.items():
        set_segment(api, audience_id, status=status)
    assert api.put_step("draft-step").status == 200  # never launched: nothing to read

    report = run_schedule(api)
    assert (report["steps"], report["read"], report["failed"], report["stopped"]) == (4, 4, 0, None)
    for status in audiences:
        assert step_error(api, status.lower()) == STEP_ERRORS.get(status)
    assert sorted(notifications.codes()) == ["audience_error", "audience_expired", "audience_failed"]
    assert {n["body"]["step_id"] for n in notifications.received} == {"expired", "failed", "error"}

    view = audience(api, "expired")  # what the schedule read, served from the cache
    assert (view["status"], view["targetable"], view["stale"]) == ("EXPIRED", False, False)
    assert reads(api, audiences["EXPIRED"]) == 1

    assert run_schedule(api)["fresh"] == 4  # read less than 60 s ago: not read again
    set_segment(api, audiences["EXPIRED"], status="READY")  # e.g. recreated by LinkedIn support
    age_views(api)
    assert run_schedule(api)["read"] == 4
    assert step_error(api, "expired") is None
    assert step_error(api, "failed") == "audience_failed"
    assert len(notifications.codes()) == 3  # the errors that stayed are not notified again


def test_the_schedule_keeps_readings_linkedin_refuses_and_marks_them_stale(api: Api) -> None:
    first, second = api.active_step("s1"), api.active_step("s2")
    assert run_schedule(api)["read"] == 2
    age_views(api)

    sandbox(api, "POST", "/faults", {"status": 500, "count": 1, "path_contains": "/dmpSegments/"})
    report = run_schedule(api)
    assert (report["read"], report["failed"], report["stopped"]) == (1, 1, None)  # a 5xx: the run goes on
    stale = [audience(api, s) for s in ("s1", "s2") if audience(api, s)["stale"]]
    assert len(stale) == 1
    assert stale[0]["status"] == "BUILDING" and stale[0]["stale_reason"].startswith("linkedin_500")

    age_views(api)
    sandbox(api, "POST", "/faults", {"status": 429, "count": 1, "path_contains": "/dmpSegments/"})
    before = reads(api, first) + reads(api, second)
    report = run_schedule(api)
    assert (report["failed"], report["not_read"]) == (1, 1)  # a 429: nothing more is read this run
    assert report["stopped"].startswith("linkedin_429")
    assert reads(api, first) + reads(api, second) == before + 1


def test_the_schedule_turns_a_deleted_audience_into_audience_not_found(api: Api, notifications: Notifications) -> None:
    audience_id = api.active_step("s1")
    age_audience(api.stack, "s1", by_ms=11 * 60_000)  # created 11 min ago: a 404 is not propagation any more
    sandbox(api, "DELETE", f"/segments/{audience_id}")
    report = run_schedule(api)
    assert report["step_errors"] == [{"step_id": "s1", "error": "audience_not_found"}]
    assert step_error(api, "s1") == "audience_not_found"
    assert notifications.codes() == ["audience_not_found"]
    assert_error(api.get("/v1/steps/s1/audience"), 404, "audience_not_found")


def test_a_revoked_token_stops_the_schedule_and_leaves_stale_readings(api: Api) -> None:
    api.active_step("s1")
    api.active_step("s2")
    run_schedule(api)
    age_views(api)
    sandbox(api, "POST", "/tokens/revoke")
    report = run_schedule(api)
    assert report["stopped"] == "linkedin_invalid_token"
    assert (report["failed"], report["not_read"]) == (1, 1)
    assert api.get("/v1/connections/linkedin").json["status"] == "invalid_token"
    stale = audience(api, "s1", refresh=True)  # the last reading, said to be stale and why
    assert (stale["status"], stale["stale"], stale["stale_reason"]) == ("BUILDING", True, "linkedin_invalid_token")


# ---- the sync's errors and the audience's -------------------------------------------------------------
def test_a_send_error_and_an_audience_status_error_are_kept_apart_and_each_notified_once(
    api: Api, notifications: Notifications
) -> None:
    audience_id = api.active_step("s1")
    set_segment(api, audience_id, status="EXPIRED")
    for _ in range(3):  # the sender meets 404s while the schedule reads EXPIRED
        sender_sets("s1", AUDIENCE_NOT_FOUND)
        run_schedule(api)
        age_views(api)
    assert step_errors(api, "s1") == (AUDIENCE_NOT_FOUND, [AUDIENCE_NOT_FOUND, "audience_expired"])
    assert sorted(notifications.codes()) == ["audience_expired", AUDIENCE_NOT_FOUND]  # two problems, two messages

    set_segment(api, audience_id, status="READY")  # the audience exists and is targetable: both are disproved
    run_schedule(api)
    assert step_errors(api, "s1") == (None, [])


def test_a_reading_keeps_ad_account_access_and_the_audience_error_shows_beside_it(api: Api) -> None:
    audience_id = api.active_step("s1")
    assert sender_sets("s1", AD_ACCOUNT_ACCESS)
    set_segment(api, audience_id, status="FAILED")
    audience(api, "s1")
    assert step_errors(api, "s1") == (AD_ACCOUNT_ACCESS, [AD_ACCOUNT_ACCESS, "audience_failed"])
    assert not sender_sets("s1", AD_ACCOUNT_ACCESS)  # not overwritten, so not new
    set_segment(api, audience_id, status="READY")
    age_views(api, MIN_INTERVAL_MS)
    audience(api, "s1", refresh=True)
    assert step_errors(api, "s1") == (AD_ACCOUNT_ACCESS, [AD_ACCOUNT_ACCESS])  # a read proves no write access


def test_a_relaunch_clears_both_errors(api: Api) -> None:
    audience_id = api.active_step("s1")
    set_segment(api, audience_id, status="EXPIRED")
    audience(api, "s1")
    sender_sets("s1", AD_ACCOUNT_ACCESS)
    assert step_errors(api, "s1")[1] == [AD_ACCOUNT_ACCESS, "audience_expired"]
    assert api.launch("s1").status == 200
    assert step_errors(api, "s1") == (None, [])


# ---- LinkedIn answers 200 with something unreadable -----------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        "<html><body>upstream hiccup</body></html>",
        "[1, 2, 3]",
        json.dumps({"id": 1, "destinations": [{"destination": "LINKEDIN", "status": "READY", "audienceSize": "many"}]}),
    ],
)
def test_a_malformed_200_is_linkedin_unavailable_never_a_5xx_of_ours(api: Api, body: str) -> None:
    api.active_step("s1")
    api.active_step("s2")
    audience(api, "s2")  # s2 has a reading; s1 none
    sandbox(api, "POST", "/faults", {"status": 200, "body": body, "path_contains": "/dmpSegments/"})

    reply = api.get("/v1/steps/s1/audience")
    error = assert_error(reply, 502, "linkedin_unavailable")
    assert "linkedin_malformed_response" in error["message"]

    age_views(api, MIN_INTERVAL_MS)
    stale = audience(api, "s2", refresh=True)
    assert (stale["status"], stale["stale"], stale["stale_reason"]) == ("BUILDING", True, "linkedin_malformed_response")

    age_views(api)
    report = run_schedule(api)
    assert (report["read"], report["failed"], report["stopped"]) == (0, 2, None)
    assert {api.get(f"/v1/steps/{s}").json["error"] for s in ("s1", "s2")} == {None}
