"""bench/backfill.py's stand-ins keep the contracts they stand in for: the writer's membership messages, and an
index where each member keeps its newest transition and a change of membership is reported once."""

from __future__ import annotations

import pytest

from audience_sync.adapters.aws.membership_queue import PER_MESSAGE, decode
from audience_sync.segments.membership import Transition, order_of
from bench import backfill


def test_the_members_arrive_as_the_writer_publishes_baseline_entries() -> None:
    bodies = backfill.membership_bodies(PER_MESSAGE + 1, "s1")
    assert [len(decode(b)) for b in bodies] == [PER_MESSAGE, 1]
    first = decode(bodies[0])[0]
    assert (first.segment_id, first.entered, first.baseline, first.home) == ("step:s1", True, True, "u#x:u0")


def test_the_stand_in_index_keeps_the_newest_and_reports_each_change_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backfill, "LEDGER_LATENCY_SECONDS", 0)
    index = backfill.LatencyIndex()

    def t(entered: bool, order: int) -> Transition:
        return Transition("g", "u#x:u1", "b1", "u1", entered, "t", order_of(order))

    assert index.apply([t(True, 1)], "h", {}) == [t(True, 1)]
    assert index.apply([t(True, 1), t(False, 0)], "h", {}) == []  # again, and older
    assert index.apply([t(False, 2)], "h", {}, sent={("g", "b1"): {"x": "u1"}}) == [t(False, 2)]
    held = index.lookup([("g", "b1"), ("g", "b2")])
    assert list(held) == [("g", "b1")] and held[("g", "b1")].member is False


@pytest.mark.parametrize("checks", [False, True])
def test_the_sdk_is_measured_on_the_payloads_the_adapters_make(monkeypatch: pytest.MonkeyPatch, checks: bool) -> None:
    """The parameter check is counted only while the members' index's client makes it (adapters/aws/clients.py)."""
    from audience_sync.adapters.aws import segment_members
    from bench import sdk_cpu

    monkeypatch.setattr(sdk_cpu, "ROUNDS", 1)
    monkeypatch.setattr(segment_members, "CHECKS_REQUESTS", checks)
    measured = sdk_cpu.us_per_member()
    assert set(measured) == {
        "serialize the member's write",
        "parse the member's index item",
        "parse the member's profile",
    } | ({"validate the member's write"} if checks else set())
    assert all(us > 0 for us in measured.values())


def test_the_membership_processes_are_the_templates_containers() -> None:
    from bench.cost import _template_path
    from localmode.template import load_template

    function = load_template(_template_path())["Resources"]["MembershipFunction"]["Properties"]
    assert backfill.MEMBERSHIP_MB == function["MemorySize"] >= backfill.LAMBDA_VCPU_MB  # a vCPU each, as counted
    (event,) = function["Events"].values()
    assert event["Properties"]["ScalingConfig"]["MaximumConcurrency"] == backfill.MEMBERSHIP_CONCURRENCY
