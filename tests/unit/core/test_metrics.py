"""metrics.py: step deltas, their flat attributes, and the public metrics derived from stored counters."""

from __future__ import annotations

import pytest

from audience_sync.core.metrics import PUBLIC_METRICS, StepDelta, public_metrics, reasons


def test_add_and_attributes_are_flat() -> None:
    delta = StepDelta()
    delta.add("entered", 5)
    delta.add("not_synced", 2, reason="invalid_email")
    delta.add("not_synced", reason="missing_match_fields")
    delta.add("errored", 1, reason="linkedin_400_bad")
    delta.add("synced", 0)  # nothing to add
    delta.add("synced", -3)
    assert delta.attributes() == {
        "entered": 5,
        "not_synced": 3,
        "errored": 1,
        "not_synced_reason_invalid_email": 2,
        "not_synced_reason_missing_match_fields": 1,
        "errored_reason_linkedin_400_bad": 1,
    }


def test_merge() -> None:
    a, b = StepDelta(), StepDelta()
    a.add("synced", 2)
    a.add("errored", 1, reason="x")
    b.add("synced", 3)
    b.add("errored", 2, reason="x")
    b.add("not_synced", 1, reason="y")
    a.merge(b)
    assert a.attributes() == {
        "synced": 5,
        "errored": 3,
        "not_synced": 1,
        "errored_reason_x": 3,
        "not_synced_reason_y": 1,
    }
    assert b.attributes()["synced"] == 3  # the merged-in delta is unchanged


def test_unknown_counter_raises() -> None:
    with pytest.raises(ValueError, match="unknown counter"):
        StepDelta().add("pending")
    with pytest.raises(ValueError, match="unknown counter"):
        StepDelta().add("bogus", 1)


@pytest.mark.parametrize("counter", ["entered", "filtered", "proceeded", "exited", "synced"])
def test_reasons_only_for_not_synced_and_errored(counter: str) -> None:
    with pytest.raises(ValueError, match="no reasons"):
        StepDelta().add(counter, 1, reason="why")


def test_bool() -> None:
    delta = StepDelta()
    assert not delta
    delta.add("synced")
    assert delta


def test_public_metrics_exactly_the_contract_keys() -> None:
    item = {
        "step_id": "s",
        "entered": 10,
        "filtered": 4,
        "proceeded": 7,
        "exited": 3,
        "synced": 5,
        "not_synced": 2,
        "errored": 1,
        "not_synced_reason_invalid_email": 2,
        "updated_at": 123,
    }
    result = public_metrics(item)
    assert list(result) == ["entered", "proceeded", "synced", "not_synced", "pending", "errored", "exited"]
    assert tuple(result) == PUBLIC_METRICS
    assert result == {
        "entered": 10,
        "proceeded": 7,
        "synced": 5,
        "not_synced": 2,
        "pending": 2,
        "errored": 1,
        "exited": 3,
    }


def test_public_metrics_of_nothing() -> None:
    assert public_metrics(None) == dict.fromkeys(PUBLIC_METRICS, 0)
    assert public_metrics({"entered": "4"})["pending"] == 4  # DynamoDB numbers may come back as strings/Decimal


def test_reasons() -> None:
    item = {"errored": 3, "errored_reason_a": 2, "errored_reason_b": 1, "not_synced_reason_c": 5}
    assert reasons(item, "errored") == {"a": 2, "b": 1}
    assert reasons(item, "not_synced") == {"c": 5}
    assert reasons(None, "errored") == {}


def test_a_delta_survives_its_attribute_form() -> None:
    # The ingest puts attributes() on the queued message; the batcher turns them back into a delta.
    delta = StepDelta()
    delta.add("entered", 5)
    delta.add("not_synced", 2, reason="invalid_email")
    delta.add("errored", 1, reason="linkedin_400_invalid_element")
    delta.add("proceeded", 5)
    again = StepDelta.from_attributes(delta.attributes())
    assert again.attributes() == delta.attributes()
    assert again.not_synced_reasons == {"invalid_email": 2}
    assert again.errored_reasons == {"linkedin_400_invalid_element": 1}


def test_an_unknown_attribute_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown counter"):
        StepDelta.from_attributes({"pending": 1})
