"""campaigns/gate.py: a stopped campaign's webhooks are not sent, read at most every few seconds; a step's always."""

from __future__ import annotations

from typing import Any

from audience_sync.campaigns.gate import CACHE_SECONDS, CampaignGate
from tests.fakes.campaign_fakes import FakeCampaignStore
from tests.fakes.sync_fakes import FakeClock, store_error


class CountingStore(FakeCampaignStore):
    reads: int = 0
    failing: bool = False

    def get(self, campaign_id: str) -> dict[str, Any] | None:
        self.reads += 1
        if self.failing:
            raise store_error("GetItem")
        return super().get(campaign_id)


def test_a_stopped_or_unknown_campaign_is_closed_a_step_never() -> None:
    store = CountingStore({"on": {"status": "active"}, "off": {"status": "stopped"}, "draft": {"status": "draft"}})
    gate = CampaignGate(lambda: store, FakeClock())
    assert [gate.closed(f"campaign#{c}") for c in ("on", "off", "draft", "gone")] == [False, True, True, True]
    assert gate.closed("welcome") is False and store.reads == 4  # a step's id reads nothing


def test_the_status_is_read_again_after_a_few_seconds_and_a_failed_read_leaves_it_open() -> None:
    store = CountingStore({"c": {"status": "active"}})
    clock = FakeClock()
    gate = CampaignGate(lambda: store, clock)
    assert gate.closed("campaign#c") is False
    store.items["c"]["status"] = "stopped"
    assert gate.closed("campaign#c") is False and store.reads == 1  # from the cache
    clock.sleep(CACHE_SECONDS)
    assert gate.closed("campaign#c") is True and store.reads == 2
    store.failing = True
    clock.sleep(CACHE_SECONDS)
    assert gate.closed("campaign#c") is False  # a failed read sends: a stop is seen at the next read
