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

from tests.e2e.local_service import API_KEY, Service, local_service

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


@pytest.fixture
def console(browser: Any, tmp_path: Path) -> Iterator[Watched]:
    with local_service(tmp_path) as service:
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
    members = page.locator("table").last
    for _ in range(30):
        if "u-gold" in members.inner_text():
            break
        page.wait_for_timeout(1000)  # the sweep runs in local mode's background; this page reads it on load
        page.reload()
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


def test_the_console_files_are_served_without_a_key_with_a_strict_policy_and_nothing_else(tmp_path: Path) -> None:
    with local_service(tmp_path) as service:
        page = requests.get(service.url("/console/index.html"), timeout=10)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        policy = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe" not in policy
        assert (
            requests.get(service.url("/console/app.js"), timeout=10)
            .headers["Content-Type"]
            .startswith("text/javascript")
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
