"""What the connections package needs from storage: the connection's record and OAuth states (a table), and a
key to encrypt tokens with. Adapters: adapters/aws/connections_table.py (DynamoDB) and adapters/aws/kms.py."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from audience_sync.destinations.base import Account


@dataclass(frozen=True)
class ConnectionRecord:
    """A stored connection. The tokens are only ever held encrypted here (`token_ciphertext`)."""

    status: str  # connected | invalid_token
    version: int  # bumped by every token write: refreshes are serialised on it
    token_ciphertext: bytes | None = field(default=None, repr=False)
    ad_accounts: tuple[Account, ...] = ()
    scope: str = ""
    connected_at: int | None = None  # epoch seconds
    access_expires_at: int | None = None
    refresh_expires_at: int | None = None
    error: str | None = None  # why the connection is invalid_token

    def __repr__(self) -> str:  # never the ciphertext either
        return f"ConnectionRecord(status={self.status!r}, version={self.version})"


@dataclass(frozen=True)
class TokenWrite:
    """A new access token (and maybe refresh token), encrypted, and what the view shows about it."""

    token_ciphertext: bytes = field(repr=False)
    access_expires_at: int
    scope: str
    refresh_expires_at: int | None
    ad_accounts: tuple[Account, ...] | None = None  # None: keep the stored ones (a refresh)


class ConnectionStore(Protocol):
    """One connection's record and the OAuth states of its authorizations in flight."""

    def get(self) -> ConnectionRecord | None:
        """The record, read consistently; None when never connected or disconnected."""
        ...

    def write_tokens(self, write: TokenWrite, now: int, expected_version: int | None = None) -> int | None:
        """Store the tokens (status `connected`, error cleared); the new version, or None when `expected_version`
        is given and another writer moved the version first (nothing written)."""
        ...

    def mark_invalid(self, reason: str, now: int) -> bool:
        """Set status `invalid_token` with `reason`; False when the record is gone or was invalid already."""
        ...

    def delete(self) -> None: ...

    def put_state(self, nonce: str, redirect_uri: str, expires_at: int) -> None: ...

    def take_state(self, nonce: str, now: int) -> str | None:
        """Consume a state's nonce: its redirect URI, or None when unknown, used already or expired."""
        ...


class TokenCipher(Protocol):
    def encrypt(self, plaintext: bytes, context: Mapping[str, str]) -> bytes: ...

    def decrypt(self, ciphertext: bytes, context: Mapping[str, str]) -> bytes: ...
