"""The imports' routes behind the edge (imports/service.py): definitions put, read and deleted, runs started on
demand and listed."""

from __future__ import annotations

import pytest

from audience_sync.core.errors import Invalid, NotFound, Unavailable
from audience_sync.imports.exceptions import ImportDisabled, ImportRunning
from audience_sync.imports.schedule import ImportScheduler
from audience_sync.imports.service import ImportService
from tests.fakes.import_fakes import FakeImportQueue, FakeImportStore
from tests.fakes.sync_fakes import FakeClock
from tests.unit.imports.test_definitions import BODY

NOW = 1_796_000_000_000


def _service() -> tuple[ImportService, FakeImportStore, FakeImportQueue]:
    store, queue = FakeImportStore(), FakeImportQueue()
    return ImportService(store, ImportScheduler(store, queue, FakeClock(NOW), time_scale=60)), store, queue


def test_put_get_run_and_runs() -> None:
    service, _, queue = _service()
    view = service.put("bc", BODY)
    assert view["bucket"] == "my-bucket" and view["running"] is None and view["next_run_at"] is None

    run_id = service.run_now("bc")["run_id"]

    assert queue.queued == [("bc", run_id)]
    shown = service.get("bc")
    assert shown["running"] == run_id
    assert shown["next_run_at"] == "2026-11-30T00:53:21.000Z"  # every_minutes 1, divided by TIME_SCALE 60: 1 s
    (run,) = service.runs("bc")["runs"]
    assert (run["run_id"], run["status"], run["finished_at"], run["rows"]) == (run_id, "running", None, 0)
    with pytest.raises(ImportRunning):
        service.run_now("bc")


def test_a_disabled_import_does_not_run_409() -> None:
    service, _, _ = _service()
    service.put("bc", {**BODY, "enabled": False})
    with pytest.raises(ImportDisabled) as refused:
        service.run_now("bc")
    assert refused.value.code == "import_disabled"


def test_its_files_cannot_change_under_a_running_run() -> None:
    service, _, _ = _service()
    service.put("bc", BODY)
    service.run_now("bc")
    service.put("bc", {**BODY, "every_minutes": 5})  # the schedule may change
    with pytest.raises(ImportRunning):
        service.put("bc", {**BODY, "prefix": "other/"})


def test_a_run_that_could_not_be_queued_is_not_left_running() -> None:
    service, store, queue = _service()
    service.put("bc", BODY)
    queue.fail = Unavailable("queue_unavailable", "down")
    with pytest.raises(Unavailable):
        service.run_now("bc")
    assert store.state("bc").run is None
    queue.fail = None
    service.run_now("bc")


def test_unknown_imports_and_bad_ids() -> None:
    service, _, _ = _service()
    for call in (service.get, service.run_now, service.runs, service.delete):
        with pytest.raises(NotFound):
            call("nope")
    with pytest.raises(Invalid):
        service.get("bad id!")
    service.put("bc", BODY)
    service.delete("bc")
    with pytest.raises(NotFound):
        service.get("bc")
