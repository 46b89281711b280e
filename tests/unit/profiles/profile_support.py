"""Requests planned as the API plans them and queued messages as the writer receives them, for the writer tests."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from audience_sync.profiles import operations, requests, track
from audience_sync.profiles.operations import Queued
from audience_sync.profiles.reader import ProfileReader
from audience_sync.profiles.writer import Message, ProfileWriter
from tests.fakes.profile_fakes import FakeProfileStore
from tests.fakes.sync_fakes import FakeClock

NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)
GROUPS = 4
_ids = itertools.count(1)


def track_ops(body: dict[str, Any], max_array: int = 25) -> list[Queued]:
    return track.plan(body, max_array, NOW).operations


def as_messages(queued: list[Queued], groups: int = GROUPS) -> list[Message]:
    """One queued request as the writer gets it: one SQS message per group, each with its own id."""
    return [Message(f"m{next(_ids)}", m.group, operations.read(m.body)) for m in operations.messages(queued, groups)]


def tracked(**arrays: list[dict[str, Any]]) -> list[Message]:
    return as_messages(track_ops(arrays))


def aliased(*aliases: dict[str, Any]) -> list[Message]:
    return as_messages(requests.plan_aliases({"user_aliases": list(aliases)}))


def identified(external_id: str, label: str, name: str, merge: str = "merge") -> list[Message]:
    body = {
        "aliases_to_identify": [{"external_id": external_id, "user_alias": {"alias_label": label, "alias_name": name}}],
        "merge_behavior": merge,
    }
    return as_messages(requests.plan_identify(body))


def merged(keep: dict[str, Any], merge: dict[str, Any]) -> list[Message]:
    return as_messages(
        requests.plan_merges({"merge_updates": [{"identifier_to_keep": keep, "identifier_to_merge": merge}]})
    )


def deleted(**identifiers: list[Any]) -> list[Message]:
    return as_messages(requests.plan_deletes(identifiers))


class World:
    """A writer on a fake store, and the reader that exports what it wrote."""

    def __init__(self, max_array: int = 25, concurrency: int = 1):
        self.store = FakeProfileStore()
        self.clock = FakeClock(int(NOW.timestamp() * 1000))
        self.writer = ProfileWriter(self.store, self.clock, max_array, concurrency)
        self.reader = ProfileReader(self.store)

    def write(self, *batches: list[Message]) -> None:
        for batch in batches:
            self.writer.write(batch)

    def user(self, external_id: str | None = None, alias: tuple[str, str] | None = None) -> dict[str, Any] | None:
        body: dict[str, Any] = (
            {"external_ids": [external_id]}
            if external_id is not None
            else {"user_aliases": [{"alias_label": alias[0], "alias_name": alias[1]}] if alias else []}
        )
        answer = self.reader.export(requests.export_identities(body), None)
        return answer["users"][0] if answer["users"] else None
