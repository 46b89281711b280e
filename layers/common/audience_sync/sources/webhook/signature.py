"""Signed webhooks: an HMAC of the raw body with a shared secret, a timestamp, and each signature accepted once.

    X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<step_id>.<raw body>")>[,v1=<another>]

Like Stripe's scheme, plus the step id, so a body signed for one step cannot be posted to another (step ids never
hold "{" and a body is a JSON object, so the signed string reads one way only). Several v1 values are allowed, and
the service may hold several secrets: either side can rotate. Checked on the raw event, before the body is parsed
and before anything is written; a signature is then claimed (registry) so a replay within the tolerance is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from audience_sync.core.clock import Clock
from audience_sync.core.errors import Conflict, Unauthorized

SIGNATURE_HEADER = "X-Signature"
TOLERANCE_SECONDS = 300
# A header is a timestamp and a few signatures; anything longer is not one we made (and is not worth hashing for).
MAX_HEADER_CHARS = 1024
MAX_SIGNATURES = 8
_HEX_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")


class InvalidSignature(Unauthorized):
    def __init__(self, message: str):
        super().__init__("invalid_signature", message)


class StaleSignature(Unauthorized):
    def __init__(self, timestamp: int, now: int):
        super().__init__(
            "stale_signature",
            f"the signature's timestamp is {abs(now - timestamp)} s from the server's clock; at most "
            f"{TOLERANCE_SECONDS} s is accepted: sign each request when it is sent",
        )


class ReplayedSignature(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "replayed_signature", "this signature was already used; sign the request again to send it again"
        )


def _bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def signed_payload(timestamp: int, step_id: str, body: bytes) -> bytes:
    return f"{timestamp}.{step_id}.".encode() + body


def signature(secret: str | bytes, timestamp: int, step_id: str, body: str | bytes) -> str:
    return hmac.new(_bytes(secret), signed_payload(timestamp, step_id, _bytes(body)), hashlib.sha256).hexdigest()


def sign(secrets: str | bytes | Sequence[str | bytes], step_id: str, body: str | bytes, timestamp: int) -> str:
    """The X-Signature header value for a webhook `body` (the exact bytes sent) posted to step `step_id`.

    `timestamp` is the current time in unix seconds; give several secrets while a rotation is under way."""
    keys = [secrets] if isinstance(secrets, str | bytes) else list(secrets)
    return ",".join([f"t={timestamp}", *(f"v1={signature(key, timestamp, step_id, body)}" for key in keys)])


@dataclass(frozen=True)
class ParsedHeader:
    timestamp: int
    signatures: tuple[str, ...]


def parse_header(value: str | None) -> ParsedHeader:
    """The timestamp and v1 signatures of a header; unknown schemes (v0=, ...) are ignored."""
    if not value:
        raise InvalidSignature(f"the {SIGNATURE_HEADER} header is missing")
    if len(value) > MAX_HEADER_CHARS:
        raise InvalidSignature(f"the {SIGNATURE_HEADER} header is longer than {MAX_HEADER_CHARS} characters")
    timestamps: list[str] = []
    signatures: list[str] = []
    for part in value.split(","):
        key, separator, item = part.strip().partition("=")
        if not separator:
            raise InvalidSignature(f"the {SIGNATURE_HEADER} header is not t=<unix seconds>,v1=<hex HMAC-SHA256>")
        if key == "t":
            timestamps.append(item)
        elif key == "v1":
            signatures.append(item)
    if len(timestamps) != 1 or not _TIMESTAMP.match(timestamps[0]):
        raise InvalidSignature(f"the {SIGNATURE_HEADER} header needs exactly one t=<unix seconds>")
    if not signatures or len(signatures) > MAX_SIGNATURES or not all(_HEX_SHA256.match(s) for s in signatures):
        raise InvalidSignature(
            f"the {SIGNATURE_HEADER} header needs 1 to {MAX_SIGNATURES} v1=<64 lowercase hex digits> values"
        )
    return ParsedHeader(int(timestamps[0]), tuple(signatures))


def verify(secrets: Sequence[bytes], header: str | None, step_id: str, body: bytes, now: int) -> ParsedHeader:
    """The header, if one of its signatures is one of the secrets' for this step and body, and its timestamp is
    within the tolerance of `now`; raises InvalidSignature or StaleSignature otherwise."""
    parsed = parse_header(header)
    expected = [signature(key, parsed.timestamp, step_id, body) for key in secrets]
    # Every pair is compared, in constant time: no early exit tells which secret or signature came close.
    matches = [hmac.compare_digest(e, s) for e in expected for s in parsed.signatures]
    if not any(matches):
        raise InvalidSignature("the signature does not match the body")
    if abs(now - parsed.timestamp) > TOLERANCE_SECONDS:
        raise StaleSignature(parsed.timestamp, now)
    return parsed


class SignatureRegistry(Protocol):
    def claim(self, key: str, expires_at: int, now: int) -> bool:
        """Record `key` until `expires_at`; False when it is already recorded and not expired."""
        ...

    def release(self, key: str, now: int) -> None:
        """Forget `key`, so the same signed request may be sent again."""
        ...


@dataclass(frozen=True)
class Admission:
    """A signed request let in; `release` it when the service failed it, so the client may send it again."""

    key: str
    registry: SignatureRegistry
    clock: Clock

    def release(self) -> None:
        self.registry.release(self.key, self.clock.now_ms() // 1000)


def _header(event: dict[str, Any], name: str) -> str | None:
    """One header, whatever its case; several values are not a signature we made."""
    wanted = name.lower()
    multi = [v for k, vs in (event.get("multiValueHeaders") or {}).items() if k.lower() == wanted for v in vs or []]
    if len(multi) > 1:
        raise InvalidSignature(f"the {name} header is sent more than once")
    values = [v for k, v in (event.get("headers") or {}).items() if k.lower() == wanted]
    return values[0] if values else None


def raw_body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidSignature("the body is not valid base64") from exc
    return str(body).encode("utf-8")


class WebhookSignatures:
    """Admits an API Gateway event of the webhook when it is signed with one of the secrets, fresh and unused."""

    def __init__(self, secrets: Callable[[], Sequence[bytes]], registry: SignatureRegistry, clock: Clock):
        self.secrets = secrets  # read per request: a rotated secret applies without a restart
        self.registry = registry
        self.clock = clock

    def admit(self, event: dict[str, Any]) -> Admission:
        step_id = str((event.get("pathParameters") or {}).get("step_id") or "")
        body = raw_body(event)
        now = self.clock.now_ms() // 1000
        parsed = verify(self.secrets(), _header(event, SIGNATURE_HEADER), step_id, body, now)
        # The signed content, not a signature: the same request signed with the old and the new secret is one.
        key = hashlib.sha256(signed_payload(parsed.timestamp, step_id, body)).hexdigest()
        if not self.registry.claim(key, parsed.timestamp + TOLERANCE_SECONDS, now):
            raise ReplayedSignature()
        return Admission(key, self.registry, self.clock)
