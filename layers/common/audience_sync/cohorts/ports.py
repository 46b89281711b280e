"""What the cohort import needs from storage. Adapter: adapters/aws/cohorts_table.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from audience_sync.cohorts.requests import CohortDefinition


class CohortStore(Protocol):
    def save(self, definition: CohortDefinition, now: str) -> None:
        """Create the cohort, or rename it (idempotent: the partner sends it again whenever its cache misses)."""
        ...

    def add_ignored(self, counts: Mapping[str, int]) -> None:
        """Add to each cohort's count of ids that named no user here (created at 0 if the cohort is unnamed)."""
        ...

    def add_members(self, counts: Mapping[str, int]) -> None:
        """Add to each cohort's count of members (joined less left)."""
        ...

    def list(self) -> list[dict[str, Any]]:
        """Every cohort named, with members or with ignored ids: `partner`, `cohort_id`, `name`, `created_at`,
        `updated_at`, `ignored_ids`, `members` (the name and times null until it is named)."""
        ...
