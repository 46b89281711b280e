"""Which segments a profile change can move a user in or out of. Pure.

Each filter says what it reads (`a:<attribute>`, `e:<event>`, `p:<product>` or `p:*`, `c:<partner>:<cohort_id>`,
segments/filters.py); the index inverts that, so a change re-evaluates only the segments that read what changed,
never all of them. `s:<segment_id>` names one segment directly (a sweep's re-evaluation, segments/sweep.py; `b:`
the same for a step's baseline at launch), and ALL every segment (a merge: the kept profile may have changed in any
way).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from audience_sync.segments.definitions import Segment

ALL = "*all*"


def attribute_keys(operation: dict[str, Any]) -> set[str]:
    """What an attributes operation (profiles/attributes.py) may change: its standard fields and custom attributes."""
    names: set[str] = set(operation.get("fields", ()))
    for part in ("set", "inc", "add", "remove", "merge"):
        names.update(operation.get(part, ()))
    names.update(operation.get("unset", ()))
    return {"a:" + name for name in names}


def operation_keys(operation: dict[str, Any]) -> set[str]:
    """What a queued profile operation may change, in the index's keys."""
    kind = operation["kind"]
    if kind == "attributes":
        return attribute_keys(operation)
    if kind == "event":
        return {"e:" + operation["name"]}
    if kind == "purchase":
        return {"p:" + operation["name"], "p:*"}
    if kind == "cohort":
        return {"c:" + operation["cohort"]}
    if kind == "evaluate":  # "b:": a step's baseline at launch (segments/sweep.py), its entries marked so
        prefix = "b:" if operation.get("baseline") else "s:"
        return {prefix + segment_id for segment_id in operation["segments"]}
    return {ALL}


class SegmentIndex:
    def __init__(self, segments: Iterable[Segment]):
        defined = list(segments)
        self.segments = {segment.segment_id: segment for segment in defined if not segment.watch}
        self.by_key: dict[str, list[Segment]] = {}
        for segment in sorted(self.segments.values(), key=lambda s: s.segment_id):
            for key in sorted(segment.reads):
                self.by_key.setdefault(key, []).append(segment)
        self.time_based = [s for s in self.segments.values() if s.time_based]
        # the steps' consent watches (segments/definitions.py): evaluated on a change of what they read, no members
        self.watches = sorted((s for s in defined if s.watch), key=lambda s: s.segment_id)
        self.watches_by_key: dict[str, list[Segment]] = {}
        for watch in self.watches:
            for key in sorted(watch.reads):
                self.watches_by_key.setdefault(key, []).append(watch)

    def watching(self, keys: Iterable[str]) -> list[Segment]:
        """The watches that read any of `keys`."""
        found: dict[str, Segment] = {}
        for key in keys:
            for watch in self.watches_by_key.get(key, ()):
                found[watch.segment_id] = watch
        return list(found.values())

    def affected(self, keys: Collection[str]) -> list[Segment]:
        """The segments that read any of `keys`, each once."""
        if len(keys) == 1:  # one attribute changed, the usual write: its list already names each segment once
            (key,) = keys
            if key != ALL and not key.startswith(("s:", "b:")):
                return list(self.by_key.get(key, ()))
        found: dict[str, Segment] = {}
        for key in keys:
            if key == ALL:
                return list(self.segments.values())
            if key.startswith(("s:", "b:")):
                segment = self.segments.get(key[2:])
                if segment is not None:
                    found[segment.segment_id] = segment
                continue
            for segment in self.by_key.get(key, ()):
                found[segment.segment_id] = segment
        return list(found.values())
