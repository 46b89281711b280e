"""retry.py: back-off delays and the retry horizon, both divided by TIME_SCALE."""

from __future__ import annotations

from audience_sync.retry import MAX_SQS_DELAY_SECONDS, horizon_passed, retry_delay_seconds


def test_delays_double_from_five_and_cap_at_900() -> None:
    assert [retry_delay_seconds(a) for a in range(10)] == [5, 10, 20, 40, 80, 160, 320, 640, 900, 900]
    assert retry_delay_seconds(1000) == MAX_SQS_DELAY_SECONDS == 900


def test_delays_divided_by_time_scale() -> None:
    assert retry_delay_seconds(0, time_scale=5) == 1
    assert retry_delay_seconds(2, time_scale=2) == 10
    assert retry_delay_seconds(20, time_scale=100) == 9
    assert retry_delay_seconds(0, time_scale=1000) == 0


def test_horizon_boundary() -> None:
    horizon = 46_800
    assert not horizon_passed(0, horizon * 1000 - 1, horizon)
    assert horizon_passed(0, horizon * 1000, horizon)
    assert horizon_passed(1_000, horizon * 1000 + 1_000, horizon)
    assert not horizon_passed(1_000, horizon * 1000 + 999, horizon)


def test_horizon_scaled() -> None:
    horizon = 46_800
    assert horizon_passed(0, 46_800, horizon, time_scale=1000)
    assert not horizon_passed(0, 46_799, horizon, time_scale=1000)
