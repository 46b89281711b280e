"""retry.py: the retry schedule (30 s doubling, capped at 1 h, adding up to the horizon exactly), and the
state machine that runs it: no jitter that could shorten the waits of the schedule's own retries."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from audience_sync.core.backoff import (
    BACKOFF_RATE,
    DEFAULT_HORIZON_SECONDS,
    FIRST_DELAY_SECONDS,
    MAX_DELAY_SECONDS,
    retry_schedule,
)

ASL = Path(__file__).resolve().parents[3] / "statemachine" / "retry_batch.asl.json"
# Errors of the Lambda service itself (the invoke never ran the function): spreading those out is safe.
LAMBDA_SERVICE_ERRORS = frozenset(
    {
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    }
)


# ---- the schedule ------------------------------------------------------------------------------
def test_default_schedule_exactly() -> None:
    expected = (30, 60, 120, 240, 480, 960, 1920, *([3600] * 11), 3390)
    assert retry_schedule() == expected
    assert retry_schedule(DEFAULT_HORIZON_SECONDS) == expected
    assert sum(expected) == 46_800


def test_default_horizon_is_13_hours_within_2_percent() -> None:
    assert DEFAULT_HORIZON_SECONDS == 13 * 3600 == 46_800
    total = sum(retry_schedule())
    assert total == DEFAULT_HORIZON_SECONDS
    assert abs(total - 13 * 3600) <= 0.02 * 13 * 3600


def test_constants() -> None:
    assert (FIRST_DELAY_SECONDS, BACKOFF_RATE, MAX_DELAY_SECONDS) == (30, 2, 3600)


@pytest.mark.parametrize("horizon", [1, 29, 30, 31, 60, 89, 90, 3600, 3810, 7410, 46_799, 46_801, 100_000, 10**6])
def test_total_is_the_horizon_and_no_wait_exceeds_the_cap(horizon: int) -> None:
    waits = retry_schedule(horizon)
    assert sum(waits) == horizon
    assert all(0 < w <= MAX_DELAY_SECONDS for w in waits)
    # every wait but the (clipped) last follows the doubling, capped
    for i, w in enumerate(waits[:-1]):
        assert w == min(FIRST_DELAY_SECONDS * BACKOFF_RATE**i, MAX_DELAY_SECONDS)
    assert waits[-1] <= min(FIRST_DELAY_SECONDS * BACKOFF_RATE ** (len(waits) - 1), MAX_DELAY_SECONDS)


@pytest.mark.parametrize(
    ("horizon", "expected"),
    [
        (1, (1,)),
        (30, (30,)),
        (60, (30, 30)),
        (90, (30, 60)),
        (100, (30, 60, 10)),
        (3600, (30, 60, 120, 240, 480, 960, 1710)),
        (7410, (30, 60, 120, 240, 480, 960, 1920, 3600)),
    ],
)
def test_short_horizons(horizon: int, expected: tuple[int, ...]) -> None:
    assert retry_schedule(horizon) == expected


def test_long_horizon_is_mostly_hourly() -> None:
    waits = retry_schedule(100_000)
    assert waits[:7] == (30, 60, 120, 240, 480, 960, 1920)
    assert set(waits[7:-1]) == {3600}
    assert waits[-1] == 100_000 - 3810 - 3600 * (len(waits) - 8)
    assert 0 < waits[-1] <= 3600


def test_custom_first_rate_and_cap() -> None:
    assert retry_schedule(100, first=10, rate=3, cap=50) == (10, 30, 50, 10)
    assert retry_schedule(40, first=10, rate=1, cap=10) == (10, 10, 10, 10)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"horizon_seconds": 0},
        {"horizon_seconds": -1},
        {"horizon_seconds": 100, "first": 0},
        {"horizon_seconds": 100, "first": -5},
        {"horizon_seconds": 100, "rate": 0},
        {"horizon_seconds": 100, "first": 60, "cap": 30},
    ],
)
def test_bad_arguments_raise(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="positive"):
        retry_schedule(**kwargs)


# ---- the state machine ---------------------------------------------------------------------------
def retriers(definition: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(state name, retrier) for every Retry of every state, nested states included."""
    found: list[tuple[str, dict[str, Any]]] = []
    for name, state in definition.get("States", {}).items():
        found += [(name, r) for r in state.get("Retry", [])]
        for branch in state.get("Branches", []):
            found += retriers(branch)
        for key in ("Iterator", "ItemProcessor"):
            if key in state:
                found += retriers(state[key])
    return found


def full_jitter_problems(definition: dict[str, Any]) -> list[str]:
    """Retriers that may draw a shorter wait (FULL jitter) for anything but the Lambda service's own errors.

    The function's errors (States.ALL, States.TaskFailed, Lambda.Unknown, ...) are retried on a schedule that
    counts toward the horizon; full jitter would draw each wait from [0, delay] and halve it on average."""
    return [
        f"{name}: {sorted(r['ErrorEquals'])}"
        for name, r in retriers(definition)
        if r.get("JitterStrategy", "NONE") == "FULL" and not set(r["ErrorEquals"]) <= LAMBDA_SERVICE_ERRORS
    ]


def test_asl_has_no_full_jitter_on_function_errors() -> None:
    definition = json.loads(ASL.read_text())
    assert full_jitter_problems(definition) == []
    found = retriers(definition)
    catch_all = [r for _, r in found if "States.ALL" in r["ErrorEquals"]]
    assert catch_all, "the function's errors must be retried"
    assert all(r.get("JitterStrategy", "NONE") == "NONE" for r in catch_all)


def test_the_jitter_check_catches_full_jitter_on_function_errors() -> None:
    bad_retriers = [
        {"ErrorEquals": ["States.ALL"], "JitterStrategy": "FULL"},
        {"ErrorEquals": ["Lambda.ServiceException", "States.TaskFailed"], "JitterStrategy": "FULL"},
        {"ErrorEquals": ["Lambda.Unknown"], "JitterStrategy": "FULL"},
        {"ErrorEquals": ["Lambda.ServiceException"], "JitterStrategy": "FULL"},  # allowed
        {"ErrorEquals": ["States.ALL"]},  # allowed: no jitter by default
    ]
    definition = {"States": {"Attempt": {"Type": "Task", "Retry": bad_retriers}}}
    assert len(full_jitter_problems(definition)) == 3
    nested = {"States": {"Par": {"Type": "Parallel", "Branches": [definition]}}}
    assert len(full_jitter_problems(nested)) == 3


def test_asl_waits_what_the_retry_function_answers() -> None:
    definition = json.loads(ASL.read_text())
    states = definition["States"]
    wait = states[definition["StartAt"]]
    assert wait["Type"] == "Wait"
    assert wait["SecondsPath"] == "$.wait_seconds"
    assert states[wait["Next"]]["Type"] == "Task"
