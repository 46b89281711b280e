"""Per-step counters and their arithmetic. Pure: no AWS.

`pending` is derived, never stored: entered - synced - not_synced - errored. A user who is neither
synced, not synced nor errored is, by definition, still pending — so the counters cannot disagree.

A step that follows a segment (contract v2 §5) also counts `left` (users who left the segment, to be removed from
the audience) and `removed` (their removals the destination took); a removal that errors after the retry horizon is
in `errored` with its reason. Its pending is then entered + left - synced - removed - not_synced - errored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

COUNTERS = (
    "entered",
    "filtered",
    "proceeded",
    "exited",
    "synced",
    "not_synced",
    "errored",
    "left",
    "removed",
    # users whose first attempt was made (a user waiting for a rate token it did not get has not been sent)
    "sent",
    # a campaign's own (campaigns/delivery.py): users it triggered, held back as its control group, or aborted
    "triggered",
    "control",
    "aborted",
    # a campaign's waits (campaigns/connector.py): started, released when due, cancelled by an exception
    "scheduled",
    "released",
    "exception_cancelled",
)
PUBLIC_METRICS = ("entered", "proceeded", "synced", "not_synced", "pending", "errored", "exited")
SEGMENT_METRICS = ("left", "removed")  # what a step that follows a segment adds
STEP_LEVELS = ("pending",)  # the metrics that stand at a moment rather than count what happened (core/history.py)
REASON_PREFIX = {"not_synced": "not_synced_reason_", "errored": "errored_reason_"}


@dataclass(slots=True)
class StepDelta:
    """Changes to one step's counters, gathered over a request or a batch and written in one update."""

    counts: Counter[str] = field(default_factory=Counter)
    not_synced_reasons: Counter[str] = field(default_factory=Counter)
    errored_reasons: Counter[str] = field(default_factory=Counter)

    def add(self, counter: str, n: int = 1, reason: str | None = None) -> None:
        if counter not in COUNTERS:
            raise ValueError(f"unknown counter {counter}")
        if n <= 0:
            return
        self.counts[counter] += n
        if reason is not None:
            if counter == "not_synced":
                self.not_synced_reasons[reason] += n
            elif counter == "errored":
                self.errored_reasons[reason] += n
            else:
                raise ValueError(f"{counter} has no reasons")

    def merge(self, other: StepDelta) -> None:
        self.counts.update(other.counts)
        self.not_synced_reasons.update(other.not_synced_reasons)
        self.errored_reasons.update(other.errored_reasons)

    def attributes(self) -> dict[str, int]:
        """Flat attribute -> increment, as stored in the metrics table (readable in the console)."""
        out = {name: n for name, n in self.counts.items() if n}
        out.update({REASON_PREFIX["not_synced"] + r: n for r, n in self.not_synced_reasons.items() if n})
        out.update({REASON_PREFIX["errored"] + r: n for r, n in self.errored_reasons.items() if n})
        return out

    @staticmethod
    def from_attributes(attributes: dict[str, int]) -> StepDelta:
        """The inverse of attributes()."""
        delta = StepDelta()
        for name, n in attributes.items():
            for counter, prefix in REASON_PREFIX.items():
                if name.startswith(prefix):
                    (delta.not_synced_reasons if counter == "not_synced" else delta.errored_reasons)[
                        name[len(prefix) :]
                    ] += n
                    break
            else:
                if name not in COUNTERS:
                    raise ValueError(f"unknown counter {name}")
                delta.counts[name] += n
        return delta

    def __bool__(self) -> bool:
        return bool(+self.counts)


# The counters of a campaign's sends live beside the steps' under this prefix ('#' is in no step id): the one
# pipeline counts both (ledger.py), and a step's routes never read a campaign's item.
CAMPAIGN_PREFIX = "campaign#"


def campaign_counters_id(campaign_id: str) -> str:
    return CAMPAIGN_PREFIX + campaign_id


def is_step(counters_id: str) -> bool:
    """Whether a counters item (the metrics table's) is a step's rather than a campaign's."""
    return not counters_id.startswith(CAMPAIGN_PREFIX)


def first_attempts(outcome_kind: str, reason: str | None, not_sent_reason: str) -> bool:
    """Whether a user's outcome is its first attempt's (counted `sent`): synced, errored, or retried after the
    destination answered; not a user that got no rate token in time (`not_sent_reason`), nor one never sent."""
    return outcome_kind in ("synced", "errored") or (outcome_kind == "retry" and reason != not_sent_reason)


def public_metrics(item: Mapping[str, Any] | None, follows_segment: bool = False) -> dict[str, int]:
    """The contract's seven metrics from a stored counters item (missing counters are 0), and `left` and
    `removed` for a step that follows a segment or has had users leave (a deleted user leaves webhook steps too)."""
    item = item or {}
    values = {name: int(item.get(name, 0)) for name in COUNTERS}
    values["pending"] = (
        values["entered"]
        + values["left"]
        - values["synced"]
        - values["removed"]
        - values["not_synced"]
        - values["errored"]
    )
    leaving = follows_segment or values["left"] > 0 or values["removed"] > 0
    shown = PUBLIC_METRICS + (SEGMENT_METRICS if leaving else ())
    return {name: values[name] for name in shown}


def reasons(item: dict[str, Any] | None, counter: str) -> dict[str, int]:
    prefix = REASON_PREFIX[counter]
    return {k[len(prefix) :]: int(v) for k, v in (item or {}).items() if k.startswith(prefix)}
