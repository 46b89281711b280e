"""What profiles need from storage and queues, as typed ports. Adapters: adapters/aws/profiles_table.py (DynamoDB),
adapters/aws/profile_queue.py (SQS FIFO)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from audience_sync.core.errors import Unavailable
from audience_sync.profiles.operations import GroupMessage

Key = tuple[str, str]  # (pk, sk)


@dataclass
class Item:
    """One stored item: a profile, a pointer to one, or the summary of one event name or product.

    `version` is 0 for an item not stored yet; a write succeeds only if the stored version is still the one read
    (optimistic locking). `tokens` holds, per FIFO group, the last messages whose operations this item contains
    (profiles/writer.py explains why that makes redelivery harmless)."""

    pk: str
    sk: str
    doc: dict[str, Any]
    version: int = 0
    tokens: dict[str, list[str]] = field(default_factory=dict)

    @property
    def key(self) -> Key:
        return (self.pk, self.sk)


class WriteConflict(Exception):
    """The item changed since it was read (another writer got there first)."""


class ProfileStore(Protocol):
    def get(self, keys: Sequence[Key]) -> dict[Key, Item]:
        """The items stored under `keys` (strongly consistent); a missing key is absent from the answer."""
        ...

    def items_of(self, pk: str) -> list[Item]:
        """Every item under one partition key: a profile and its events and purchases (strongly consistent)."""
        ...

    def put(self, item: Item) -> None:
        """Store `item` if its stored version is still `item.version` (absent when 0), then bump `item.version`;
        WriteConflict otherwise."""
        ...

    def put_pointer(self, item: Item) -> None:
        """Store a pointer whatever is there (its content is a function of the message that writes it)."""
        ...

    def delete(self, key: Key) -> None:
        """Remove the item if present."""
        ...


class ProfileQueue(Protocol):
    def send(self, messages: Sequence[GroupMessage], request_id: str) -> None:
        """Queue every message in its FIFO group, in order; raises QueueUnavailable if any is refused after retries
        (messages already queued stay queued: their deduplication ids make a retry of the same call harmless)."""
        ...


class QueueUnavailable(Unavailable):
    def __init__(self) -> None:
        super().__init__("queue_unavailable", "the request could not be queued; send it again")


class MembershipSession(Protocol):
    """Segment memberships as one writer batch keeps them on its profiles (segments/memberships.py implements it:
    the segments read profiles, so profiles know them only through this port). Transitions are opaque here."""

    @property
    def active(self) -> bool:
        """False when no segment is defined: nothing to evaluate."""
        ...

    def reads(self, operation: dict[str, Any]) -> set[str] | None:
        """What an operation may change, in the segments' terms; None: anything (a new or merged profile)."""
        ...

    def note(self, profile: Item, changed: set[str] | None, now: dt.datetime) -> None:
        """The profile as it is before an operation that may change `changed` (what the steps' consent watches
        compare the profile after the batch with)."""
        ...

    def evaluate(
        self,
        profile: Item,
        changed: set[str] | None,
        events: Mapping[str, Mapping[str, Any]],
        purchases: Mapping[str, Mapping[str, Any]],
        now: dt.datetime,
        token: str,
    ) -> list[Any]:
        """Re-evaluate the segments that read what changed; record the changes in the profile's document (written
        next) under the message token; the transitions to publish after."""
        ...

    def recorded(self, profile: Item, token: str) -> list[Any]:
        """The transitions a message recorded on a stored profile before (its redelivery publishes them again)."""
        ...

    def exits(self, profile: Item, now: dt.datetime, deleted: bool = False) -> list[Any]:
        """Every membership of a profile about to be deleted or merged away; `deleted`: the user is gone (not
        merged into another), which the steps that took it from webhooks are told too."""
        ...

    def publish(self, transitions: Sequence[Any]) -> None:
        """Hand transitions on, at least once; raises if it cannot (the batch is delivered again)."""
        ...

    def keep(self, evaluated: dict[str, Any], rebuilt: dict[str, Any]) -> None:
        """Carry the memberships of a document over to its rebuilt version (profiles/writer.py, _shrink)."""
        ...


class Memberships(Protocol):
    def session(self) -> MembershipSession:
        """The definitions as of now, for one batch."""
        ...
