"""An import's definition (imports/definitions.py) and a row's plan (imports/mapping.py): checked whole, refused
with a reason that names the field or column, never a value."""

from __future__ import annotations

from typing import Any

import pytest

from audience_sync.core.errors import Invalid
from audience_sync.imports.definitions import parse
from audience_sync.imports.mapping import RowError, plan_row

BODY: dict[str, Any] = {
    "bucket": "my-bucket",
    "prefix": "",
    "format": "csv",
    "every_minutes": 1,
    "identifier": {"column": "id", "type": "external_id"},
    "mappings": [{"column": "plan", "attribute": "plan", "strategy": "set"}],
    "allow_create": False,
    "enabled": True,
}


def test_a_definition_round_trips_through_its_view() -> None:
    definition = parse("bc", BODY)
    assert definition.view() == {"import_id": "bc", **BODY}
    assert parse("bc", {k: v for k, v in definition.view().items() if k != "import_id"}) == definition


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"bucket": "No_Such"}, "'bucket' must be an S3 bucket name"),
        ({"format": "xlsx"}, "'format' is csv or ndjson"),
        ({"every_minutes": 0}, "'every_minutes'"),
        ({"every_minutes": 1.5}, "'every_minutes'"),
        ({"every_minutes": True}, "'every_minutes'"),
        ({"identifier": {"column": "id", "type": "phone"}}, "'identifier.type'"),
        ({"identifier": {"column": "id", "type": "alias:"}}, "'identifier.type'"),
        ({"identifier": {"column": "plan", "type": "external_id"}}, "cannot be mapped too"),
        ({"mappings": []}, "'mappings' must hold"),
        ({"mappings": [{"column": "a", "attribute": "x", "strategy": "replace"}]}, "'mappings/0/strategy'"),
        ({"mappings": [{"column": "a", "attribute": "email", "strategy": "sum"}]}, "sum needs a custom attribute"),
        ({"mappings": [{"column": "a", "attribute": "external_id", "strategy": "set"}]}, "is an identifier"),
        ({"mappings": [BODY["mappings"][0], {"column": "plan", "attribute": "y", "strategy": "set"}]}, "mapped twice"),
        ({"allow_create": "yes"}, "'allow_create' must be true or false"),
        ({"schedule": "daily"}, "unknown field(s): schedule"),
    ],
)
def test_a_bad_definition_is_a_400_naming_what_is_wrong(change: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid) as refused:
        parse("bc", {**BODY, **change})
    assert refused.value.code == "invalid_import" and message in refused.value.message


def test_an_import_id_is_checked() -> None:
    with pytest.raises(Invalid):
        parse("not ok/", BODY)


def test_a_row_is_planned_as_users_track_would_plan_it() -> None:
    mappings = [
        {"column": "e", "attribute": "email", "strategy": "set"},
        {"column": "n", "attribute": "n", "strategy": "sum"},
        {"column": "when", "attribute": "seen", "strategy": "set"},
        {"column": "c", "attribute": "c", "strategy": "clear_if_empty"},
        {"column": "f", "attribute": "first_name", "strategy": "set_if_empty"},
    ]
    definition = parse("bc", {**BODY, "mappings": mappings, "allow_create": True})
    cells = {"id": "u1", "e": " a@b.co ", "n": "-3", "when": "2026-12-01T10:00:00Z", "c": "", "f": "Ana"}

    op = plan_row(definition, cells, 7, 25)

    assert op is not None
    assert (op["identity"], op["create"], op["tally"], op["index"]) == ("x:u1", True, True, 7)
    assert op["fields"] == {"email": "a@b.co"} and op["inc"] == {"n": -3} and op["unset"] == ["c"]
    assert op["set"]["seen"] == {"$time": "2026-12-01T10:00:00.000Z"}
    assert op["fields_if_empty"] == {"first_name": "Ana"}


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ({"id": "", "plan": "x"}, "the identifier's cell 'id' is empty"),
        ({"plan": "x"}, "the identifier's cell 'id' is empty"),
        ({"id": 5.5, "plan": "x"}, "is not text"),
        ({"id": "u" * 300, "plan": "x"}, "longer than 255"),
    ],
)
def test_a_row_that_cannot_be_planned_says_why_without_its_values(cells: dict[str, Any], reason: str) -> None:
    with pytest.raises(RowError) as refused:
        plan_row(parse("bc", BODY), cells, 2, 25)
    assert reason in str(refused.value) and "x" * 3 not in str(refused.value)


def test_a_sum_of_text_that_is_no_number_is_refused() -> None:
    definition = parse("bc", {**BODY, "mappings": [{"column": "n", "attribute": "n", "strategy": "sum"}]})
    for bad in ("ten", "nan", "inf", "1e999"):
        with pytest.raises(RowError):
            plan_row(definition, {"id": "u1", "n": bad}, 2, 25)
    assert plan_row(definition, {"id": "u1", "n": "2.5"}, 2, 25)["inc"] == {"n": 2.5}  # type: ignore[index]


def test_a_row_with_nothing_to_change_is_not_written_unless_it_may_create() -> None:
    assert plan_row(parse("bc", BODY), {"id": "u1", "plan": ""}, 2, 25) is None
    assert plan_row(parse("bc", {**BODY, "allow_create": True}), {"id": "u1", "plan": ""}, 2, 25) is not None


@pytest.mark.parametrize("bucket", ["192.168.1.1", "ab..cd", "a-.bc", "UPPER"])
def test_a_bucket_name_s3_would_refuse_is_a_400(bucket: str) -> None:
    with pytest.raises(Invalid):
        parse("bc", {**BODY, "bucket": bucket})


@pytest.mark.parametrize("attribute", ["_merge_objects", "_update_existing_only", "app_id"])
def test_a_control_key_is_not_an_attribute(attribute: str) -> None:
    with pytest.raises(Invalid) as refused:
        parse("bc", {**BODY, "mappings": [{"column": "a", "attribute": attribute, "strategy": "set"}]})
    assert "control key" in refused.value.message


@pytest.mark.parametrize("text", ["1_000", "\u0661\u0662", "0x10", "1e5000", ""])
def test_a_sum_reads_plain_decimal_numbers_only(text: str) -> None:
    definition = parse("bc", {**BODY, "mappings": [{"column": "n", "attribute": "n", "strategy": "sum"}]})
    if text == "":
        assert plan_row(definition, {"id": "u1", "n": text}, 2, 25) is None  # empty: nothing to add
        return
    with pytest.raises(RowError):
        plan_row(definition, {"id": "u1", "n": text}, 2, 25)


def test_set_if_empty_fills_what_has_no_value_an_empty_text_or_array_included() -> None:
    from audience_sync.profiles.attributes import apply

    profile = {"fields": {"first_name": "", "last_name": "Ruiz"}, "custom": {"tags": [], "plan": "gold"}}
    op = {"fields_if_empty": {"first_name": "Ana", "last_name": "X"}, "set_if_empty": {"tags": ["a"], "plan": "x"}}
    assert apply(profile, op, 25) == 2
    assert profile == {"fields": {"first_name": "Ana", "last_name": "Ruiz"}, "custom": {"tags": ["a"], "plan": "gold"}}
