"""OAuth `state`: HMAC-signed, expiring, and single use (a nonce stored until the callback consumes it)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

STATE_TTL_SECONDS = 600


class InvalidState(Exception):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def sign_state(key: bytes, nonce: str, expires_at: int) -> str:
    payload = _b64(json.dumps({"n": nonce, "e": expires_at}, separators=(",", ":")).encode())
    signature = _b64(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())
    return f"{payload}.{signature}"


def verify_state(key: bytes, state: str, now: int) -> str:
    """The nonce inside a state we signed that has not expired; raises InvalidState otherwise."""
    try:
        payload, signature = state.split(".", 1)
        expected = _b64(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, signature):
            raise InvalidState("bad signature")
        claims = json.loads(_unb64(payload))
        nonce, expires_at = str(claims["n"]), int(claims["e"])
    except InvalidState:
        raise
    except (ValueError, KeyError, TypeError, UnicodeError) as exc:
        raise InvalidState("malformed state") from exc
    if now >= expires_at:
        raise InvalidState("state expired")
    return nonce
