"""The AWS SDK's CPU for one segment member routed by the membership function, which the backfill benchmark's
in-memory stand-ins do not spend (bench/backfill.py): botocore serializing the member's write in a
TransactWriteItems call (and validating it, where the adapter's client checks parameters), and parsing its item in
the BatchGetItem answers of the members' index and of the profiles. Measured on the payloads the adapters make
(adapters/aws/segment_members.py, profiles_table.py), by the botocore the functions run; the network is not
involved.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

ITEMS = 100  # a call's worth: a BatchGetItem of 100 keys, a transaction of 100 items
ROUNDS = 30


def _per_item(work: Callable[[], Any]) -> float:
    work()  # warm
    started = time.process_time()
    for _ in range(ROUNDS):
        work()
    return (time.process_time() - started) / ROUNDS / ITEMS * 1e6


def us_per_member() -> dict[str, float]:
    """Microseconds of CPU a member, by what the SDK does for it."""
    import botocore.session
    from botocore.parsers import create_parser
    from botocore.serialize import create_serializer
    from botocore.validate import ParamValidator

    from audience_sync.adapters.aws import segment_members
    from audience_sync.adapters.aws.segment_members import _MemberWrite
    from audience_sync.segments.definitions import step_segment_id
    from audience_sync.segments.membership import Transition, order_of

    model = botocore.session.get_session().get_service_model("dynamodb")
    transact = model.operation_model("TransactWriteItems")
    batch_get = model.operation_model("BatchGetItem")
    assert transact.input_shape is not None and batch_get.output_shape is not None
    request_shape, answer_shape = transact.input_shape, batch_get.output_shape
    segment_id = step_segment_id("backfill")
    sent = {"x": "u1", "e": "0" * 64}
    writes = [
        _MemberWrite.plan(
            Transition(segment_id, f"u#x:u{n}", f"b{n}", f"u{n}", True, "2026-12-05T12:00:00.000Z", order_of(1)),
            None,
            {(segment_id, f"b{n}"): sent},
            (),
        ).item("members", 1_800_000_000)
        for n in range(ITEMS)
    ]
    request = {"TransactItems": writes}
    member_items = [
        {
            "bucket": {"S": f"{segment_id}#{n % 16:02d}"},
            "member": {"S": f"b{n}"},
            "o": {"S": order_of(1)},
            "in": {"BOOL": True},
            "braze_id": {"S": f"b{n}"},
            "external_id": {"S": f"u{n}"},
            "home": {"S": f"u#x:u{n}"},
            "entered_at": {"S": "2026-12-05T12:00:00.000Z"},
            "sent": {"S": json.dumps(sent)},
        }
        for n in range(ITEMS)
    ]
    document = {
        "braze_id": "b1",
        "external_id": "u1",
        "fields": {"email": "u1@example.com", "first_name": "Ada", "last_name": "Lovelace"},
        "custom": {"plan": "gold", "consent": True},
    }
    profile_items = [
        {"pk": {"S": f"u#x:u{n}"}, "sk": {"S": "profile"}, "d": {"S": json.dumps(document)}, "v": {"N": "3"}}
        for n in range(ITEMS)
    ]
    parser, serializer, validator = create_parser("json"), create_serializer("json"), ParamValidator()

    def parsed(items: list[dict[str, Any]]) -> Callable[[], Any]:
        body = json.dumps({"Responses": {"t": items}, "UnprocessedKeys": {}}).encode()
        return lambda: parser.parse({"status_code": 200, "headers": {}, "body": body}, answer_shape)

    checked = (
        {"validate the member's write": _per_item(lambda: validator.validate(request, request_shape))}
        if segment_members.CHECKS_REQUESTS
        else {}  # the adapter's client skips the check (adapters/aws/clients.py)
    )
    return {
        **checked,
        "serialize the member's write": _per_item(lambda: serializer.serialize_to_request(request, transact)),
        "parse the member's index item": _per_item(parsed(member_items)),
        "parse the member's profile": _per_item(parsed(profile_items)),
    }
