"""An attributes object planned at the API and applied by the writer, with Braze's semantics."""

from __future__ import annotations

from typing import Any

import pytest

from audience_sync.profiles import attributes
from audience_sync.profiles.identity import identity_of
from audience_sync.profiles.values import BadValue


def plan(obj: dict[str, Any], max_array: int = 25) -> dict[str, Any]:
    return attributes.plan(obj, identity_of(obj), 0, max_array)


def applied(profile: dict[str, Any], *objects: dict[str, Any], max_array: int = 25) -> dict[str, Any]:
    for obj in objects:
        attributes.apply(profile, plan(obj, max_array), max_array)
    return profile


def test_braze_array_example_with_a_maximum_of_four() -> None:
    """Braze's own worked example: an added value already there moves to the end; the oldest goes when full."""
    profile = applied({}, {"external_id": "u", "food": ["pizza", "wings", "pasta"]}, max_array=4)
    applied(profile, {"external_id": "u", "food": {"add": ["fries"]}}, max_array=4)
    assert profile["custom"]["food"] == ["pizza", "wings", "pasta", "fries"]
    applied(profile, {"external_id": "u", "food": {"add": ["pizza"]}}, max_array=4)
    assert profile["custom"]["food"] == ["wings", "pasta", "fries", "pizza"]
    applied(profile, {"external_id": "u", "food": {"add": ["ice cream"]}}, max_array=4)
    assert profile["custom"]["food"] == ["pasta", "fries", "pizza", "ice cream"]


def test_add_and_remove_in_one_object_adds_first() -> None:
    profile = applied({}, {"external_id": "u", "segments": {"add": ["a", "b"], "remove": ["b", "z"]}})
    assert profile["custom"]["segments"] == ["a"]


def test_inc_counts_from_zero_when_the_value_is_missing_and_never_overwrites_what_is_not_a_number() -> None:
    profile = applied({}, {"external_id": "u", "n": {"inc": 2}, "s": "text", "a": ["x"], "f": False})
    applied(profile, {"external_id": "u", "n": {"inc": -5}, "s": {"inc": 1}, "a": {"inc": 1}, "f": {"inc": 1}})
    assert profile["custom"] == {"n": -3, "s": "text", "a": ["x"], "f": False}


def test_an_inc_past_what_a_json_number_holds_leaves_the_value() -> None:
    profile = applied({}, {"external_id": "u", "m": {"inc": 1e308}})
    points = attributes.apply(profile, plan({"external_id": "u", "m": {"inc": 1e308}}), 25)
    assert profile["custom"] == {"m": 1e308} and points == 0


def test_an_array_past_its_maximum_keeps_its_newest_values() -> None:
    values = [f"v{i}" for i in range(30)]
    profile = applied({}, {"external_id": "u", "many": values})
    assert profile["custom"]["many"] == values[-25:]
    applied(profile, {"external_id": "u", "many": {"add": [f"w{i}" for i in range(30)]}})
    assert profile["custom"]["many"] == [f"w{i}" for i in range(5, 30)]


@pytest.mark.parametrize(("sent", "stored"), [("fr", "FR"), (" US ", "US"), ("France", None), ("F1", None)])
def test_country_keeps_iso_codes_and_sets_anything_else_to_null(sent: str, stored: str | None) -> None:
    assert plan({"external_id": "u", "country": sent})["fields"] == {"country": stored}


def test_null_unsets_and_objects_replace_unless_merged() -> None:
    profile = applied({}, {"external_id": "u", "o": {"a": 1, "b": {"c": 2}}, "gone": 1})
    applied(profile, {"external_id": "u", "o": {"b": {"d": 3}, "a": None}, "_merge_objects": True, "gone": None})
    assert profile["custom"] == {"o": {"b": {"c": 2, "d": 3}}}
    applied(profile, {"external_id": "u", "o": {"x": 1}})
    assert profile["custom"] == {"o": {"x": 1}}


def test_standard_fields_are_fields_and_identifiers_are_not_attributes() -> None:
    op = plan(
        {
            "external_id": "u",
            "braze_id": "ignored",
            "user_alias": {"alias_name": "n", "alias_label": "l"},
            "first_name": "Ann",
            "dob": "1990-02-03",
            "gender": "f",
            "country": "us",
            "facebook": {"id": "1"},
            "app_id": "x",
            "_update_existing_only": False,
        }
    )
    assert op["fields"] == {
        "first_name": "Ann",
        "dob": "1990-02-03",
        "gender": "F",
        "country": "US",
        "facebook": {"id": "1"},
    }
    assert "set" not in op and op["create"] is True


def test_an_unknown_gender_is_passed_over_and_the_rest_applied() -> None:
    op = plan({"external_id": "u", "gender": "robot", "a": 1})
    assert "fields" not in op and op["set"] == {"a": 1}


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"external_id": "u", "email_subscribe": "yes"}, "email_subscribe"),
        ({"external_id": "u", "dob": "not a date"}, "dob"),
        ({"external_id": "u", "first_name": 5}, "first_name"),
        ({"external_id": "u", "current_location": {"latitude": 1}}, "current_location"),
        ({"external_id": "u", "email": "no-at-sign"}, "email"),
        ({"external_id": "u", "n": {"inc": "1"}}, "'n' must be a number"),
        ({"external_id": "u", "_update_existing_only": "yes"}, "_update_existing_only"),
        ({"external_id": "u", "": 1}, "names must be"),
        ({"external_id": "u", "o": {"bad.key": 1}}, "key"),
    ],
)
def test_bad_values_refuse_the_object_with_a_message_naming_the_field(obj: dict[str, Any], message: str) -> None:
    with pytest.raises(BadValue, match=message):
        plan(obj)


def test_objects_naming_users_by_alias_or_braze_id_do_not_create_unless_asked() -> None:
    alias = {"user_alias": {"alias_name": "n", "alias_label": "l"}, "a": 1}
    assert plan(alias)["create"] is False
    assert plan({**alias, "_update_existing_only": False})["create"] is True
    assert plan({"braze_id": "b", "_update_existing_only": False})["create"] is False
    assert plan({"email": "A@b.co", "a": 1}) == {
        "kind": "attributes",
        "index": 0,
        "identity": "m:a@b.co",
        "create": True,
        "set": {"a": 1},
        "fields": {"email": "A@b.co"},
    }


def test_data_points_count_every_field_and_attribute_written() -> None:
    profile: dict[str, Any] = {}
    op = plan({"external_id": "u", "first_name": "A", "a": 1, "b": None, "n": {"inc": 1}, "t": {"add": ["x"]}})
    assert attributes.apply(profile, op, 25) == 5
