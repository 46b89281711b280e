"""Managing and checking keys: the management API creates, lists and revokes them; the Braze-compatible API and the
cohort import check them on every request.

A checked REST API key is remembered by the function instance for at most CACHE_SECONDS, so a revoked key is refused
everywhere within 5 s (contract v2 §1) while a busy key costs one read per instance every few seconds. Unknown keys
are not remembered: a key created a moment ago works at once.
"""

from __future__ import annotations

import datetime as dt

from audience_sync.core.clock import Clock
from audience_sync.core.errors import Forbidden, NotFound, Unauthorized
from audience_sync.credentials import secrets
from audience_sync.credentials.models import DATA_IMPORT_KEY, REST_API_KEY, NewApiKey, NewImportKey, StoredKey
from audience_sync.credentials.ports import CredentialStore

CACHE_SECONDS = 4.0
# Braze's messages (their API error docs and what clients' tests capture).
INVALID_KEY = "Invalid API Key"
ACCESS_DENIED = "Access Denied"
INVALID_SECRET = "Invalid client secret"  # noqa: S105 - a message, not a secret


class Credentials:
    def __init__(self, store: CredentialStore, clock: Clock):
        self.store = store
        self.clock = clock
        self._checked: dict[str, tuple[int, StoredKey]] = {}

    def _now(self) -> str:
        return dt.datetime.fromtimestamp(self.clock.now_ms() / 1000, dt.UTC).isoformat(timespec="seconds")

    # ---- management ---------------------------------------------------------------------------------------
    def create_api_key(self, request: NewApiKey) -> dict[str, object]:
        key_id, key = secrets.new_key()
        stored = StoredKey(
            kind=REST_API_KEY,
            id=key_id,
            key_hash=secrets.key_hash(key),
            created_at=self._now(),
            name=request.name,
            permissions=tuple(dict.fromkeys(request.permissions)),
            rate_limit_per_minute=request.rate_limit_per_minute,
        )
        self.store.put(stored)
        return {**stored.view(), "key": key}  # the only time the key is shown

    def create_import_key(self, request: NewImportKey) -> dict[str, object]:
        key_id, secret = secrets.new_key()
        stored = StoredKey(
            kind=DATA_IMPORT_KEY,
            id=key_id,
            key_hash=secrets.key_hash(secret),
            created_at=self._now(),
            partner=request.partner,
        )
        self.store.put(stored)
        return {**stored.view(), "client_secret": secret}

    def list(self, kind: str) -> list[dict[str, object]]:
        return [k.view() for k in sorted(self.store.list(kind), key=lambda k: (k.created_at, k.id))]

    def revoke(self, kind: str, key_id: str) -> None:
        if not self.store.delete(kind, key_id):
            raise NotFound("key")

    # ---- checking -----------------------------------------------------------------------------------------
    def api_key(self, authorization: str | None) -> StoredKey:
        """The REST API key of an `Authorization: Bearer <key>` header; Unauthorized if missing, unknown or
        revoked."""
        scheme, _, key = (authorization or "").strip().partition(" ")
        key = key.strip()
        key_id = secrets.id_of(key) if scheme.lower() == "bearer" else None
        if key_id is None:
            raise Unauthorized("invalid_api_key", INVALID_KEY)
        now = self.clock.now_ms()
        cached = self._checked.get(key_id)
        if cached is not None and cached[0] > now and secrets.matches(key, cached[1].key_hash):
            return cached[1]
        stored = self.store.get(REST_API_KEY, key_id)
        if stored is None or not secrets.matches(key, stored.key_hash):
            self._checked.pop(key_id, None)
            raise Unauthorized("invalid_api_key", INVALID_KEY)
        self._checked[key_id] = (now + int(CACHE_SECONDS * 1000), stored)
        return stored

    @staticmethod
    def require(key: StoredKey, permission: str) -> None:
        if permission not in key.permissions:
            raise Forbidden("access_denied", ACCESS_DENIED, [{"permission": permission}])

    def import_key(self, partner: str, client_secret: object) -> StoredKey:
        """The data import key of `partner` whose secret this is; Unauthorized otherwise."""
        key_id = secrets.id_of(client_secret) if isinstance(client_secret, str) else None
        stored = self.store.get(DATA_IMPORT_KEY, key_id) if key_id else None
        if stored is None or stored.partner != partner or not secrets.matches(str(client_secret), stored.key_hash):
            raise Unauthorized("invalid_client_secret", INVALID_SECRET)
        return stored
