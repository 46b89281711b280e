"""campaigns/ports.py CampaignState: the same contract run against the DynamoDB adapter (in moto) and the tests' fake.
Entries are claimed once (again only when re-eligible, or by the same unfinished activity); a user waits once at a
time; a wait ends exactly once, by an exception (only one that happened at or after its start) or by being due; each
wait's counts land in the campaign's counters once; an interaction is recorded once. And the waits' schedules on
EventBridge Scheduler (adapters/aws/scheduler.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.campaign_state import LEASE_MS, DynamoCampaignState
from audience_sync.adapters.aws.metrics_table import CounterTables, MetricsStore
from audience_sync.adapters.aws.scheduler import EventBridgeWaitScheduler, at_expression
from audience_sync.campaigns.ports import CampaignState, Claim, Wait
from audience_sync.core.metrics import campaign_counters_id
from tests.fakes.campaign_fakes import FakeCampaignState
from tests.fakes.sync_fakes import FakeClock
from tests.integration.adapters.tables import create_table

TABLES = CounterTables(metrics="metrics", history="history")


def _tables() -> None:
    create_table("CampaignStateTable", "state")
    create_table("MetricsTable", "metrics")
    create_table("MetricsHistoryTable", "history")


@pytest.fixture(params=["dynamodb", "fake"])
def state(request: pytest.FixtureRequest, aws: None) -> tuple[CampaignState, Callable[[], dict[str, int]], FakeClock]:
    """The state, how to read campaign c1's counters, and the state's clock."""
    clock = FakeClock(10_000_000)
    if request.param == "fake":
        fake = FakeCampaignState(now=clock.now_ms)
        return fake, lambda: dict(fake.counts.get("c1", {})), clock
    _tables()
    metrics = MetricsStore("metrics")

    def counters() -> dict[str, int]:
        item = metrics.get(campaign_counters_id("c1"))
        return {k: v for k, v in item.items() if k not in ("step_id", "updated_at")}

    return DynamoCampaignState("state", TABLES, clock), counters, clock


def wait(wait_id: str = "w1", user: str = "u1", trigger_ms: int = 1_000, **extra: Any) -> Wait:
    return Wait("c1", user, wait_id, due_ms=61_000, trigger_ms=trigger_ms, **extra)


def waiting(store: CampaignState, wait_id: str = "w1", activity_id: str = "a1", **extra: Any) -> bool:
    """A user entered for `activity_id` and waiting, as the connector does it."""
    store.claim("c1", "u1", activity_id, 1_000, 0, "h1")
    return store.start_wait(wait(wait_id, **extra), activity_id)


def test_an_entry_is_claimed_once_and_again_only_by_the_same_activity_after_its_lease(state: Any) -> None:
    store, _, clock = state
    assert store.claim("c1", "u1", "a1", 1_000, None, "h1") is Claim.TAKEN
    assert store.claim("c1", "u1", "a2", 2_000, None, "h1") is Claim.REFUSED  # once ever
    assert (
        store.claim("c1", "u1", "a1", 1_000, None, "h2") is Claim.REFUSED
    )  # a copy delivered to another invocation meanwhile
    assert store.claim("c1", "u1", "a1", 1_000, None, "h1") is Claim.TAKEN  # the same invocation trying it again
    clock.sleep(LEASE_MS / 1000)
    assert (
        store.claim("c1", "u1", "a1", 1_000, None, "h3") is Claim.TAKEN
    )  # a redelivery after a crash, before it was acted on
    store.finish("c1", "u1", "a1")
    clock.sleep(LEASE_MS / 1000)
    assert store.claim("c1", "u1", "a1", 1_000, None, "h1") is Claim.REFUSED  # acted on: a redelivery does nothing
    assert store.claim("c1", "u2", "a1", 1_000, None, "h1") is Claim.TAKEN  # another user


def test_re_eligibility_lets_a_user_in_again_after_its_time_once_the_last_entry_was_acted_on(state: Any) -> None:
    store, _, _ = state
    assert store.claim("c1", "u1", "a1", 1_000, 60_000, "h1") is Claim.TAKEN
    assert store.claim("c1", "u1", "a2", 100_000, 60_000, "h1") is Claim.BUSY  # the last entry is still being acted on
    assert store.claim("c1", "u1", "a2", 100_000, None, "h1") is Claim.REFUSED  # (once only: nothing to wait for)
    store.finish("c1", "u1", "a1")
    assert store.claim("c1", "u1", "a2", 60_999, 60_000, "h1") is Claim.REFUSED
    assert store.claim("c1", "u1", "a3", 61_000, 60_000, "h1") is Claim.TAKEN
    store.finish("c1", "u1", "a3")
    # the same activity again is not a new entry
    assert store.claim("c1", "u1", "a3", 200_000, 60_000, "h1") is Claim.REFUSED
    # one that arrives late is judged by when it happened, before the last entry as after it
    assert store.claim("c1", "u1", "a4", 30_000, 60_000, "h1") is Claim.REFUSED  # 31 s before the last
    assert store.claim("c1", "u1", "a4", 1_000, 60_000, "h1") is Claim.TAKEN  # 60 s before the last


def test_a_user_waits_once_at_a_time_and_a_wait_counts_once(state: Any) -> None:
    store, counters, clock = state
    properties = {"plan": "gold", "huge": 1e300, "big": 10**40}  # numbers DynamoDB itself could not hold
    assert waiting(store, "w1", event_properties=properties)
    assert store.start_wait(wait("w1"), "a1")  # the same wait again (a redelivery): recorded, not counted again
    assert not store.start_wait(wait("w2"), "a2")  # waiting already
    assert counters() == {"triggered": 1, "scheduled": 1}
    released = store.release_wait("c1", "u1", "w1", "h1")
    assert released is not None and released.event_properties == properties
    assert store.release_wait("c1", "u1", "w1", "h2") is None  # a copy of the due, in another invocation
    assert store.release_wait("c1", "u1", "w1", "h1") == released  # the same invocation trying it again
    clock.sleep(LEASE_MS / 1000)
    assert store.release_wait("c1", "u1", "w1", "h3") == released  # a redelivery after a crash, before it ended
    assert counters()["released"] == 1
    store.end_wait(released)
    assert store.release_wait("c1", "u1", "w1", "h1") is None
    assert waiting(store, "w3", activity_id="a3")  # free to wait again (re-eligible at once)


def test_starting_a_wait_acts_on_the_entry_so_a_late_redelivery_starts_nothing(state: Any) -> None:
    store, counters, clock = state
    assert waiting(store, "w1")
    released = store.release_wait("c1", "u1", "w1", "h1")
    assert released is not None
    store.end_wait(released)  # sent and ended before the crashed activity's redelivery
    clock.sleep(LEASE_MS / 1000)
    assert store.claim("c1", "u1", "a1", 1_000, None, "h1") is Claim.REFUSED
    assert counters()["scheduled"] == 1


def test_an_exception_ends_a_wait_it_happened_in_once(state: Any) -> None:
    store, counters, _ = state
    assert store.cancel_wait("c1", "u1", 5_000) is None  # no wait: nothing
    waiting(store, "w1")
    assert store.cancel_wait("c1", "u1", 999) is None  # happened before the wait started
    cancelled = store.cancel_wait("c1", "u1", 1_000)
    assert cancelled is not None and cancelled.wait_id == "w1"
    assert store.cancel_wait("c1", "u1", 2_000) is None
    assert store.release_wait("c1", "u1", "w1", "h1") is None  # the exception won: nothing is sent
    assert counters() == {"triggered": 1, "scheduled": 1, "exception_cancelled": 1}


def test_the_current_wait_is_the_one_not_released(state: Any) -> None:
    store, _, _ = state
    assert store.current_wait("c1", "u1") is None
    waiting(store, "w1")
    current = store.current_wait("c1", "u1")
    assert current is not None and current.wait_id == "w1"
    store.release_wait("c1", "u1", "w1", "h1")
    assert store.current_wait("c1", "u1") is None


def test_an_exception_after_the_wait_was_due_changes_nothing(state: Any) -> None:
    store, _, _ = state
    waiting(store, "w1")  # due at 61_000
    assert store.cancel_wait("c1", "u1", 61_000) is None
    assert store.cancel_wait("c1", "u1", 60_999) is not None


def test_the_latest_exception_is_remembered(state: Any) -> None:
    store, _, _ = state
    assert store.last_exception("c1", "u1") is None
    store.note_exception("c1", "u1", 5_000)
    store.note_exception("c1", "u1", 3_000)  # an older one, handled later
    assert store.last_exception("c1", "u1") == 5_000
    store.note_exception("c1", "u1", 7_000)
    assert store.last_exception("c1", "u1") == 7_000
    assert store.last_exception("c1", "u2") is None


def test_a_released_wait_is_not_cancelled_by_a_late_exception(state: Any) -> None:
    store, counters, _ = state
    waiting(store, "w1")
    assert store.release_wait("c1", "u1", "w1", "h1") is not None
    assert store.cancel_wait("c1", "u1", 9_000) is None  # it is being sent
    assert "exception_cancelled" not in counters()


def test_an_interaction_is_recorded_once_by_user_campaign_type_and_time(state: Any) -> None:
    store, _, _ = state
    assert store.first_interaction("u1", "c1", "email_opened", 1_000)
    assert not store.first_interaction("u1", "c1", "email_opened", 1_000)
    assert store.first_interaction("u1", "c1", "email_opened", 1_001)
    assert store.first_interaction("u1", "c1", "email_clicked", 1_000)
    assert store.first_interaction("u2", "c1", "email_opened", 1_000)
    assert store.first_interaction("u1", "c2", "email_opened", 1_000)


def test_a_transaction_that_loses_a_race_on_the_counters_is_tried_again(aws: None, monkeypatch: Any) -> None:
    _tables()
    clock = FakeClock(10_000_000)
    store = DynamoCampaignState("state", TABLES, clock)
    real = clients.dynamodb()
    calls = {"n": 0}

    class Racing:
        def transact_write_items(self, **kwargs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] < 3:  # another writer of the campaign's counters wins twice
                error = {"Code": "TransactionCanceledException", "Message": "conflict"}
                reasons = [{"Code": "None"}, {"Code": "TransactionConflict"}]
                raise ClientError({"Error": error, "CancellationReasons": reasons}, "TransactWriteItems")  # type: ignore[typeddict-item]
            return real.transact_write_items(**kwargs)

    monkeypatch.setattr(clients, "dynamodb", Racing)
    store.claim("c1", "u1", "a1", 1_000, None, "h1")
    assert store.start_wait(wait("w1"), "a1")
    assert calls["n"] == 3 and len(clock.sleeps) == 2
    assert MetricsStore("metrics").get(campaign_counters_id("c1"))["scheduled"] == 1


def test_a_wait_has_a_one_time_schedule_targeting_the_queue_and_deleted_after_it_runs(aws: None) -> None:
    client = boto3.client("scheduler")
    client.create_schedule_group(Name="waits")
    scheduler = EventBridgeWaitScheduler("waits", "arn:aws:sqs:us-east-1:123456789012:activity", "arn:role", "arn:dlq")
    scheduler.schedule("wait-1", 1_765_000_000_001, '{"due": 1}')
    scheduler.schedule("wait-1", 1_765_000_000_001, '{"due": 2}')  # a redelivery: the first stands
    found = client.get_schedule(GroupName="waits", Name="wait-1")
    assert found["ScheduleExpression"] == "at(2025-12-06T05:46:41)"  # rounded up: never early
    assert found["ActionAfterCompletion"] == "DELETE" and found["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert found["Target"]["Input"] == '{"due": 1}' and found["Target"]["RoleArn"] == "arn:role"
    assert found["Target"]["DeadLetterConfig"] == {"Arn": "arn:dlq"}
    scheduler.cancel("wait-1")
    scheduler.cancel("wait-1")  # gone already: not an error
    assert client.list_schedules(GroupName="waits")["Schedules"] == []


def test_the_at_expression_is_utc_and_whole_seconds() -> None:
    assert at_expression(0) == "at(1970-01-01T00:00:00)"
    assert at_expression(1) == "at(1970-01-01T00:00:01)"
    assert at_expression(86_400_000) == "at(1970-01-02T00:00:00)"


def test_a_waits_counts_are_added_to_its_minute_too(aws: None) -> None:
    _tables()
    clock = FakeClock(10_000_000)
    store = DynamoCampaignState("state", TABLES, clock)
    store.claim("c1", "u1", "a1", 1_000, None, "h1")
    assert store.start_wait(wait("w1"), "a1")
    clock.now += 60_000
    store.claim("c1", "u2", "a2", 1_000, None, "h2")
    assert store.start_wait(wait("w2", user="u2"), "a2")
    minute = 10_000_000 // 60_000
    history = MetricsStore("metrics", "history").history(campaign_counters_id("c1"), minute - 5, minute + 5)
    assert history == {minute: {"triggered": 1, "scheduled": 1}, minute + 1: {"triggered": 1, "scheduled": 1}}
    counters = MetricsStore("metrics").get(campaign_counters_id("c1"))
    assert (counters["triggered"], counters["scheduled"]) == (2, 2)
