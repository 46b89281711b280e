"""webhook_signature.py: signing, verification, tolerance and replays, with a fake clock and registry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audience_sync.core.errors import DomainError
from audience_sync.http.errors import envelope, status_of
from audience_sync.sources.webhook.signature import (
    MAX_SIGNATURES,
    SIGNATURE_HEADER,
    TOLERANCE_SECONDS,
    InvalidSignature,
    ReplayedSignature,
    StaleSignature,
    WebhookSignatures,
    parse_header,
    sign,
    verify,
)
from tests.fakes.sync_fakes import FakeClock

SECRET = b"s" * 64
NOW = 1_800_000_000
BODY = json.dumps({"users": [{"external_id": "u1", "email": "a@example.com"}]}).encode()


class FakeRegistry:
    def __init__(self) -> None:
        self.items: dict[str, int] = {}

    def claim(self, key: str, expires_at: int, now: int) -> bool:
        if key in self.items and self.items[key] >= now:
            return False
        self.items[key] = expires_at
        return True

    def release(self, key: str, now: int) -> None:
        self.items[key] = now - 1


def event(body: bytes = BODY, header: str | None = None, step: str = "s1", **extra: Any) -> dict[str, Any]:
    headers = {SIGNATURE_HEADER: header} if header is not None else {}
    return {
        "body": body.decode(),
        "isBase64Encoded": False,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "pathParameters": {"step_id": step},
        **extra,
    }


def checker(registry: FakeRegistry | None = None, now: int = NOW, secrets: list[bytes] | None = None) -> Any:
    return WebhookSignatures(lambda: secrets or [SECRET], registry or FakeRegistry(), FakeClock(now * 1000))


def test_the_signature_is_an_hmac_of_timestamp_step_and_raw_body() -> None:
    header = sign(SECRET, "s1", BODY, NOW)
    expected = hmac.new(SECRET, f"{NOW}.s1.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={expected}"
    assert sign(SECRET.decode(), "s1", BODY.decode(), NOW) == header  # str or bytes alike
    assert verify([SECRET], header, "s1", BODY, NOW).timestamp == NOW


def test_a_signed_event_is_admitted_once() -> None:
    registry = FakeRegistry()
    check = checker(registry)
    signed = event(header=sign(SECRET, "s1", BODY, NOW))
    check.admit(signed)
    assert list(registry.items.values()) == [NOW + TOLERANCE_SECONDS]
    with pytest.raises(ReplayedSignature) as replay:
        check.admit(signed)
    assert (status_of(replay.value), replay.value.code) == (409, "replayed_signature")


def test_a_released_admission_may_be_sent_again() -> None:
    check = checker()
    signed = event(header=sign(SECRET, "s1", BODY, NOW))
    check.admit(signed).release()
    check.admit(signed)
    with pytest.raises(ReplayedSignature):
        check.admit(signed)


def test_the_same_request_signed_with_two_secrets_is_one_request() -> None:
    old, new = b"o" * 64, b"n" * 64
    registry = FakeRegistry()
    check = checker(registry, secrets=[new, old])
    check.admit(event(header=sign([new, old], "s1", BODY, NOW)))
    with pytest.raises(ReplayedSignature):
        check.admit(event(header=sign(old, "s1", BODY, NOW)))
    assert len(registry.items) == 1


@pytest.mark.parametrize(
    ("offset", "accepted"),
    [(0, True), (TOLERANCE_SECONDS, True), (-TOLERANCE_SECONDS, True), (TOLERANCE_SECONDS + 1, False), (-301, False)],
)
def test_the_timestamp_tolerance_is_inclusive(offset: int, accepted: bool) -> None:
    header = sign(SECRET, "s1", BODY, NOW + offset)
    if accepted:
        checker().admit(event(header=header))
    else:
        with pytest.raises(StaleSignature) as stale:
            checker().admit(event(header=header))
        assert (status_of(stale.value), stale.value.code) == (401, "stale_signature")


def test_a_stale_forgery_is_invalid_not_stale() -> None:
    # Only an authentic signature learns that its timestamp is the problem.
    with pytest.raises(InvalidSignature):
        checker().admit(event(header=sign(b"wrong", "s1", BODY, NOW - 3600)))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda e: {**e, "body": e["body"].replace("a@example.com", "b@example.com")},
        lambda e: {**e, "body": e["body"] + "\n"},
        lambda e: {**e, "pathParameters": {"step_id": "s2"}},
        lambda e: {**e, "pathParameters": None},
    ],
)
def test_tampered_events_are_invalid(tamper: Any) -> None:
    registry = FakeRegistry()
    with pytest.raises(InvalidSignature) as refused:
        checker(registry).admit(tamper(event(header=sign(SECRET, "s1", BODY, NOW))))
    assert (status_of(refused.value), refused.value.code) == (401, "invalid_signature")
    assert registry.items == {}  # nothing claimed for a refused request


def test_any_of_several_signatures_and_any_of_several_secrets_will_do() -> None:
    good = sign(SECRET, "s1", BODY, NOW).split(",")[1]
    other = sign(b"other", "s1", BODY, NOW).split(",")[1]
    checker().admit(event(header=f"t={NOW},{other},{good},v0=legacy"))
    checker(secrets=[b"other", SECRET]).admit(event(header=sign(SECRET, "s1", BODY, NOW)))
    with pytest.raises(InvalidSignature):
        checker(secrets=[b"x", b"y"]).admit(event(header=sign(SECRET, "s1", BODY, NOW)))


def test_headers_are_found_whatever_their_case_but_only_once() -> None:
    header = sign(SECRET, "s1", BODY, NOW)
    checker().admit({**event(), "headers": {"x-signature": header}, "multiValueHeaders": {"x-signature": [header]}})
    twice = {**event(header=header), "multiValueHeaders": {"X-Signature": [header, header]}}
    with pytest.raises(InvalidSignature, match="more than once"):
        checker().admit(twice)


def test_a_base64_body_is_verified_as_its_bytes() -> None:
    raw = b'{"users": []}\xff'  # not UTF-8: the gateway hands it over in base64
    signed = event(header=sign(SECRET, "s1", raw, NOW))
    checker().admit({**signed, "body": base64.b64encode(raw).decode(), "isBase64Encoded": True})
    with pytest.raises(InvalidSignature, match="base64"):
        checker().admit({**signed, "body": "***", "isBase64Encoded": True})


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "t=1",
        "v1=" + "0" * 64,
        "t=1,t=2,v1=" + "0" * 64,
        "t=-1,v1=" + "0" * 64,
        "t=1.5,v1=" + "0" * 64,
        "t=1,v1=" + "0" * 63,
        "t=1,v1=" + "G" * 64,
        "t=1,v1=" + "A" * 64,
        "t=1,v1",
        "t=1," + ",".join(["v1=" + "0" * 64] * (MAX_SIGNATURES + 1)),
        "t=1,v1=" + "0" * 64 + ",x=" + "y" * 1024,
    ],
)
def test_malformed_headers_are_invalid(header: str | None) -> None:
    with pytest.raises(InvalidSignature):
        parse_header(header)


@settings(max_examples=300, derandomize=True, database=None)
@given(st.text(max_size=300) | st.from_regex(r"t=[0-9]{1,12}(,v1=[0-9a-f]{64}){0,9}(,[a-z0-9]{1,3}=[^,]{0,20})*"))
def test_any_header_text_is_parsed_or_refused_never_crashes(header: str) -> None:
    try:
        parsed = parse_header(header)
    except DomainError as refused:
        assert (status_of(refused), refused.code) == (401, "invalid_signature")
    else:
        assert 1 <= len(parsed.signatures) <= MAX_SIGNATURES
    with pytest.raises(DomainError):
        checker().admit(event(header=header))


def test_messages_never_quote_the_header_or_a_signature() -> None:
    header = sign(b"wrong", "s1", BODY, NOW)
    with pytest.raises(InvalidSignature) as refused:
        checker().admit(event(header=header))
    assert header.split("v1=")[1] not in json.dumps(envelope(refused.value))
