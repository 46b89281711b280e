"""oauth_state.py: the signed, expiring OAuth state; anything wrong is InvalidState."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from audience_sync.connections.oauth_state import InvalidState, new_nonce, sign_state, verify_state

KEY = b"k" * 32
NOW = 1_790_000_000


def test_round_trip() -> None:
    nonce = new_nonce()
    state = sign_state(KEY, nonce, NOW + 600)
    assert verify_state(KEY, state, NOW) == nonce
    assert new_nonce() != nonce


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_tampered_payload() -> None:
    state = sign_state(KEY, "n1", NOW + 600)
    _, signature = state.split(".")
    forged = _b64(json.dumps({"n": "n1", "e": NOW + 10**9}, separators=(",", ":")).encode())
    with pytest.raises(InvalidState):
        verify_state(KEY, f"{forged}.{signature}", NOW)


def test_tampered_signature() -> None:
    state = sign_state(KEY, "n1", NOW + 600)
    payload, signature = state.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    with pytest.raises(InvalidState):
        verify_state(KEY, f"{payload}.{flipped}", NOW)


def test_expired() -> None:
    state = sign_state(KEY, "n1", NOW + 600)
    assert verify_state(KEY, state, NOW + 599) == "n1"
    with pytest.raises(InvalidState, match="expired"):
        verify_state(KEY, state, NOW + 600)


def test_wrong_key() -> None:
    with pytest.raises(InvalidState):
        verify_state(b"other-key", sign_state(KEY, "n1", NOW + 600), NOW)


@pytest.mark.parametrize(
    "garbage",
    ["", ".", "..", "abc", "abc.def", "a.b.c", "é.é", "abc.é", "%%%.***", "\x00.\x00", "x" * 5000],
)
def test_garbage_is_invalid_state(garbage: str) -> None:
    with pytest.raises(InvalidState):
        verify_state(KEY, garbage, NOW)


@pytest.mark.parametrize(
    "claims", [b"not json", b"[1,2]", b'{"n":"x"}', b'{"e":1}', b'{"n":"x","e":"soon"}', b"\xff\xfe"]
)
def test_signed_but_malformed_claims_are_invalid_state(claims: bytes) -> None:
    payload = _b64(claims)
    signature = _b64(hmac.new(KEY, payload.encode(), hashlib.sha256).digest())
    with pytest.raises(InvalidState):
        verify_state(KEY, f"{payload}.{signature}", NOW)
