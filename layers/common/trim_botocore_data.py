"""Trim botocore's data in the built layer to the services the platform calls (layers/common/Makefile).

botocore ships the models of every AWS service (~460 directories, 29 MB) and, in `endpoints.json`, the endpoints of
every service in every partition (1.2 MB of JSON). A Lambda function pays for that data at its init, when it creates
its clients: botocore parses the whole `endpoints.json` for its first client, lists every service directory to find
a model, and parses each model with its documentation, which is most of its bytes. Measured with valgrind in the
batcher's environment (bench/coldstart.py `count_instructions`): creating a DynamoDB, an SQS and an S3 client took
596 M instructions with the data as shipped and 305 M trimmed, about 60 ms of every cold start on this machine.

What is kept, and why it is the same to botocore:
- the directories of the services in `SERVICES` of `audience_sync/adapters/aws/clients.py` (read from its source,
  so the build needs no boto3); `clients.client` refuses any other service, so a client of a trimmed service fails
  in the tests, not on Lambda;
- those services' entries in every partition of `endpoints.json` (by their models' `endpointPrefix`), and every
  partition's defaults, regions and metadata: what the endpoint resolver reads for them;
- each model without the documentation of the service, its operations, shapes and members, which botocore only
  reads (with `.get`) to write help and docs; a client context parameter's, which it reads at every request, is
  kept (tests/unit/adapters/test_trim_botocore_data.py compares every operation and shape with the shipped models,
  and sends a request of each service from both);
- every JSON file of those services (models, endpoint rule sets, paginators, waiters) written without whitespace:
  the same data, parsed faster (S3's endpoint rule set is 922 kB as shipped, 119 kB without whitespace, and parsed
  for every S3 client).

partitions.json, the retry and the default configuration stay as shipped.
"""

from __future__ import annotations

import ast
import gzip
import json
import shutil
import sys
from pathlib import Path
from typing import Any

# Where botocore reads documentation with `.get` (botocore/model.py: the service's, an operation's, a shape's, a
# member's): only there is it dropped. Elsewhere it may be required: a client context parameter's is read by
# subscript at every request's endpoint resolution (ServiceModel.client_context_parameters).
_DOCUMENTATION = frozenset({"documentation", "documentationUrl"})
_MODELS = frozenset({"service-2.json", "service-2.json.gz"})  # not service-2.sdk-extras.json, a patch to one


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


def without_documentation(model: dict[str, Any]) -> dict[str, Any]:
    """A service model without the documentation of the service, its operations, shapes and members; every other
    key and value as it was."""
    trimmed = _drop_documentation(model)
    if "operations" in model:
        trimmed["operations"] = {name: _drop_documentation(spec) for name, spec in model["operations"].items()}
    if "shapes" in model:
        trimmed["shapes"] = {name: _shape(spec) for name, spec in model["shapes"].items()}
    return trimmed


def _shape(spec: dict[str, Any]) -> dict[str, Any]:
    trimmed = _drop_documentation(spec)
    if "members" in spec:
        trimmed["members"] = {name: _drop_documentation(member) for name, member in spec["members"].items()}
    return trimmed


def _drop_documentation(spec: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in spec.items() if key not in _DOCUMENTATION or not isinstance(value, str)}


def _service_files(service_dir: Path) -> list[Path]:
    return sorted(p for p in service_dir.glob("*/*.json*") if p.name.endswith((".json", ".json.gz")))


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
        for path in _service_files(entry):
            data = _read(path)
            if path.name in _MODELS:
                prefixes.add(data["metadata"].get("endpointPrefix", entry.name))
                data = without_documentation(data)
            _write(path, data)  # without whitespace, the same data: parsed in a fraction of the time
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
