"""A segment's body checked in its order, within limits, on ids a client may use; a step's own segments built from
the followed filter and the step's entry filters; regexes that cannot stall the writer."""

from __future__ import annotations

from typing import Any

import pytest

from audience_sync.core.errors import Invalid, LaunchInvalid
from audience_sync.segments.definitions import (
    MAX_FILTER_BYTES,
    Segment,
    SegmentRequest,
    own_segment_id,
    parse_request,
    step_of,
)
from audience_sync.segments.filters import MAX_DEPTH, FilterError, ProfileView, parse
from audience_sync.segments.steps import consent_filter, entry_leaf, step_segment
from tests.unit.profiles.profile_support import NOW

PLAN = {"attribute": "plan", "op": "eq", "value": "gold"}


def _path(body: Any) -> str:
    with pytest.raises(Invalid) as caught:
        parse_request(body)
    (detail,) = caught.value.details
    assert caught.value.message.startswith(detail["path"] or "/")
    return str(detail["path"])


def test_errors_are_reported_in_the_bodys_order() -> None:
    assert _path({"filter": {"op": "x"}, "name": 5}) == "/filter"
    assert _path({"name": 5, "filter": {"op": "x"}}) == "/name"
    assert _path({"name": "n", "owner": "me", "filter": {"op": "x"}}) == "/owner"
    assert _path({"name": "n"}) == "/filter"
    assert _path({"filter": PLAN}) == "/name"
    assert _path([]) == ""


def test_a_filter_over_the_stored_size_is_refused_before_it_reaches_the_table() -> None:
    big = {"attribute": "plan", "op": "in", "value": ["x" * 255] * 256}
    assert _path({"name": "n", "filter": {"any": [big]}}) == "/filter"
    assert len(str(big)) > MAX_FILTER_BYTES
    assert parse_request({"name": " n ", "filter": PLAN}).name == "n"


def test_the_steps_own_ids_are_reserved() -> None:
    for reserved in ("step:a", "consent:a"):  # a segment step's own segment, a webhook step's consent watch
        with pytest.raises(Invalid):
            own_segment_id(reserved)
    assert own_segment_id("stepper") == "stepper"
    assert (step_of("step:a:b"), step_of("gold")) == ("a:b", None)


@pytest.mark.parametrize(
    ("rule", "leaf"),
    [
        ({"attribute": "c", "op": "eq", "value": True}, {"attribute": "c", "op": "eq", "value": True}),
        ({"attribute": "c", "op": "ne", "value": "no"}, {"attribute": "c", "op": "ne", "value": "no"}),
        ({"attribute": "c", "op": "eq", "value": None}, {"attribute": "c", "op": "not_exists"}),
        ({"attribute": "c", "op": "ne", "value": None}, {"attribute": "c", "op": "exists"}),
        ({"attribute": "c", "op": "exists"}, {"attribute": "c", "op": "exists"}),
    ],
)
def test_entry_filters_become_leaves_of_the_same_meaning(rule: dict[str, Any], leaf: dict[str, Any]) -> None:
    assert entry_leaf(rule) == leaf


def test_a_steps_own_segment_is_the_followed_filter_and_its_consent() -> None:
    consent = [{"attribute": "ad_tracking_enabled", "op": "eq", "value": True}]
    own = step_segment("s1", "gold", PLAN, consent, sync_exits=True)
    assert own.follows == "gold" and own.filter.reads == frozenset({"a:plan", "a:ad_tracking_enabled"})
    assert not own.sticky and own.keep is None
    gold_without_consent = ProfileView(custom={"plan": "gold", "ad_tracking_enabled": False})
    assert parse(PLAN).matches(gold_without_consent, NOW) and not own.filter.matches(gold_without_consent, NOW)
    assert consent_filter(consent).reads == frozenset({"a:ad_tracking_enabled"})
    assert step_segment("s1", "gold", PLAN, [], sync_exits=True).filter.raw == PLAN
    deepest: dict[str, Any] = PLAN
    for _ in range(MAX_DEPTH):
        deepest = {"not": deepest}
    with pytest.raises(LaunchInvalid) as caught:
        step_segment("s1", "deep", deepest, consent, sync_exits=True)
    assert caught.value.details[0]["code"] == "segment_too_complex"


def test_regexes_run_in_linear_time_and_those_that_need_backtracking_are_refused() -> None:
    # Python's re takes hours on this input; RE2 answers at once (a regression would hang, not pass)
    nested = parse({"attribute": "nick", "op": "matches_regex", "value": "^(a+)+$"})
    assert not nested.matches(ProfileView(custom={"nick": "a" * 64 + "!"}), NOW)
    assert nested.matches(ProfileView(custom={"nick": "A" * 64}), NOW)  # case-insensitive, as Braze's /gi
    for needs_backtracking in ("(a)\\1", "a(?=b)", "(?<!x)y"):
        with pytest.raises(FilterError) as caught:
            parse({"attribute": "nick", "op": "matches_regex", "value": needs_backtracking})
        assert caught.value.path == "/value"


def _stored(request: SegmentRequest) -> Segment:
    return Segment("step:s1", "", "", request.filter, "t", "t", 1, request.follows, request.sticky, request.keep)


@pytest.mark.parametrize(
    ("profile", "member_now", "member_after"),
    [
        ({"plan": "gold", "ad_tracking_enabled": True}, False, True),  # in the segment, with consent: enters
        ({"plan": "gold", "ad_tracking_enabled": False}, False, False),  # no consent: does not enter
        ({"plan": "free", "ad_tracking_enabled": True}, False, False),  # not in the segment: does not enter
        ({"plan": "free", "ad_tracking_enabled": True}, True, True),  # left the segment, kept: consent holds
        ({"plan": "free", "ad_tracking_enabled": False}, True, False),  # ... until consent goes
        ({"plan": "gold", "ad_tracking_enabled": False}, True, False),  # in the segment, consent withdrawn
    ],
)
def test_a_step_that_keeps_leavers_has_a_sticky_segment_held_by_consent(
    profile: dict[str, Any], member_now: bool, member_after: bool
) -> None:
    consent = [{"attribute": "ad_tracking_enabled", "op": "eq", "value": True}]
    own = _stored(step_segment("s1", "gold", PLAN, consent, sync_exits=False))
    assert own.sticky and own.reads == frozenset({"a:plan", "a:ad_tracking_enabled"})
    assert own.admits(ProfileView(custom=profile), NOW, member_now) is member_after


def test_without_entry_filters_a_kept_member_stays_whatever_it_does() -> None:
    own = _stored(step_segment("s1", "gold", PLAN, [], sync_exits=False))
    assert own.sticky and own.keep is None
    left = ProfileView(custom={"plan": "free"})
    assert own.admits(left, NOW, member=True) and not own.admits(left, NOW, member=False)
    syncing = _stored(step_segment("s1", "gold", PLAN, [], sync_exits=True))
    assert not syncing.admits(left, NOW, member=True)
