"""Segment filters (contract v2 §4): checked once, compiled to closures, matched against profiles. Pure: no I/O.

What this module guarantees:
- `parse` accepts exactly the filter language (`all` / `any` / `not`, attribute, custom event, purchase and cohort
  leaves) and refuses anything else with `FilterError(path, message)`. `path` is a JSON Pointer relative to the
  filter's root (`""` is the root; a missing key is reported at the path it would have, e.g. `/all/0/value`).
  `message` is a sentence that may name keys, ops and limits but never repeats a value of the filter, which may be
  personal data. The first error is reported, depth first in document order: a node's own keys (unknown keys in
  the order they appear, then its known keys in a fixed order) before the filters it holds, those in array order.
- Limits: a node's depth is the number of `all` / `any` / `not` around it (the root is at depth 0, a leaf directly
  under a root `all` at depth 1); a node deeper than `MAX_DEPTH` is refused at its own path. At most `MAX_LEAVES`
  leaves in all: the first leaf past the limit is refused at its own path.
- `Filter.matches` does no validation, no regex compilation and no parsing of the filter's own values: those are
  done once by `parse`. Times compare as strings in the fixed form `values.format_time` writes
  (`YYYY-MM-DDTHH:MM:SS.mmmZ`), which sort as the times do. Thresholds relative to `now` (`now - D days`, the first
  day of a window) are worked out only for filters that are `time_based`, once per `now` for every filter evaluated
  with it (the last few `now`s are kept), and times in the profile are never turned into datetimes.

Semantics follow Braze's segment filters:
- A missing attribute, a JSON null, and a missing step of a dot path are the same: the attribute does not exist.
  `exists` is false (an empty array counts as no value too: Braze's "has a value" / "is empty" for arrays),
  `not_exists` true; `ne` and `includes_none` are true; `is_false` is false (it means the attribute is false, not
  "false or not set"); `not_matches_regex` is false for a missing attribute or an empty string or array (Braze's
  "does not match" excludes blanks). Braze's numbers "exactly 0" and "less than" include users without the
  attribute: `eq` with the number 0, `lt` and `lte` are true for them. Every other op is false.
- `eq` / `ne` / `in` compare scalars only, exactly (strings case-sensitive); a boolean never equals a number. A
  string value that reads as a time also equals a time attribute holding that time. On an array attribute `eq`
  and `in` are false, `ne` true. `gt` / `gte` / `lt` / `lte` need a number attribute (otherwise false).
- `matches_regex` searches (partial match, case-insensitive) a string attribute, or any string of an array, with RE2
  (google-re2): linear time whatever the pattern, so a filter cannot stall the writer (Python's `re` takes hours on
  `^(a+)+$` against 40 characters); patterns RE2 cannot run (backreferences, lookaround) are refused. At most the
  first 255 characters of a string are searched (profile strings are cut to 255 when written).
- `includes_*` treat a scalar attribute as an array of one.
- `before` / `after` compare a time attribute (or a string that reads as a time) with the value's time; equal is
  neither. `more_than_days_ago D`: the time is before `now - D days`; `less_than_days_ago D`: it is at or after
  `now - D days`, so a time in the future is less than D days ago and the two ops split every time between them.
- Events and purchases: a user who never did it has count 0 and no last time (so `less_than 1` is true, and both
  `last_occurred` forms are false). "X in Y days" sums the per-day counts of the Y UTC calendar days ending today
  (today included, Braze's "evaluated in UTC"). Purchase `"*"` sums counts over every product and takes the latest
  last time.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import operator
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeGuard

import re2

from audience_sync.profiles import values
from audience_sync.profiles.attributes import CONTROL_KEYS, STANDARD_FIELDS

MAX_DEPTH = 10
MAX_LEAVES = 100
MAX_LIST_VALUES = 256  # Braze's "is any of" takes at most 256 values
MAX_REGEX_CHARS = 32_764  # Braze's longest regex
MAX_NAME_CHARS = values.MAX_NAME_CHARS
MAX_DAYS = 3650
MAX_IN_DAYS = 30  # a profile keeps the per-day counts of the last 31 UTC days (profiles/activity.py)
MAX_IN_DAYS_COUNT = 50  # Braze's "X in Y days" takes X from 0 to 50
REGEX_INPUT_CHARS = values.MAX_STRING_CHARS

_STANDARD = frozenset(STANDARD_FIELDS)
_TIME_TAG = values.TIME_TAG
_SCALARS = frozenset({str, int, float})  # exact types: bool is not a number here
_NUMBERS = frozenset({int, float})

_NO_VALUE_OPS = ("exists", "not_exists", "is_true", "is_false")
_EQUALITY_OPS = ("eq", "ne")
_NUMBER_OPS = ("gt", "gte", "lt", "lte")
_LIST_OPS = ("in", "includes_any", "includes_none", "includes_all")
_REGEX_OPS = ("matches_regex", "not_matches_regex")
_TIME_OPS = ("before", "after")
_DAYS_OPS = ("more_than_days_ago", "less_than_days_ago")
ATTRIBUTE_OPS = (
    "eq",
    "ne",
    "in",
    *_NUMBER_OPS,
    *_NO_VALUE_OPS,
    *_REGEX_OPS,
    *_LIST_OPS[1:],
    *_TIME_OPS,
    *_DAYS_OPS,
)
COUNT_OPS = ("more_than", "less_than", "exactly")
LAST_OCCURRED = ("more_than_days_ago", "less_than_days_ago")
COHORT_OPS = ("in", "not_in")
_COMPOSITES = ("all", "any", "not")
_KINDS = (*_COMPOSITES, "attribute", "custom_event", "purchase", "cohort")


class FilterError(ValueError):
    """A filter that is not one: where (a JSON Pointer relative to the filter's root) and why, without its values."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path or '(root)'}: {message}")
        self.path = path
        self.message = message


@dataclass(frozen=True, slots=True)
class ProfileView:
    """What a filter reads of one profile (slots: attribute reads are on the hot path)."""

    fields: Mapping[str, Any] = field(default_factory=dict)
    custom: Mapping[str, Any] = field(default_factory=dict)
    cohorts: Collection[str] = frozenset()
    events: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    purchases: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


class _Clock:
    """`now` and the thresholds time-based leaves compare with, each worked out when first asked for (a filter whose
    time-based leaf is never reached pays nothing) and then kept for as long as the clock is (see `_clock`).

    UTC has no daylight saving, so `now - D days` is `now`'s time of day on the date D days before: thresholds are
    date arithmetic on ordinals plus `now`'s time of day formatted once, several times cheaper than datetime
    arithmetic and formatting."""

    __slots__ = ("_ago", "_now", "_ordinal", "_time_of_day", "_today", "_window")

    def __init__(self, now: dt.datetime) -> None:
        if now.tzinfo is None:
            now = now.replace(tzinfo=dt.UTC)  # a naive `now` is taken as UTC, never as the machine's local time
        elif now.utcoffset():
            now = now.astimezone(dt.UTC)
        self._now = now
        self._ordinal = now.toordinal()
        self._today = ""
        self._time_of_day = ""
        self._ago: dict[int, str] = {}
        self._window: dict[int, str] = {}

    def _date(self, days_before: int) -> str:
        ordinal = self._ordinal - days_before
        return dt.date.fromordinal(ordinal).isoformat() if ordinal >= 1 else "0000-00-00"  # before year 1: none

    def ago(self, days: int) -> str:
        """`now - days` in the stored time form (values.format_time's: milliseconds, cut)."""
        iso = self._ago.get(days)
        if iso is None:
            if not self._time_of_day:
                self._time_of_day = "T" + self._now.time().isoformat("milliseconds") + "Z"
            iso = self._ago[days] = self._date(days) + self._time_of_day
        return iso

    def today(self) -> str:
        if not self._today:
            self._today = self._date(0)
        return self._today

    def window_start(self, days: int) -> str:
        """The first UTC date of the `days` calendar days that end today (today counting as the first of them)."""
        start = self._window.get(days)
        if start is None:
            start = self._window[days] = self._date(days - 1)
        return start


_EPOCH_CLOCK = _Clock(dt.datetime(1970, 1, 1, tzinfo=dt.UTC))  # handed to filters that never read the time
# The clocks of the last few `now`s: one profile change evaluates several segments with the same `now`, so their
# thresholds are worked out once for all of them. Bounded; a race between threads only repeats work.
_CLOCKS: dict[dt.datetime, _Clock] = {}
_CLOCKS_KEPT = 16


def _clock(now: dt.datetime) -> _Clock:
    clock = _CLOCKS.get(now)
    if clock is None:
        if len(_CLOCKS) >= _CLOCKS_KEPT:
            _CLOCKS.clear()
        clock = _CLOCKS[now] = _Clock(now)
    return clock


_Match = Callable[[ProfileView, _Clock], bool]
_Get = Callable[[ProfileView], Any]


@dataclass(frozen=True)
class Filter:
    """A checked filter. `raw` is a copy of the JSON as given; `reads` says which parts of a profile it looks at
    (`a:<top-level attribute>`, `e:<event>`, `p:<product>` or `p:*`, `c:<partner>:<cohort_id>`), so a change to
    other parts cannot change its result; `time_based` is True when time passing alone can change it."""

    raw: dict[str, Any]
    reads: frozenset[str]
    time_based: bool
    _match: _Match = field(repr=False, compare=False)
    _text: str = field(repr=False, compare=False)

    def matches(self, view: ProfileView, now: dt.datetime) -> bool:
        """Whether the profile `view` is in; `now` is an aware datetime (another zone is converted to UTC, a naive
        one is taken as UTC)."""
        return self._match(view, _clock(now) if self.time_based else _EPOCH_CLOCK)

    def text(self) -> str:
        return self._text


def parse(raw: Any, allow_keys: bool = False) -> Filter:
    """The filter `raw` describes, checked in full; FilterError for the first thing wrong with it. `allow_keys`:
    attributes may be named like the users API's keys (`external_id`, `app_id`, ...): for a definition stored
    before those were refused (it still loads, and still matches as it did), for a step's entry filters (a webhook's
    users may carry such fields) and for an event's properties (not a profile's)."""
    state = _State(allow_keys)
    node = _node(raw, "", 0, state)
    return Filter(
        raw=copy.deepcopy(raw),
        reads=frozenset(state.reads),
        time_based=state.time_based,
        _match=node.match,
        _text=node.text,
    )


# --- checking and compiling ---------------------------------------------------------------------------------------


class _State:
    __slots__ = ("allow_keys", "leaves", "reads", "time_based")

    def __init__(self, allow_keys: bool = False) -> None:
        self.allow_keys = allow_keys
        self.leaves = 0
        self.reads: set[str] = set()
        self.time_based = False


@dataclass(frozen=True, slots=True)
class _Node:
    match: _Match
    text: str
    composite: bool  # its text goes in parentheses inside another composite's


def _pointer(path: str, key: Any) -> str:
    return f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"


def _whole(value: Any) -> TypeGuard[int]:
    return type(value) is int  # not bool, not 3.0: counts and days are whole JSON numbers


def _number(value: Any) -> bool:
    if type(value) not in _NUMBERS:
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer past a float's range (10**400): not a number a profile can hold
        return False


def _name(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= MAX_NAME_CHARS


def _quote(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _only(node: dict[Any, Any], path: str, allowed: Iterable[str], what: str) -> None:
    """Refuse the first key of `node` not in `allowed`. The message does not repeat the key: the path holds it."""
    allowed = tuple(allowed)
    for key in node:
        if key not in allowed:
            raise FilterError(_pointer(path, key), f"{what} takes no such key (it takes {', '.join(allowed)})")


def _node(node: Any, path: str, depth: int, state: _State) -> _Node:
    if depth > MAX_DEPTH:
        raise FilterError(path, f"filters nest at most {MAX_DEPTH} deep (each all, any and not is one level)")
    if not isinstance(node, dict):
        raise FilterError(path, "a filter must be an object")
    kind = next((key for key in node if key in _KINDS), None)
    if kind is None:
        raise FilterError(path, f"a filter must have one of the keys {', '.join(_KINDS)}")
    if kind in _COMPOSITES:
        _only(node, path, (kind,), f"a '{kind}' filter")
        if kind == "not":
            return _not(_node(node["not"], _pointer(path, "not"), depth + 1, state))
        return _junction(kind, node[kind], _pointer(path, kind), depth, state)
    state.leaves += 1
    if state.leaves > MAX_LEAVES:
        raise FilterError(path, f"a filter has at most {MAX_LEAVES} leaves (attribute, event, purchase or cohort)")
    if kind == "attribute":
        return _attribute(node, path, state)
    if kind == "cohort":
        return _cohort(node, path, state)
    return _activity(kind, node, path, state)


def _junction(kind: str, children: Any, path: str, depth: int, state: _State) -> _Node:
    if not isinstance(children, list):
        raise FilterError(path, f"'{kind}' must be an array of filters")
    if not children:
        raise FilterError(path, f"'{kind}' must not be empty: it needs at least one filter")
    nodes = [_node(child, _pointer(path, i), depth + 1, state) for i, child in enumerate(children)]
    word = " AND " if kind == "all" else " OR "
    text = word.join(f"({n.text})" if n.composite else n.text for n in nodes)
    if len(nodes) == 1:
        return nodes[0]  # one filter: no need to pay for the loop
    matchers = tuple(n.match for n in nodes)
    # plain loops, not all() / any() over a generator: they run per profile change, and a generator costs more than
    # the one or two leaves most filters have
    if kind == "all":

        def match_all(view: ProfileView, clock: _Clock) -> bool:
            for match in matchers:  # noqa: SIM110
                if not match(view, clock):
                    return False
            return True

        return _Node(match_all, text, True)

    def match_any(view: ProfileView, clock: _Clock) -> bool:
        for match in matchers:  # noqa: SIM110
            if match(view, clock):
                return True
        return False

    return _Node(match_any, text, True)


def _not(inner: _Node) -> _Node:
    negated = inner.match

    def match_not(view: ProfileView, clock: _Clock) -> bool:
        return not negated(view, clock)

    return _Node(match_not, f"NOT ({inner.text})" if inner.composite else f"NOT {inner.text}", False)


# --- attribute leaves ---------------------------------------------------------------------------------------------


def _attribute(node: dict[str, Any], path: str, state: _State) -> _Node:
    _only(node, path, ("attribute", "op", "value"), "an attribute filter")
    name = node["attribute"]
    if not _name(name):
        raise FilterError(
            _pointer(path, "attribute"), f"'attribute' must be a name of 1 to {MAX_NAME_CHARS} characters"
        )
    steps = tuple(name.split("."))
    if "" in steps:
        raise FilterError(_pointer(path, "attribute"), "'attribute' must not have an empty part between dots")
    if steps[0] in CONTROL_KEYS and not state.allow_keys:  # never a profile attribute: the users API reads these
        # keys as who or how, so a segment filter on one would match nobody
        raise FilterError(
            _pointer(path, "attribute"),
            f"'{steps[0]}' is a key of the users API (who the user is, or how to write), not an attribute a segment "
            "can filter on; filter on attributes, events, purchases or cohorts",
        )
    op = node.get("op")
    if not isinstance(op, str) or op not in ATTRIBUTE_OPS:
        raise FilterError(_pointer(path, "op"), f"'op' must be one of {', '.join(ATTRIBUTE_OPS)}")
    value_path = _pointer(path, "value")
    if op in _NO_VALUE_OPS:
        if "value" in node:
            raise FilterError(value_path, f"'{op}' takes no value")
        value: Any = None
    else:
        if "value" not in node:
            raise FilterError(value_path, f"'{op}' needs a value: {_VALUE_KINDS[op]}")
        value = node["value"]
        prepared = _VALUE_CHECKS[op](value)
        if prepared is _BAD:
            raise FilterError(value_path, f"'{op}' needs its value to be {_VALUE_KINDS[op]}")
        if prepared is _NO_REGEX:
            raise FilterError(value_path, f"the regular expression of '{op}' does not compile")
        value = prepared
    standard = steps[0] in _STANDARD
    state.reads.add("a:" + steps[0])
    if op in _DAYS_OPS:
        state.time_based = True
    match = _ATTRIBUTE_MATCHERS[op](_getter(steps, standard), value)
    what = "attribute" if standard else "custom attribute"
    return _Node(match, f"{what} {name} {_attribute_text(op, node.get('value'))}", False)


_BAD: Any = object()  # what a value check answers for a value its op cannot take
_NO_REGEX: Any = object()


def _check_equality(value: Any) -> Any:
    return value if isinstance(value, str | bool) or _number(value) else _BAD


def _check_number(value: Any) -> Any:
    return value if _number(value) else _BAD


def _check_list(value: Any) -> Any:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_LIST_VALUES:
        return _BAD
    if not all(isinstance(v, str) or _number(v) for v in value):
        return _BAD
    return value


def _regex_options() -> Any:
    options = re2.Options()
    options.case_sensitive = False  # Braze's /gi: partial and case-insensitive
    options.log_errors = False  # a bad pattern is the operator's 400, not a line on stderr
    return options


_RE2_OPTIONS = _regex_options()


def _check_regex(value: Any) -> Any:
    """RE2, not Python's `re`: its matching time is linear in the input, so no pattern (`^(a+)+$`) can stall the
    profile writer, which evaluates filters on every write; it refuses what needs backtracking (backreferences,
    lookaround), which Braze's own matcher has no use for either."""
    if not isinstance(value, str) or len(value) > MAX_REGEX_CHARS:
        return _BAD
    try:
        return re2.compile(value, options=_RE2_OPTIONS)
    except re2.error:
        return _NO_REGEX


def _check_time(value: Any) -> Any:
    parsed = values.parse_time(value) if isinstance(value, str) else None
    return _BAD if parsed is None else parsed


def _check_days(value: Any) -> Any:
    return value if _whole(value) and 0 <= value <= MAX_DAYS else _BAD


_VALUE_CHECKS: dict[str, Callable[[Any], Any]] = {
    **dict.fromkeys(_EQUALITY_OPS, _check_equality),
    **dict.fromkeys(_NUMBER_OPS, _check_number),
    **dict.fromkeys(_LIST_OPS, _check_list),
    **dict.fromkeys(_REGEX_OPS, _check_regex),
    **dict.fromkeys(_TIME_OPS, _check_time),
    **dict.fromkeys(_DAYS_OPS, _check_days),
}
_VALUE_KINDS: dict[str, str] = {
    **dict.fromkeys(_EQUALITY_OPS, "a string, a number, true or false"),
    **dict.fromkeys(_NUMBER_OPS, "a number"),
    **dict.fromkeys(_LIST_OPS, f"an array of 1 to {MAX_LIST_VALUES} strings or numbers"),
    **dict.fromkeys(_REGEX_OPS, f"a regular expression, a string of at most {MAX_REGEX_CHARS} characters"),
    **dict.fromkeys(_TIME_OPS, "an ISO 8601 time string"),
    **dict.fromkeys(_DAYS_OPS, f"a whole number of days from 0 to {MAX_DAYS}"),
}


def _getter(steps: tuple[str, ...], standard: bool) -> _Get:
    """Where an attribute's value is: a standard field or a custom attribute, then down nested objects; None when a
    step is missing or not an object."""
    first = steps[0]
    rest = steps[1:]
    if not rest:
        if standard:
            return lambda view: view.fields.get(first)
        return lambda view: view.custom.get(first)

    def get(view: ProfileView) -> Any:
        value = (view.fields if standard else view.custom).get(first)
        for step in rest:
            if type(value) is not dict:
                return None
            value = value.get(step)
        return value

    return get


@lru_cache(maxsize=4096)
def _string_time(text: str) -> str | None:
    # strings that read as times (dob, times in arrays and nested objects) recur across profiles: parse each once
    return values.parse_time(text)


def _time_of(value: Any) -> str | None:
    """A value's time in the stored form: a tagged time, or a string that reads as one."""
    kind = type(value)
    if kind is dict:
        time = value.get(_TIME_TAG)
        return time if type(time) is str else None
    if kind is str:
        return _string_time(value)
    return None


def _blank(value: Any) -> bool:
    return value is None or (type(value) is list and not value)


def _equals(value: Any) -> Callable[[Any], bool]:
    """Exact, JSON-strict equality with `value`, for a present attribute."""
    if type(value) is bool:
        return lambda a: a is value
    if type(value) is not str:
        return lambda a: type(a) in _NUMBERS and a == value
    time = values.parse_time(value)
    if time is None:
        return lambda a: type(a) is str and a == value

    def equals_time(a: Any) -> bool:
        if type(a) is str:
            return bool(a == value)
        return type(a) is dict and a.get(_TIME_TAG) == time

    return equals_time


def _eq(get: _Get, value: Any) -> _Match:
    if type(value) is str and values.parse_time(value) is None:
        # the usual leaf (plan = "gold"): compared here, without _equals' closure (a call less per evaluation)
        def eq_text(view: ProfileView, clock: _Clock) -> bool:
            a = get(view)
            return type(a) is str and a == value

        return eq_text
    equals = _equals(value)
    missing = type(value) in _NUMBERS and value == 0  # Braze: numbers "exactly 0" includes users without it

    def eq(view: ProfileView, clock: _Clock) -> bool:
        a = get(view)
        return missing if a is None else equals(a)

    return eq


def _ne(get: _Get, value: Any) -> _Match:
    equals = _equals(value)

    def ne(view: ProfileView, clock: _Clock) -> bool:
        a = get(view)
        return a is None or not equals(a)  # Braze: "does not equal" includes users without it

    return ne


def _compare(op: str) -> Callable[[_Get, Any], _Match]:
    compare = {"gt": operator.gt, "gte": operator.ge, "lt": operator.lt, "lte": operator.le}[op]
    missing = op in ("lt", "lte")  # Braze: numbers "less than" includes users without it

    def build(get: _Get, value: Any) -> _Match:
        def number(view: ProfileView, clock: _Clock) -> bool:
            a = get(view)
            if a is None:
                return missing
            return type(a) in _NUMBERS and bool(compare(a, value))

        return number

    return build


def _exists(get: _Get, value: Any) -> _Match:
    return lambda view, clock: not _blank(get(view))


def _not_exists(get: _Get, value: Any) -> _Match:
    return lambda view, clock: _blank(get(view))


def _is_true(get: _Get, value: Any) -> _Match:
    return lambda view, clock: get(view) is True


def _is_false(get: _Get, value: Any) -> _Match:
    return lambda view, clock: get(view) is False


def _member(value: list[Any]) -> Callable[[Any], bool]:
    """Whether one scalar equals one of `value` (strings and numbers), a time equalling a string that reads as it."""
    allowed = frozenset(value)
    times = frozenset(t for v in value if isinstance(v, str) and (t := values.parse_time(v)) is not None)

    def member(a: Any) -> bool:
        kind = type(a)
        if kind in _SCALARS:
            return a in allowed
        return kind is dict and bool(times) and a.get(_TIME_TAG) in times

    return member


def _in(get: _Get, value: Any) -> _Match:
    member = _member(value)
    return lambda view, clock: member(get(view))  # an array or a missing attribute is no member


def _includes_any(get: _Get, value: Any) -> _Match:
    member = _member(value)

    def includes_any(view: ProfileView, clock: _Clock) -> bool:
        a = get(view)
        if type(a) is not list:
            return a is not None and member(a)  # a scalar is an array of one
        return any(member(item) for item in a)

    return includes_any


def _includes_none(get: _Get, value: Any) -> _Match:
    includes_any = _includes_any(get, value)
    return lambda view, clock: not includes_any(view, clock)  # missing or empty: includes none


def _includes_all(get: _Get, value: Any) -> _Match:
    # each value, with the time it reads as (if it does), looked up among the array's values and times
    wanted = tuple((v, (_TIME_TAG, t) if isinstance(v, str) and (t := values.parse_time(v)) else None) for v in value)

    def includes_all(view: ProfileView, clock: _Clock) -> bool:
        a = get(view)
        if a is None:
            return False
        present: set[Any] = set()
        for item in a if type(a) is list else (a,):
            kind = type(item)
            if kind in _SCALARS:
                present.add(item)
            elif kind is dict and type(item.get(_TIME_TAG)) is str:
                present.add((_TIME_TAG, item[_TIME_TAG]))
        return all(v in present or (t is not None and t in present) for v, t in wanted)

    return includes_all


def _found_in(pattern: Any) -> Callable[[str], bool]:
    """Whether `pattern` (re2.compile's) is found in a string. The wrapper's `search` builds a Match, mapping UTF-8
    byte offsets back to characters, 7 µs a call; whether there is a match is one call of the compiled RE2 on the
    string's UTF-8 bytes, 0.8 µs (make bench, segment evaluation). That object is the wrapper's own (`_regexp`), so
    without it (another version of google-re2) `search` is used: same answers, slower
    (tests/unit/segments/test_filters.py checks both)."""
    compiled = getattr(pattern, "_regexp", None)
    match = getattr(compiled, "Match", None)
    unanchored = getattr(getattr(re2, "_Anchor", None), "UNANCHORED", None)
    if match is None or unanchored is None:
        search = pattern.search
        return lambda text: search(text) is not None

    def found(text: str) -> bool:
        encoded = text.encode()
        return bool(match(unanchored, encoded, 0, len(encoded))[0][0] != -1)

    return found


def _searcher(pattern: Any) -> Callable[[Any], bool | None]:
    """Whether a present value matches (True / False), or None when it is blank or has no string to search."""
    found = _found_in(pattern)

    def matches(a: Any) -> bool | None:
        kind = type(a)
        if kind is str:
            # at most 255 characters searched (profile strings are cut there anyway): RE2's time is linear in them
            return None if not a else found(a[:REGEX_INPUT_CHARS])
        if kind is list and a:
            return any(type(s) is str and found(s[:REGEX_INPUT_CHARS]) for s in a)
        return None

    return matches


def _matches_regex(get: _Get, value: Any) -> _Match:
    matches = _searcher(value)
    return lambda view, clock: matches(get(view)) is True


def _not_matches_regex(get: _Get, value: Any) -> _Match:
    matches = _searcher(value)
    return lambda view, clock: matches(get(view)) is False  # blank (None): excluded, as Braze does


def _before(get: _Get, value: Any) -> _Match:
    def before(view: ProfileView, clock: _Clock) -> bool:
        time = _time_of(get(view))
        return time is not None and time < value

    return before


def _after(get: _Get, value: Any) -> _Match:
    def after(view: ProfileView, clock: _Clock) -> bool:
        time = _time_of(get(view))
        return time is not None and time > value

    return after


def _more_than_days_ago(get: _Get, days: Any) -> _Match:
    def more_than(view: ProfileView, clock: _Clock) -> bool:
        time = _time_of(get(view))
        return time is not None and time < clock.ago(days)

    return more_than


def _less_than_days_ago(get: _Get, days: Any) -> _Match:
    def less_than(view: ProfileView, clock: _Clock) -> bool:
        time = _time_of(get(view))
        return time is not None and time >= clock.ago(days)  # the future included

    return less_than


_ATTRIBUTE_MATCHERS: dict[str, Callable[[_Get, Any], _Match]] = {
    "eq": _eq,
    "ne": _ne,
    "in": _in,
    **{op: _compare(op) for op in _NUMBER_OPS},
    "exists": _exists,
    "not_exists": _not_exists,
    "is_true": _is_true,
    "is_false": _is_false,
    "matches_regex": _matches_regex,
    "not_matches_regex": _not_matches_regex,
    "includes_any": _includes_any,
    "includes_none": _includes_none,
    "includes_all": _includes_all,
    "before": _before,
    "after": _after,
    "more_than_days_ago": _more_than_days_ago,
    "less_than_days_ago": _less_than_days_ago,
}
_ATTRIBUTE_WORDS = {
    "eq": "equals",
    "ne": "does not equal",
    "in": "is any of",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "exists": "exists",
    "not_exists": "does not exist",
    "is_true": "is true",
    "is_false": "is false",
    "matches_regex": "matches regex",
    "not_matches_regex": "does not match regex",
    "includes_any": "includes any of",
    "includes_none": "includes none of",
    "includes_all": "includes all of",
    "before": "is before",
    "after": "is after",
}


def _attribute_text(op: str, value: Any) -> str:
    if op in _DAYS_OPS:
        return f"is {'more' if op == 'more_than_days_ago' else 'less'} than {_plural(value, 'day')} ago"
    words = _ATTRIBUTE_WORDS[op]
    if op in _NO_VALUE_OPS:
        return words
    if isinstance(value, list):
        return f"{words} {', '.join(_quote(v) for v in value)}"
    return f"{words} {_quote(value)}"


# --- custom event and purchase leaves -----------------------------------------------------------------------------


def _activity(kind: str, node: dict[str, Any], path: str, state: _State) -> _Node:
    what = "a custom event filter" if kind == "custom_event" else "a purchase filter"
    last_form = "last_occurred" in node
    allowed = (kind, "last_occurred", "days") if last_form else (kind, "op", "count", "in_days")
    _only(node, path, allowed, what)
    name = node[kind]
    if not _name(name):
        raise FilterError(_pointer(path, kind), f"'{kind}' must be a name of 1 to {MAX_NAME_CHARS} characters")
    purchases = kind == "purchase"
    every = purchases and name == "*"
    state.reads.add(("p:" if purchases else "e:") + name)
    if purchases:
        subject = "any product" if every else f"product {_quote(name)}"
        done = f"purchased {subject}"
    else:
        done = f"did event {_quote(name)}"
    if last_form:
        return _last_occurred(node, path, state, purchases, name if not every else None, done)
    return _count(node, path, state, purchases, name if not every else None, done)


def _count(node: dict[str, Any], path: str, state: _State, purchases: bool, name: str | None, done: str) -> _Node:
    op = node.get("op")
    if not isinstance(op, str) or op not in COUNT_OPS:
        raise FilterError(_pointer(path, "op"), f"'op' must be one of {', '.join(COUNT_OPS)}")
    count = node.get("count")
    if not _whole(count) or count < 0:
        raise FilterError(_pointer(path, "count"), "'count' must be a whole number, 0 or more")
    in_days = None
    if "in_days" in node:
        in_days = node["in_days"]
        if not _whole(in_days) or not 1 <= in_days <= MAX_IN_DAYS:
            raise FilterError(_pointer(path, "in_days"), f"'in_days' must be a whole number from 1 to {MAX_IN_DAYS}")
        if count > MAX_IN_DAYS_COUNT:
            raise FilterError(
                _pointer(path, "count"),
                f"'count' must be a whole number from 0 to {MAX_IN_DAYS_COUNT} when 'in_days' is set",
            )
        state.time_based = True
    compare = {"more_than": operator.gt, "less_than": operator.lt, "exactly": operator.eq}[op]
    how_many = _counter(purchases, name, in_days)

    def match(view: ProfileView, clock: _Clock) -> bool:
        return bool(compare(how_many(view, clock), count))

    text = f"{done} {op.replace('_', ' ')} {_plural(count, 'time')}"
    if in_days is not None:
        text += f" in the last {_plural(in_days, 'day')}"
    return _Node(match, text, False)


def _counter(purchases: bool, name: str | None, in_days: int | None) -> Callable[[ProfileView, _Clock], int]:
    """How many times: all time, or in the last `in_days` UTC days; of one name, or of every product (`name` None)."""

    def summaries(view: ProfileView) -> Iterable[Mapping[str, Any]]:
        kept = view.purchases if purchases else view.events
        if name is None:
            return kept.values()
        one = kept.get(name)
        return () if one is None else (one,)

    if in_days is None:

        def all_time(view: ProfileView, clock: _Clock) -> int:
            return sum(summary.get("count", 0) for summary in summaries(view))

        return all_time
    days = in_days

    def recent(view: ProfileView, clock: _Clock) -> int:
        total = 0
        first = last = ""
        for summary in summaries(view):
            per_day = summary.get("days")
            if not per_day:
                continue
            if not first:
                first, last = clock.window_start(days), clock.today()
            for day, n in per_day.items():
                if first <= day <= last:
                    total += n
        return total

    return recent


def _last_occurred(
    node: dict[str, Any], path: str, state: _State, purchases: bool, name: str | None, done: str
) -> _Node:
    when = node.get("last_occurred")
    if not isinstance(when, str) or when not in LAST_OCCURRED:
        raise FilterError(_pointer(path, "last_occurred"), f"'last_occurred' must be one of {', '.join(LAST_OCCURRED)}")
    days = node.get("days")
    if not _whole(days) or not 0 <= days <= MAX_DAYS:
        raise FilterError(_pointer(path, "days"), f"'days' must be a whole number from 0 to {MAX_DAYS}")
    state.time_based = True

    def latest(view: ProfileView) -> str | None:
        kept = view.purchases if purchases else view.events
        if name is not None:
            one = kept.get(name)
            return None if one is None else one.get("last")
        return max((s["last"] for s in kept.values() if s.get("last")), default=None)

    if when == "more_than_days_ago":

        def more_than(view: ProfileView, clock: _Clock) -> bool:
            last = latest(view)
            return last is not None and last < clock.ago(days)

        match = more_than
    else:

        def less_than(view: ProfileView, clock: _Clock) -> bool:
            last = latest(view)
            return last is not None and last >= clock.ago(days)

        match = less_than
    more_or_less = "more" if when == "more_than_days_ago" else "less"
    return _Node(match, f"last {done} {more_or_less} than {_plural(days, 'day')} ago", False)


# --- cohort leaves ------------------------------------------------------------------------------------------------


def _cohort(node: dict[str, Any], path: str, state: _State) -> _Node:
    _only(node, path, ("cohort", "op"), "a cohort filter")
    cohort = node["cohort"]
    cohort_path = _pointer(path, "cohort")
    if not isinstance(cohort, dict):
        raise FilterError(cohort_path, "'cohort' must be an object with 'partner' and 'cohort_id'")
    _only(cohort, cohort_path, ("partner", "cohort_id"), "'cohort'")
    for key in ("partner", "cohort_id"):
        if not isinstance(cohort.get(key), str) or not cohort[key]:
            raise FilterError(_pointer(cohort_path, key), f"'{key}' must be a non-empty string")
    op = node.get("op")
    if not isinstance(op, str) or op not in COHORT_OPS:
        raise FilterError(_pointer(path, "op"), f"'op' must be one of {', '.join(COHORT_OPS)}")
    key = f"{cohort['partner']}:{cohort['cohort_id']}"
    state.reads.add("c:" + key)
    text = f"cohort {_quote(cohort['cohort_id'])} of partner {_quote(cohort['partner'])}"
    if op == "in":
        return _Node(lambda view, clock: key in view.cohorts, f"is in {text}", False)
    return _Node(lambda view, clock: key not in view.cohorts, f"is not in {text}", False)
