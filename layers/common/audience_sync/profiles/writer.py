"""The profile writer: applies queued profile operations in the order they were queued, each exactly once.

Guarantees
- **Order.** Operations reach the writer through one SQS FIFO queue; every operation naming an identity key is in
  that key's message group (profiles/identity.py), and a group's messages are applied one batch at a time, in order.
  So two writes naming a user the same way are applied in the order they were accepted. Writes naming one user in
  two ways (an external id, then an alias) are each ordered with their own kind (docs/profiles.md, "Order").
- **Exactly once.** Each stored item (a profile, an event's or a product's summary) records, per group, the tokens
  of the last MAX_TOKENS messages whose operations it holds, in the same write as the change. An operation whose
  message token an item already holds is not applied to it again. FIFO redelivers only messages not yet deleted,
  at most a batch (10) per group, all later than any message deleted: MAX_TOKENS covers them.
- **Concurrency.** A write succeeds only if the item is still at the version read; when another writer got there
  first the whole batch is read and applied again (items written meanwhile carry the tokens, so nothing doubles),
  up to ATTEMPTS times, then the batch fails and SQS delivers it again.

Segments: every profile a batch changed is evaluated against the segments that read what changed
(segments/index.py), and its memberships are written in the same write as the change (segments/membership.py). The
transitions are published (MembershipSink) once that write is done; the profile keeps them under the message's
token, so a message redelivered after a crash between the write and the publication publishes them again. A
profile deleted or merged away publishes its exits before anything of it is removed.

Crash midway: items are written in an order where every prefix is harmless. A new profile's pointers (its braze_id,
alias, email) are written before the profile, and a new profile's braze_id is derived from the message and the
identity, so a redelivered message creates the same profile and rewrites the same pointers. A merge writes the
kept profile and its summaries, then moves the pointers, then deletes the merged profile. A delete removes the
summaries, then the profile, then the pointers (a pointer to a missing profile means nothing).
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from audience_sync.core.clock import Clock
from audience_sync.profiles import activity, attributes, document
from audience_sync.profiles.document import PROFILE, event_sk, home_pk, new_profile, purchase_sk
from audience_sync.profiles.identity import (
    alias_key,
    alias_of_key,
    braze_id_key,
    email_key,
    new_braze_id,
    phone_key,
)
from audience_sync.profiles.ports import Item, Key, Memberships, MembershipSession, ProfileStore, WriteConflict
from audience_sync.profiles.values import format_time

MAX_TOKENS = 10
ATTEMPTS = 5
STRUCTURAL = ("alias", "identify", "merge", "delete")


@dataclass(frozen=True)
class Message:
    """A queued message as the writer sees it: its SQS id (the same on every delivery), group and operations."""

    message_id: str
    group: str
    operations: list[dict[str, Any]]

    @property
    def token(self) -> str:
        return hashlib.blake2b(self.message_id.encode("utf-8"), digest_size=8).hexdigest()


@dataclass
class WriteReport:
    """What a batch did. Counted when the write that holds it succeeds, so a retried attempt counts nothing twice."""

    applied: int = 0  # operations applied
    skipped: int = 0  # operations already applied (a redelivered message)
    missing: int = 0  # operations for an unknown user that may not create one (update-only, a braze_id, ...)
    rejected: int = 0  # operations refused by the profile's state (too large, an alias held by another user)
    data_points: int = 0  # attributes and fields written, events and purchases recorded
    cohort_ignored: dict[str, int] = field(default_factory=dict)  # per cohort: changes for users not here
    created: int = 0  # profiles created
    deleted: int = 0  # profiles deleted (by a delete, or merged into another)
    # per cohort: members joined less members left, in writes that succeeded (docs/profiles.md, "Cohorts")
    cohort_members: Counter[str] = field(default_factory=Counter)
    # the events and purchases of identified users the batch holds, applied now or before (a redelivery): what
    # action-based campaigns may listen to (campaigns/connector.py), each with an id that is the same every time
    activities: list[TrackedActivity] = field(default_factory=list)
    # what became of each operation that asks to be tallied (`"tally": true`, an import's rows): `created` (its
    # profile made by it), `updated`, `unchanged` (applied, nothing different), `missing` (no such user and not to
    # be created), `seen` (applied by an earlier delivery of its message)
    outcomes: Counter[str] = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        """What may be logged: the counts, never the activities (users' ids and events' properties)."""
        logged = {name: value for name, value in vars(self).items() if name not in ("activities", "outcomes")}
        return {**logged, "activities": len(self.activities)}


@dataclass(frozen=True, slots=True)
class TrackedActivity:
    kind: str  # "event" or "purchase"
    external_id: str
    name: str  # the event's name, or the product id
    time: str  # as stored (values.format_time)
    properties: dict[str, Any]
    activity_id: str  # the message's token and the operation's place in it


@dataclass
class _Pending:
    item: Item
    operations: int = 0
    points: int = 0
    created: bool = False
    cohorts: Counter[str] = field(default_factory=Counter)  # members joined less left, counted once written


@dataclass
class _Flush:
    """Writes in the order a structural operation needs; see the module's docstring."""

    pointers: dict[Key, Item] = field(default_factory=dict)
    pointer_deletes: set[Key] = field(default_factory=set)
    deletes: list[Key] = field(default_factory=list)


class ProfileWriter:
    def __init__(
        self,
        store: ProfileStore,
        clock: Clock,
        max_array: int,
        concurrency: int = 1,
        memberships: Memberships | None = None,
    ):
        """`concurrency`: the writes of one stage (independent items) in flight at once; a batch of 10 messages may
        touch hundreds of profiles, and each write waits on DynamoDB for some milliseconds. `memberships`: the
        segments kept on profiles (none: no memberships are kept)."""
        self.store = store
        self.clock = clock
        self.max_array = max_array
        self.memberships = memberships
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="profile-write") if concurrency > 1 else None

    def write(self, messages: Sequence[Message]) -> WriteReport:
        report = WriteReport()
        for attempt in range(ATTEMPTS):
            try:
                session = _Session(self, report)
                session.run(messages)
                report.activities = session.activities
                report.outcomes = session.outcomes
                return report
            except WriteConflict:
                if attempt == ATTEMPTS - 1:
                    raise
                self.clock.sleep(0.02 * 2**attempt)
        return report  # not reached


class _Session:
    """One attempt at a batch: items read once, changed in memory, written at the end or around a structural
    operation."""

    def __init__(self, writer: ProfileWriter, report: WriteReport):
        self.store = writer.store
        self.pool = writer.pool
        self.segments: MembershipSession | None = writer.memberships.session() if writer.memberships else None
        self.lock = threading.Lock()
        self.max_array = writer.max_array
        self.report = report
        moment = dt.datetime.fromtimestamp(writer.clock.now_ms() / 1000, dt.UTC)
        self.now = format_time(moment)
        self.moment = moment
        self.today = moment.date()
        self.items: dict[Key, Item | None] = {}  # read or created this attempt; None: known absent
        self.seen_tokens: dict[Key, dict[str, list[str]]] = {}  # the tokens each item had when read
        self.pending: dict[Key, _Pending] = {}
        self.flush_plan = _Flush()
        self.rebuild: dict[Key, list[tuple[Message, dict[str, Any]]]] = {}
        # segments: per profile home, what changed and the last message that changed it; transitions to publish
        self.dirty: dict[str, tuple[set[str] | None, Message]] = {}
        self.unpublished: list[Any] = []
        self.replayed: set[tuple[str, str]] = set()
        self.activities: list[TrackedActivity] = []
        self.outcomes: Counter[str] = Counter()  # of the operations that ask to be tallied, counted if this succeeds
        self.position = 0  # of the operation being applied, in its message

    # ---- reading ---------------------------------------------------------------------------------------
    def run(self, messages: Sequence[Message]) -> None:
        self._prefetch(messages)
        for message in messages:
            for position, operation in enumerate(message.operations):
                self.position = position
                if operation["kind"] in STRUCTURAL:
                    self._flush()
                    getattr(self, "_" + operation["kind"])(message, operation)
                    self._flush()
                    self.items.clear()  # structural writes moved things: read again
                    self.seen_tokens.clear()
                else:
                    self._simple(message, operation)
        self._flush()

    def _prefetch(self, messages: Sequence[Message]) -> None:
        """Read in two batched rounds what the simple operations touch: profiles and pointers, then the profiles
        pointed to and the summaries of the events and products named."""
        first: set[Key] = set()
        activity_names: dict[str, set[str]] = {}
        for message in messages:
            for operation in message.operations:
                key = home_pk(operation["identity"])
                first.add((key, PROFILE))
                if operation["kind"] in ("event", "purchase"):
                    activity_names.setdefault(operation["identity"], set()).add(_activity_sk(operation))
        self._load(first)
        second: set[Key] = set()
        for identity, sks in activity_names.items():
            home = self._home_of(identity)
            if home is not None:
                second.update((home, sk) for sk in sks)
        self._load(second)

    def _load(self, keys: Iterable[Key]) -> None:
        wanted = [k for k in keys if k not in self.items]
        if not wanted:
            return
        found = self.store.get(wanted)
        for key in wanted:
            item = found.get(key)
            self.items[key] = item
            if item is not None:
                self.seen_tokens[key] = {g: list(t) for g, t in item.tokens.items()}

    def _item(self, key: Key) -> Item | None:
        if key not in self.items:
            self._load([key])
        return self.items[key]

    def _home_of(self, identity: str) -> str | None:
        """The home of an existing profile named by `identity`, without creating anything. A pointer may lead to
        another (an anonymous profile merged away leaves one at its key); one to a gone profile means nothing."""
        return document.follow(self._item((home_pk(identity), PROFILE)), lambda pk: self._item((pk, PROFILE)))

    def _resolve(self, message: Message, identity: str, create: bool) -> str | None:
        home = self._home_of(identity)
        if home is not None or not create:
            return home
        braze_id = new_braze_id(message.token + identity)
        if identity.startswith("x:"):
            item = Item(home_pk(identity), PROFILE, new_profile(braze_id, identity[2:], self.now))
            self._pointer(home_pk(braze_id_key(braze_id)), item)
        else:
            item = Item(home_pk(braze_id_key(braze_id)), PROFILE, new_profile(braze_id, None, self.now))
            self._pointer(home_pk(identity), item)
            if identity.startswith("a:"):
                item.doc["aliases"].append(list(alias_of_key(identity)))
        self.items[item.key] = item
        self._touch(item, message, 0, created=True, count=False)
        self._dirty(item.pk, None, message)  # a new profile may match a filter already (a "does not equal")
        return item.pk

    # ---- simple operations ---------------------------------------------------------------------------------
    def _simple(self, message: Message, operation: dict[str, Any]) -> None:
        tally = bool(operation.get("tally"))
        existed = tally and self._home_of(operation["identity"]) is not None
        home = self._resolve(message, operation["identity"], operation["create"])
        kind = operation["kind"]
        if home is None:
            if tally:
                self.outcomes["missing"] += 1
            if kind != "evaluate":  # a sweep's profile gone since it was read: nothing to evaluate, nothing missing
                self.report.missing += 1
            if kind == "cohort":
                ignored = self.report.cohort_ignored
                ignored[operation["cohort"]] = ignored.get(operation["cohort"], 0) + 1
            return
        profile = self.items[(home, PROFILE)]
        assert profile is not None
        # whether or not this message was applied before: evaluating is a function of the state, and a message
        # whose event summary was written before a crash still owes the profile its memberships
        if self.segments is not None:
            self._dirty(home, self.segments.reads(operation), message)
        if kind == "cohort":
            self._cohort(profile, message, operation)
        elif kind == "attributes":
            outcome = self._attributes(profile, message, operation)
            if tally:
                self.outcomes[outcome if outcome == "seen" or existed else "created"] += 1
        elif kind in ("event", "purchase"):
            self._activity(home, message, operation)
        # "evaluate" (a sweep's, segments/sweep.py): nothing to apply but the evaluation at the flush

    def _attributes(self, profile: Item, message: Message, operation: dict[str, Any]) -> str:
        """Apply; `seen` (applied before), `updated` or, for a tallied operation that changed nothing, `unchanged`."""
        if self._seen(profile, message):
            self.report.skipped += 1
            return "seen"
        before = dict(profile.doc.get("fields", {}))
        compared = _attribute_state(profile.doc) if operation.get("tally") else None
        points = attributes.apply(profile.doc, operation, self.max_array)
        profile.doc["updated_at"] = self.now
        self.rebuild.setdefault(profile.key, []).append((message, operation))
        self._touch(profile, message, points)
        self._follow_contacts(profile, before)
        return "unchanged" if compared is not None and compared == _attribute_state(profile.doc) else "updated"

    def _activity(self, home: str, message: Message, operation: dict[str, Any]) -> None:
        key = (home, _activity_sk(operation))
        summary = self._item(key)
        if summary is None:
            summary = Item(home, key[1], {})
            self.items[key] = summary
        self._track(home, message, operation)
        if self._seen(summary, message):
            self.report.skipped += 1
            return
        activity.record(summary.doc, operation["time"], operation.get("quantity", 1), self.today)
        self._touch(summary, message, 1)

    def _track(self, home: str, message: Message, operation: dict[str, Any]) -> None:
        profile = self.items.get((home, PROFILE))
        external_id = profile.doc.get("external_id") if profile is not None else None
        if external_id:  # campaigns reach users by external id
            self.activities.append(
                TrackedActivity(
                    kind=operation["kind"],
                    external_id=str(external_id),
                    name=operation["name"],
                    time=operation["time"],
                    properties=operation.get("properties") or {},
                    activity_id=f"{message.token}:{self.position}",
                )
            )

    def _cohort(self, profile: Item, message: Message, operation: dict[str, Any]) -> None:
        """A partner cohort's membership on the profile (cohorts/requests.py): joined or left, in order."""
        if self._seen(profile, message):
            self.report.skipped += 1
            return
        points = document.apply_membership(profile.doc, operation)
        if not points:  # already so: nothing to write (a membership is a set, so applying it again is harmless)
            self.report.skipped += 1
            return
        profile.doc["updated_at"] = self.now
        self.rebuild.setdefault(profile.key, []).append((message, operation))
        self._touch(profile, message, points)
        self.pending[profile.key].cohorts[operation["cohort"]] += 1 if operation["member"] else -1

    def _seen(self, item: Item, message: Message) -> bool:
        return message.token in self.seen_tokens.get(item.key, {}).get(message.group, ())

    def _touch(self, item: Item, message: Message, points: int, created: bool = False, count: bool = True) -> None:
        tokens = item.tokens.setdefault(message.group, [])
        if message.token not in tokens:
            tokens.append(message.token)
            del tokens[:-MAX_TOKENS]
        pending = self.pending.setdefault(item.key, _Pending(item))
        pending.operations += 1 if count else 0
        pending.points += points
        pending.created = pending.created or created

    def _follow_contacts(self, profile: Item, before: dict[str, Any]) -> None:
        """Keep the email and phone pointers on the profile that holds them. Braze: several profiles may share an
        email; the one most recently written with an external id answers for it, else the most recent."""
        after = profile.doc.get("fields", {})
        identified = "external_id" in profile.doc
        for field_name, key_of in (("email", email_key), ("phone", phone_key)):
            old, new = before.get(field_name), after.get(field_name)
            if old == new:
                continue
            if old is not None:
                old_key = (home_pk(key_of(old)), PROFILE)
                pointer = self._item(old_key)
                moved_away = not new or key_of(new) != key_of(old)
                if pointer is not None and pointer.doc.get("to") == profile.pk and moved_away:
                    self.flush_plan.pointer_deletes.add(old_key)
            if new is not None:
                new_key = (home_pk(key_of(new)), PROFILE)
                pointer = self._item(new_key)
                if pointer is None or identified or not self._held_by_identified_other(pointer, profile.pk):
                    self._pointer(new_key[0], profile)

    def _held_by_identified_other(self, pointer: Item, home: str) -> bool:
        holder = document.follow(pointer, lambda pk: self._item((pk, PROFILE)))
        return holder is not None and holder != home and bool(pointer.doc.get("x"))

    def _pointer(self, pk: str, profile: Item) -> None:
        item = Item(pk, PROFILE, document.pointer_to(profile.pk, profile.doc))
        self.items[item.key] = item
        self.flush_plan.pointers[item.key] = item
        self.flush_plan.pointer_deletes.discard(item.key)

    # ---- structural operations ----------------------------------------------------------------------------
    def _alias(self, message: Message, operation: dict[str, Any]) -> None:
        """/users/alias/new: an alias for an existing user (`identity` its external id), or a new alias-only user."""
        label, name = operation["alias"]
        pointer_key = home_pk(alias_key(label, name))
        if operation["identity"].startswith("a:"):
            existed = self._home_of(operation["identity"]) is not None
            self._resolve(message, operation["identity"], True)
            self._flush()
            self._count(skipped=existed)
            return
        home = self._resolve(message, operation["identity"], False)
        if home is None:
            self.report.missing += 1
            return
        holder = self._home_of(alias_key(label, name))
        if holder is not None and holder != home:
            self.report.rejected += 1  # the alias names another user
            return
        profile = self.items[(home, PROFILE)]
        assert profile is not None
        if [label, name] not in profile.doc["aliases"]:
            profile.doc["aliases"].append([label, name])
        self._pointer(pointer_key, profile)
        self._touch(profile, message, 0, count=False)
        self._flush()
        self._count()

    def _count_missing(self) -> None:
        self.report.missing += 1

    def _count(self, skipped: bool = False) -> None:
        """A structural operation done (its writes flushed)."""
        if skipped:
            self.report.skipped += 1
        else:
            self.report.applied += 1

    def _identify(self, message: Message, operation: dict[str, Any]) -> None:
        """/users/identify: the anonymous user named by `source` (an alias, an email or a phone) becomes the user of
        the external id `identity`: moved there if that user does not exist, else merged into it (`merge`) or
        dropped for it. An unknown alias becomes the external id's; an unknown email or phone changes nothing."""
        target = home_pk(operation["identity"])
        alias = operation.get("alias")
        source = self._home_of(operation["source"])
        if source in (None, target) and self._finish_merge(message, target, operation["merge"]):
            return
        if source is not None and source.startswith("u#x:"):
            self.report.skipped += 1  # already identified: Braze changes nothing
            return
        kept = self._item((target, PROFILE))
        if alias and kept is not None and any(a[0] == alias[0] and a[1] != alias[1] for a in kept.doc["aliases"]):
            self.report.rejected += 1  # Braze: a user has one alias per label; the profiles are not combined
            return
        if source is not None:
            self._merge_profiles(message, source, target, take_data=operation["merge"])
        elif alias is None:
            self.report.missing += 1
        else:
            home = self._resolve(message, operation["identity"], True)
            profile = self.items[(home, PROFILE)] if home else None
            assert profile is not None
            if alias not in profile.doc["aliases"]:
                profile.doc["aliases"].append(alias)
            self._pointer(home_pk(alias_key(*alias)), profile)
            self._touch(profile, message, 0, count=False)
            self._flush()
            self._count()

    def _merge(self, message: Message, operation: dict[str, Any]) -> None:
        """/users/merge: the user of `from` merged into the user of `identity`, then deleted."""
        keep = self._home_of(operation["identity"])
        merged = self._home_of(operation["from"])
        if keep is not None and merged in (None, keep) and self._finish_merge(message, keep, True):
            return
        if keep is None or merged is None:
            self.report.missing += 1
            return
        if keep == merged:
            self.report.skipped += 1
            return
        self._merge_profiles(message, merged, keep, take_data=True)

    def _finish_merge(self, message: Message, target: str, take_data: bool) -> bool:
        """True if this message merged a profile into `target` before a crash: the kept profile records it, and the
        moves and deletes it had not done are done now."""
        kept = self._item((target, PROFILE))
        source = next((s for t, s in kept.doc.get("merged", []) if t == message.token), None) if kept else None
        if source is None:
            return False
        self._merge_profiles(message, source, target, take_data, finishing=True)
        return True

    def _merge_profiles(
        self, message: Message, source: str, target: str, take_data: bool, finishing: bool = False
    ) -> None:
        source_items = self.store.items_of(source)
        source_profile = next((i for i in source_items if i.sk == PROFILE and "braze_id" in i.doc), None)
        if source_profile is None:  # nothing left of it: merged and removed before
            if finishing:
                self._count(skipped=True)
            else:
                self._count_missing()
            return
        kept = self._item((target, PROFILE))
        moved = kept is None  # identify of an alias-only user into an external id nobody has: the user moves
        if kept is None:
            doc = json.loads(json.dumps(source_profile.doc))
            doc["external_id"] = target[len("u#x:") :]
            # its memberships move with it: the same user (braze_id), under its new key
            kept = Item(target, PROFILE, doc)
            self.items[kept.key] = kept
        already = self._seen(kept, message)  # merged before a crash: only the pointers and deletes remain
        if not already:
            self._merge_data(
                message, kept, source_profile, [i for i in source_items if i.sk != PROFILE], moved, take_data
            )
        for pk in _pointer_keys(source_profile.doc, source):
            pointer = self._item((pk, PROFILE))
            if pk == source or (pointer is not None and pointer.doc.get("to") == source):
                self._pointer(pk, kept)  # an anonymous profile's own key becomes a pointer
        self.flush_plan.deletes.extend(i.key for i in source_items if i.sk != PROFILE)
        self.flush_plan.deletes.append((source, PROFILE))
        self._dirty(kept.pk, None, message)
        if not moved:  # merged away: the user it was is gone (a moved user stays itself, under its new key)
            self._publish_exits(source_profile)
        self._flush(merging=True)
        self._count(skipped=already)
        self.report.deleted += 0 if moved or already else 1

    def _merge_data(
        self,
        message: Message,
        kept: Item,
        source: Item,
        summaries: list[Item],
        moved: bool,
        take_data: bool,
    ) -> None:
        """Into the kept profile: the source's aliases; with `take_data` its fields and attributes the kept one lacks
        and its event and purchase summaries added up (all of it when the user moved)."""
        # memberships of the merged-away user that the kept one does not take over: a member fewer
        lost = (
            []
            if moved
            else [c for c in source.doc.get("cohorts", []) if c in kept.doc.get("cohorts", []) or not take_data]
        )
        if not moved:
            for alias in source.doc.get("aliases", []):
                if alias not in kept.doc["aliases"]:
                    kept.doc["aliases"].append(alias)
            if take_data:
                document.merge_into(kept.doc, source.doc)
        if moved or take_data:
            for summary in summaries:
                into = self._item((kept.pk, summary.sk))
                if into is None:
                    into = Item(kept.pk, summary.sk, {})
                    self.items[into.key] = into
                if not self._seen(into, message):
                    into.doc = activity.merged(into.doc, summary.doc, self.today) if into.doc else summary.doc
                    self._touch(into, message, 0, count=False)
        kept.doc["updated_at"] = self.now
        # What a redelivery needs once the source's pointers have moved: which profile this message merged.
        record = kept.doc.setdefault("merged", [])
        record.append([message.token, source.pk])
        del record[:-MAX_TOKENS]
        self._touch(kept, message, 0, created=moved, count=False)
        self.pending[kept.key].cohorts.subtract(lost)

    def _delete(self, message: Message, operation: dict[str, Any]) -> None:
        """/users/delete: the profile, its summaries and every pointer to it."""
        named = (home_pk(operation["identity"]), PROFILE)
        home = self._home_of(operation["identity"])
        if home is None:
            if self._item(named) is not None:  # a pointer to a gone profile: what a crash midway left, removed now
                self.store.delete(named)
            self.report.missing += 1
            return
        items = self.store.items_of(home)
        profile = next(i for i in items if i.sk == PROFILE)
        # before anything goes: a redelivery finds the profile and publishes them again
        self._publish_exits(profile, deleted=True)
        for item in items:
            if item.sk != PROFILE:
                self.store.delete(item.key)
        pointers = [(pk, PROFILE) for pk in _pointer_keys(profile.doc, home) if pk != home]
        found = self.store.get(pointers)
        for key in pointers:  # the pointer that names the user in this request goes last: a redelivery finds it
            if key != named and key in found and found[key].doc.get("to") == home:
                self.store.delete(key)
        self.store.delete((home, PROFILE))
        if named in found:
            self.store.delete(named)
        self._count()
        self.report.deleted += 1
        self.report.cohort_members.subtract(profile.doc.get("cohorts", []))

    # ---- writing -------------------------------------------------------------------------------------------
    def _flush(self, merging: bool = False) -> None:
        """Write what changed, in the order the module's docstring gives. Creating: new pointers, summaries,
        profiles. Merging: the kept profile's summaries and profile, the merged summaries removed, the pointers
        moved, the merged profile removed. Then pointers that no longer apply."""
        self._evaluate()
        plan, pending = self.flush_plan, self.pending
        self.flush_plan, self.pending = _Flush(), {}
        if not merging:
            self._stage(self.store.put_pointer, plan.pointers.values())
        self._stage(self._write, [p for p in pending.values() if p.item.sk != PROFILE])
        self._stage(self._write, [p for p in pending.values() if p.item.sk == PROFILE])
        self._stage(self.store.delete, [key for key in plan.deletes if key[1] != PROFILE])
        if merging:
            self._stage(self.store.put_pointer, plan.pointers.values())
        self._stage(self.store.delete, plan.pointer_deletes)
        # an anonymous profile merged away: its key now holds a pointer, not to be deleted
        self._stage(self.store.delete, [k for k in plan.deletes if k[1] == PROFILE and k not in plan.pointers])
        self._publish()

    # ---- segments --------------------------------------------------------------------------------------------
    def _dirty(self, home: str, changed: set[str] | None, message: Message) -> None:
        """Remember what changed on a profile (None: anything), to evaluate its segments at the next flush; and if
        this message recorded transitions on the stored profile before (a redelivery), publish them again."""
        if self.segments is None or not self.segments.active:
            return
        before, _ = self.dirty.get(home, (set(), message))
        self.dirty[home] = (None if before is None or changed is None else before | changed, message)
        profile = self.items.get((home, PROFILE))
        if profile is not None:  # before the operation applies: a step's consent is compared with this
            self.segments.note(profile, changed, self.moment)
        if profile is not None and (home, message.token) not in self.replayed:
            self.replayed.add((home, message.token))
            self.unpublished += self.segments.recorded(profile, message.token)

    def _evaluate(self) -> None:
        dirty, self.dirty = self.dirty, {}
        if self.segments is None:
            return
        for home, (changed, message) in dirty.items():
            profile = self.items.get((home, PROFILE))
            if profile is None or "braze_id" not in profile.doc:
                continue
            events = _Summaries(self, home, document.EVENT_PREFIX)
            purchases = _Summaries(self, home, document.PURCHASE_PREFIX)
            found = self.segments.evaluate(profile, changed, events, purchases, self.moment, message.token)
            if found:
                self.unpublished += found
                self._touch(profile, message, 0, count=False)

    def _publish_exits(self, profile: Item, deleted: bool = False) -> None:
        if self.segments is not None:  # even with no segment left: a deleted one's memberships are told too
            exits = self.segments.exits(profile, self.moment, deleted)
            if exits:
                self.segments.publish(exits)

    def _publish(self) -> None:
        transitions, self.unpublished = self.unpublished, []
        if transitions and self.segments is not None:
            self.segments.publish(transitions)

    def _stage(self, write: Callable[[Any], None], work: Iterable[Any]) -> None:
        """Every write of one stage (independent items), in parallel when the writer may; the next stage starts
        once all are done. A lost race shows only after the others finished, so their writes are not wasted."""
        work = list(work)
        if self.pool is None or len(work) < 2:
            for unit in work:
                write(unit)
            return
        # each write runs in a copy of the caller's context, so the workers see what the invocation set there
        # (the function's environment in local mode, an injected crash)
        futures = [self.pool.submit(contextvars.copy_context().run, write, unit) for unit in work]
        errors = [f.exception() for f in futures]
        failed = [e for e in errors if e is not None]
        crash = next((e for e in failed if not isinstance(e, WriteConflict)), None)
        if crash is not None or failed:
            raise crash or failed[0]

    def _write(self, entry: _Pending) -> None:
        item = entry.item
        if item.sk == PROFILE and _size(item.doc) > document.MAX_PROFILE_BYTES:
            self._shrink(entry)
        self.store.put(item)
        with self.lock:
            self.report.applied += entry.operations
            self.report.data_points += entry.points
            self.report.created += 1 if entry.created else 0
            self.report.cohort_members.update(entry.cohorts)
            self.seen_tokens[item.key] = {g: list(t) for g, t in item.tokens.items()}

    def _shrink(self, entry: _Pending) -> None:
        """The profile grew past what DynamoDB stores: apply this attempt's attribute and cohort operations again
        from the stored profile, in order, refusing each that would make it too large."""
        item = entry.item
        stored = self.store.get([item.key]).get(item.key)
        doc = stored.doc if stored is not None else json.loads(json.dumps(item.doc))
        if stored is None:  # a profile new in this attempt: from its state before any attribute
            doc["fields"], doc["custom"], doc["cohorts"] = {}, {}, []
        applied, points = 0, 0
        for _message, operation in self.rebuild.get(item.key, []):
            trial = json.loads(json.dumps(doc))
            if operation["kind"] == "cohort":
                gained = document.apply_membership(trial, operation)
            else:
                gained = attributes.apply(trial, operation, self.max_array)
            if _size(trial) > document.MAX_PROFILE_BYTES:
                self.report.rejected += 1
                continue
            doc, applied, points = trial, applied + 1, points + gained
        refused = len(self.rebuild.get(item.key, [])) - applied
        # memberships were evaluated with every operation applied; a refused one rarely changes them, and the
        # transitions are already recorded: kept as evaluated (docs/segments.md, "Known limits")
        if self.segments is not None:
            self.segments.keep(item.doc, doc)
        item.doc = doc
        entry.operations -= refused
        entry.points = points


class _Summaries(Mapping[str, Mapping[str, Any]]):
    """A profile's event (or purchase) summaries as a filter reads them: each read when first asked for, through
    the session (so what this batch recorded counts); listed from the store only for "any product"."""

    def __init__(self, session: _Session, home: str, prefix: str):
        self.session = session
        self.home = home
        self.prefix = prefix
        self._names: list[str] | None = None

    def __getitem__(self, name: str) -> Mapping[str, Any]:
        item = self.session._item((self.home, self.prefix + name))
        if item is None or not item.doc:
            raise KeyError(name)
        return item.doc

    def _all(self) -> list[str]:
        if self._names is None:
            stored = {i.sk for i in self.session.store.items_of(self.home) if i.sk.startswith(self.prefix)}
            in_session = {k[1] for k, i in self.session.items.items() if k[0] == self.home and i is not None and i.doc}
            self._names = sorted(sk[len(self.prefix) :] for sk in stored | in_session if sk.startswith(self.prefix))
        return self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


def _activity_sk(operation: dict[str, Any]) -> str:
    return event_sk(operation["name"]) if operation["kind"] == "event" else purchase_sk(operation["name"])


def _pointer_keys(profile: dict[str, Any], home: str) -> list[str]:
    """Every pointer a profile may have: its braze_id (unless that is its home), aliases, email and phone."""
    keys = [home_pk(braze_id_key(profile["braze_id"]))]
    keys += [home_pk(alias_key(label, name)) for label, name in profile.get("aliases", [])]
    fields = profile.get("fields", {})
    if fields.get("email"):
        keys.append(home_pk(email_key(fields["email"])))
    if fields.get("phone"):
        keys.append(home_pk(phone_key(fields["phone"])))
    return [k for k in keys if k != home] + ([home] if home in keys else [])


def _size(doc: dict[str, Any]) -> int:
    return len(json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))


def _attribute_state(doc: dict[str, Any]) -> str:
    """A profile's fields and custom attributes as comparable text (a tallied operation's "did it change anything")."""
    return json.dumps([doc.get("fields", {}), doc.get("custom", {})], sort_keys=True, default=str)
