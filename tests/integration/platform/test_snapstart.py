"""Init and SnapStart (adapters/aws/snapstart.py): every handler builds its services at init (with SnapStart, before
the snapshot), sending nothing, and the request path's handlers renew what restored containers must not share.
Lambda's runtime library is the one in requirements-dev.txt (snapshot-restore-py, the managed runtime's own)."""

from __future__ import annotations

import random
from typing import Any

import boto3
import pytest
from snapshot_restore_py import get_after_restore, get_before_snapshot

from audience_sync.pipeline import ingest
from tests.stack_support import StackFixture

SNAPSTART_FUNCTIONS = ("IngestFunction", "ApiFunction", "PlatformApiFunction")


def _snapstart_functions() -> set[str]:
    from localmode.provision import ROOT
    from localmode.template import load_template

    resources = load_template(ROOT / "template.yaml")["Resources"]
    return {
        name
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function" and "SnapStart" in resource["Properties"]
    }


def test_the_request_path_has_snapstart_and_nothing_else_does() -> None:
    assert _snapstart_functions() == set(SNAPSTART_FUNCTIONS)


def test_every_handler_builds_its_services_at_init_and_sends_nothing(stack: StackFixture) -> None:
    """Decision 0026: nothing is left for a first invocation, SDK clients included; for the SnapStart functions init is
    before the snapshot, so building must open no connection a restored container would inherit."""
    calls: list[str] = []

    def count(event_name: str, **_: Any) -> None:
        calls.append(event_name)

    events = boto3._get_default_session().events  # every client the adapters create comes from this session
    functions = {name: f for name, f in stack.stack.functions.items() if name != "ConsoleFunction"}  # static files
    assert set(SNAPSTART_FUNCTIONS) < set(functions)
    for name, local in functions.items():
        before, after = len(get_before_snapshot()), len(get_after_restore())
        events.register("before-call", count)
        try:
            module = local._load()  # the function's init, as Lambda runs it (before the snapshot, with SnapStart)
        finally:
            events.unregister("before-call", count)

        assert calls == [], name  # built, not one AWS request
        assert module.services.cache_info().currsize == 1, name  # built by the import, not left for an invocation
        built = set(vars(module.services()))
        assert built > {"settings", "resources", "clock"}, name  # cached services, beyond the constructor's
        assert len(get_before_snapshot()) == before, name  # nothing left to do before the snapshot
        assert len(get_after_restore()) == after + (name in SNAPSTART_FUNCTIONS), name


def test_a_restored_container_gets_its_own_ledger_share_and_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    from audience_sync.adapters.aws import snapstart

    monkeypatch.setattr(ingest, "CONTAINER_ID", ingest.CONTAINER_ID)  # put back after the test
    state = random.getstate()
    try:
        snapshot_id = ingest.CONTAINER_ID
        random.seed(7)
        snapshot_draw = random.random()
        random.seed(7)  # the state every container restored from this snapshot would start from

        snapstart.after_restore()

        assert snapshot_id != ingest.CONTAINER_ID
        assert ingest.ledger_bucket(None, 1_000).startswith(f"time#{ingest.CONTAINER_ID}#")
        assert random.random() != snapshot_draw
    finally:
        random.setstate(state)
