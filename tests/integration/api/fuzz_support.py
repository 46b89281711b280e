"""Fuzzing the served OpenAPI document with schemathesis, through the emulated API Gateway (in-process WSGI).

Every operation gets valid (positive) and invalid (negative) requests from the document's schemas, with the API
key; each answer in the 5xx range is a finding. Hypothesis runs derandomized with a bounded number of examples,
so a run is repeatable and takes seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

SPEC_PATH = "/v1/openapi.json"


@dataclass(frozen=True)
class Finding:
    operation: str  # e.g. "POST /v1/steps/{step_id}/users"
    status: int
    request: str  # method, path and query actually sent (bodies are random data, never customers')


def load(gateway: Any, api_key: str) -> Any:
    """The document as the gateway serves it, bound to the gateway: cases are sent to it in-process.

    Read with a plain client and given to `from_dict`: `from_wsgi` would leave out the route that serves the
    document, and it is one of the routes to fuzz."""
    from werkzeug.test import Client

    reply = Client(gateway).get(SPEC_PATH, headers={"x-api-key": api_key})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    schema = schemathesis.openapi.from_dict(json.loads(reply.get_data(as_text=True)))
    schema.app = gateway
    return schema


def operations(schema: Any) -> list[Any]:
    found = [result.ok() for result in schema.get_all_operations()]
    assert found, "the document has no operations"
    return found


def _send(strategy: Any, label: str, examples: int, findings: list[Finding]) -> None:
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def send(case: Any) -> None:
        response = case.call()
        if response.status_code >= 500:
            sent = response.request
            findings.append(Finding(label, response.status_code, f"{sent.method} {sent.url}"))

    send()


def fuzz(
    schema: Any,
    api_key: str,
    *,
    examples: int,
    path_parameters: dict[str, str] | None = None,
    only: Iterable[str] | None = None,
    bearer: str | None = None,
) -> list[Finding]:
    """Send `examples` positive and `examples` negative requests to each operation (or those labelled in `only`,
    e.g. "GET /v1/health"); every 5xx answer is returned. `path_parameters` pins some path parameters
    (so requests reach an existing step) where an operation has them; `bearer` is a REST API key, so requests to
    the Braze-compatible routes reach the code behind the key check."""
    wanted = set(only) if only is not None else None
    findings: list[Finding] = []
    for operation in operations(schema):
        if wanted is not None and operation.label not in wanted:
            continue
        declared = {p.name for p in operation.path_parameters}
        pinned = {k: v for k, v in (path_parameters or {}).items() if k in declared} or None
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            headers = {"x-api-key": api_key}
            if bearer is not None:  # the Braze-compatible routes' REST API key (the others ignore it)
                headers["Authorization"] = f"Bearer {bearer}"
            strategy = operation.as_strategy(generation_mode=mode, headers=headers, path_parameters=pinned)
            try:
                _send(strategy, operation.label, examples, findings)
            except Unsatisfiable:
                # Nothing the document allows to be invalid: no parameters but the fixed key, or only free strings.
                if mode is GenerationMode.POSITIVE:
                    raise
    return findings
