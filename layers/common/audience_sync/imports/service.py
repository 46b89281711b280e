"""Imports behind the HTTP edge (contract v2 §8): `PUT /v1/imports/{id}`, `GET` and `DELETE` of it, `POST
/v1/imports/{id}/run` (202; 409 while disabled or running) and `GET /v1/imports/{id}/runs`."""

from __future__ import annotations

from typing import Any

from audience_sync.core.errors import NotFound
from audience_sync.imports.definitions import ImportDefinition, parse, valid_import_id
from audience_sync.imports.exceptions import ImportRunning
from audience_sync.imports.ports import ImportStore, Run
from audience_sync.imports.schedule import ImportScheduler
from audience_sync.profiles.values import format_ms

RUNS_SHOWN = 50


def run_view(run: Run) -> dict[str, Any]:
    view: dict[str, Any] = {
        "run_id": run.run_id,
        "status": run.status,
        "started_at": format_ms(run.started_ms),
        "finished_at": format_ms(run.finished_ms) if run.finished_ms is not None else None,
        "files": run.files,
        "rows": run.rows,
        "created": run.created,
        "updated": run.updated,
        "skipped": run.skipped,
        "failed": run.failed,
        "failed_total": run.failed_total,
    }
    if run.error:
        view["error"] = run.error
    return view


class ImportService:
    def __init__(self, store: ImportStore, scheduler: ImportScheduler):
        self.store = store
        self.scheduler = scheduler

    def _stored(self, import_id: str) -> ImportDefinition:
        definition = self.store.get_definition(valid_import_id(import_id))
        if definition is None:
            raise NotFound("import", "import_not_found")
        return definition

    def put(self, import_id: str, body: Any) -> dict[str, Any]:
        definition = parse(import_id, body)
        stored = self.store.get_definition(import_id)
        state = self.store.state(import_id)
        if state.run is not None and stored is not None and stored.source() != definition.source():
            raise ImportRunning(import_id)  # its files would change under the running run
        self.store.put_definition(definition)
        return self.get(import_id)

    def get(self, import_id: str) -> dict[str, Any]:
        definition = self._stored(import_id)
        state = self.store.state(import_id)
        current = list(definition.source()) == state.source
        return {
            **definition.view(),
            "imported_through": state.done_key if current else None,
            "running": state.run.run_id if state.run is not None else None,
            "next_run_at": format_ms(state.next_run_ms) if definition.enabled and state.next_run_ms else None,
        }

    def definitions(self) -> list[dict[str, Any]]:
        """Every import's definition, by id (GET /v1/imports/{id} adds its state)."""
        return [d.view() for d in sorted(self.store.definitions(), key=lambda d: d.import_id)]

    def delete(self, import_id: str) -> None:
        valid_import_id(import_id)
        if not self.store.delete(import_id):
            raise NotFound("import", "import_not_found")

    def run_now(self, import_id: str) -> dict[str, Any]:
        return {"run_id": self.scheduler.start(self._stored(import_id))}

    def runs(self, import_id: str) -> dict[str, Any]:
        self._stored(import_id)
        state = self.store.state(import_id)
        running = [state.run] if state.run is not None else []
        return {"runs": [run_view(r) for r in running + self.store.runs(import_id, RUNS_SHOWN)]}
