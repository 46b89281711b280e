"""Keys as secrets: made here, shown once, kept only as SHA-256. Pure but for the random source.

A key is `<id>.<secret>`: the id finds the stored hash with one read, the secret (256 random bits) is what proves
it. SHA-256 rather than a slow password hash (bcrypt, argon2): those protect guessable passwords, and a 256-bit
random secret cannot be guessed however fast the hash is; a fast hash keeps every request's check at microseconds.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid


def new_key() -> tuple[str, str]:
    """(id, key)."""
    key_id = uuid.uuid4().hex
    return key_id, f"{key_id}.{secrets.token_urlsafe(32)}"


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def id_of(key: str) -> str | None:
    """The id part of a presented key, or None if it cannot be one of ours."""
    key_id, dot, secret = key.partition(".")
    if not dot or len(key_id) != 32 or not secret or len(key) > 256:
        return None
    return key_id


def matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(key_hash(key), stored_hash)
