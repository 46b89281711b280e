"""No raw email, name, GAID, token, secret, profile attribute or event property in any log line or metric dimension,
and a webhook can be followed to the LinkedIn request that carried its users (its correlation id).

Local mode runs the real handlers and prints everything they log, their EMF metric blobs included, to one log.
The run goes through the paths that log: accepted, filtered and not-synced users, a malformed request, LinkedIn
throttling and failing, an expired access token refreshed, a revoked grant (invalid_token) and a reconnect; then
profiles written, aliased, exported and deleted through the Braze-compatible API, bad objects included.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from audience_sync.sources.webhook.signature import sign
from localmode.sandbox import LinkedInSandbox, SandboxConfig
from localmode.sandbox.server import serving
from tests.e2e.local_service import API_KEY, Service, configure_and_launch, local_service, metrics, wait_for
from tests.log_scan import find_leaks

pytestmark = pytest.mark.e2e

CLIENT_SECRET = f"client-secret-{secrets.token_hex(8)}"
SIGNING_SECRET = f"signing-secret-{secrets.token_hex(16)}"
SENT_SIGNATURES: list[str] = []


def post_users(service: Service, step_id: str, body: Any, signed: bool = True) -> requests.Response:
    """A webhook signed as a client signs it (the stack runs with WEBHOOK_SIGNING_SECRET)."""
    raw = json.dumps(body)
    headers = dict(service.headers)
    if signed:
        headers["X-Signature"] = sign(SIGNING_SECRET, step_id, raw, int(time.time()))
        SENT_SIGNATURES.extend(part.removeprefix("v1=") for part in headers["X-Signature"].split(",")[1:])
    url = service.url(f"/v1/steps/{step_id}/users")
    return requests.post(url, data=raw, headers={**headers, "Content-Type": "application/json"}, timeout=30)


@pytest.fixture
def sandbox() -> Iterator[tuple[LinkedInSandbox, str]]:
    app = LinkedInSandbox(SandboxConfig(client_secret=CLIENT_SECRET))
    with serving(app) as url:
        yield app, url


def _people(prefix: str, n: int) -> list[dict[str, Any]]:
    return [
        {
            "external_id": f"{prefix}-{i}",
            "email": f"  {prefix.title()}.Person{i}@Example.COM ",
            "first_name": f"Émilie{prefix}{i}",
            "last_name": f"Planté{prefix}{i}",
            "android_gaid": f"{i:08x}-aaaa-4bbb-8ccc-{prefix[:4].ljust(4, 'x')}{i:08x}",
            "ad_tracking_enabled": i % 5 != 0,  # every fifth user is filtered out (no consent)
            "attributes": {"opted_in_marketing": True},
        }
        for i in range(n)
    ]


def _connect(service: Service) -> list[str]:
    """OAuth through the sandbox; returns the authorization codes and states the redirects carried."""
    response = requests.get(service.url("/v1/connections/linkedin/authorize"), headers=service.headers, timeout=10)
    assert response.status_code == 200, response.text
    query = parse_qs(urlsplit(response.history[-1].headers["Location"]).query)
    return query["code"] + query["state"]


def _fault(linkedin: str, **rule: Any) -> None:
    assert requests.post(f"{linkedin}/_sandbox/faults", json=rule, timeout=10).status_code == 201


def _consented(people: list[dict[str, Any]]) -> int:
    return sum(1 for p in people if p["ad_tracking_enabled"])


def _settled(service: Service, step: str, entered: int) -> dict[str, int]:
    def done() -> dict[str, int] | None:
        m = metrics(service, step)
        return m if m["entered"] >= entered and m["pending"] == 0 else None

    try:
        result: dict[str, int] = wait_for(done, 90, f"{step} to settle")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {metrics(service, step)} (expected {entered} entered)") from None
    return result


def _profiles(service: Service) -> dict[str, list[str]]:
    """Profiles written, exported and deleted through the Braze-compatible API, with distinctive personal data in
    every place a value can be: fields, custom attributes (strings, arrays, nested objects), aliases, event and
    purchase properties, a bad object that quotes them. Returns what must not appear in the log."""
    created = requests.post(
        service.url("/v1/rest-api-keys"),
        json={"name": "privacy", "permissions": ["users.track", "users.export.ids", "users.delete", "users.alias.new"]},
        headers=service.headers,
        timeout=10,
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    bearer = {"Authorization": f"Bearer {key}"}
    planted = {
        "profile_email": "Zoë.Profile-4417@Example.org",
        "profile_phone": "+1 415 555 0147",
        "profile_name": "Przemysława",
        "profile_attribute": "loyalty-tier-ultraviolet",
        "profile_nested": "nested-secret-garden",
        "profile_alias": "alias-cookie-8842",
        "event_property": "coupon-code-SPRING-77",
        "purchase_property": "gift-note-happy-birthday",
    }
    body = {
        "attributes": [
            {
                "external_id": "privacy-1",
                "email": planted["profile_email"],
                "phone": planted["profile_phone"],
                "first_name": planted["profile_name"],
                "tier": planted["profile_attribute"],
                "tags": {"add": [planted["profile_attribute"] + "-array"]},
                "home": {"garden": planted["profile_nested"]},
            },
            {"first_name": planted["profile_name"], "email_subscribe": planted["profile_attribute"]},  # refused
        ],
        "events": [
            {
                "external_id": "privacy-1",
                "name": "checkout",
                "time": "2026-12-01",
                "properties": {"code": planted["event_property"]},
            }
        ],
        "purchases": [
            {
                "external_id": "privacy-1",
                "product_id": "sku",
                "currency": "USD",
                "price": 1,
                "time": "2026-12-01",
                "properties": {"note": planted["purchase_property"]},
            }
        ],
    }
    for path, payload in (
        ("/users/track", body),
        (
            "/users/alias/new",
            {
                "user_aliases": [
                    {"external_id": "privacy-1", "alias_label": "cookie", "alias_name": planted["profile_alias"]}
                ]
            },
        ),
        ("/users/track", {"attributes": [{"email": planted["profile_email"], "tier": planted["profile_attribute"]}]}),
        (
            "/users/track",
            '{"attributes": [{"external_id": "x", "first_name": "NAME", "first_name": "NAME"}]}'.replace(
                "NAME", planted["profile_name"]
            ),
        ),
    ):
        data = payload if isinstance(payload, str) else json.dumps(payload)
        assert requests.post(service.url(path), data=data, headers=bearer, timeout=10).status_code in (201, 400)

    def exported() -> bool:
        reply = requests.post(
            service.url("/users/export/ids"), json={"external_ids": ["privacy-1"]}, headers=bearer, timeout=10
        )
        users = reply.json()["users"]
        return bool(users) and users[0].get("user_aliases") is not None

    wait_for(exported, 30, "the profile written")
    assert (
        requests.post(
            service.url("/users/delete"), json={"external_ids": ["privacy-1"]}, headers=bearer, timeout=10
        ).status_code
        == 202
    )
    return {**{kind: [value] for kind, value in planted.items()}, "rest_api_key": [key]}


def test_logs_and_metrics_carry_no_personal_data_or_secret(
    tmp_path: Path, sandbox: tuple[LinkedInSandbox, str]
) -> None:
    app, linkedin = sandbox
    env = {
        "LINKEDIN_API_URL": f"{linkedin}/rest",
        "LINKEDIN_OAUTH_URL": f"{linkedin}/oauth/v2",
        "LINKEDIN_CLIENT_SECRET": CLIENT_SECRET,
        "WEBHOOK_SIGNING_SECRET": SIGNING_SECRET,
        "LOG_LEVEL": "DEBUG",
        "POWERTOOLS_METRICS_DISABLED": "false",  # the EMF blobs and their dimensions are in the log too
        "TIME_SCALE": "600",
    }
    people = _people("alpha", 40) + _people("beta", 10)
    with local_service(tmp_path, **env) as service:
        oauth_values = _connect(service)
        configure_and_launch(
            service,
            "consented",
            entry_filters=[{"attribute": "ad_tracking_enabled", "op": "eq", "value": True}],
        )
        _fault(linkedin, status=429, path_contains="/users", count=1)
        _fault(linkedin, status=500, path_contains="/users", count=1)
        accepted = post_users(service, "consented", {"users": people[:40], "idempotency_key": "first"})
        assert accepted.status_code == 202, accepted.text
        correlation_id = accepted.headers["X-Correlation-Id"]
        # settled before another webhook is sent: the two faults are then sure to meet this webhook's request
        _settled(service, "consented", _consented(people[:40]))
        # refused: unsigned, and signed with another secret (their refusals are logged)
        assert post_users(service, "consented", {"users": people[40:41]}, signed=False).status_code == 401
        forged = sign("not-the-secret", "consented", json.dumps({"users": people[40:41]}), int(time.time()))
        refused = requests.post(
            service.url("/v1/steps/consented/users"),
            data=json.dumps({"users": people[40:41]}),
            headers={**service.headers, "X-Signature": forged, "Content-Type": "application/json"},
            timeout=30,
        )
        assert refused.status_code == 401
        SENT_SIGNATURES.append(forged.split("v1=")[1])
        # bad input that quotes a real email in the wrong place, and an address that cannot be synced
        malformed = post_users(service, "consented", {"users": [{"external_id": 7, "email": people[40]["email"]}]})
        assert malformed.status_code == 400
        unsyncable = [{**p, "email": p["email"].replace("@", " at ")} for p in people[41:45]]
        assert post_users(service, "consented", {"users": unsyncable}).status_code == 202
        _settled(service, "consented", _consented(people[:40] + unsyncable))

        # an expired access token (refreshed), then a revoked grant (invalid_token) and a reconnect
        assert requests.post(f"{linkedin}/_sandbox/tokens/expire", timeout=10).status_code == 200
        assert post_users(service, "consented", {"users": people[45:47]}).status_code == 202
        _settled(service, "consented", _consented(people[:40] + unsyncable + people[45:47]))
        assert requests.post(f"{linkedin}/_sandbox/tokens/revoke", timeout=10).status_code == 200
        assert post_users(service, "consented", {"users": people[47:50]}).status_code == 202
        wait_for(
            lambda: (
                requests.get(service.url("/v1/connections/linkedin"), headers=service.headers, timeout=10).json()[
                    "status"
                ]
                == "invalid_token"
            ),
            30,
            "invalid_token",
        )
        oauth_values += _connect(service)
        _settled(service, "consented", _consented(people[:40] + unsyncable + people[45:50]))
        profile_values = _profiles(service)

    log = service.log()  # read once local mode has stopped and flushed everything it printed
    with app.state.lock:
        tokens = {t.token for t in app.state.oauth.access.values()} | set(app.state.oauth.refresh)
    sensitive = {
        "email": [p["email"] for p in people] + [u["email"] for u in unsyncable],
        "first_name": [p["first_name"] for p in people],
        "last_name": [p["last_name"] for p in people],
        "android_gaid": [p["android_gaid"] for p in people],
        "token": sorted(tokens),
        "oauth_code_or_state": oauth_values,
        "client_secret": [CLIENT_SECRET],
        "webhook_signing_secret": [SIGNING_SECRET],
        "webhook_signature": SENT_SIGNATURES,
        **profile_values,
    }
    assert len(tokens) >= 4  # first grant, its refresh, the reconnect: the scan has tokens to look for
    assert len(SENT_SIGNATURES) >= 6
    leaks = find_leaks(log, sensitive)
    assert not leaks, "\n".join(f"{leak.kind} on line {leak.line_number}: {leak.line}" for leak in leaks[:20])

    # The scan looked at real output: the handlers' JSON lines and metric blobs are in it.
    handler_lines = [line for line in log.splitlines() if line.startswith("{")]
    records = [json.loads(line) for line in handler_lines]
    # The API key too, in what the handlers log (local mode's banner shows it to its user on purpose).
    assert not find_leaks("\n".join(handler_lines), {"api_key": [API_KEY]})
    emf = [r for r in records if "_aws" in r]
    assert {"Entered", "Synced", "LinkedInRequests", "DataPoints", "ProfileOperationsApplied"} <= {
        m["Name"] for r in emf for m in r["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    }
    dimensions = sorted(
        {f"{k}={r[k]}" for r in emf for d in r["_aws"]["CloudWatchMetrics"][0]["Dimensions"] for k in d}
    )
    assert any(d.startswith("step=") for d in dimensions) and not find_leaks("\n".join(dimensions), sensitive)
    # ... and the webhook's correlation id is on the log line of the LinkedIn request that sent its users.
    linkedin_requests = [r for r in records if r.get("message") == "LinkedIn request"]
    assert any(correlation_id in r.get("correlation_ids", []) for r in linkedin_requests), linkedin_requests[:3]
    # the retry too (LinkedIn answered 429 then 500 to the first requests): its request names the same webhook
    retried = [r for r in linkedin_requests if r.get("attempt", 0) >= 1 and r.get("function_name") == "RetryFunction"]
    assert any(correlation_id in r.get("correlation_ids", []) for r in retried), retried[:3]
