"""What credentials need from storage. Adapters: adapters/aws/credentials_table.py, adapters/aws/request_counter.py."""

from __future__ import annotations

from typing import Protocol

from audience_sync.credentials.models import StoredKey


class CredentialStore(Protocol):
    def put(self, key: StoredKey) -> None: ...

    def get(self, kind: str, key_id: str) -> StoredKey | None:
        """Strongly consistent: a key created a moment ago is found, a revoked one is not."""
        ...

    def list(self, kind: str) -> list[StoredKey]: ...

    def delete(self, kind: str, key_id: str) -> bool:
        """True if the key existed."""
        ...


class RequestCounter(Protocol):
    def increment(self, counter: str, expires_at_s: int) -> int:
        """Add one to `counter` (created at 0, removed after `expires_at_s`) and return its new value."""
        ...
