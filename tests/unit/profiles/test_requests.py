"""The Braze-compatible routes planned: what real clients send is accepted, limits and bad items refused whole."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from audience_sync.core.errors import DomainError, Invalid
from audience_sync.profiles import operations, track
from audience_sync.profiles.reader import ProfileReader
from audience_sync.profiles.service import ProfileService, ProfileSettings
from tests.fakes.profile_fakes import FakeProfileQueue, FakeProfileStore
from tests.fakes.sync_fakes import FakeClock

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "braze"
NOW = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)


def service() -> tuple[ProfileService, FakeProfileQueue]:
    queue = FakeProfileQueue()
    return ProfileService(queue, ProfileReader(FakeProfileStore()), ProfileSettings(groups=4), FakeClock()), queue


def call(svc: ProfileService, path: str, body: dict[str, Any]) -> dict[str, Any]:
    routes = {
        "/users/track": svc.track,
        "/users/alias/new": svc.new_aliases,
        "/users/identify": svc.identify,
        "/users/merge": svc.merge,
        "/users/delete": svc.delete,
        "/users/export/ids": lambda b, _: svc.export(b),
    }
    return routes[path](body, "request-1")


def client_requests() -> list[tuple[str, dict[str, Any]]]:
    """Every request body of the recorded clients (tests/fixtures/braze: Segment's snapshots, Braze's examples,
    Lytics, RudderStack), with the answer a client should get: None for a 2xx."""
    found = []
    for path in sorted(FIXTURES.glob("*.json")):
        for case in json.loads(path.read_text()).get("cases", []):
            if isinstance(case, dict) and "path" in case:
                found.append((f"{path.stem}: {case['name']}", case))
    return found


# Cases whose bodies are wrong on purpose, or carry the random values of Segment's snapshot tests that Braze
# refuses too (an email_subscribe of random letters, a quantity over 100): every object refused, so a 400.
REFUSED = {
    "braze_doc_requests: merge, invalid (for 400 test)",
    "segment_trackPurchase: all fields (random values)",
    "segment_updateUserProfile: all fields (random values)",
}


@pytest.mark.parametrize(("name", "case"), client_requests(), ids=[n for n, _ in client_requests()])
def test_what_real_clients_send_is_accepted(name: str, case: dict[str, Any]) -> None:
    svc, queue = service()
    if name in REFUSED:
        with pytest.raises(Invalid):
            call(svc, case["path"], case["body"])
        assert queue.sent == []
        return
    answer = call(svc, case["path"], case["body"])
    assert answer["message"] == "success"
    if case["path"] != "/users/export/ids":
        assert queue.sent, "a write queues its operations"


def test_76_objects_is_max_input_length_exceeded_and_nothing_is_queued() -> None:
    svc, queue = service()
    body = {"attributes": [{"external_id": f"u{i}", "a": 1} for i in range(76)]}
    with pytest.raises(Invalid) as refused:
        svc.track(body, "r")
    assert refused.value.message == "Max Input Length Exceeded"
    assert queue.sent == []
    assert svc.track({"attributes": body["attributes"][:75], "events": []}, "r")["attributes_processed"] == 75


def test_per_item_errors_name_the_array_and_index_and_the_others_apply() -> None:
    plan = track.plan(
        {
            "attributes": [{"external_id": "a", "x": 1}, {"x": 1}, "not an object"],
            "events": [{"external_id": "a", "name": "e", "time": "2026-12-01T00:00:00Z", "properties": {"time": 1}}],
            "purchases": [{"external_id": "a", "product_id": "p", "currency": "USD", "price": 1, "time": "bad"}],
            "app_group_id": "ignored",
        },
        25,
        NOW,
    )
    assert [(e["input_array"], e["index"]) for e in plan.errors] == [
        ("attributes", 1),
        ("attributes", 2),
        ("events", 0),
        ("purchases", 0),
    ]
    assert "reserved" in plan.errors[2]["type"]
    assert plan.reply()["attributes_processed"] == 1
    assert plan.reply()["events_processed"] == 0


def test_operations_keep_brazes_processing_order_and_group_by_identity() -> None:
    plan = track.plan(
        {
            "purchases": [{"external_id": "a", "product_id": "p", "currency": "USD", "price": 1, "time": "2026-12-01"}],
            "events": [{"external_id": "a", "name": "e", "time": "2026-12-01"}],
            "attributes": [{"external_id": "a", "n": 1}, {"external_id": "b", "n": 1}],
        },
        25,
        NOW,
    )
    messages = operations.messages(plan.operations, 4)
    by_identity: dict[str, list[tuple[str, str]]] = {}
    for message in messages:
        for op in operations.read(message.body):
            by_identity.setdefault(op["identity"], []).append((message.group, op["kind"]))
    assert [kind for _, kind in by_identity["x:a"]] == ["attributes", "event", "purchase"]
    assert len({group for group, _ in by_identity["x:a"]}) == 1


def test_a_request_too_big_for_one_message_is_split_in_order_within_its_group() -> None:
    big = {f"k{i}": "x" * 200 for i in range(300)}
    plan = track.plan({"attributes": [{"external_id": "a", f"o{j}": big} for j in range(5)]}, 25, NOW)
    messages = operations.messages(plan.operations, 4)
    assert len(messages) > 1 and len({m.group for m in messages}) == 1
    assert [op["index"] for m in messages for op in operations.read(m.body)] == [0, 1, 2, 3, 4]
    assert all(len(m.body.encode()) <= operations.MAX_MESSAGE_BYTES for m in messages)


def test_a_future_event_time_is_now() -> None:
    plan = track.plan({"events": [{"external_id": "a", "name": "e", "time": "2099-01-01T00:00:00Z"}]}, 25, NOW)
    assert json.loads(plan.operations[0].encoded)["time"] == "2026-12-05T00:00:00.000Z"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/users/track", {}),
        ("/users/track", {"attributes": {"external_id": "a"}}),
        ("/users/alias/new", {"user_aliases": [{"alias_name": "a", "alias_label": "l"}] * 51}),
        ("/users/alias/new", {"user_aliases": [{"alias_name": "a"}]}),
        ("/users/identify", {"aliases_to_identify": [{"external_id": "u"}]}),
        ("/users/identify", {"aliases_to_identify": [], "merge_behavior": "sometimes"}),
        ("/users/merge", {"merge_updates": [{"identifier_to_keep": {"external_id": "a"}}]}),
        (
            "/users/merge",
            {
                "merge_updates": [
                    {"identifier_to_keep": {"external_id": "a"}, "identifier_to_merge": {"external_id": "a"}}
                ]
            },
        ),
        ("/users/delete", {"external_ids": [f"u{i}" for i in range(51)]}),
        ("/users/delete", {"external_ids": [""]}),
        ("/users/export/ids", {"external_ids": ["a"], "fields_to_export": ["shoe_size"]}),
        ("/users/export/ids", {"external_ids": ["a"], "fields_to_export": []}),
        ("/users/export/ids", {"braze_id": 5}),
        ("/users/export/ids", {"email_address": "not an email"}),
        ("/users/export/ids", {"external_ids": [f"u{i}" for i in range(51)]}),
    ],
)
def test_bad_requests_are_refused_whole(path: str, body: dict[str, Any]) -> None:
    svc, queue = service()
    with pytest.raises(DomainError):
        call(svc, path, body)
    assert queue.sent == []
