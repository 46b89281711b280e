"""The web console in a real browser (headless Chromium through Playwright) against local mode, as a new user
would use it: sign in, connect the sandbox, create and launch a step, watch its metrics and chart move as users
arrive. Any JavaScript error, console error or failed request of the page fails the test.

The browser is Debian's chromium-headless-shell (`.ci/run` installs it); without it the test is skipped, unless
CONSOLE_BROWSER_REQUIRED=1 (CI) makes that a failure. CONSOLE_SCREENSHOTS=<dir> saves each screen there
(`make screenshots` writes docs/console/).
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.receiver import webhook_receiver
from tests.e2e.local_service import API_KEY, Service, emulated, local_service

CANDIDATES = ("/usr/lib/chromium/chromium-headless-shell", "/usr/lib/chromium/chromium")
TIMEOUT_MS = 30_000


def _chromium() -> str | None:
    configured = os.environ.get("CONSOLE_CHROMIUM")
    if configured:
        return configured
    return next((path for path in CANDIDATES if Path(path).exists()), shutil.which("chromium-headless-shell"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        executable = None
    if executable is None:
        if os.environ.get("CONSOLE_BROWSER_REQUIRED") == "1":
            pytest.fail("no headless Chromium or playwright (apt-get install chromium-headless-shell; make install)")
        pytest.skip("no headless Chromium (apt-get install chromium-headless-shell) or playwright")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield launched
        finally:
            launched.close()


class Watched:
    """A page whose JavaScript errors, console errors and failed requests are collected."""

    def __init__(self, page: Any, service: Service):
        self.page = page
        self.service = service
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("console", self._console)
        page.on("requestfailed", lambda request: self.errors.append(f"request failed: {request.url}"))
        page.set_default_timeout(TIMEOUT_MS)
        self.shots = os.environ.get("CONSOLE_SCREENSHOTS")

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def shot(self, name: str) -> None:
        if self.shots:
            Path(self.shots).mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(Path(self.shots) / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One local mode for the module's tests (each starts in ~9 s on our machines): they use ids of their own."""
    with local_service(tmp_path_factory.mktemp("console")) as running:
        yield running


@pytest.fixture
def console(browser: Any, service: Service) -> Iterator[Watched]:
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        watched = Watched(context.new_page(), service)
        yield watched
        assert watched.errors == []
    finally:
        context.close()


def _metric(page: Any, name: str) -> int:
    return int(page.locator(f'[data-metric="{name}"]').inner_text().replace(",", ""))


def test_a_new_user_connects_launches_a_step_and_watches_its_users_arrive(console: Watched) -> None:
    page, service = console.page, console.service
    expect = _expect()

    # sign in: the console's address redirects to its page; a wrong key is refused, the right one kept
    page.goto(service.url("/console"))
    assert page.url == service.url("/console/index.html")
    page.get_by_label("Management API key").fill("not-the-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("That key was refused")
    console.shot("sign-in")
    page.get_by_label("Management API key").fill(API_KEY)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sync steps")).to_be_visible()
    console.errors.clear()  # the refused key's 403, reported by the browser

    # connect: LinkedIn's consent page (the sandbox's) in a new window; the screen follows the connection
    page.get_by_role("link", name="Connection").click()
    expect(page.get_by_text("Status: disconnected")).to_be_visible()
    with page.context.expect_page() as consent:
        page.get_by_role("button", name="Connect LinkedIn").click()
    consent.value.close()
    expect(page.get_by_text("Status: connected")).to_be_visible()
    expect(page.get_by_role("cell", name="507000001")).to_be_visible()
    console.shot("connection")

    # a new step with every field of the step screen
    page.get_by_role("link", name="Sync steps").click()
    page.get_by_role("link", name="New step").click()
    page.get_by_label("Step id").fill("welcome")
    page.get_by_label("Ad account").select_option("507000001")
    page.get_by_label("A new audience named").check()
    page.locator("#audience-name").fill("Console audience")
    page.get_by_label("Email (normalised and SHA-256 hashed before it leaves)").check()
    page.get_by_role("button", name="Add a filter").click()
    page.get_by_label("Filter 1 attribute").fill("ad_tracking_enabled")
    page.get_by_label("Filter 1 condition").select_option("eq")
    page.get_by_label(re.compile("Filter 1 value")).fill("true")
    console.shot("step-editor")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Step welcome")).to_be_visible()
    stored = requests.get(service.url("/v1/steps/welcome"), headers=service.headers, timeout=10).json()
    assert stored["config"]["entry_filters"] == [{"attribute": "ad_tracking_enabled", "op": "eq", "value": True}]
    assert stored["config"]["audience"] == {"name": "Console audience"} and stored["status"] == "draft"

    # launch
    page.get_by_role("button", name="Launch").click()
    expect(page.get_by_text(re.compile(r"Launched: audience \d+"))).to_be_visible()

    # users arrive through the webhook, as a journey sends them; the screen shows them synced, and the chart too
    users = [{"external_id": f"u{i}", "email": f"u{i}@example.com", "ad_tracking_enabled": True} for i in range(5)]
    users.append({"external_id": "no-consent", "email": "x@example.com", "ad_tracking_enabled": False})
    reply = requests.post(
        service.url("/v1/steps/welcome/users"), json={"users": users}, headers=service.headers, timeout=10
    )
    assert reply.json() == {"accepted": 5, "filtered": 1, "not_synced": 0}
    expect(page.locator('[data-metric="synced"]')).to_have_text("5", timeout=TIMEOUT_MS)
    assert (_metric(page, "entered"), _metric(page, "pending"), _metric(page, "errored")) == (5, 0, 0)
    expect(page.locator("#chart-desc")).to_contain_text("Entered 5")
    expect(page.locator("#chart-desc")).to_contain_text("Synced 5")
    page.get_by_text("The numbers, minute by minute").click()
    expect(page.locator("figure.chart table")).to_contain_text("5")
    console.shot("step")

    # the list shows it active
    page.get_by_role("link", name="Sync steps").click()
    expect(page.get_by_role("row").filter(has_text="welcome")).to_contain_text("active")
    console.shot("steps")

    # a step may be named "new": it opens (the editor of a new step is elsewhere)
    named_new = {"ad_account_id": "507000001", "audience": {"name": "N"}, "match_fields": ["email"]}
    assert requests.put(service.url("/v1/steps/new"), json=named_new, headers=service.headers, timeout=10).ok
    page.reload()
    page.get_by_role("link", name="new", exact=True).click()
    expect(page.get_by_role("heading", name="Step new")).to_be_visible()


def _sign_in(console: Watched) -> None:
    page = console.page
    page.goto(console.service.url("/console"))
    page.get_by_label("Management API key").fill(API_KEY)
    page.get_by_role("button", name="Sign in").click()
    _expect()(page.get_by_role("heading", name="Sync steps")).to_be_visible()


def test_a_segment_built_in_the_console_gathers_the_profiles_that_match(console: Watched) -> None:
    page, service = console.page, console.service
    expect = _expect()
    created = requests.post(
        service.url("/v1/rest-api-keys"),
        json={"name": "console test", "permissions": ["users.track"]},
        headers=service.headers,
        timeout=10,
    )
    key = created.json()["key"]
    profiles = {
        "attributes": [{"external_id": "u-gold", "plan": "gold"}, {"external_id": "u-silver", "plan": "silver"}]
    }
    written = requests.post(
        service.url("/users/track"), json=profiles, headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert written.status_code == 201, written.text
    _sign_in(console)

    page.get_by_role("link", name="Segments").click()
    expect(page.get_by_role("heading", name="Segments")).to_be_visible()
    page.get_by_role("link", name="New segment").click()
    page.get_by_label("Segment id").fill("gold")
    page.get_by_label("Name").fill("Gold users")
    page.get_by_role("button", name="Add attribute").click()
    page.get_by_label("Condition 1 attribute").fill("plan")
    page.get_by_label("Condition 1 operator").select_option("eq")
    page.get_by_label(re.compile("Condition 1 value")).fill('"gold"')
    console.shot("segment-editor")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Segment Gold users")).to_be_visible()
    stored = requests.get(service.url("/v1/segments/gold"), headers=service.headers, timeout=10).json()
    assert stored["filter"] == {"all": [{"attribute": "plan", "op": "eq", "value": "gold"}]}

    # existing profiles are swept into a new segment within seconds: the screen shows them when read again
    # (the size card is drawn with the screen; the members table fills in after it: reading the table right after a
    # reload would see it empty every time)
    for _ in range(30):
        expect(page.locator('[data-metric="size"]')).to_be_visible()
        if _metric(page, "size") == 1:
            break
        page.wait_for_timeout(1000)  # the sweep runs in local mode's background; this page reads it on load
        page.reload()
    members = page.locator("table").last
    expect(members).to_contain_text("u-gold")
    expect(members).not_to_contain_text("u-silver")
    expect(page.locator('[data-metric="size"]')).to_have_text("1")
    console.shot("segment")

    # the filter round-trips through the editor, as conditions and as JSON
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Condition 1 attribute")).to_have_value("plan")
    page.get_by_label(re.compile("Edit the filter as JSON")).check()
    assert json.loads(page.get_by_label("Filter (JSON)").input_value()) == stored["filter"]
    page.get_by_role("link", name="Segments").click()
    expect(page.get_by_role("row").filter(has_text="Gold users")).to_be_visible()
    console.shot("segments")

    # every operator of the language shows as itself (a filter the builder cannot show opens as JSON): it saves
    # unchanged
    leaf = {"attribute": "email", "op": "not_matches_regex", "value": "@test\\."}
    regex = {"name": "Not test", "filter": {"all": [leaf]}}
    assert requests.put(service.url("/v1/segments/not-test"), json=regex, headers=service.headers, timeout=10).ok
    page.goto(service.url("/console/index.html#/segments/not-test/edit"))
    expect(page.get_by_label("Condition 1 operator")).to_have_value("not_matches_regex")
    page.get_by_label("Description").fill("edited")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Segment Not test")).to_be_visible()
    again = requests.get(service.url("/v1/segments/not-test"), headers=service.headers, timeout=10).json()
    assert (again["filter"], again["description"]) == (regex["filter"], "edited")


def test_a_webhook_campaign_is_composed_previewed_and_sent_and_a_segment_exported(console: Watched) -> None:
    page, service = console.page, console.service
    expect = _expect()
    vip = {"name": "VIP", "filter": {"attribute": "tier", "op": "eq", "value": "vip"}}
    assert requests.put(service.url("/v1/segments/vip"), json=vip, headers=service.headers, timeout=10).ok
    _sign_in(console)

    # keys: a REST API key made here is shown once, and it works; a partner's import key is made and revoked
    page.get_by_role("link", name="Keys").click()
    page.get_by_label("Name", exact=True).fill("console writer")
    page.get_by_label(re.compile("^users.track")).check()
    page.get_by_role("button", name="Create the key").click()
    key = page.get_by_label("The key console writer").inner_text().strip()
    expect(page.get_by_role("row").filter(has_text="console writer")).to_contain_text("users.track")
    assert key not in page.locator("table").first.inner_text()  # listed without the key itself
    page.get_by_label("Partner").select_option("segment")
    page.get_by_role("button", name="Create the import key").click()
    assert page.get_by_label("The segment client secret").inner_text().strip()
    console.shot("keys")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=re.compile("Revoke the segment import key")).click()
    expect(page.get_by_text("No data import keys yet")).to_be_visible()
    users = [{"external_id": "ada", "first_name": "Ada", "email": "ada@example.com", "tier": "vip"}]
    users.append({"external_id": "bob", "first_name": "Bob", "email": "bob@example.com", "tier": "basic"})
    written = requests.post(
        service.url("/users/track"), json={"attributes": users}, headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert written.status_code == 201, written.text

    with webhook_receiver() as receiver:
        # compose: a webhook with Braze's tags, previewed for a chosen user before it is saved
        page.get_by_role("link", name="Campaigns").click()
        page.get_by_role("link", name="New campaign").click()
        page.get_by_label("Campaign id").fill("welcome-hook")
        page.get_by_label("Name", exact=True).fill("Welcome webhook")
        page.get_by_label("URL").fill(receiver.url + "/hello/{{${user_id}}}")
        page.get_by_role("button", name="Add a header").click()
        page.get_by_label("Header 1 name").fill("X-Tier")
        page.get_by_label("Header 1 value").fill("{{custom_attribute.${tier} | upcase}}")
        page.get_by_label("Body").fill('{"hi": "{{${first_name}}}", "coupon": "{{api_trigger_properties.${coupon}}}"}')
        page.get_by_label("Audience", exact=True).select_option("vip")
        page.get_by_label("External id").fill("ada")
        page.get_by_label("Trigger properties (JSON)").fill('{"coupon": "C10"}')
        page.get_by_role("button", name="Preview").click()
        expect(page.get_by_label("Rendered body")).to_have_text('{"hi": "Ada", "coupon": "C10"}')
        expect(page.get_by_label("Rendered headers")).to_have_text("X-Tier: VIP")
        expect(page.locator(".rendered code")).to_have_text(receiver.url + "/hello/ada")
        console.shot("campaign-editor")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("heading", name="Campaign welcome-hook")).to_be_visible()

        # publish, then send it to users from its screen; the metrics follow the webhook to the receiver
        page.get_by_role("button", name="Publish").click()
        expect(page.get_by_text("Published: the campaign is active.")).to_be_visible()
        page.get_by_label("Recipients").fill("ada, bob")
        page.get_by_label("Trigger properties (JSON)").fill('{"coupon": "C10"}')
        page.get_by_role("button", name="Send now").click()
        expect(page.get_by_text(re.compile(r"Queued 1 .* not in the audience 1"))).to_be_visible()
        expect(page.locator('[data-metric="delivered"]')).to_have_text("1", timeout=TIMEOUT_MS)
        assert (_metric(page, "triggered"), _metric(page, "failed")) == (1, 0)
        assert [(r.path, r.headers.get("X-Tier"), r.body) for r in receiver.received] == [
            ("/hello/ada", "VIP", '{"hi": "Ada", "coupon": "C10"}')
        ]
        expect(page.locator("#chart-desc")).to_contain_text("Delivered 1")
        console.shot("campaign")

    # an action-based campaign: its trigger, delay, exception and re-eligibility as the editor stores them
    page.get_by_role("link", name="Campaigns").click()
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Campaign id").fill("follow-up")
    page.get_by_label("Name", exact=True).fill("Follow-up")
    page.get_by_label("URL").fill("https://example.com/follow-up")
    page.get_by_label("Action-based: when users do something").check()
    page.get_by_label("Trigger kind").select_option("interaction")
    page.get_by_label("Trigger campaign").select_option("welcome-hook")
    page.get_by_label("Trigger interaction").select_option("received_webhook")
    page.get_by_label("Delay (seconds)").fill("600")
    page.get_by_role("button", name="Add an exception").click()
    page.get_by_label("Exception 1 event name or product id (* for any)").fill("unsubscribed")
    page.get_by_label(re.compile("Re-eligible after")).fill("86400")
    console.shot("campaign-trigger")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Campaign follow-up")).to_be_visible()
    stored = requests.get(service.url("/v1/campaigns/follow-up"), headers=service.headers, timeout=10).json()
    assert stored["delivery"] == {
        "type": "action",
        "trigger": {"interaction": {"campaign_id": "welcome-hook", "type": "received_webhook"}},
        "delay_seconds": 600,
        "exceptions": [{"custom_event": "unsubscribed", "property_filters": []}],
        "reeligible_after_seconds": 86400,
    }
    # opened in the editor and saved unchanged, it is stored unchanged
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Trigger campaign")).to_have_value("welcome-hook")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Campaign follow-up")).to_be_visible()
    again = requests.get(service.url("/v1/campaigns/follow-up"), headers=service.headers, timeout=10).json()
    assert {k: v for k, v in again.items() if k != "updated_at"} == {
        k: v for k, v in stored.items() if k != "updated_at"
    }
    page.get_by_role("link", name="Campaigns").click()
    expect(page.get_by_role("row", name=re.compile("^welcome-hook "))).to_contain_text("active")
    console.shot("campaigns")

    # export the segment to CSV: the report follows it to its end, and its link downloads the members
    page.get_by_role("link", name="Exports").click()
    page.get_by_label("Segment", exact=True).select_option("vip")
    page.get_by_label("Columns").fill("first_name, email")
    page.get_by_role("button", name="Export to CSV").click()
    expect(page.get_by_role("heading", name="Export report")).to_be_visible()
    expect(page.locator("td .badge")).to_have_text("done", timeout=TIMEOUT_MS)
    expect(page.locator('[data-metric="rows"]')).to_have_text("1")
    console.shot("export")
    link = page.get_by_role("link", name="Download the CSV").get_attribute("href")
    assert link is not None
    csv = requests.get(link, timeout=10)
    assert csv.status_code == 200 and csv.text.splitlines() == [
        "external_id,first_name,email",
        "ada,Ada,ada@example.com",
    ]
    page.get_by_role("link", name="Export another segment").click()
    expect(page.get_by_role("row").filter(has_text="vip")).to_be_visible()


def test_an_import_defined_in_the_console_runs_and_reports_its_rows(console: Watched) -> None:
    page, service = console.page, console.service
    expect = _expect()
    s3 = emulated(service, "s3")
    s3.create_bucket(Bucket="console-imports")
    rows = "id,tier\nimp-1,gold\n,silver\n"  # the second row names nobody: reported, passed over
    s3.put_object(Bucket="console-imports", Key="daily/001.csv", Body=rows.encode())
    _sign_in(console)

    page.get_by_role("link", name="Imports").click()
    page.get_by_role("link", name="New import").click()
    page.get_by_label("Import id").fill("daily")
    page.get_by_label("Bucket").fill("console-imports")
    page.get_by_label("Prefix").fill("daily/")
    page.get_by_label("Identifier column").fill("id")
    page.get_by_label("Mapping 1 column").fill("tier")
    page.get_by_label("Mapping 1 attribute").fill("import_tier")
    console.shot("import-editor")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Import daily")).to_be_visible()
    page.get_by_role("button", name="Run now").click()
    expect(page.locator("table").nth(1).locator(".badge").first).to_have_text("done", timeout=TIMEOUT_MS)
    # a new import is due at once: the schedule's tick may have started this run first (the button's 409, reported)
    console.errors = [e for e in console.errors if "409" not in e]
    page.get_by_text(re.compile("could not import")).click()
    expect(page.locator("details table")).to_contain_text("daily/001.csv")
    console.shot("import")
    (run,) = requests.get(service.url("/v1/imports/daily/runs"), headers=service.headers, timeout=10).json()["runs"]
    assert (run["rows"], run["created"], [f["line"] for f in run["failed"]]) == (2, 1, [3])
    # opened in the editor and saved unchanged, it is stored unchanged (and reads on from where it was)
    definition = requests.get(service.url("/v1/imports/daily"), headers=service.headers, timeout=10).json()
    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_label("Bucket")).to_have_value("console-imports")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Import daily")).to_be_visible()
    again = requests.get(service.url("/v1/imports/daily"), headers=service.headers, timeout=10).json()
    assert {k: again[k] for k in definition if k != "next_run_at"} == {
        k: v for k, v in definition.items() if k != "next_run_at"
    }
    page.get_by_role("link", name="Imports").click()
    expect(page.get_by_role("row", name=re.compile(r"^daily s3:\/\/console-imports\/daily\/ csv"))).to_be_visible()


def test_the_console_files_are_served_without_a_key_with_a_strict_policy_and_nothing_else(service: Service) -> None:
    # the console's address with a trailing slash, as issue 17 writes it, reaches the page too
    assert requests.get(service.url("/console/"), timeout=10).url == service.url("/console/index.html")
    page = requests.get(service.url("/console/index.html"), timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe" not in policy
    assert (
        requests.get(service.url("/console/app.js"), timeout=10).headers["Content-Type"].startswith("text/javascript")
    )
    for missing in ("/console/app.py", "/console/../app.py", "/console/%2e%2e/app.py", "/console/index.html/"):
        assert _raw_get(service, missing) == 404, missing
    # the API behind it still wants its key
    assert requests.get(service.url("/v1/steps"), timeout=10).status_code == 403


def _raw_get(service: Service, path: str) -> int:
    """The status of GET `path` sent as it is (requests would resolve the dot segments before sending)."""
    host, port = service.base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def _expect() -> Any:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    return expect
