"""POST /users/track planned: every object checked, each valid one turned into a queued operation, each invalid
one reported by its array and index. Pure: the API queues the plan; the writer applies it.

Limits (Braze): at most 75 objects in each of `attributes`, `events` and `purchases`; more is a fatal 400 with
nothing applied. An object that cannot be applied does not stop the others. Operations come out in Braze's
processing order: attributes, then events, then purchases, each array in its order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from audience_sync.core.errors import Invalid
from audience_sync.profiles import activity, attributes
from audience_sync.profiles.identity import BadIdentifier, Identity, identity_of
from audience_sync.profiles.operations import OperationTooLarge, Queued, encode
from audience_sync.profiles.values import BadValue

MAX_OBJECTS = 75
ARRAYS = ("attributes", "events", "purchases")
MAX_INPUT_MESSAGE = "Max Input Length Exceeded"


@dataclass
class TrackPlan:
    operations: list[Queued] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    processed: dict[str, int] = field(default_factory=dict)  # objects accepted, per array sent

    def reply(self) -> dict[str, Any]:
        """Braze's 201 body: `<array>_processed` for each array sent, and `errors` when an object was refused."""
        body: dict[str, Any] = {"message": "success"}
        for name, count in self.processed.items():
            body[f"{name}_processed"] = count
        if self.errors:
            body["errors"] = self.errors
        return body


def plan(body: dict[str, Any], max_array: int, now: dt.datetime) -> TrackPlan:
    arrays: dict[str, list[Any]] = {}
    for name in ARRAYS:
        value = body.get(name)
        if value is None:
            continue
        if not isinstance(value, list):
            raise Invalid("invalid_request", f"'{name}' must be an array")
        if len(value) > MAX_OBJECTS:
            raise Invalid("max_input_length", MAX_INPUT_MESSAGE, [{"array": name, "limit": MAX_OBJECTS}])
        arrays[name] = value
    if not arrays:
        raise Invalid("invalid_request", "one of 'attributes', 'events' or 'purchases' is required")
    planners: dict[str, Callable[[dict[str, Any], Identity, int], dict[str, Any]]] = {
        "attributes": lambda obj, identity, i: attributes.plan(obj, identity, i, max_array),
        "events": lambda obj, identity, i: activity.plan_event(obj, identity, i, now),
        "purchases": lambda obj, identity, i: activity.plan_purchase(obj, identity, i, now),
    }
    result = TrackPlan()
    for name, objects in arrays.items():
        accepted = 0
        for index, obj in enumerate(objects):
            try:
                if not isinstance(obj, dict):
                    raise BadValue(f"each item of '{name}' must be an object")
                result.operations.append(encode(planners[name](obj, identity_of(obj), index)))
                accepted += 1
            except (BadIdentifier, BadValue, OperationTooLarge) as error:
                result.errors.append({"type": str(error), "input_array": name, "index": index})
        result.processed[name] = accepted
    return result
