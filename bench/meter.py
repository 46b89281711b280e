"""Counts every AWS request the service makes, and the billable units each one consumes, through botocore's
event hooks. Works against moto, whose DynamoDB backend gives the stored item sizes that DynamoDB bills by.

Billable units follow the pricing pages (see prices.py):
- SQS: one request per started 64 KiB of payload (a SendMessageBatch of 90 KiB is 2 requests), at FIFO's price for
  a FIFO queue;
- DynamoDB: a write is ceil(item KB) WRU (x2 inside a transaction), the larger of the item before and after;
  a strongly consistent read ceil(item size / 4 KB) RRU, eventually consistent half that;
- S3: PUT/COPY/POST/LIST class vs GET class; DELETE is free;
- Step Functions: state transitions are counted from execution histories, not API calls (StartExecution is free).
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

SQS_CHUNK = 64 * 1024
WRITE_UNIT = 1024
READ_UNIT = 4096

_DDB_WRITES = {"PutItem", "UpdateItem", "DeleteItem"}
_S3_PUT_CLASS = {"PutObject", "CopyObject", "ListObjects", "ListObjectsV2", "CreateMultipartUpload"}
_S3_GET_CLASS = {"GetObject", "HeadObject"}


@dataclass
class AwsMeter:
    """Thread-safe counters: API calls per (service, operation) and billable units per price line."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    units: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    enabled: bool = True

    def install(self) -> None:
        """Hook every botocore session created from now on. moto replaces boto3's default session when its mock
        starts, and clients copy their session's hooks when created, so the hooks go where moto puts its own:
        botocore's built-in handlers, which every new session registers."""
        from botocore.handlers import BUILTIN_HANDLERS

        BUILTIN_HANDLERS.extend([("before-call", self._before), ("after-call", self._after)])

    def uninstall(self) -> None:
        from botocore.handlers import BUILTIN_HANDLERS

        BUILTIN_HANDLERS[:] = [h for h in BUILTIN_HANDLERS if h[1] not in (self._before, self._after)]

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.units.clear()

    # ---- hooks ------------------------------------------------------------------------------------
    def _before(self, model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["meter_body"] = params.get("body")

    def _after(self, model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if not self.enabled:
            return
        service = model.service_model.service_name
        operation = model.name
        body = _json(context.get("meter_body"))
        units = Counter(_units(service, operation, body, parsed))
        with self.lock:
            self.calls[(service, operation)] += 1
            self.units.update(units)


def _json(body: Any) -> dict[str, Any]:
    if isinstance(body, bytes | bytearray):
        body = body.decode()
    if isinstance(body, str) and body.startswith("{"):
        try:
            value = json.loads(body)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
    return {}


_SIMPLE_UNITS = {
    ("kms", None): "kms_requests",
    ("secretsmanager", None): "secretsmanager_requests",
    ("sns", "Publish"): "sns_publishes",
    ("stepfunctions", "StartExecution"): "sfn_executions_started",
}


def _units(service: str, operation: str, body: dict[str, Any], parsed: dict[str, Any]) -> dict[str, float]:
    if service == "sqs":
        fifo = str(body.get("QueueUrl", "")).endswith(".fifo")  # FIFO queues cost more a request
        return {"sqs_fifo_requests" if fifo else "sqs_requests": _sqs_requests(operation, body, parsed)}
    if service == "dynamodb":
        return _dynamodb_units(operation, body, parsed)
    if service == "s3":
        if operation in _S3_PUT_CLASS:
            return {"s3_put_requests": 1}
        return {"s3_get_requests": 1} if operation in _S3_GET_CLASS else {}
    unit = _SIMPLE_UNITS.get((service, None)) or _SIMPLE_UNITS.get((service, operation))
    return {unit: 1} if unit else {}


def _sqs_requests(operation: str, body: dict[str, Any], parsed: dict[str, Any]) -> float:
    if operation == "SendMessage":
        return _chunks(len(str(body.get("MessageBody", "")).encode()) + _attributes_size(body))
    if operation == "SendMessageBatch":
        size = sum(len(str(e.get("MessageBody", "")).encode()) + _attributes_size(e) for e in body.get("Entries", []))
        return _chunks(size)
    if operation == "ReceiveMessage":
        messages = parsed.get("Messages", [])
        return _chunks(sum(len(m.get("Body", "").encode()) for m in messages))
    return 1


def _attributes_size(entry: dict[str, Any]) -> int:
    size = 0
    for name, value in (entry.get("MessageAttributes") or {}).items():
        size += len(name) + len(str(value.get("DataType", ""))) + len(str(value.get("StringValue", "")))
    return size


def _chunks(size: int) -> int:
    return max(1, math.ceil(size / SQS_CHUNK))


# ---- DynamoDB -----------------------------------------------------------------------------------------
def _dynamodb_units(operation: str, body: dict[str, Any], parsed: dict[str, Any]) -> dict[str, float]:
    if operation in _DDB_WRITES:
        return {"dynamodb_wru": _write_units(body["TableName"], body.get("Key"), body.get("Item"))}
    if operation == "TransactWriteItems":
        requests = [next(iter(item.values())) for item in body.get("TransactItems", [])]
        return {"dynamodb_wru": sum(2 * _write_units(r["TableName"], r.get("Key"), r.get("Item")) for r in requests)}
    if operation == "BatchWriteItem":
        wru = 0.0
        for table, requests in (body.get("RequestItems") or {}).items():
            for request in requests:
                item = (request.get("PutRequest") or {}).get("Item")
                wru += _write_units(table, (request.get("DeleteRequest") or {}).get("Key"), item)
        return {"dynamodb_wru": wru}
    return {"dynamodb_rru": _read_units_of(operation, body, parsed)}


def _read_units_of(operation: str, body: dict[str, Any], parsed: dict[str, Any]) -> float:
    if operation == "GetItem":
        return _read_units(body["TableName"], [body["Key"]], body.get("ConsistentRead", False))
    if operation == "BatchGetItem":
        specs = (body.get("RequestItems") or {}).items()
        return sum(_read_units(t, spec.get("Keys", []), spec.get("ConsistentRead", False)) for t, spec in specs)
    if operation in ("Query", "Scan"):
        size = sum(_wire_item_size(item) for item in parsed.get("Items", []))
        factor = 1.0 if body.get("ConsistentRead") else 0.5
        return max(1, math.ceil(size / READ_UNIT)) * factor
    return 0.0  # DescribeTable and the like are not billed


def _write_units(table: str, key: dict[str, Any] | None, request_item: dict[str, Any] | None) -> float:
    """WRU of one write: the stored item after it (or the request's item), at least 1 KB."""
    stored = _stored_size(table, key or _key_of(table, request_item or {}))
    size = max(stored or 0, _wire_item_size(request_item) if request_item else 0)
    return float(max(1, math.ceil(size / WRITE_UNIT)))


def _read_units(table: str, keys: list[dict[str, Any]], consistent: bool) -> float:
    factor = 1.0 if consistent else 0.5
    return sum(max(1, math.ceil((_stored_size(table, key) or 0) / READ_UNIT)) * factor for key in keys)


def _key_of(table: str, item: dict[str, Any]) -> dict[str, Any]:
    names = _key_names(table)
    return {name: item[name] for name in names if name in item}


def _key_names(table: str) -> list[str]:
    backend = _ddb_backend()
    if backend is None:
        return []
    try:
        schema = backend.get_table(table).schema
    except Exception:  # table deleted meanwhile: the item is gone too
        return []
    return [k["AttributeName"] for k in schema]


def _stored_size(table: str, key: dict[str, Any]) -> int | None:
    backend = _ddb_backend()
    if backend is None or not key:
        return None
    try:
        item = backend.get_item(table, key)
    except Exception:  # unknown table or key shape: no stored item to size
        return None
    return int(item.size()) if item is not None else None


def _ddb_backend() -> Any:
    try:
        from moto.dynamodb.models import dynamodb_backends

        from localmode.resources import ACCOUNT_ID, REGION
    except ImportError:
        return None
    return dynamodb_backends[ACCOUNT_ID][REGION]


def _wire_item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size from the wire format: attribute names plus values (numbers ~ digits)."""
    return sum(len(name.encode()) + _wire_value_size(value) for name, value in item.items())


_SCALAR_SIZE = {
    "S": lambda v: len(str(v).encode()),
    "B": lambda v: len(str(v).encode()),
    "N": lambda v: len(str(v)),
    "BOOL": lambda v: 1,
    "NULL": lambda v: 1,
    "SS": lambda v: sum(len(str(x).encode()) for x in v),
    "NS": lambda v: sum(len(str(x)) for x in v),
    "BS": lambda v: sum(len(str(x).encode()) for x in v),
}


def _wire_value_size(value: Any) -> int:
    if not (isinstance(value, dict) and len(value) == 1 and next(iter(value)) in {*_SCALAR_SIZE, "L", "M"}):
        # a Table resource's answer, already turned into plain values by boto3 before this hook saw it
        return len(json.dumps(value, default=str).encode())
    ((kind, inner),) = value.items()
    if kind == "L":
        return 3 + sum(1 + _wire_value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _wire_value_size(v) for k, v in inner.items())
    size: int = _SCALAR_SIZE[kind](inner)
    return size
