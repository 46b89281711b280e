"""Exactly-once on at-least-once delivery: failed attempts, duplicate deliveries and crashes at each point of
the hand-off (before the ledger write, after it, inside the Step Functions retry) leave every user synced once
in the LinkedIn audience and counted once (entered == synced + not_synced + errored, nothing pending).

The whole template runs in moto with the real handlers; moto's Step Functions interpreter runs the real ASL
and invokes the real RetryFunction (waits divided by 10 000); LinkedIn is the sandbox.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from audience_sync.core.backoff import retry_schedule
from tests.integration.retry.retry_support import (
    Crash,
    InjectedCrash,
    RetryHarness,
    aws_error,
    email_user,
    expected_members,
    sorted_members,
    user_data,
)

USERS = range(4)


def _post(h: RetryHarness, step_id: str, numbers: range = USERS) -> str:
    audience_id = h.create_step(step_id)
    h.post_users(step_id, [email_user(n) for n in numbers])
    return audience_id


def _statuses(h: RetryHarness) -> list[int]:
    return [r["status"] for r in h.user_requests()]


def _batch_id(key: str) -> str:
    return key.split("/")[-2]


# ---- 1. success after several retries ------------------------------------------------------------------
def test_users_sync_once_after_several_failed_attempts(connected: RetryHarness) -> None:
    h = connected
    audience_id = _post(h, "flaky")
    h.add_fault(status=500, count=3)  # the first send and the first two retry attempts fail

    assert h.sync_once() == (1, [])

    (execution,) = h.settle_retries()
    assert execution["status"] == "SUCCEEDED"
    assert h.execution_output(execution) == {"outcome": "settled", "attempt": 3}
    # The default 13 h schedule: one Wait per attempt, no task retry.
    assert h.requested_waits() == [("wait", float(w)) for w in retry_schedule(46800)[:3]]
    assert [w for _, w in h.requested_waits()] == [30.0, 60.0, 120.0]
    # One LinkedIn request per attempt, each with every user.
    assert _statuses(h) == [500, 500, 500, 200]
    assert {r["elements"] for r in h.user_requests()} == {len(USERS)}
    chain = h.attempt_chain(execution["name"])  # one ledger entry per attempt, each naming the next batch
    assert [entry_id.rsplit(":", 1)[1] for entry_id in chain] == ["1", "2", "3"]
    assert sorted(chain) == h.ledger_ids("retry:")
    assert sorted_members(h.members(audience_id)) == expected_members(USERS)
    assert h.segment(audience_id)["input_count"] == len(USERS)
    h.assert_counted_once("flaky", entered=len(USERS), synced=len(USERS))
    assert h.retry_objects() == []


# ---- 2. duplicate deliveries ---------------------------------------------------------------------------
@pytest.mark.parametrize("handed_to_retry", [False, True], ids=["synced-at-once", "handed-to-retry"])
def test_sqs_duplicates_call_linkedin_once_a_clients_retry_again_and_all_count_once(
    connected: RetryHarness, handed_to_retry: bool
) -> None:
    h = connected
    audience_id = _post(h, "dup")
    if handed_to_retry:
        h.add_fault(status=500, count=1)
    (record,) = h.drain()
    # SQS's duplicate carries the same MessageId; a retried webhook's copy another one, with the same chunk id.
    same_id = {**record, "receiptHandle": "handle"}
    other_id = h.record(record["body"], "copy-of-" + record["messageId"])

    assert h.invoke_batcher([record, same_id, other_id]) == []

    assert len(h.user_requests()) == 1  # the three deliveries shared one LinkedIn request
    executions = h.settle_retries()
    assert [e["status"] for e in executions] == (["SUCCEEDED"] if handed_to_retry else [])
    requests_before = len(h.user_requests())

    # Delivered again by SQS after it was settled (and its retry, if any, finished): looked up in the ledger,
    # only the idempotent hand-off is redone.
    assert h.invoke_batcher([h.record(record["body"], record["messageId"], receives=2)]) == []
    assert h.invoke_batcher([{**same_id, "attributes": {"ApproximateReceiveCount": "3"}}]) == []
    assert len(h.user_requests()) == requests_before  # LinkedIn not called again
    assert h.settle_retries() == executions  # no second execution
    # The client's retry of the webhook is a first delivery: not looked up, sent again, counted nothing.
    assert h.invoke_batcher([other_id]) == []
    assert len(h.user_requests()) == requests_before + 1
    assert h.settle_retries() == executions
    assert _statuses(h) == ([500, 200, 200] if handed_to_retry else [200, 200])
    assert len(h.ledger_ids("msg:")) == 1
    assert sorted_members(h.members(audience_id)) == expected_members(USERS)
    assert h.segment(audience_id)["input_count"] == 2 * len(USERS)  # two accepted sends, one membership each
    h.assert_counted_once("dup", entered=len(USERS), synced=len(USERS))


def test_a_redelivery_while_its_retry_runs_starts_nothing_new(connected: RetryHarness) -> None:
    h = connected
    audience_id = _post(h, "dup-running")
    h.add_fault(status=500, count=1)
    # Hold the execution's first attempt until the message has been delivered again (no wall-clock race).
    (container,) = h.containers("RetryFunction")
    attempt = h.retry_attempt(container)
    real_run, release, entered = attempt.run, threading.Event(), threading.Event()

    def held_run(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        assert release.wait(timeout=30), "the test never released the attempt"
        return real_run(*args, **kwargs)

    attempt.run = held_run
    (record,) = h.drain()
    try:
        assert h.invoke_batcher([record]) == []
        h.wait_until(entered.is_set, what="the first attempt")
        (running,) = h.executions("RUNNING")

        redelivered = h.record(record["body"], record["messageId"], receives=2)
        assert h.invoke_batcher([redelivered]) == []  # same name, same input

        assert [e["executionArn"] for e in h.executions()] == [running["executionArn"]]
    finally:
        release.set()
    (execution,) = h.settle_retries()
    assert execution["status"] == "SUCCEEDED"
    assert _statuses(h) == [500, 200]
    assert sorted_members(h.members(audience_id)) == expected_members(USERS)
    h.assert_counted_once("dup-running", entered=len(USERS), synced=len(USERS))


def test_concurrent_deliveries_race_to_the_ledger_and_count_once(connected: RetryHarness) -> None:
    """Two batcher invocations get the same message; the second settles it while the first is sending."""
    h = connected
    audience_id = _post(h, "race")
    (record,) = h.drain()
    duplicate = h.record(record["body"], record["messageId"])
    (first_container,) = h.containers("BatcherFunction")
    sender = first_container.services().batcher.sender
    real_send = sender.send
    raced: list[list[str]] = []

    def send_after_the_other_invocation(*args: Any, **kwargs: Any) -> Any:
        if not raced:  # the other container reads the ledger, sends and settles first
            raced.append(h.invoke_batcher([duplicate]))
        return real_send(*args, **kwargs)

    sender.send = send_after_the_other_invocation

    assert h.invoke_batcher([record]) == []  # its ledger write finds the entry: done, not failed

    assert raced == [[]]
    assert _statuses(h) == [200, 200]  # both sent (LinkedIn adds idempotently)...
    assert sorted_members(h.members(audience_id)) == expected_members(USERS)
    assert len(h.ledger_ids("msg:")) == 1
    h.assert_counted_once("race", entered=len(USERS), synced=len(USERS))  # ...and counted once


# ---- 3. crash after LinkedIn took the users, before the ledger write ----------------------------------
@pytest.mark.parametrize("failure", ["aws-error", "crash"])
def test_a_crash_before_the_ledger_write_resends_and_counts_once(connected: RetryHarness, failure: str) -> None:
    h = connected
    audience_id = _post(h, "lost-write")
    error = (lambda: aws_error("TransactWriteItems")) if failure == "aws-error" else InjectedCrash
    crash = h.crash_batcher(Crash(error), "ledger", "record")
    records = h.drain()
    (record,) = records

    if failure == "aws-error":
        assert h.invoke_batcher(records) == [record["messageId"]]  # reported as a batch item failure
    else:
        with pytest.raises(InjectedCrash):  # the invocation fails: Lambda returns the whole batch
            h.invoke_batcher(records)

    assert crash.fired == 1
    assert sorted_members(h.members(audience_id)) == expected_members(USERS)  # LinkedIn took them...
    assert h.ledger_ids() == []
    assert h.metrics("lost-write")["entered"] == 0  # ...but nothing was counted, not even the entry

    redelivered = h.redeliver(records)
    assert [r["body"] for r in redelivered] == [record["body"]]
    assert h.invoke_batcher(redelivered) == []

    assert _statuses(h) == [200, 200]  # sent again: LinkedIn adds idempotently
    assert sorted_members(h.members(audience_id)) == expected_members(USERS)
    assert h.segment(audience_id)["input_count"] == 2 * len(USERS)  # two accepted sends, one membership each
    assert len(h.ledger_ids("msg:")) == 1
    assert h.executions() == []
    h.assert_counted_once("lost-write", entered=len(USERS), synced=len(USERS))


# ---- 4. crash after the ledger write, before the retry execution starts -------------------------------
CRASHES_AFTER_THE_LEDGER_WRITE: dict[str, tuple[str, str, Callable[[], BaseException], bool]] = {
    # StartExecution fails (throttled, Step Functions unavailable): reported as a batch item failure.
    "start-aws-error": ("retries", "start", lambda: aws_error("StartExecution", "ThrottlingException"), False),
    # The process dies before StartExecution: the invocation fails.
    "start-crash": ("retries", "start", InjectedCrash, False),
    # The transaction committed but its answer was lost (timeout): the batcher thinks it failed.
    "ledger-answer-lost": ("ledger", "record", lambda: aws_error("TransactWriteItems"), True),
}


@pytest.mark.parametrize("crash_point", list(CRASHES_AFTER_THE_LEDGER_WRITE))
def test_a_crash_after_the_ledger_write_only_starts_the_retry_on_redelivery(
    connected: RetryHarness, crash_point: str
) -> None:
    h = connected
    audience_id = _post(h, "lost-start")
    h.add_fault(status=500, count=1)  # the users wait in a retry batch
    collaborator, method, error, after_real_call = CRASHES_AFTER_THE_LEDGER_WRITE[crash_point]
    crash = h.crash_batcher(Crash(error, after_real_call=after_real_call), collaborator, method)
    records = h.drain()
    (record,) = records

    if error is InjectedCrash:
        with pytest.raises(InjectedCrash):
            h.invoke_batcher(records)
    else:
        assert h.invoke_batcher(records) == [record["messageId"]]

    assert crash.fired == 1
    (entry,) = h.ledger_items("msg:")  # settled: the retry batch is recorded...
    (key,) = entry["retry_keys"]
    assert h.retry_objects() == [key]
    assert h.executions() == []  # ...but nothing runs it yet
    assert h.metrics("lost-start")["pending"] == len(USERS)

    redelivered = h.redeliver(records)
    assert h.invoke_batcher(redelivered) == []

    (execution,) = h.settle_retries()
    assert execution["name"] == _batch_id(key)
    assert execution["status"] == "SUCCEEDED"
    assert _statuses(h) == [500, 200]  # the redelivery did not send again; the retry did, once
    assert sorted_members(h.members(audience_id)) == expected_members(USERS)
    assert h.segment(audience_id)["input_count"] == len(USERS)
    assert h.ledger_ids() == sorted([entry["id"], f"retry:{_batch_id(key)}:1"])
    assert h.retry_objects() == []
    h.assert_counted_once("lost-start", entered=len(USERS), synced=len(USERS))


# ---- 5. the retry function crashing after its ledger write ---------------------------------------------
def _crash_a_retry_attempt_after_its_ledger_write(h: RetryHarness, step_id: str, failed_attempts: int) -> Crash:
    """The first send and `failed_attempts` retry attempts get a 500; attempt 1 crashes after its ledger
    write (deleting its settled batch from S3). Returns the crash, after every execution finished."""
    audience_id = _post(h, step_id)
    h.add_fault(status=500, count=1 + failed_attempts)
    crash = h.crash_retry_function(Crash(InjectedCrash), "retries", "delete")

    assert h.sync_once() == (1, [])
    (execution,) = h.settle_retries()

    assert crash.fired == 1
    assert execution["status"] == "SUCCEEDED"
    assert sorted_members(h.members(audience_id)) == expected_members(USERS)
    return crash


@pytest.mark.parametrize("failed_attempts", [0, 1], ids=["attempt-synced", "attempt-still-waiting"])
def test_a_retried_attempt_returns_the_recorded_answer(connected: RetryHarness, failed_attempts: int) -> None:
    h = connected
    _crash_a_retry_attempt_after_its_ledger_write(h, "crashy-retry", failed_attempts)

    (execution,) = h.executions()
    attempts = failed_attempts + 1
    assert h.execution_output(execution) == {"outcome": "settled", "attempt": attempts}
    types = h.history_types(execution)
    assert types.count("TaskFailed") == 1  # the crash, retried by the task's Retry (States.ALL)...
    assert types.count("TaskSucceeded") == attempts  # ...whose second try answered what the first recorded
    waits = [("wait", 30.0), ("retry", 30.0)] + ([("wait", 60.0)] if failed_attempts else [])
    assert h.requested_waits() == waits
    # The retried task did not call LinkedIn: one request per attempt, plus the first send.
    assert _statuses(h) == [500] * (1 + failed_attempts) + [200]
    chain = h.attempt_chain(execution["name"])
    assert [entry_id.rsplit(":", 1)[1] for entry_id in chain] == [str(n) for n in range(1, attempts + 1)]
    assert sorted(chain) == h.ledger_ids("retry:")
    h.assert_counted_once("crashy-retry", entered=len(USERS), synced=len(USERS))


def test_a_retried_attempt_deletes_its_settled_batch(connected: RetryHarness) -> None:
    h = connected
    _crash_a_retry_attempt_after_its_ledger_write(h, "orphan-retry", failed_attempts=0)

    assert h.retry_objects() == []


def test_the_state_machine_input_is_only_keys(connected: RetryHarness) -> None:
    """The execution input and every answer carry S3 keys, never users (the batch lives in S3)."""
    h = connected
    _post(h, "keys-only")
    h.add_fault(status=500, count=2)

    assert h.sync_once() == (1, [])
    (execution,) = h.settle_retries()

    sfn = boto3.client("stepfunctions")
    described = sfn.describe_execution(executionArn=execution["executionArn"])
    events = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
    text = described["input"] + (described.get("output") or "") + json.dumps(events, default=str)
    assert [data for data in user_data(USERS) if data in text] == []
    assert json.loads(described["input"])["key"].startswith("retry/keys-only/")


# ---- 5b. two overlapping tries of one attempt (a task retried while its first invocation still runs) ------
@pytest.mark.parametrize("other_try", ["synced-first", "recorded-a-wait-first"])
def test_overlapping_tries_of_an_attempt_count_once(connected: RetryHarness, other_try: str) -> None:
    """While one try of attempt 1 is sending, another try of the same attempt runs to the end (e.g. Step Functions
    retried the task after Lambda.ServiceException although the first invocation was running)."""
    h = connected
    audience_id = _post(h, "overlap")
    h.add_fault(status=500, count=2)  # the first send, and the first of the two tries to reach LinkedIn
    (container,) = h.containers("RetryFunction")
    attempt = h.retry_attempt(container)
    real_get, real_send = attempt.retries.get, attempt.sender.send
    keys: list[str] = []
    others: list[dict[str, Any]] = []

    def get(key: str) -> Any:
        keys.append(key)
        return real_get(key)

    def other_try_runs_to_the_end() -> None:  # in another container: this one is busy
        others.append(h.stack.invoke("RetryFunction", {"key": keys[0], "attempt": 1}))

    def send(*args: Any, **kwargs: Any) -> Any:
        if others:
            return real_send(*args, **kwargs)
        if other_try == "recorded-a-wait-first":  # it gets the 500; this try's 200 is not recorded
            other_try_runs_to_the_end()
            return real_send(*args, **kwargs)
        outcomes = real_send(*args, **kwargs)  # this try gets the 500; the other one syncs and is recorded
        other_try_runs_to_the_end()
        return outcomes

    attempt.retries.get, attempt.sender.send = get, send

    assert h.sync_once() == (1, [])
    (execution,) = h.settle_retries()

    assert execution["status"] == "SUCCEEDED"
    (other,) = others
    chain = h.attempt_chain(execution["name"])
    assert sorted(chain) == h.ledger_ids("retry:")
    if other_try == "synced-first":
        assert other == {"outcome": "settled", "attempt": 1}
        assert _statuses(h) == [500, 500, 200]
        assert len(chain) == 1  # this try's answer was the recorded one
    else:
        assert other["outcome"] == "retry"
        assert _statuses(h) == [500, 500, 200, 200]  # this try's 200 was not counted; attempt 2 sent again
        assert len(chain) == 2
        assert h.segment(audience_id)["input_count"] == 2 * len(USERS)
    assert sorted_members(h.members(audience_id)) == expected_members(USERS)
    assert h.retry_objects() == []  # the losing try deleted the batch it had written for attempt 2
    h.assert_counted_once("overlap", entered=len(USERS), synced=len(USERS))


def test_a_delivery_that_loses_the_race_deletes_its_retry_batches(connected: RetryHarness) -> None:
    h = connected
    _post(h, "race-retry")
    h.add_fault(status=500, count=2)  # both deliveries hand their users to the retry
    (record,) = h.drain()
    duplicate = h.record(record["body"], record["messageId"])
    (first_container,) = h.containers("BatcherFunction")
    sender = first_container.services().batcher.sender
    real_send = sender.send
    raced: list[list[str]] = []

    def send_after_the_other_invocation(*args: Any, **kwargs: Any) -> Any:
        if not raced:
            raced.append(h.invoke_batcher([duplicate]))
        return real_send(*args, **kwargs)

    sender.send = send_after_the_other_invocation

    assert h.invoke_batcher([record]) == []
    (execution,) = h.settle_retries()

    assert execution["status"] == "SUCCEEDED"
    h.assert_counted_once("race-retry", entered=len(USERS), synced=len(USERS))  # this part holds
    assert h.retry_objects() == []  # this one does not: the loser's batch is left behind
