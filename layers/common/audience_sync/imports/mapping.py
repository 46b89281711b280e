"""A row of an import file planned into the profile writer's `attributes` operation. Pure.

The row becomes the attributes object `/users/track` would take, planned by the same code (profiles/attributes.py:
the same checks of standard fields, names and values), so an imported value is stored as a tracked one would be:
- `set`: the cell's value; `add`: appended to an array (`{"add": [v]}`, or every value of a JSON array);
  `sum`: added to a number (`{"inc": n}`; a missing value counts as 0); `clear_if_empty`: an empty cell unsets the
  attribute (`null`), another sets it; `set_if_empty`: written only where the profile has no value (the operation's
  `fields_if_empty` and `set_if_empty`, applied by profiles/attributes.py `apply`).
- An empty cell (`""`, or in NDJSON a missing key or `null`) changes nothing, but for `clear_if_empty`.
- CSV cells are text: a number for `sum` is read from it (`12`, `-3.5`); other values stay text, but times in ISO
  8601 become times, as with `/users/track`. NDJSON values keep their JSON types.
- The identifier names the user (`external_id`, `email`, `alias:<label>`); `allow_create` decides whether an
  unknown one becomes a new profile. A row with nothing to change is not written (skipped) unless it may create.

A row that cannot be planned raises RowError with a reason naming columns and attributes, never a value.
"""

from __future__ import annotations

import math
import re
from typing import Any

from audience_sync.imports.definitions import ImportDefinition
from audience_sync.profiles import attributes
from audience_sync.profiles.identity import BadIdentifier, identity_of
from audience_sync.profiles.values import BadValue

CHANGES = ("fields", "set", "unset", "inc", "add", "remove", "merge", "fields_if_empty", "set_if_empty")
_INTEGER = re.compile(r"^[+-]?[0-9]{1,18}$", re.ASCII)
_DECIMAL = re.compile(r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$", re.ASCII)


class RowError(ValueError):
    """A row that cannot be imported; the reason never holds a cell's value."""


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _number(column: str, value: Any) -> int | float:
    if isinstance(value, bool):
        raise RowError(f"'{column}' is not a number")
    if isinstance(value, int | float):
        number: int | float = value
    elif isinstance(value, str) and _INTEGER.match(value.strip()):
        number = int(value.strip())
    elif isinstance(value, str) and _DECIMAL.match(value.strip()):
        number = float(value.strip())  # plain decimal notation only: no "1_000", no other scripts' digits
    else:
        number = math.nan
    if isinstance(number, float) and not math.isfinite(number):
        raise RowError(f"'{column}' is not a number")
    return number


def _naming(definition: ImportDefinition, cells: dict[str, Any]) -> dict[str, Any]:
    value = cells.get(definition.identifier_column)
    if _empty(value):
        raise RowError(f"the identifier's cell '{definition.identifier_column}' is empty")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # an NDJSON id written as a number
    if not isinstance(value, str):
        raise RowError(f"the identifier's cell '{definition.identifier_column}' is not text")
    kind = definition.identifier_type
    if kind.startswith("alias:"):
        return {"user_alias": {"alias_name": value, "alias_label": kind[len("alias:") :]}}
    return {kind: value}


def plan_row(definition: ImportDefinition, cells: dict[str, Any], line: int, max_array: int) -> dict[str, Any] | None:
    """The row's operation, None when there is nothing to write (nothing to change, and it may not create)."""
    naming = _naming(definition, cells)
    changes: dict[str, Any] = {}
    if_empty: dict[str, Any] = {}
    for mapping in definition.mappings:
        value = cells.get(mapping.column)
        empty = _empty(value)
        if mapping.strategy == "clear_if_empty":
            changes[mapping.attribute] = None if empty else value
        elif empty:
            continue
        elif mapping.strategy == "set":
            changes[mapping.attribute] = value
        elif mapping.strategy == "add":
            changes[mapping.attribute] = {"add": value if isinstance(value, list) else [value]}
        elif mapping.strategy == "sum":
            changes[mapping.attribute] = {"inc": _number(mapping.column, value)}
        else:  # set_if_empty
            if_empty[mapping.attribute] = value
    try:
        identity = identity_of(naming)
        flags = {"_update_existing_only": not definition.allow_create}
        operation = attributes.plan({**naming, **changes, **flags}, identity, line, max_array)
        if if_empty:
            planned = attributes.plan({**naming, **if_empty, **flags}, identity, line, max_array)
            fields = {k: v for k, v in planned.get("fields", {}).items() if k in if_empty}
            operation["fields_if_empty"], operation["set_if_empty"] = fields, planned.get("set", {})
        if not definition.allow_create and not any(operation.get(part) for part in CHANGES):
            return None
        operation["tally"] = True  # the writer reports what became of it (created, updated, unchanged, missing)
        return operation
    except (BadIdentifier, BadValue) as error:
        raise RowError(str(error)) from None
