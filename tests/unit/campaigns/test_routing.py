"""Routing what users do to the campaigns that listen (routing.py, activities.py TriggerIndex): from the campaigns'
deliveries alone, so the functions that only route (the profile writer, the batcher, the retry) compile no template
and never import Liquid; the connector's index loads each matched campaign whole, once."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import ValidationError

from audience_sync.campaigns.activities import Activity, TriggerIndex
from audience_sync.campaigns.delivery import Campaign, load
from tests.unit.campaigns.test_connector import AFTER, campaign

SIGNED_UP = Activity("custom_event", "u1", "signed_up", AFTER, "a1")


def broken_template(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored campaign whose body Liquid cannot parse (never saved so: it shows whether routing compiles it)."""
    stored["definition"]["message"]["body"] = "{{ unclosed"
    return stored


def test_routing_reads_the_delivery_and_compiles_no_template() -> None:
    index = TriggerIndex([broken_template(campaign())])

    assert index.listens(SIGNED_UP)
    assert not index.listens(Activity("custom_event", "u1", "other", AFTER, "a2"))


def test_the_connectors_index_loads_the_matched_campaigns_whole_and_skips_one_it_cannot_read() -> None:
    index = TriggerIndex([broken_template(campaign("broken")), campaign("fine")], load)

    matched = index.match(SIGNED_UP)  # loading checks the templates: what the connector sends

    assert [(c.campaign_id, role) for c, role in matched] == [("fine", "trigger")]
    assert index.unreadable == {"broken"}
    with pytest.raises(ValidationError, match="body"):  # what the index skipped
        load(broken_template(campaign("broken")))


def test_a_campaign_whose_delivery_this_version_refuses_routes_nothing_and_stops_no_other() -> None:
    refused = campaign("refused")
    refused["definition"]["delivery"]["delay_seconds"] = "10"  # saved by a version that took it; this one does not
    index = TriggerIndex([refused, campaign("fine")])

    assert index.listens(SIGNED_UP)  # "fine" listens
    assert index.unreadable == {"refused"}
    assert not TriggerIndex([refused]).listens(SIGNED_UP)


def test_a_routing_index_does_not_match() -> None:
    with pytest.raises(RuntimeError, match="only routes"):
        TriggerIndex([campaign()]).match(SIGNED_UP)


def test_each_matched_campaign_is_loaded_once_per_index() -> None:
    loaded: list[str] = []

    def counting(stored: Mapping[str, Any]) -> Campaign:
        loaded.append(str(stored["campaign_id"]))
        return load(stored)

    index = TriggerIndex([campaign("one"), campaign("two", trigger={"custom_event": "other"})], counting)
    first = index.match(SIGNED_UP)
    again = index.match(Activity("custom_event", "u2", "signed_up", AFTER, "a3"))

    assert [(c.campaign_id, role) for c, role in first] == [("one", "trigger")]
    assert [c for c, _ in again] == [c for c, _ in first]
    assert loaded == ["one"]  # "two" never matched: never loaded


def test_the_routing_modules_import_no_liquid() -> None:
    check = (
        "import json, sys\n"
        "import audience_sync.campaigns.routing, audience_sync.campaigns.gate\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'liquid' or m.startswith('liquid.'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", check],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"PYTHONPATH": ":".join(sys.path)},
    )
    assert json.loads(result.stdout) == []
