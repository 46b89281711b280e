"""normalise.py: email hashing, name trimming, the queued form of a user and the LinkedIn element."""

from __future__ import annotations

import hashlib
import json
from itertools import combinations

import pytest

from audience_sync.core.users import (
    NAME_MAX_CHARS,
    MatchField,
    NotSyncedReason,
    hash_email,
    prepare_user,
    trim_name,
)
from audience_sync.sources.webhook.models import WebhookUser

KNOWN = "584c4423c421df49955759498a71495aba49b8780eb9387dff333b6f0982c777"
ALL = frozenset(MatchField)


def user(**fields: object) -> WebhookUser:
    return WebhookUser.model_validate({"external_id": "u-1", **fields})


# ---- hash_email -------------------------------------------------------------------------------
def test_known_vector() -> None:
    assert hash_email("testing@testing.com") == KNOWN


@pytest.mark.parametrize("variant", ["TESTING@TESTING.COM", "  testing@testing.com\t", "\n Testing@Testing.Com  "])
def test_case_and_surrounding_whitespace_do_not_change_the_hash(variant: str) -> None:
    assert hash_email(variant) == KNOWN


def test_hash_is_lowercase_hex_of_normalised_value() -> None:
    value = hash_email(" Ana.Ruiz+promo@Example.ES ")
    assert value == hashlib.sha256(b"ana.ruiz+promo@example.es").hexdigest()
    assert value is not None
    assert len(value) == 64
    assert value == value.lower()


def test_prehashed_value_passes_through_lowercased() -> None:
    assert hash_email(KNOWN.upper()) == KNOWN
    assert hash_email(f"  {KNOWN}  ") == KNOWN


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "no-at-sign.example.com",
        "ana ruiz@example.com",
        "ana@exa mple.com",
        "ana@localhost",
        "a@@b.com",
        "@example.com",
        "ana@",
        "ana@example.",
        KNOWN[:63],
    ],
)
def test_invalid_emails_hash_to_none(raw: str) -> None:
    assert hash_email(raw) is None


# ---- trim_name --------------------------------------------------------------------------------
def test_trim_name() -> None:
    assert trim_name("  Ana  ") == "Ana"
    assert trim_name("x" * 50) == "x" * NAME_MAX_CHARS
    assert NAME_MAX_CHARS == 35
    assert trim_name("") is None
    assert trim_name("   ") is None
    assert trim_name(None) is None
    # cut at 35 then trimmed again: no trailing space survives the cut
    assert trim_name("a" * 34 + " b") == "a" * 34


# ---- prepare_user -----------------------------------------------------------------------------
def test_email_only() -> None:
    assert prepare_user(user(email="Testing@Testing.com "), frozenset({MatchField.EMAIL})) == {"x": "u-1", "e": KNOWN}


def test_names_need_both_first_and_last() -> None:
    fields = frozenset({MatchField.FIRST_LAST_NAME})
    assert prepare_user(user(first_name=" Ana ", last_name="Ruiz"), fields) == {"x": "u-1", "f": "Ana", "l": "Ruiz"}
    assert prepare_user(user(first_name="Ana"), fields) == NotSyncedReason.MISSING_MATCH_FIELDS
    assert prepare_user(user(last_name="Ruiz"), fields) == NotSyncedReason.MISSING_MATCH_FIELDS
    assert prepare_user(user(first_name="Ana", last_name="  "), fields) == NotSyncedReason.MISSING_MATCH_FIELDS


def test_names_are_cut_to_35() -> None:
    result = prepare_user(user(first_name="F" * 40, last_name="L" * 40), frozenset({MatchField.FIRST_LAST_NAME}))
    assert result == {"x": "u-1", "f": "F" * 35, "l": "L" * 35}


def test_gaid_as_given() -> None:
    gaid = "38400000-8cf0-11bd-b23e-10b96e40000d"
    assert prepare_user(user(android_gaid=gaid), frozenset({MatchField.ANDROID_GAID})) == {"x": "u-1", "g": gaid}
    assert prepare_user(user(android_gaid="  "), frozenset({MatchField.ANDROID_GAID})) == "missing_match_fields"


def test_invalid_email_alone_is_invalid_email() -> None:
    assert prepare_user(user(email="not-an-email"), ALL) == NotSyncedReason.INVALID_EMAIL == "invalid_email"


def test_nothing_is_missing_match_fields() -> None:
    assert prepare_user(user(), ALL) == NotSyncedReason.MISSING_MATCH_FIELDS == "missing_match_fields"
    assert prepare_user(user(email="   "), ALL) == "missing_match_fields"
    assert prepare_user(user(email="a@b.co"), frozenset()) == "missing_match_fields"


def test_invalid_email_but_names_ok_is_synced_by_names() -> None:
    result = prepare_user(user(email="broken", first_name="Ana", last_name="Ruiz"), ALL)
    assert result == {"x": "u-1", "f": "Ana", "l": "Ruiz"}


def test_fields_not_selected_are_ignored_even_if_present() -> None:
    full = user(email="testing@testing.com", first_name="Ana", last_name="Ruiz", android_gaid="gaid-1")
    expected_keys = {MatchField.EMAIL: {"e"}, MatchField.FIRST_LAST_NAME: {"f", "l"}, MatchField.ANDROID_GAID: {"g"}}
    for size in range(1, 4):
        for chosen in combinations(MatchField, size):
            result = prepare_user(full, frozenset(chosen))
            assert isinstance(result, dict)
            keys = set().union(*(expected_keys[f] for f in chosen))
            assert set(result) == {"x"} | keys, chosen


@pytest.mark.parametrize(
    ("fields", "selected", "expected"),
    [
        ({"email": "testing@testing.com"}, {"email", "first_last_name", "android_gaid"}, {"e"}),
        ({"first_name": "A", "last_name": "B"}, {"email", "first_last_name"}, {"f", "l"}),
        ({"android_gaid": "g"}, {"email", "android_gaid"}, {"g"}),
        ({"email": "testing@testing.com", "android_gaid": "g"}, {"email", "android_gaid"}, {"e", "g"}),
        ({"email": "bad", "android_gaid": "g"}, {"email", "android_gaid"}, {"g"}),
        ({"email": "bad", "first_name": "A"}, {"email", "first_last_name"}, "invalid_email"),
        ({"first_name": "A", "android_gaid": "g"}, {"first_last_name"}, "missing_match_fields"),
    ],
)
def test_combinations(fields: dict[str, str], selected: set[str], expected: set[str] | str) -> None:
    result = prepare_user(user(**fields), frozenset(MatchField(s) for s in selected))
    if isinstance(expected, str):
        assert result == expected
    else:
        assert isinstance(result, dict)
        assert set(result) == {"x"} | expected


def test_raw_email_never_in_queued_user() -> None:
    raw = "Secret.Person@Example.com"
    result = prepare_user(user(email=raw, first_name="Ana", last_name="Ruiz", android_gaid="g"), ALL)
    assert isinstance(result, dict)
    dumped = json.dumps(result).lower()
    assert raw.lower() not in dumped
    assert "secret.person" not in dumped
    assert "example.com" not in dumped
