"""Trim botocore's data in the built layer to the services the platform calls (layers/common/Makefile).

botocore ships the models of every AWS service (~460 directories, 29 MB) and, in `endpoints.json`, the endpoints of
every service in every partition (1.2 MB of JSON). A Lambda function pays for that data at its init, when it creates
its clients: botocore parses the whole `endpoints.json` for its first client, lists every service directory to find
a model, and parses each model with its documentation, which is most of its bytes. Measured with valgrind on the
batcher's init (bench/coldstart.py `count_instructions`): creating its DynamoDB, SQS and S3 clients took 596 M
instructions with the data as shipped and 305 M trimmed, about 60 ms of every cold start on this machine.

What is kept, and why it is the same to botocore:
- the directories of the services in `SERVICES` of `audience_sync/adapters/aws/clients.py` (read from its source,
  so the build needs no boto3); `clients.client` refuses any other service, so a client of a trimmed service fails
  in the tests, not on Lambda;
- those services' entries in every partition of `endpoints.json` (by their models' `endpointPrefix`), and every
  partition's defaults, regions and metadata: what the endpoint resolver reads for them;
- each model without its documentation strings, which botocore only reads to write help and docs
  (tests/unit/adapters/test_trim_botocore_data.py compares every operation and shape with the shipped models).

Other data files (rule sets, paginators, waiters, partitions.json, retry and default configuration) stay as shipped.
"""

from __future__ import annotations

import ast
import gzip
import json
import shutil
import sys
from pathlib import Path
from typing import Any

# the maps from a name to its spec: an operation, a shape or a member may be named "documentation"
_NAMED = frozenset({"operations", "shapes", "members"})
_DOCUMENTATION = frozenset({"documentation", "documentationUrl"})


def kept_services(clients_source: Path) -> frozenset[str]:
    """`SERVICES` of clients.py, read from its source."""
    for node in ast.parse(clients_source.read_text()).body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(t, ast.Name) and t.id == "SERVICES" for t in targets) and node.value is not None:
                call = node.value
                if isinstance(call, ast.Call) and call.args:
                    return frozenset(ast.literal_eval(call.args[0]))
    raise ValueError(f"no SERVICES = frozenset({{...}}) in {clients_source}")


def without_documentation(model: Any, parent: str = "") -> Any:
    """A service model without its documentation strings; every other key and value as it was."""
    if isinstance(model, dict):
        return {
            key: without_documentation(value, key)
            for key, value in model.items()
            if parent in _NAMED or key not in _DOCUMENTATION or not isinstance(value, str)
        }
    if isinstance(model, list):
        return [without_documentation(value) for value in model]
    return model


def _service_models(service_dir: Path) -> list[Path]:
    return sorted(service_dir.glob("*/service-2.json*"))


def _read(path: Path) -> Any:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    return json.loads(raw)


def _write(path: Path, data: Any) -> None:
    encoded = json.dumps(data, separators=(",", ":")).encode()
    # mtime=0: the same bytes for the same input, so a build is reproducible
    path.write_bytes(gzip.compress(encoded, mtime=0) if path.suffix == ".gz" else encoded)


def trim(data_dir: Path, services: frozenset[str]) -> None:
    """Trim botocore's `data_dir` in place to `services` (see the module's docstring)."""
    missing = {s for s in services if not (data_dir / s).is_dir()}
    if missing:
        raise ValueError(f"botocore has no data for {sorted(missing)}")
    prefixes = set()
    for entry in data_dir.iterdir():
        if not entry.is_dir():
            continue
        if entry.name not in services:
            shutil.rmtree(entry)
            continue
        for path in _service_models(entry):
            model = _read(path)
            prefixes.add(model["metadata"].get("endpointPrefix", entry.name))
            _write(path, without_documentation(model))
    endpoints_path = data_dir / "endpoints.json"
    endpoints = _read(endpoints_path)
    for partition in endpoints["partitions"]:
        partition["services"] = {name: spec for name, spec in partition["services"].items() if name in prefixes}
    _write(endpoints_path, endpoints)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: trim_botocore_data.py BOTOCORE_DATA_DIR CLIENTS_PY", file=sys.stderr)
        return 2
    trim(Path(argv[1]), kept_services(Path(argv[2])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
