"""What the profile writer publishes per batch (EMF): operations applied, skipped as already applied, for unknown
users, refused; data points (attributes and fields written, events and purchases recorded: what partners' plans
count per day); profiles created and deleted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from aws_lambda_powertools.metrics import MetricUnit

from audience_sync.observability import emf

METRICS = {
    "ProfileOperationsApplied": "applied",
    "ProfileOperationsSkipped": "skipped",
    "ProfileOperationsMissing": "missing",
    "ProfileOperationsRejected": "rejected",
    "DataPoints": "data_points",
    "ProfilesCreated": "created",
    "ProfilesDeleted": "deleted",
}


class Counts(Protocol):
    applied: int
    skipped: int
    missing: int
    rejected: int
    data_points: int
    created: int
    deleted: int


def publish(report: Counts) -> None:
    emf.publish({name: (MetricUnit.Count, [getattr(report, field)]) for name, field in METRICS.items()})


def publish_cohorts(members: Mapping[str, int]) -> None:
    """Per cohort (`partner:cohort_id`), its members joined less left in the batch (the dashboard sums them)."""
    for cohort, n in sorted(members.items()):
        if n:
            emf.count("CohortMembersChange", n, {"Cohort": cohort})
