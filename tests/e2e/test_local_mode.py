"""End to end over HTTP against `python -m localmode`: connect → configure → launch → post users → the LinkedIn
audience and the metrics are exactly right. Also: bad input changes nothing; the LinkedIn URLs are honoured."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from localmode.service import LocalConfig
from localmode.walkthrough import EXPORT_STEPS, PROFILE_STEPS, SEGMENT_STEPS, cohort_steps
from tests.e2e.local_service import (
    API_KEY,
    Service,
    configure_and_launch,
    connect,
    local_service,
    metrics,
    post_users,
    sha,
    wait_for,
)

pytestmark = pytest.mark.e2e


USERS = [
    {
        "external_id": "u-1",
        "email": " Ana.Ruiz@Example.com ",
        "first_name": "Ana",
        "last_name": "Ruiz",
        "ad_tracking_enabled": True,
    },
    {"external_id": "u-2", "email": "bo@example.com", "ad_tracking_enabled": True, "attributes": {"opted_in": True}},
    {"external_id": "u-3", "first_name": "  Cy ", "last_name": "Lee", "ad_tracking_enabled": True},
    {"external_id": "u-4", "android_gaid": "38400000-8cf0-11bd-b23e-10b96e40000d", "ad_tracking_enabled": True},
    {"external_id": "u-5", "email": "not-an-email", "ad_tracking_enabled": True},  # nothing usable: not synced
    {"external_id": "u-6", "ad_tracking_enabled": True},  # no match field: not synced
    {"external_id": "u-7", "email": "filtered@example.com", "ad_tracking_enabled": False},  # filtered out
    {
        "external_id": "u-8",
        "email": "dns@example.com",
        "ad_tracking_enabled": True,
        "attributes": {"do_not_sell_or_share": True},
    },  # filtered out
]
FILTERS = [
    {"attribute": "ad_tracking_enabled", "op": "eq", "value": True},
    {"attribute": "do_not_sell_or_share", "op": "ne", "value": True},
]
EXPECTED_MEMBERS = [
    [{"idType": "SHA256_EMAIL", "idValue": sha("ana.ruiz@example.com")}],
    [{"idType": "SHA256_EMAIL", "idValue": sha("bo@example.com")}],
    [],  # Cy Lee: name only
    [{"idType": "GOOGLE_AID", "idValue": "38400000-8cf0-11bd-b23e-10b96e40000d"}],
]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with local_service(tmp_path_factory.mktemp("local")) as running:
        yield running


def test_walkthrough_syncs_exactly_the_expected_identities(service: Service) -> None:
    connection = connect(service)
    assert connection["status"] == "connected"
    assert {a["id"]: a["usable"] for a in connection["ad_accounts"]} == {"507000001": True, "507000002": False}
    audience_id = configure_and_launch(service, "welcome", entry_filters=FILTERS)

    posted_at = time.time()
    first = post_users(service, "welcome", {"users": USERS, "idempotency_key": "evt-1"})
    assert first.status_code == 202, first.text
    assert first.json() == {"accepted": 4, "filtered": 2, "not_synced": 2}
    again = post_users(service, "welcome", {"users": USERS, "idempotency_key": "evt-1"})
    assert again.status_code == 202 and again.json() == first.json()  # counted once

    # Counts move when the batcher records the webhook's message, together with the sync outcomes.
    settled = wait_for(lambda: (m := metrics(service, "welcome"))["entered"] == 6 and m, 30, "entered == 6")
    assert settled == {
        "entered": 6,
        "proceeded": 6,
        "synced": 4,
        "not_synced": 2,
        "pending": 0,
        "errored": 0,
        "exited": 0,
    }

    members = requests.get(service.url(f"/linkedin/_sandbox/segments/{audience_id}/members"), timeout=10).json()
    ids = sorted(str(m.get("userIds")) for m in members["members"])
    assert ids == sorted(str(m) for m in EXPECTED_MEMBERS)
    names = [(m.get("firstName"), m.get("lastName")) for m in members["members"] if m.get("firstName")]
    assert sorted(names) == [("Ana", "Ruiz"), ("Cy", "Lee")]

    log = requests.get(service.url("/linkedin/_sandbox/requests"), timeout=10).json()
    user_calls = [r for r in log if r["path"].endswith("/users")]
    assert user_calls, "no request reached LinkedIn"
    for call in user_calls:
        assert call["status"] == 200
        assert call["linkedin_version"] and call["restli_protocol_version"] == "2.0.0"
        assert call["restli_method"] == "BATCH_CREATE"
        assert call["elements"] <= 5000
    # LinkedIn asks for >= 5 s between creating a segment and streaming into it; then one flush window.
    assert user_calls[0]["t"] - posted_at < 5 + 1 + 3


def test_bad_input_gets_4xx_and_changes_nothing(service: Service) -> None:
    configure_and_launch(service, "strict")
    before = metrics(service, "strict")
    url = service.url("/v1/steps/strict/users")
    cases = {
        "malformed json": requests.post(url, data=b"{not json", headers=service.headers, timeout=10),
        "wrong types": post_users(service, "strict", {"users": "everyone"}),
        "missing external_id": post_users(service, "strict", {"users": [{"email": "a@example.com"}]}),
        "no users": post_users(service, "strict", {"users": []}),
        "too many users": post_users(service, "strict", {"users": [{"external_id": str(i)} for i in range(10_001)]}),
        "oversized body": requests.post(
            url, data=b'{"users": [' + b" " * (5 * 1024 * 1024) + b"]}", headers=service.headers, timeout=30
        ),
        "unknown step": post_users(service, "nope", {"users": [{"external_id": "x"}]}),
        "missing key": requests.post(url, json={"users": [{"external_id": "x", "email": "k@example.com"}]}, timeout=10),
    }
    statuses = {name: r.status_code for name, r in cases.items()}
    assert all(400 <= s < 500 for s in statuses.values()), statuses
    assert statuses["oversized body"] == 413 and statuses["too many users"] == 413
    assert statuses["unknown step"] == 404 and statuses["missing key"] == 403
    for response in cases.values():
        assert set(response.json()["error"]) == {"code", "message", "details"}
    time.sleep(1.5)  # one flush window: anything wrongly queued would have been counted by now
    assert metrics(service, "strict") == before


def test_linkedin_urls_point_at_another_endpoint_and_the_rate_limit_holds(
    tmp_path: Path, external_linkedin: str
) -> None:
    url = external_linkedin
    env = {
        "LINKEDIN_API_URL": f"{url}/rest",
        "LINKEDIN_OAUTH_URL": f"{url}/oauth/v2",
        "LINKEDIN_MAX_ELEMENTS": "100",
    }  # small requests, so 3,000 users make 30 requests to pace
    with local_service(tmp_path, **env) as svc:
        connect(svc)
        audience_id = configure_and_launch(svc, "paced", match_fields=["email"])
        users = [{"external_id": f"p-{i}", "email": f"person{i}@example.com"} for i in range(3000)]
        assert post_users(svc, "paced", {"users": users}).json()["accepted"] == 3000
        try:
            wait_for(lambda: metrics(svc, "paced")["synced"] == 3000, 60, "3,000 synced")
        except AssertionError:
            print("\n".join(line for line in svc.log().splitlines() if "/metrics ->" not in line)[-8000:])
            raise
        assert metrics(svc, "paced")["pending"] == 0
        local_log = requests.get(svc.url("/linkedin/_sandbox/requests"), timeout=10).json()
    assert local_log == []  # the built-in sandbox saw nothing: every call went to the configured endpoint

    members = requests.get(f"{url}/_sandbox/segments/{audience_id}/members", timeout=10).json()["members"]
    expected = sorted(sha(f"person{i}@example.com") for i in range(3000))
    assert sorted(m["userIds"][0]["idValue"] for m in members) == expected
    calls = [r for r in requests.get(f"{url}/_sandbox/requests", timeout=10).json() if r["path"].endswith("/users")]
    assert len(calls) >= 30 and all(c["elements"] <= 100 for c in calls)
    times = sorted(c["t"] for c in calls)
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    gaps = [round((b - a) * 1000) for a, b in itertools.pairwise(times)]
    assert busiest <= 10, f"{busiest} requests within one second; gaps in ms: {gaps}"


def test_the_printed_profile_steps_work_as_printed(service: Service) -> None:
    """Step 6 of the walk-through, run by bash as a user pastes it: the key, the write, then the export."""
    bash, curl = shutil.which("bash"), shutil.which("curl")
    if bash is None or curl is None:
        pytest.skip("bash and curl are needed to run the printed commands")
    commands = [line.strip() for line in PROFILE_STEPS if not line.strip().startswith("#")]
    key, write, export = commands
    script = f"export API={service.base_url} KEY={API_KEY}\n{key}\n{write}\necho\nfor i in 1 2 3 4 5 6 7 8 9 10; do\n"
    script += f'  OUT=$({export}); case $OUT in *visits*) break;; esac; sleep 0.5\ndone\necho "$OUT"\n'
    done = subprocess.run([bash, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    written, exported = done.stdout.strip().splitlines()[-2:]
    assert json.loads(written) == {"message": "success", "attributes_processed": 1, "events_processed": 1}
    (user,) = json.loads(exported)["users"]
    assert user["custom_attributes"] == {"visits": 1, "segments": ["vip"]}
    assert [(e["name"], e["count"]) for e in user["custom_events"]] == [("Order Completed", 1)]


def test_the_printed_cohort_steps_work_as_printed(service: Service) -> None:
    """Step 7 of the walk-through, run by bash as printed: a data import key, the cohort, its members, the list."""
    bash, curl = shutil.which("bash"), shutil.which("curl")
    if bash is None or curl is None:
        pytest.skip("bash and curl are needed to run the printed commands")
    steps = cohort_steps(LocalConfig.from_env({}).partner_api_key)
    secret, name, members, listing = [line.strip() for line in steps if not line.strip().startswith("#")]
    script = f"export API={service.base_url} KEY={API_KEY}\n{secret}\n{name}\necho\n{members}\necho\n"
    script += f"for i in 1 2 3 4 5 6 7 8 9 10; do\n  OUT=$({listing}); case $OUT in *'\"ignored_ids\":0'*|*'[]'*) "
    script += 'sleep 0.5;; *) break;; esac\ndone\necho "$OUT"\n'
    done = subprocess.run([bash, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    named, changed, listed = done.stdout.strip().splitlines()[-3:]
    assert json.loads(named) == json.loads(changed) == {"message": "success"}
    (cohort,) = [c for c in json.loads(listed)["cohorts"] if c["cohort_id"] == "vip"]
    assert (cohort["partner"], cohort["name"]) == ("segment", "VIP")
    assert cohort["ignored_ids"] >= 1  # u-404 (and u-1 unless step 6 made it)


def test_the_printed_segment_steps_work_as_printed(service: Service) -> None:
    """Steps 6, 7 and 8 of the walk-through in order, by bash as printed: u-1 ordered (6) and joined the cohort (7),
    so the segment defined in 8 lists it, swept in from the existing profiles."""
    bash, curl = shutil.which("bash"), shutil.which("curl")
    if bash is None or curl is None:
        pytest.skip("bash and curl are needed to run the printed commands")
    printed = [*PROFILE_STEPS, *cohort_steps(LocalConfig.from_env({}).partner_api_key), *SEGMENT_STEPS]
    commands = [line.strip() for line in printed if not line.strip().startswith("#")]
    *before, define, members, segment = commands
    script = f"export API={service.base_url} KEY={API_KEY}\n" + "".join(f"{c}\necho\n" for c in before) + "sleep 2\n"
    script += f"{define}\necho\nfor i in $(seq 1 40); do\n  OUT=$({members}); case $OUT in *u-1*) break;; esac; "
    script += f'sleep 0.25\ndone\necho "$OUT"\n{segment}\n'
    done = subprocess.run([bash, "-c", script], capture_output=True, text=True, timeout=90, check=True)
    defined, listed, viewed = done.stdout.strip().splitlines()[-3:]
    assert json.loads(defined)["name"] == "VIP buyers"
    assert [m["external_id"] for m in json.loads(listed)["members"]] == ["u-1"]
    assert json.loads(viewed)["size"] == 1


def test_the_printed_export_steps_work_as_printed(service: Service) -> None:
    """Steps 6, 7, 8 then 11 of the walk-through, by bash as printed: the segment of step 8 exported as CSV, and its
    link (signed for this machine's port) downloading the file."""
    bash, curl = shutil.which("bash"), shutil.which("curl")
    if bash is None or curl is None:
        pytest.skip("bash and curl are needed to run the printed commands")
    printed = [*PROFILE_STEPS, *cohort_steps(LocalConfig.from_env({}).partner_api_key), *SEGMENT_STEPS]
    commands = [line.strip() for line in printed if not line.strip().startswith("#")]
    *before, define, members, _ = commands
    start, status, download = [line.strip() for line in EXPORT_STEPS if not line.strip().startswith("#")]
    script = f"export API={service.base_url} KEY={API_KEY}\n" + "".join(f"{c}\necho\n" for c in before) + "sleep 2\n"
    script += f"{define}\necho\nfor i in $(seq 1 40); do\n  OUT=$({members}); case $OUT in *u-1*) break;; esac; "
    script += f"sleep 0.25\ndone\n{start}\nfor i in $(seq 1 40); do\n  OUT=$({status}); case $OUT in *done*) break;; "
    script += f'esac; sleep 0.25\ndone\necho "$OUT"\n{download}\n'
    done = subprocess.run([bash, "-c", script], capture_output=True, text=True, timeout=90, check=True)
    lines = done.stdout.strip().splitlines()
    status_line = next(line for line in reversed(lines) if line.startswith("{"))
    export = json.loads(status_line)
    assert (export["status"], export["rows"]) == ("done", 1)
    assert urlsplit(export["url"]).netloc == urlsplit(service.base_url).netloc
    assert lines[-2:] == ["external_id,email,first_name", "u-1,,Ana"]
