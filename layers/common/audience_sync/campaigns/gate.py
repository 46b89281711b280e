"""A stopped campaign sends nothing more (contract v2 §6): the pipeline asks this gate before it sends a campaign's
webhooks, queued or waiting in the retry (pipeline/ports.py SendGate). Its users are then settled as not synced,
reason `campaign_stopped`: not sent, not failed.

A campaign's status is read at most every CACHE_SECONDS a container: a stop takes effect within that, and a batch of
thousands of webhooks costs one read. A read that fails leaves the gate open: the stop is then seen at the next
read, and a campaign's sends are never lost to a failed read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from audience_sync.campaigns.ports import CampaignStore
from audience_sync.campaigns.triggers import CampaignStatus
from audience_sync.core.clock import Clock
from audience_sync.core.errors import StoreUnavailable
from audience_sync.core.metrics import CAMPAIGN_PREFIX, is_step

CACHE_SECONDS = 5


class CampaignGate:
    def __init__(self, store: Callable[[], CampaignStore], clock: Clock, cache_seconds: float = CACHE_SECONDS):
        # Built on the first campaign's id: a batcher that only ever sends steps' users never needs the table.
        self._store = store
        self.clock = clock
        self.cache_ms = cache_seconds * 1000
        self._known: dict[str, tuple[int, bool]] = {}  # campaign id -> (read at, ms; closed)
        self._lock = threading.Lock()

    def closed(self, counters_id: str) -> bool:
        if is_step(counters_id):
            return False
        campaign_id = counters_id.removeprefix(CAMPAIGN_PREFIX)
        now = self.clock.now_ms()
        with self._lock:
            known = self._known.get(campaign_id)
        if known is not None and now - known[0] < self.cache_ms:
            return known[1]
        try:
            stored = self._store().get(campaign_id)
        except StoreUnavailable:
            return False
        closed = stored is None or stored["status"] != CampaignStatus.ACTIVE
        with self._lock:
            self._known[campaign_id] = (now, closed)
        return closed
