"""A sync step's configuration (`PUT /v1/steps/{step_id}`), validated with pydantic."""

from __future__ import annotations

import decimal
import math
import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, field_validator, model_validator

from audience_sync.core.errors import Invalid
from audience_sync.core.filters import FilterOp
from audience_sync.core.users import MatchField
from audience_sync.destinations.registry import DEFAULT_DESTINATION, DestinationName
from audience_sync.destinations.registry import NAMES as DESTINATION_NAMES

_STEP_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
# The numbers DynamoDB stores (boto3's DYNAMODB_CONTEXT): 38 significant digits, magnitudes 1E-130 to under 1E126.
_DYNAMODB_NUMBERS = decimal.Context(
    Emin=-128,
    Emax=126,
    prec=38,
    traps=[decimal.Clamped, decimal.Overflow, decimal.Inexact, decimal.Rounded, decimal.Underflow],
)
_DYNAMODB_MIN, _DYNAMODB_LIMIT = decimal.Decimal("1E-130"), decimal.Decimal("1E126")


def valid_step_id(step_id: str) -> str:
    """The step id from a path, or a 400: ids are 1-128 characters of A-Z a-z 0-9 _ . : -."""
    if not _STEP_ID.match(step_id):
        raise Invalid("invalid_step_id", "step ids are 1-128 characters of A-Z a-z 0-9 _ . : -")
    return step_id


class Action(StrEnum):
    ADD = "add"
    REMOVE = "remove"


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EntryFilter(StrictModel):
    attribute: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    op: FilterOp
    # A JSON scalar: what an attribute is compared with. Bounded, so a config always fits a DynamoDB item.
    value: Annotated[str, StringConstraints(max_length=1024)] | StrictBool | int | float | None = None

    @field_validator("value")
    @classmethod
    def _storable_number(cls, value: Any) -> Any:
        """A config is stored in DynamoDB: a number it cannot hold (5e-324, 40 digits) is a 400, not a 5xx."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return value
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("a number value must be finite")
        try:
            number = _DYNAMODB_NUMBERS.create_decimal(decimal.Decimal(repr(value)))
        except decimal.DecimalException:
            number = None
        if number is None or (number != 0 and not _DYNAMODB_MIN <= abs(number) < _DYNAMODB_LIMIT):
            raise ValueError("a number value has at most 38 significant digits and a magnitude from 1e-130 to 9.9e125")
        return value

    @model_validator(mode="after")
    def _value_needed_for_comparisons(self) -> EntryFilter:
        if self.op in (FilterOp.EQ, FilterOp.NE) and "value" not in self.model_fields_set:
            raise ValueError(f"op '{self.op.value}' needs a 'value'")
        return self


class AudienceRef(StrictModel):
    """Either a new audience to create (`name`) or an existing LinkedIn DMP segment (`id`)."""

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)] | None = None
    id: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,20}$")] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> AudienceRef:
        if self.name and self.id:
            raise ValueError("give either 'name' (new audience) or 'id' (existing audience), not both")
        return self


class WebhookSource(StrictModel):
    """Users enter by `POST /v1/steps/{step_id}/users` (contract v1; the default)."""

    type: Literal["webhook"]


class SegmentSource(StrictModel):
    """Users enter when they enter a segment (contract v2 §5); `backfill`: its members at launch enter too;
    `sync_exits`: users who leave it are removed from the audience."""

    type: Literal["segment"]
    segment_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]
    backfill: StrictBool = False
    sync_exits: StrictBool = False


class StepConfig(StrictModel):
    """Body of `PUT /v1/steps/{step_id}`. Incomplete configs are accepted; `launch` reports what is missing."""

    # Where the step's users go. `partner` is contract v1's name for it and stays accepted; the stored config and
    # the answers carry both, always equal.
    destination: DestinationName = DEFAULT_DESTINATION
    partner: DestinationName = DEFAULT_DESTINATION
    ad_account_id: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,20}$")] | None = None
    audience: AudienceRef | None = None
    action: Action = Action.ADD
    match_fields: Annotated[list[MatchField], Field(max_length=3)] = Field(default_factory=list)
    entry_filters: Annotated[list[EntryFilter], Field(max_length=50)] = Field(default_factory=list)
    last_step: StrictBool = False  # JSON true/false only: "yes" or "0" is a mistake, not a choice
    # Where users come from; absent: the webhook (contract v1's steps are stored without it).
    source: Annotated[WebhookSource | SegmentSource, Field(discriminator="type")] | None = None

    @model_validator(mode="before")
    @classmethod
    def _destination_or_partner(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        destination, partner = data.get("destination"), data.get("partner")
        if destination is not None and partner is not None and destination != partner:
            raise ValueError("'destination' and 'partner' name the same thing: give one, or both equal")
        chosen = destination if destination is not None else partner
        if chosen not in DESTINATION_NAMES:  # None, or a name to refuse: only the field the client sent is wrong
            return data
        return {**data, "destination": chosen, "partner": chosen}

    @model_validator(mode="after")
    def _exits_of_a_step_that_adds(self) -> StepConfig:
        """A step that removes the users who enter a segment (a suppression) has nothing to undo when they leave."""
        if isinstance(self.source, SegmentSource) and self.source.sync_exits and self.action is Action.REMOVE:
            raise ValueError("source.sync_exits removes the users who leave the segment: it needs action 'add'")
        return self

    @model_validator(mode="after")
    def _unique_match_fields(self) -> StepConfig:
        if len(set(self.match_fields)) != len(self.match_fields):
            raise ValueError("match_fields must not repeat")
        return self
