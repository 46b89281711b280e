"""bench/cost.py and bench/prices.py: the arithmetic that turns counted requests into dollars."""

from __future__ import annotations

import math

import pytest

from bench.cost import PLATFORM_LOG_BYTES, FunctionUse, Sampling, Usage, api_floor_per_million, per_million_users
from bench.prices import PRICES


def test_the_api_gateway_floor_is_ten_thousand_requests_at_list_price() -> None:
    assert PRICES["api_requests"].usd == 3.50
    assert api_floor_per_million() == pytest.approx(0.035)
    assert api_floor_per_million(users_per_webhook=1000) == pytest.approx(0.0035)


@pytest.mark.parametrize(
    ("rule", "rate", "fraction"),
    [
        (Sampling(), 1.0, 1.0),  # the reservoir takes the first request of every second
        (Sampling(), 500.0, (1 + 0.05 * 499) / 500),
        (Sampling(reservoir=1, fixed_rate=0.01), 100.0, (1 + 0.01 * 99) / 100),
        (Sampling(), 0.0, 0.0),
    ],
)
def test_sampling_records_the_reservoir_then_the_fixed_rate(rule: Sampling, rate: float, fraction: float) -> None:
    assert rule.fraction(rate) == pytest.approx(fraction)


def usage(**overrides: object) -> Usage:
    values: dict[str, object] = {
        "users": 10_000,
        "api_requests": 100,
        "api_traced": False,
        "webhook_sampling": Sampling(),
        "functions": {},
        "aws_units": {},
        "log_bytes": 0,
    }
    values.update(overrides)
    return Usage(**values)  # type: ignore[arg-type]


def test_lines_scale_to_a_million_users() -> None:
    lines = per_million_users(usage(aws_units={"sqs_requests": 150, "dynamodb_wru": 20}))
    assert lines["API Gateway requests"] == pytest.approx(100 * 100 * 3.5e-6)  # 100x the users, 100x the requests
    assert lines["SQS requests"] == pytest.approx(150 * 100 * 0.4e-6)
    assert lines["DynamoDB writes"] == pytest.approx(20 * 100 * 0.625e-6)


def test_lambda_is_requests_plus_gb_seconds_at_the_architectures_price() -> None:
    arm = FunctionUse(
        invocations=100, billed_ms=2000, memory_mb=512, architecture="arm64", platform_logs=False, traced=False
    )
    x86 = FunctionUse(
        invocations=100, billed_ms=2000, memory_mb=512, architecture="x86_64", platform_logs=False, traced=False
    )
    arm_cost = per_million_users(usage(functions={"F": arm}))["Lambda F"]
    x86_cost = per_million_users(usage(functions={"F": x86}))["Lambda F"]
    requests_part = 100 * 100 * 0.2e-6
    assert arm_cost == pytest.approx(requests_part + 100 * 2.0 * 0.5 * 0.0000133334)
    assert x86_cost > arm_cost


def test_platform_log_lines_count_only_where_lambda_writes_them() -> None:
    on = FunctionUse(
        invocations=10, billed_ms=10, memory_mb=128, architecture="arm64", platform_logs=True, traced=False
    )
    off = FunctionUse(
        invocations=10, billed_ms=10, memory_mb=128, architecture="arm64", platform_logs=False, traced=False
    )
    with_lines = per_million_users(usage(functions={"F": on}, log_bytes=1000))["CloudWatch Logs"]
    without = per_million_users(usage(functions={"F": off}, log_bytes=1000))["CloudWatch Logs"]
    assert without == pytest.approx(1000 * 100 * 0.5 / 1024**3)
    assert with_lines - without == pytest.approx(10 * PLATFORM_LOG_BYTES * 100 * 0.5 / 1024**3)


def test_traces_follow_the_webhook_rule_when_the_api_is_traced() -> None:
    strict = per_million_users(usage(api_traced=True, webhook_sampling=Sampling(1, 0.01)))["X-Ray"]
    default = per_million_users(usage(api_traced=True))["X-Ray"]
    untraced = per_million_users(usage(api_traced=False))["X-Ray"]
    assert untraced == 0
    assert 0 < strict < default
    webhooks_per_second = 50_000 / 100
    assert default == pytest.approx(100 * 100 * Sampling().fraction(webhooks_per_second) * 5e-6)
    assert math.isclose(strict / default, Sampling(1, 0.01).fraction(500) / Sampling().fraction(500))
