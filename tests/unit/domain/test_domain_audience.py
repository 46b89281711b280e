"""audience.describe: LinkedIn segment status and counts in plain words."""

from __future__ import annotations

from typing import Any

import pytest

from audience_sync.audience import EXPLANATIONS, describe


def segment(status: str, **destination: Any) -> dict[str, Any]:
    return {
        "id": 9000001,
        "name": "Trial users",
        "inputCount": destination.pop("input_count", 1000),
        "destinations": [{"destination": "LINKEDIN", "status": status, **destination}],
    }


@pytest.mark.parametrize("status", sorted(EXPLANATIONS))
def test_every_linkedin_status_is_explained(status: str) -> None:
    view = describe(segment(status))
    assert view["status"] == status
    assert view["explanation"] == EXPLANATIONS[status]
    assert view["targetable"] is (status not in {"EXPIRED", "FAILED", "ERROR"})


def test_size_is_shown_only_from_300_members() -> None:
    assert describe(segment("READY", audienceSize=299, matchedCount=299))["audience_size"] is None
    view = describe(segment("READY", audienceSize=300, matchedCount=250, input_count=1000))
    assert view["audience_size"] == 300
    assert view["size_note"] is None
    assert view["matched_count"] == 250
    assert view["match_rate"] == 0.25


def test_no_counts_yet_and_unknown_status() -> None:
    view = describe(segment("SOMETHING_NEW", input_count=0))
    assert view["match_rate"] is None and view["matched_count"] is None
    assert "does not know" in view["explanation"]
