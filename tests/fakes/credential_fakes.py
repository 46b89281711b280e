"""In-memory credential store and request counter, recording what they are asked."""

from __future__ import annotations

from dataclasses import dataclass, field

from audience_sync.credentials.models import StoredKey


@dataclass
class FakeCredentialStore:
    keys: dict[tuple[str, str], StoredKey] = field(default_factory=dict)
    reads: int = 0

    def put(self, key: StoredKey) -> None:
        self.keys[(key.kind, key.id)] = key

    def get(self, kind: str, key_id: str) -> StoredKey | None:
        self.reads += 1
        return self.keys.get((kind, key_id))

    def list(self, kind: str) -> list[StoredKey]:
        return [k for (kk, _), k in self.keys.items() if kk == kind]

    def delete(self, kind: str, key_id: str) -> bool:
        return self.keys.pop((kind, key_id), None) is not None


@dataclass
class FakeRequestCounter:
    counts: dict[str, int] = field(default_factory=dict)
    expiries: dict[str, int] = field(default_factory=dict)

    def increment(self, counter: str, expires_at_s: int) -> int:
        self.counts[counter] = self.counts.get(counter, 0) + 1
        self.expiries.setdefault(counter, expires_at_s)
        return self.counts[counter]
