"""The CPU reference of `make bench` (bench/reference.py): what it reports, and that it is a rate."""

from __future__ import annotations

import pytest

from bench import reference


def test_checkpoints_are_told_against_the_fastest() -> None:
    assert reference.describe([("start", 200.0), ("segments", 120.0), ("end", 190.0)]) == (
        "start 1.00, segments 0.60, end 0.95"
    )


def test_the_rate_is_rounds_a_cpu_second_of_the_fastest_round(monkeypatch: pytest.MonkeyPatch) -> None:
    times = iter([0.0, 0.5, 1.0, 1.25, 2.0, 2.4])  # rounds of 0.5, 0.25 and 0.4 CPU seconds
    monkeypatch.setattr(reference.time, "process_time", lambda: next(times))
    monkeypatch.setattr(reference, "_work", lambda: None)
    assert reference.rate() == 4.0
