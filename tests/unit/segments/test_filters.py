"""Segment filters: Braze's semantics for every op, event and purchase counts and windows, cohorts, boolean logic,
what a filter reads, and every way a filter is refused (where, and why, without its values). Fixed `now`, no clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from audience_sync.profiles import values
from audience_sync.segments.filters import MAX_DEPTH, MAX_LEAVES, FilterError, ProfileView, parse

NOW = dt.datetime(2026, 12, 5, 10, 0, 0, tzinfo=dt.UTC)
TODAY = "2026-12-05"


def leaf(attribute: str, op: str, *value: Any) -> dict[str, Any]:
    node: dict[str, Any] = {"attribute": attribute, "op": op}
    if value:
        node["value"] = value[0]
    return node


def holds(raw: dict[str, Any], view: ProfileView | None = None, now: dt.datetime = NOW) -> bool:
    return parse(raw).matches(view if view is not None else ProfileView(), now)


def custom(**attributes: Any) -> ProfileView:
    return ProfileView(custom=attributes)


def time(iso: str) -> dict[str, str]:
    return {"$time": iso}


def ago(**delta: float) -> str:
    """A stored time `delta` before NOW."""
    return values.format_time(NOW - dt.timedelta(**delta))


def day(days_ago: int) -> str:
    return (NOW.date() - dt.timedelta(days=days_ago)).isoformat()


def summary(count: int, last: str | None = None, days: dict[str, int] | None = None) -> dict[str, Any]:
    s: dict[str, Any] = {"count": count, "days": days or {}}
    if last is not None:
        s["first"] = s["last"] = last
    return s


def event(**fields: Any) -> dict[str, Any]:
    return {"custom_event": "Order", **fields}


def nested_nots(levels: int) -> dict[str, Any]:
    """A leaf inside `levels` nested nots: the leaf is at depth `levels`."""
    node: dict[str, Any] = leaf("plan", "exists")
    for _ in range(levels):
        node = {"not": node}
    return node


# --- attribute ops ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "value", "expected"),
    [
        ("gold", "gold", True),
        ("Gold", "gold", False),  # case-sensitive
        ("gold ", "gold", False),
        (3, 3, True),
        (3, 3.0, True),  # numbers are numbers, int or float
        (3, 4, False),
        ("3", 3, False),
        (True, True, True),
        (False, True, False),
        (True, 1, False),  # a boolean never equals a number
        (1, True, False),
        (0, False, False),
        (["gold"], "gold", False),  # eq is scalar-only
        ({"tier": "gold"}, "gold", False),
        (time("2026-01-01T00:00:00.000Z"), "2026-01-01", True),  # a string that reads as that time
        (time("2026-01-01T00:00:00.000Z"), "2026-01-02", False),
        ("2026-01-01", "2026-01-01", True),
    ],
)
def test_eq_is_exact_and_ne_is_its_opposite_when_the_attribute_is_there(
    attribute: Any, value: Any, expected: bool
) -> None:
    view = custom(plan=attribute)
    assert holds(leaf("plan", "eq", value), view) is expected
    assert holds(leaf("plan", "ne", value), view) is not expected


@pytest.mark.parametrize("missing", [custom(), custom(plan=None)])
def test_a_missing_or_null_attribute(missing: ProfileView) -> None:
    assert not holds(leaf("plan", "exists"), missing)
    assert holds(leaf("plan", "not_exists"), missing)
    assert holds(leaf("plan", "ne", "gold"), missing)  # Braze: "does not equal" includes users without it
    assert holds(leaf("plan", "includes_none", ["a"]), missing)
    assert holds(leaf("plan", "lt", 5), missing)  # Braze: "less than" includes nulls
    assert holds(leaf("plan", "lte", -5), missing)
    assert holds(leaf("plan", "eq", 0), missing)  # Braze: "exactly 0" includes nulls
    assert holds(leaf("plan", "eq", 0.0), missing)
    refused = [
        leaf("plan", "eq", "gold"),
        leaf("plan", "eq", 1),
        leaf("plan", "eq", False),
        leaf("plan", "in", ["gold", 0]),
        leaf("plan", "gt", -1),
        leaf("plan", "gte", 0),
        leaf("plan", "is_true"),
        leaf("plan", "is_false"),  # "is false" is not "false or not set"
        leaf("plan", "matches_regex", ".*"),
        leaf("plan", "not_matches_regex", "x"),  # Braze: "does not match" excludes blanks
        leaf("plan", "includes_any", ["a"]),
        leaf("plan", "includes_all", ["a"]),
        leaf("plan", "before", "2100-01-01"),
        leaf("plan", "after", "1900-01-01"),
        leaf("plan", "more_than_days_ago", 0),
        leaf("plan", "less_than_days_ago", 3650),
    ]
    for raw in refused:
        assert not holds(raw, missing), raw


def test_exists_counts_an_empty_string_as_a_value_and_an_empty_array_as_none() -> None:
    assert holds(leaf("plan", "exists"), custom(plan=""))
    assert holds(leaf("plan", "exists"), custom(plan=False))
    assert holds(leaf("plan", "exists"), custom(plan=0))
    assert holds(leaf("plan", "exists"), custom(plan=["a"]))
    assert not holds(leaf("plan", "exists"), custom(plan=[]))
    assert holds(leaf("plan", "not_exists"), custom(plan=[]))
    assert not holds(leaf("plan", "not_exists"), custom(plan=""))


def test_in_is_one_of_the_values_for_a_scalar() -> None:
    raw = leaf("plan", "in", ["gold", "silver", 3])
    assert holds(raw, custom(plan="silver"))
    assert holds(raw, custom(plan=3.0))
    assert not holds(raw, custom(plan="bronze"))
    assert not holds(raw, custom(plan="Gold"))
    assert not holds(raw, custom(plan=["gold"]))  # an array is not one of the values
    assert not holds(leaf("plan", "in", [1, 0]), custom(plan=True))  # nor is a boolean a number
    assert holds(leaf("signup", "in", ["2026-01-01"]), custom(signup=time("2026-01-01T00:00:00.000Z")))


@pytest.mark.parametrize(
    ("op", "value", "attribute", "expected"),
    [
        ("gt", 3, 4, True),
        ("gt", 3, 3, False),
        ("gt", 3, 2.5, False),
        ("gte", 3, 3, True),
        ("gte", 3, 2.99, False),
        ("lt", 3, 2, True),
        ("lt", 3, 3, False),
        ("lte", 3, 3, True),
        ("lte", 3, 4, False),
        ("gt", 0.5, 1, True),
        ("gt", 3, "4", False),  # numbers only
        ("lt", 3, "2", False),
        ("gt", 0, True, False),  # a boolean is not a number
        ("lt", 2, True, False),
        ("lt", 3, [1], False),
    ],
)
def test_number_comparisons(op: str, value: float, attribute: Any, expected: bool) -> None:
    assert holds(leaf("visits", op, value), custom(visits=attribute)) is expected


def test_is_true_and_is_false_need_the_boolean() -> None:
    for attribute, true, false in [
        (True, True, False),
        (False, False, True),
        ("true", False, False),
        (1, False, False),
    ]:
        assert holds(leaf("vip", "is_true"), custom(vip=attribute)) is true
        assert holds(leaf("vip", "is_false"), custom(vip=attribute)) is false


def test_matches_regex_is_a_partial_case_insensitive_search() -> None:
    raw = leaf("email", "matches_regex", r"@example\.COM$")
    assert holds(raw, ProfileView(fields={"email": "Ana@Example.com"}))
    assert not holds(raw, ProfileView(fields={"email": "ana@example.org"}))
    assert holds(leaf("plan", "matches_regex", "ol"), custom(plan="gold"))  # partial
    assert not holds(leaf("plan", "matches_regex", "^ol"), custom(plan="gold"))
    assert not holds(leaf("visits", "matches_regex", "3"), custom(visits=3))  # strings only


def test_matches_regex_on_an_array_matches_any_string_in_it() -> None:
    raw = leaf("segments", "matches_regex", "^vip")
    assert holds(raw, custom(segments=["new", "VIP-2026"]))
    assert not holds(raw, custom(segments=["new", "old"]))
    assert not holds(raw, custom(segments=[]))


def test_not_matches_regex_holds_for_a_string_that_does_not_match_and_never_for_blanks() -> None:
    raw = leaf("plan", "not_matches_regex", "^gold$")
    assert holds(raw, custom(plan="silver"))
    assert not holds(raw, custom(plan="GOLD"))
    assert not holds(raw, custom(plan=""))
    assert not holds(raw, custom(plan=[]))
    assert holds(raw, custom(plan=["silver", "bronze"]))
    assert not holds(raw, custom(plan=["silver", "gold"]))


REGEX_CASES = [
    (r"@example\.COM$", ["Ana@Example.com", "ana@example.org"]),
    ("^é", ["École", "école", "une école"]),  # case folding beyond ASCII, anchored at the first character
    ("ß|ü", ["Straße", "ÜBER", "uber"]),
    ("", ["", "anything"]),  # the empty pattern is found everywhere
    ("x*", ["abc"]),  # an empty match at the start
    ("b$", ["ab", "ba", "a\nb"]),
    ("日本", ["にっぽん日本語", "日 本"]),
]


@pytest.mark.parametrize(("pattern", "texts"), REGEX_CASES)
def test_a_regex_is_found_exactly_where_the_libraries_search_finds_it(pattern: str, texts: list[str]) -> None:
    """filters.py asks the compiled RE2 whether a pattern is found, not the wrapper's `search` (9 times slower); both
    ways answer alike, the fallback (another google-re2 without that object) included."""
    from audience_sync.segments import filters

    compiled = filters._check_regex(pattern)
    fast = filters._found_in(compiled)

    class WrapperOnly:  # what a google-re2 without `_regexp` offers
        search = compiled.search

    fallback = filters._found_in(WrapperOnly())
    for text in texts:
        expected = compiled.search(text) is not None
        assert fast(text) is expected and fallback(text) is expected, (pattern, text)
    assert fast.__name__ == "found"  # the pinned google-re2 takes the fast way


def test_a_regex_searches_at_most_the_first_255_characters() -> None:
    # standard fields are not all cut to 255 characters; the cap bounds a backtracking pattern's cost
    long_text = "x" * 255 + "needle"
    assert not holds(leaf("image_url", "matches_regex", "needle"), ProfileView(fields={"image_url": long_text}))
    assert holds(leaf("image_url", "matches_regex", "x{255}"), ProfileView(fields={"image_url": long_text}))


def test_includes_any_none_and_all_on_arrays() -> None:
    view = custom(segments=["a", "b", 3])
    assert holds(leaf("segments", "includes_any", ["z", "b"]), view)
    assert not holds(leaf("segments", "includes_any", ["z", "B"]), view)
    assert holds(leaf("segments", "includes_none", ["z", "B"]), view)
    assert not holds(leaf("segments", "includes_none", ["z", 3]), view)
    assert holds(leaf("segments", "includes_all", ["a", 3]), view)
    assert not holds(leaf("segments", "includes_all", ["a", "z"]), view)


def test_includes_treats_a_scalar_as_an_array_of_one_and_an_empty_array_as_holding_nothing() -> None:
    assert holds(leaf("plan", "includes_any", ["gold", "silver"]), custom(plan="gold"))
    assert holds(leaf("plan", "includes_all", ["gold"]), custom(plan="gold"))
    assert not holds(leaf("plan", "includes_all", ["gold", "silver"]), custom(plan="gold"))
    assert holds(leaf("plan", "includes_none", ["silver"]), custom(plan="gold"))
    assert not holds(leaf("flags", "includes_any", [1]), custom(flags=[True]))  # booleans are not numbers
    for op, expected in [("includes_any", False), ("includes_all", False), ("includes_none", True)]:
        assert holds(leaf("plan", op, ["gold"]), custom(plan=[])) is expected


def test_includes_matches_times_by_the_time_they_are() -> None:
    view = custom(dates=[time("2026-01-01T00:00:00.000Z")])
    assert holds(leaf("dates", "includes_any", ["2026-01-01T00:00:00Z"]), view)
    assert holds(leaf("dates", "includes_all", ["2026-01-01"]), view)
    assert not holds(leaf("dates", "includes_any", ["2026-01-02"]), view)


@pytest.mark.parametrize(
    "signup", [time("2026-06-01T12:00:00.000Z"), "2026-06-01T12:00:00Z", "2026-06-01 14:00:00+02:00"]
)
def test_before_and_after_compare_times_tagged_or_as_strings(signup: Any) -> None:
    view = custom(signup=signup)
    assert holds(leaf("signup", "before", "2026-06-01T12:00:00.001Z"), view)
    assert not holds(leaf("signup", "before", "2026-06-01T12:00:00Z"), view)  # equal: neither
    assert not holds(leaf("signup", "after", "2026-06-01T12:00:00Z"), view)
    assert holds(leaf("signup", "after", "2026-06-01"), view)
    assert not holds(leaf("signup", "after", "2026-06-02"), view)


def test_before_and_after_on_a_standard_date_field_and_on_non_times() -> None:
    assert holds(leaf("dob", "before", "2000-01-01"), ProfileView(fields={"dob": "1990-05-01"}))
    assert not holds(leaf("dob", "after", "2000-01-01"), ProfileView(fields={"dob": "1990-05-01"}))
    for not_a_time in ["soon", 20260601, True, ["2026-06-01"], {"at": "2026-06-01"}]:
        view = custom(signup=not_a_time)
        assert not holds(leaf("signup", "before", "2100-01-01"), view), not_a_time
        assert not holds(leaf("signup", "after", "1900-01-01"), view), not_a_time


@pytest.mark.parametrize(
    ("signup", "more_than", "less_than"),
    [
        (ago(days=7), False, True),  # exactly 7 days ago: less than, not more than
        (ago(days=7, milliseconds=1), True, False),
        (ago(days=6, hours=23), False, True),
        (ago(days=400), True, False),
        (values.format_time(NOW + dt.timedelta(days=1)), False, True),  # the future is less than 7 days ago
    ],
)
def test_days_ago_split_every_time_at_now_minus_d_days(signup: str, more_than: bool, less_than: bool) -> None:
    view = custom(signup=time(signup))
    assert holds(leaf("signup", "more_than_days_ago", 7), view) is more_than
    assert holds(leaf("signup", "less_than_days_ago", 7), view) is less_than


def test_days_ago_with_zero_days_and_with_a_string_time() -> None:
    assert holds(leaf("signup", "more_than_days_ago", 0), custom(signup=time(ago(seconds=1))))
    assert holds(leaf("signup", "less_than_days_ago", 0), custom(signup=time(values.format_time(NOW))))
    assert holds(leaf("dob", "more_than_days_ago", 3650), ProfileView(fields={"dob": "1990-05-01"}))


def test_days_ago_compares_to_the_millisecond_as_times_are_stored() -> None:
    now = dt.datetime(2026, 12, 5, 10, 0, 0, 123_999, tzinfo=dt.UTC)  # stored times keep milliseconds, cut
    at_threshold = custom(signup=time("2026-11-28T10:00:00.123Z"))
    just_before = custom(signup=time("2026-11-28T10:00:00.122Z"))
    assert holds(leaf("signup", "less_than_days_ago", 7), at_threshold, now)
    assert not holds(leaf("signup", "more_than_days_ago", 7), at_threshold, now)
    assert holds(leaf("signup", "more_than_days_ago", 7), just_before, now)
    across_a_year = custom(signup=time("2025-12-05T10:00:00.000Z"))
    assert holds(leaf("signup", "less_than_days_ago", 365), across_a_year)
    assert not holds(leaf("signup", "less_than_days_ago", 364), across_a_year)


def test_now_in_another_zone_or_naive_is_the_same_instant() -> None:
    raw = leaf("signup", "less_than_days_ago", 1)
    view = custom(signup=time("2026-12-04T10:00:00.000Z"))
    assert holds(raw, view, NOW)
    assert holds(raw, view, NOW.astimezone(dt.timezone(dt.timedelta(hours=5))))
    assert not holds(raw, view, NOW.astimezone(dt.timezone(dt.timedelta(hours=5))) + dt.timedelta(milliseconds=1))
    assert holds(raw, view, NOW.replace(tzinfo=None))  # naive: UTC


# --- where attributes are read ------------------------------------------------------------------------------------


def test_dot_paths_descend_nested_custom_objects() -> None:
    view = custom(address={"city": "Lyon", "geo": {"zip": "69001"}}, tags=["a"])
    assert holds(leaf("address.city", "eq", "Lyon"), view)
    assert holds(leaf("address.geo.zip", "eq", "69001"), view)
    assert holds(leaf("address.geo", "exists"), view)
    assert holds(leaf("address.country", "not_exists"), view)  # a missing step: the attribute does not exist
    assert holds(leaf("address.city.name", "not_exists"), view)  # a step that is not an object
    assert holds(leaf("tags.0", "not_exists"), view)
    assert holds(leaf("nowhere.city", "ne", "Lyon"), view)


def test_a_time_nested_in_an_object_is_a_time() -> None:
    view = custom(account={"opened": time("2026-01-01T00:00:00.000Z")})
    assert holds(leaf("account.opened", "before", "2026-02-01"), view)


def test_standard_fields_are_read_from_fields_and_every_other_name_from_custom() -> None:
    view = ProfileView(
        fields={"email": "a@example.com", "current_location": {"latitude": 48.8, "longitude": 2.3}},
        custom={"email": "b@example.com", "plan": "gold"},
    )
    assert holds(leaf("email", "eq", "a@example.com"), view)
    assert not holds(leaf("email", "eq", "b@example.com"), view)
    assert holds(leaf("current_location.latitude", "gt", 48), view)
    assert holds(leaf("plan", "eq", "gold"), ProfileView(custom={"plan": "gold"}))
    assert not holds(leaf("plan", "exists"), ProfileView(fields={"plan": "gold"}))  # not a standard field


# --- custom events and purchases ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "count", "expected"),
    [
        ("more_than", 4, True),
        ("more_than", 5, False),
        ("less_than", 6, True),
        ("less_than", 5, False),
        ("exactly", 5, True),
        ("exactly", 4, False),
    ],
)
def test_event_counts_all_time(op: str, count: int, expected: bool) -> None:
    view = ProfileView(events={"Order": summary(5, ago(days=100))})
    assert holds({"custom_event": "Order", "op": op, "count": count}, view) is expected


def test_a_user_who_never_did_the_event_has_count_zero() -> None:
    view = ProfileView(events={"Other": summary(9, ago(days=1))})
    assert holds({"custom_event": "Order", "op": "less_than", "count": 1}, view)
    assert holds({"custom_event": "Order", "op": "exactly", "count": 0}, view)
    assert not holds({"custom_event": "Order", "op": "more_than", "count": 0}, view)
    assert holds({"custom_event": "Order", "op": "exactly", "count": 0, "in_days": 7}, view)


def test_in_days_counts_the_last_d_utc_calendar_days_counting_today() -> None:
    per_day = {TODAY: 1, day(6): 2, day(7): 4, day(29): 8, day(30): 16}
    view = ProfileView(events={"Order": summary(31, ago(hours=1), per_day)})

    def count_in(days: int) -> int:
        matching = [n for n in range(51) if holds(event(op="exactly", count=n, in_days=days), view)]
        assert len(matching) == 1
        return matching[0]

    assert count_in(1) == 1  # today only
    assert count_in(7) == 1 + 2  # today and the 6 days before; 7 days ago is out
    assert count_in(8) == 1 + 2 + 4
    assert count_in(30) == 1 + 2 + 4 + 8  # 29 days ago is in, 30 out
    assert holds(event(op="more_than", count=2, in_days=7), view)
    assert not holds(event(op="more_than", count=3, in_days=7), view)
    assert holds(event(op="less_than", count=4, in_days=7), view)
    assert not holds(event(op="less_than", count=3, in_days=7), view)
    assert holds(event(op="exactly", count=0, in_days=1), ProfileView())
    assert holds(event(op="exactly", count=31), view)  # all time: the count, not the days


def test_in_days_leaves_out_days_after_today() -> None:
    view = ProfileView(events={"Order": summary(2, ago(hours=1), {TODAY: 1, day(-1): 1})})
    assert holds({"custom_event": "Order", "op": "exactly", "count": 1, "in_days": 2}, view)


def test_in_days_follows_the_utc_date_of_now() -> None:
    view = ProfileView(events={"Order": summary(1, "2026-12-04T23:00:00.000Z", {"2026-12-04": 1})})
    raw = {"custom_event": "Order", "op": "exactly", "count": 1, "in_days": 1}
    assert holds(raw, view, dt.datetime(2026, 12, 4, 23, 59, tzinfo=dt.UTC))
    assert not holds(raw, view, dt.datetime(2026, 12, 5, 0, 0, tzinfo=dt.UTC))
    # 01:00 at +02:00 is still 23:00 UTC on the 4th
    assert holds(raw, view, dt.datetime(2026, 12, 5, 1, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))))


@pytest.mark.parametrize(
    ("last", "more_than", "less_than"),
    [
        (ago(days=3), False, True),  # exactly 3 days ago: less than
        (ago(days=3, milliseconds=1), True, False),
        (ago(hours=1), False, True),
        (ago(days=90), True, False),
    ],
)
def test_last_occurred(last: str, more_than: bool, less_than: bool) -> None:
    view = ProfileView(events={"Order": summary(1, last)})
    assert holds({"custom_event": "Order", "last_occurred": "more_than_days_ago", "days": 3}, view) is more_than
    assert holds({"custom_event": "Order", "last_occurred": "less_than_days_ago", "days": 3}, view) is less_than


def test_last_occurred_is_false_both_ways_for_a_user_who_never_did_it() -> None:
    for when in ("more_than_days_ago", "less_than_days_ago"):
        assert not holds({"custom_event": "Order", "last_occurred": when, "days": 3}, ProfileView())
        assert not holds({"purchase": "*", "last_occurred": when, "days": 3}, ProfileView())


def test_purchases_of_one_product() -> None:
    view = ProfileView(
        purchases={"sku-1": summary(2, ago(days=10), {day(10): 2}), "sku-2": summary(3, ago(days=1), {day(1): 3})},
        events={"sku-1": summary(50, ago(days=1))},  # an event of the same name is not a purchase
    )
    assert holds({"purchase": "sku-1", "op": "exactly", "count": 2}, view)
    assert holds({"purchase": "sku-1", "op": "exactly", "count": 0, "in_days": 7}, view)
    assert holds({"purchase": "sku-1", "last_occurred": "more_than_days_ago", "days": 7}, view)
    assert holds({"purchase": "sku-3", "op": "less_than", "count": 1}, view)


def test_any_product_sums_counts_and_takes_the_latest_last_time() -> None:
    view = ProfileView(
        purchases={
            "sku-1": summary(2, ago(days=10), {day(10): 2}),
            "sku-2": summary(3, ago(days=1), {day(1): 2, TODAY: 1}),
            "sku-3": summary(4, ago(days=20), {day(20): 4}),
        }
    )
    assert holds({"purchase": "*", "op": "exactly", "count": 9}, view)
    assert holds({"purchase": "*", "op": "exactly", "count": 5, "in_days": 11}, view)
    assert holds({"purchase": "*", "op": "exactly", "count": 3, "in_days": 10}, view)
    assert holds({"purchase": "*", "last_occurred": "less_than_days_ago", "days": 2}, view)
    assert not holds({"purchase": "*", "last_occurred": "more_than_days_ago", "days": 2}, view)
    assert holds({"purchase": "*", "op": "exactly", "count": 0}, ProfileView())


# --- cohorts and logic --------------------------------------------------------------------------------------------


def test_cohort_in_and_not_in() -> None:
    view = ProfileView(cohorts={"segment:vip", "lytics:churn"})
    vip = {"partner": "segment", "cohort_id": "vip"}
    assert holds({"cohort": vip, "op": "in"}, view)
    assert not holds({"cohort": vip, "op": "not_in"}, view)
    other = {"partner": "lytics", "cohort_id": "vip"}
    assert not holds({"cohort": other, "op": "in"}, view)
    assert holds({"cohort": other, "op": "not_in"}, view)
    assert holds({"cohort": vip, "op": "not_in"}, ProfileView())


def test_all_any_and_not() -> None:
    gold = leaf("plan", "eq", "gold")
    vip = leaf("vip", "is_true")
    view = custom(plan="gold", vip=False)
    assert not holds({"all": [gold, vip]}, view)
    assert holds({"any": [gold, vip]}, view)
    assert holds({"all": [gold, {"not": vip}]}, view)
    assert not holds({"not": {"any": [gold, vip]}}, view)
    assert holds({"all": [gold]}, view)
    assert not holds({"any": [vip]}, view)
    assert holds({"any": [vip, {"all": [gold, {"not": vip}]}]}, view)
    assert not holds({"all": [gold, gold, vip]}, view)
    assert holds({"any": [vip, vip, gold]}, view)


def test_all_and_any_stop_at_the_first_answer() -> None:
    class Exploding(dict[str, Any]):
        def get(self, key: Any, default: Any = None) -> Any:
            raise AssertionError("read after the answer was known")

    view = ProfileView(fields=Exploding(), custom={"plan": "gold"})
    assert not holds({"all": [leaf("plan", "eq", "x"), leaf("email", "exists")]}, view)
    assert holds({"any": [leaf("plan", "eq", "gold"), leaf("email", "exists")]}, view)


# --- what a filter says about itself ------------------------------------------------------------------------------


COMPOSITE = {
    "all": [
        leaf("plan", "eq", "gold"),
        leaf("email", "matches_regex", "@example"),
        {
            "any": [
                leaf("address.city", "in", ["Lyon", "Paris"]),
                {"custom_event": "Order", "op": "more_than", "count": 3, "in_days": 7},
                {"not": {"purchase": "*", "op": "exactly", "count": 0}},
                {"purchase": "sku-1", "last_occurred": "less_than_days_ago", "days": 30},
                {"cohort": {"partner": "segment", "cohort_id": "vip"}, "op": "in"},
            ]
        },
    ]
}


def test_reads_names_every_top_level_attribute_event_product_and_cohort() -> None:
    assert parse(COMPOSITE).reads == {"a:plan", "a:email", "a:address", "e:Order", "p:*", "p:sku-1", "c:segment:vip"}


@pytest.mark.parametrize(
    ("raw", "time_based"),
    [
        (COMPOSITE, True),
        (leaf("signup", "before", "2026-01-01"), False),  # a fixed time: only a change of the profile changes it
        ({"all": [leaf("signup", "after", "2026-01-01"), leaf("plan", "eq", "gold")]}, False),
        ({"custom_event": "Order", "op": "more_than", "count": 3}, False),
        ({"cohort": {"partner": "segment", "cohort_id": "vip"}, "op": "in"}, False),
        ({"not": leaf("signup", "more_than_days_ago", 7)}, True),
        ({"any": [leaf("plan", "eq", "gold"), leaf("signup", "less_than_days_ago", 7)]}, True),
        ({"custom_event": "Order", "op": "more_than", "count": 3, "in_days": 7}, True),
        ({"purchase": "*", "last_occurred": "more_than_days_ago", "days": 7}, True),
    ],
)
def test_time_based(raw: dict[str, Any], time_based: bool) -> None:
    assert parse(raw).time_based is time_based


def test_raw_is_the_filter_as_given_and_not_shared_with_the_caller() -> None:
    raw: dict[str, Any] = {"all": [leaf("plan", "eq", "gold")]}
    parsed = parse(raw)
    raw["all"].append(leaf("vip", "is_true"))
    assert parsed.raw == {"all": [leaf("plan", "eq", "gold")]}
    assert parsed.matches(custom(plan="gold"), NOW)


def test_text_describes_the_filter_in_english() -> None:
    raw = {
        "all": [
            leaf("plan", "eq", "gold"),
            {"custom_event": "Order", "op": "more_than", "count": 3, "in_days": 7},
        ]
    }
    assert (
        parse(raw).text()
        == 'custom attribute plan equals "gold" AND did event "Order" more than 3 times in the last 7 days'
    )
    assert parse(COMPOSITE).text() == (
        'custom attribute plan equals "gold" AND attribute email matches regex "@example" AND '
        '(custom attribute address.city is any of "Lyon", "Paris" OR did event "Order" more than 3 times in the last '
        '7 days OR NOT purchased any product exactly 0 times OR last purchased product "sku-1" less than 30 days ago '
        'OR is in cohort "vip" of partner "segment")'
    )
    assert parse({"not": {"any": [leaf("vip", "is_true"), leaf("age", "lt", 18)]}}).text() == (
        "NOT (custom attribute vip is true OR custom attribute age is less than 18)"
    )
    assert parse({"custom_event": "Login", "last_occurred": "more_than_days_ago", "days": 1}).text() == (
        'last did event "Login" more than 1 day ago'
    )
    assert parse(leaf("signup", "more_than_days_ago", 7)).text() == "custom attribute signup is more than 7 days ago"


# --- refusals -----------------------------------------------------------------------------------------------------

OK = leaf("plan", "exists")
SECRET = "ana.ruiz@example.com"  # stands for a value that may be personal data: never in a message


BAD_FILTERS = [
    # nodes
    pytest.param([], "", "must be an object", id="root not an object"),
    pytest.param(SECRET, "", "must be an object", id="root a string"),
    pytest.param({}, "", "one of the keys", id="no kind"),
    pytest.param({"where": 1}, "", "one of the keys", id="only unknown keys"),
    pytest.param({"all": []}, "/all", "must not be empty", id="empty all"),
    pytest.param({"any": []}, "/any", "must not be empty", id="empty any"),
    pytest.param({"all": OK}, "/all", "array", id="all not an array"),
    pytest.param(
        {"attribute": "external_id", "op": "eq", "value": "u1"},
        "/attribute",
        "a key of the users API",
        id="external_id",
    ),
    pytest.param({"attribute": "braze_id.x", "op": "exists"}, "/attribute", "not an attribute", id="braze_id"),
    pytest.param({"all": [OK, 1]}, "/all/1", "must be an object", id="child not an object"),
    pytest.param({"not": [OK]}, "/not", "must be an object", id="not of an array"),
    pytest.param({"all": [OK], "any": [OK]}, "/any", "no such key", id="two kinds"),
    pytest.param({"not": OK, "extra": 1}, "/extra", "no such key", id="unknown key beside not"),
    pytest.param({**OK, SECRET: 1}, "/" + SECRET, "no such key", id="unknown key in a leaf"),
    pytest.param({**OK, "a/b~c": 1}, "/a~1b~0c", "no such key", id="unknown key escaped"),
    # attribute names
    pytest.param(leaf("", "exists"), "/attribute", "1 to 255", id="empty attribute"),
    pytest.param(leaf("a" * 256, "exists"), "/attribute", "1 to 255", id="long attribute"),
    pytest.param({"attribute": 5, "op": "exists"}, "/attribute", "1 to 255", id="attribute not a string"),
    pytest.param(leaf("address..city", "exists"), "/attribute", "empty part", id="empty dot segment"),
    pytest.param(leaf(".city", "exists"), "/attribute", "empty part", id="leading dot"),
    pytest.param(leaf("city.", "exists"), "/attribute", "empty part", id="trailing dot"),
    # ops
    pytest.param({"attribute": "plan"}, "/op", "must be one of", id="op missing"),
    pytest.param(leaf("plan", SECRET), "/op", "must be one of", id="unknown op"),
    pytest.param(leaf("plan", "EQ", 1), "/op", "must be one of", id="op case"),
    pytest.param(leaf("plan", "more_than", 1), "/op", "must be one of", id="event op on an attribute"),
    pytest.param({"attribute": "plan", "op": ["eq"]}, "/op", "must be one of", id="op not a string"),
    # values
    pytest.param(leaf("plan", "eq"), "/value", "needs a value", id="eq without value"),
    pytest.param(leaf("plan", "eq", None), "/value", "a string, a number, true or false", id="eq null"),
    pytest.param(leaf("plan", "ne", ["gold"]), "/value", "a string, a number, true or false", id="ne array"),
    pytest.param(leaf("plan", "eq", {"v": 1}), "/value", "a string, a number, true or false", id="eq object"),
    pytest.param(leaf("n", "eq", float("nan")), "/value", "a string, a number", id="eq nan"),
    pytest.param(leaf("n", "gt"), "/value", "needs a value", id="gt without value"),
    pytest.param(leaf("n", "gt", SECRET), "/value", "a number", id="gt string"),
    pytest.param(leaf("n", "gte", True), "/value", "a number", id="gte boolean"),
    pytest.param(leaf("n", "lt", float("inf")), "/value", "a number", id="lt infinite"),
    pytest.param(leaf("n", "gt", 10**400), "/value", "a number", id="gt integer past a float"),
    pytest.param(leaf("n", "eq", -(10**400)), "/value", "a string, a number", id="eq integer past a float"),
    pytest.param(leaf("plan", "in", [10**400]), "/value", "strings or numbers", id="in integer past a float"),
    pytest.param(leaf("n", "lte", None), "/value", "a number", id="lte null"),
    pytest.param(leaf("plan", "in", []), "/value", "1 to 256", id="in empty"),
    pytest.param(leaf("plan", "in", SECRET), "/value", "1 to 256", id="in not an array"),
    pytest.param(leaf("plan", "in", [str(i) for i in range(257)]), "/value", "1 to 256", id="in 257 values"),
    pytest.param(leaf("plan", "in", ["a", True]), "/value", "strings or numbers", id="in boolean"),
    pytest.param(leaf("plan", "includes_any", [None]), "/value", "strings or numbers", id="includes_any null"),
    pytest.param(leaf("plan", "includes_none", [["a"]]), "/value", "strings or numbers", id="includes_none nested"),
    pytest.param(leaf("plan", "includes_all"), "/value", "needs a value", id="includes_all without value"),
    pytest.param(leaf("plan", "matches_regex", "(" + SECRET), "/value", "does not compile", id="regex bad"),
    pytest.param(leaf("plan", "not_matches_regex", "[a-"), "/value", "does not compile", id="not regex bad"),
    pytest.param(leaf("plan", "matches_regex", "a" * 32_765), "/value", "at most 32764", id="regex long"),
    pytest.param(leaf("plan", "matches_regex", 5), "/value", "regular expression", id="regex not a string"),
    pytest.param(leaf("t", "before", "yesterday"), "/value", "ISO 8601", id="before not a time"),
    pytest.param(leaf("t", "after", 1764928800), "/value", "ISO 8601", id="after a number"),
    pytest.param(leaf("t", "before"), "/value", "needs a value", id="before without value"),
    pytest.param(leaf("t", "more_than_days_ago", -1), "/value", "0 to 3650", id="days ago negative"),
    pytest.param(leaf("t", "less_than_days_ago", 3651), "/value", "0 to 3650", id="days ago too many"),
    pytest.param(leaf("t", "more_than_days_ago", 1.5), "/value", "whole number", id="days ago fraction"),
    pytest.param(leaf("t", "more_than_days_ago", 7.0), "/value", "whole number", id="days ago float"),
    pytest.param(leaf("t", "less_than_days_ago", True), "/value", "whole number", id="days ago boolean"),
    pytest.param(leaf("t", "less_than_days_ago", "7"), "/value", "whole number", id="days ago string"),
    pytest.param(leaf("plan", "exists", True), "/value", "'exists' takes no value", id="exists with value"),
    pytest.param(leaf("plan", "not_exists", None), "/value", "'not_exists' takes no value", id="not_exists null"),
    pytest.param(leaf("plan", "is_true", True), "/value", "'is_true' takes no value", id="is_true with value"),
    pytest.param(leaf("plan", "is_false", False), "/value", "'is_false' takes no value", id="is_false with value"),
    # custom events
    pytest.param({"custom_event": "", "op": "exactly", "count": 1}, "/custom_event", "1 to 255", id="event empty"),
    pytest.param(
        {"custom_event": "e" * 256, "op": "exactly", "count": 1}, "/custom_event", "1 to 255", id="event long"
    ),
    pytest.param({"custom_event": 7, "op": "exactly", "count": 1}, "/custom_event", "1 to 255", id="event number"),
    pytest.param(event(count=1), "/op", "more_than, less_than, exactly", id="event op missing"),
    pytest.param(event(op="at_least", count=1), "/op", "more_than, less_than, exactly", id="event op unknown"),
    pytest.param(event(op="exactly"), "/count", "whole number", id="count missing"),
    pytest.param(event(op="exactly", count=-1), "/count", "whole number, 0 or more", id="count negative"),
    pytest.param(event(op="exactly", count=1.5), "/count", "whole number", id="count fraction"),
    pytest.param(event(op="exactly", count=True), "/count", "whole number", id="count boolean"),
    pytest.param(event(op="exactly", count="3"), "/count", "whole number", id="count string"),
    pytest.param(event(op="exactly", count=1, in_days=0), "/in_days", "1 to 30", id="in_days zero"),
    pytest.param(event(op="exactly", count=1, in_days=31), "/in_days", "1 to 30", id="in_days 31"),
    pytest.param(event(op="exactly", count=1, in_days=True), "/in_days", "1 to 30", id="in_days boolean"),
    pytest.param(event(op="exactly", count=1, in_days=None), "/in_days", "1 to 30", id="in_days null"),
    pytest.param(event(op="more_than", count=51, in_days=7), "/count", "0 to 50", id="count over 50 in days"),
    pytest.param(event(last_occurred="yesterday", days=1), "/last_occurred", "more_than_days_ago", id="when unknown"),
    pytest.param(event(last_occurred="more_than_days_ago"), "/days", "0 to 3650", id="days missing"),
    pytest.param(event(last_occurred="more_than_days_ago", days=-1), "/days", "0 to 3650", id="days negative"),
    pytest.param(event(last_occurred="less_than_days_ago", days=3651), "/days", "0 to 3650", id="days too many"),
    pytest.param(event(last_occurred="less_than_days_ago", days=False), "/days", "whole number", id="days bool"),
    pytest.param(event(last_occurred="less_than_days_ago", days=1, count=1), "/count", "no such key", id="forms mixed"),
    pytest.param(event(op="exactly", count=1, days=3), "/days", "no such key", id="days in count form"),
    pytest.param(event(op="exactly", count=1, value=3), "/value", "no such key", id="value on an event"),
    # purchases
    pytest.param({"purchase": "", "op": "exactly", "count": 1}, "/purchase", "1 to 255", id="product empty"),
    pytest.param({"purchase": None, "op": "exactly", "count": 1}, "/purchase", "1 to 255", id="product null"),
    pytest.param({"purchase": "*", "op": "exactly", "count": -2}, "/count", "whole number", id="purchase count"),
    pytest.param({"purchase": "*", "op": "less_than", "count": 60, "in_days": 30}, "/count", "0 to 50", id="p 50"),
    pytest.param(
        {"purchase": "*", "last_occurred": "before", "days": 1}, "/last_occurred", "less_than_days_ago", id="p when"
    ),
    # cohorts
    pytest.param({"cohort": "segment:vip", "op": "in"}, "/cohort", "'partner' and 'cohort_id'", id="cohort string"),
    pytest.param({"cohort": {"cohort_id": "vip"}, "op": "in"}, "/cohort/partner", "non-empty", id="no partner"),
    pytest.param({"cohort": {"partner": "", "cohort_id": "v"}, "op": "in"}, "/cohort/partner", "non-empty", id="p ''"),
    pytest.param({"cohort": {"partner": "s"}, "op": "in"}, "/cohort/cohort_id", "non-empty", id="no cohort_id"),
    pytest.param({"cohort": {"partner": "s", "cohort_id": 5}, "op": "in"}, "/cohort/cohort_id", "non-empty", id="id 5"),
    pytest.param(
        {"cohort": {"partner": "s", "cohort_id": "v", "name": "VIP"}, "op": "in"},
        "/cohort/name",
        "no such key",
        id="cohort unknown key",
    ),
    pytest.param({"cohort": {"partner": "s", "cohort_id": "v"}}, "/op", "in, not_in", id="cohort op missing"),
    pytest.param({"cohort": {"partner": "s", "cohort_id": "v"}, "op": "eq"}, "/op", "in, not_in", id="cohort op"),
    pytest.param({"cohort": {"partner": "s", "cohort_id": "v"}, "op": "in", "x": 1}, "/x", "no such key", id="c key"),
    # where, in a tree, and which first
    pytest.param({"all": [OK, {"any": [OK, leaf("n", "gt", "x")]}]}, "/all/1/any/1/value", "a number", id="deep path"),
    pytest.param({"not": {"not": leaf("n", "bogus")}}, "/not/not/op", "must be one of", id="path through nots"),
    pytest.param({"all": [leaf("n", "bogus"), {"junk": 1}]}, "/all/0/op", "must be one of", id="first in order"),
    pytest.param({"all": [{"junk": 1}, leaf("n", "bogus")]}, "/all/0", "one of the keys", id="first in order 2"),
    pytest.param(
        {"attribute": "", "op": "bogus", "value": 1, "junk": 1}, "/junk", "no such key", id="unknown keys first"
    ),
    pytest.param({"attribute": "", "op": "bogus"}, "/attribute", "1 to 255", id="attribute before op"),
    pytest.param({"op": "bogus", "attribute": "n", "value": "x"}, "/op", "must be one of", id="op before value"),
    # limits
    pytest.param(nested_nots(MAX_DEPTH + 1), "/not" * (MAX_DEPTH + 1), "at most 10 deep", id="too deep"),
    pytest.param({"all": [OK] * (MAX_LEAVES + 1)}, f"/all/{MAX_LEAVES}", "at most 100 leaves", id="too many leaves"),
    pytest.param(
        {"all": [{"any": [OK] * 60}, {"all": [OK] * 60}]}, "/all/1/all/40", "at most 100 leaves", id="leaves summed"
    ),
]


@pytest.mark.parametrize(("raw", "path", "fragment"), BAD_FILTERS)
def test_bad_filters_are_refused_where_they_are_wrong(raw: Any, path: str, fragment: str) -> None:
    with pytest.raises(FilterError) as refused:
        parse(raw)
    assert refused.value.path == path
    assert fragment in refused.value.message
    assert SECRET not in refused.value.message
    assert isinstance(refused.value, ValueError)


def test_a_filter_error_carries_its_path_and_message() -> None:
    error = FilterError("/all/1/op", "'op' must be one of in, not_in")
    assert (error.path, error.message) == ("/all/1/op", "'op' must be one of in, not_in")
    assert "/all/1/op" in str(error)


def test_nesting_up_to_max_depth_is_accepted() -> None:
    assert MAX_DEPTH == 10
    assert parse(nested_nots(MAX_DEPTH)).matches(custom(plan="x"), NOW) is (MAX_DEPTH % 2 == 0)
    deepest: dict[str, Any] = OK
    for _ in range(MAX_DEPTH):
        deepest = {"all": [OK, deepest]}
    parse(deepest)
    with pytest.raises(FilterError) as refused:
        parse({"any": [deepest]})
    # the first node too deep, in document order: the innermost all's first leaf
    assert refused.value.path == "/any/0" + "/all/1" * (MAX_DEPTH - 1) + "/all/0"


def test_max_leaves_is_accepted() -> None:
    assert MAX_LEAVES == 100
    assert parse({"all": [OK] * MAX_LEAVES}).matches(custom(plan="x"), NOW)
    assert parse(OK).reads == {"a:plan"}  # a lone leaf at the root is a filter too


@pytest.mark.parametrize(
    "raw",
    [
        leaf("n", "eq", True),
        leaf("n", "eq", -2.5),
        leaf("n", "in", ["a"] * 256),
        leaf("n", "matches_regex", ""),
        leaf("n", "matches_regex", "a" * 32_764),
        leaf("n", "more_than_days_ago", 3650),
        leaf("n", "less_than_days_ago", 0),
        leaf("a" * 255, "exists"),
        leaf("n", "before", "12/1/2021"),
        event(op="exactly", count=50, in_days=30),
        event(op="exactly", count=0, in_days=1),
        event(op="more_than", count=5000),  # all time: no upper bound
        event(last_occurred="more_than_days_ago", days=0),
        {"custom_event": "e" * 255, "op": "exactly", "count": 1},
        {"purchase": "*", "last_occurred": "less_than_days_ago", "days": 3650},
        {"cohort": {"partner": "s", "cohort_id": "v"}, "op": "not_in"},
    ],
)
def test_filters_at_the_edges_of_what_is_allowed_are_accepted(raw: dict[str, Any]) -> None:
    assert parse(raw).raw == raw


def test_a_filter_on_an_identifier_stored_before_it_was_refused_still_compiles_and_matches_nobody() -> None:
    raw = {"attribute": "external_id", "op": "eq", "value": "u1"}
    with pytest.raises(FilterError):
        parse(raw)
    assert parse(raw, allow_keys=True).matches(ProfileView(fields={"first_name": "u1"}), NOW) is False


def test_a_steps_entry_filter_on_a_webhook_key_still_makes_its_consent_watch() -> None:
    """A webhook step may filter on a field named like a users API key: its launch must still build the watch."""
    from audience_sync.segments.steps import consent_filter

    assert consent_filter([{"attribute": "app_id", "op": "eq", "value": "a1"}]).reads == frozenset({"a:app_id"})
