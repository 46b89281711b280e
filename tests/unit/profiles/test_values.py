"""Attribute values as Braze defines them: times recognised, strings cut, arrays unique, nested objects checked."""

from __future__ import annotations

from typing import Any

import pytest

from audience_sync.profiles import values
from audience_sync.profiles.values import BadValue


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-05T10:00:00Z", "2026-12-05T10:00:00.000Z"),
        ("2026-12-05T10:00:00.123456+09:00", "2026-12-05T01:00:00.123Z"),
        ("2020-01-24T11:59:02.403+05:30", "2020-01-24T06:29:02.403Z"),  # RudderStack keeps the source's offset
        ("2026-12-05", "2026-12-05T00:00:00.000Z"),  # a date alone: midnight UTC
        ("2026-12-05 10:00:00", "2026-12-05T10:00:00.000Z"),  # no zone: UTC
        ("2026-12-05T10:00:00:123Z", "2026-12-05T10:00:00.123Z"),  # Braze's yyyy-MM-ddTHH:mm:ss:SSSZ
        ("12/1/2021", "2021-12-01T00:00:00.000Z"),  # Braze's MM/dd/yyyy
        ("2026-12-05 10:00:00.000 UTC", "2026-12-05T10:00:00.000Z"),
    ],
)
def test_strings_that_read_as_times_are_times(text: str, expected: str) -> None:
    assert values.parse_time(text) == expected
    assert values.scalar("a", text) == {"$time": expected}


@pytest.mark.parametrize(
    "text", ["hello", "2026-13-01", "3001-01-01", "0000-01-01", "2026-12-05T25:00:00Z", "1234567890"]
)
def test_other_strings_stay_strings(text: str) -> None:
    assert values.parse_time(text) is None
    assert values.scalar("a", text) == text


def test_long_strings_are_cut_to_255_characters_as_braze_does() -> None:
    assert values.scalar("a", "x" * 300) == "x" * 255


@pytest.mark.parametrize("value", [float("nan"), float("inf"), object(), b"bytes"])
def test_values_of_no_braze_type_are_refused(value: Any) -> None:
    with pytest.raises(BadValue, match="'a'"):
        values.scalar("a", value)


def test_an_array_keeps_unique_values_in_first_order_and_its_strings_as_strings() -> None:
    assert values.array("a", ["x", "y", "x", 1, 1, "2026-01-01"], 25) == ["x", "y", 1, "2026-01-01"]
    assert values.array("a", ["a", "b", "a", "c", "d"], 3) == ["b", "c", "d"]  # the oldest dropped
    with pytest.raises(BadValue, match="mixes"):
        values.array("a", ["a", {"b": 1}], 25)


def test_nested_objects_tag_times_and_refuse_bad_keys_and_size() -> None:
    assert values.nested("o", {"when": {"$time": "2026-12-05"}, "n": {"deep": "x"}}) == {
        "when": {"$time": "2026-12-05T00:00:00.000Z"},
        "n": {"deep": "x"},
    }
    for bad in ({"a.b": 1}, {"$x": 1}, {"": 1}, {"k" * 256: 1}):
        with pytest.raises(BadValue, match="key"):
            values.nested("o", bad)
    with pytest.raises(BadValue, match="100 KB"):
        values.check_size("o", {"k": "x" * (100 * 1024)})


def test_plain_gives_times_back_as_strings() -> None:
    assert values.plain({"a": {"$time": "t"}, "b": [{"$time": "u"}, 1]}) == {"a": "t", "b": ["u", 1]}
