"""Action-based campaigns end to end in `python -m localmode`: events through /users/track, the profile writer, the
campaign activity function, a delay that waits as a one-time schedule local mode fires (divided by TIME_SCALE),
an exception that cancels one user's wait, and the webhook at a receiver on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.receiver import webhook_receiver
from tests.e2e.local_service import Service, local_service, wait_for

pytestmark = pytest.mark.e2e

TIME_SCALE = 120  # the 10-minute delay waits 5 s: time for the exception to arrive first


def _admin(service: Service, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(method, service.url(path), json=body, headers=service.headers, timeout=10)


def test_a_delayed_follow_up_is_sent_when_due_unless_an_exception_came_first(tmp_path: Path) -> None:
    with local_service(tmp_path, TIME_SCALE=str(TIME_SCALE)) as service, webhook_receiver() as receiver:
        key = _admin(service, "POST", "/v1/rest-api-keys", {"name": "e2e", "permissions": ["users.track"]}).json()
        braze = {"Authorization": f"Bearer {key['key']}"}

        def track(body: dict[str, Any]) -> None:
            reply = requests.post(service.url("/users/track"), json=body, headers=braze, timeout=10)
            assert reply.status_code == 201, reply.text

        track({"attributes": [{"external_id": u, "first_name": u.title()} for u in ("ann", "bob")]})
        campaign = {
            "name": "thanks",
            "message": {"channel": "webhook", "url": receiver.url + "/thanks", "body": "{{${first_name}}}"},
            "delivery": {
                "type": "action",
                "trigger": {"custom_event": "ordered"},
                "delay_seconds": 600,
                "exceptions": [{"custom_event": "refunded"}],
            },
        }
        assert _admin(service, "PUT", "/v1/campaigns/thanks", campaign).status_code == 200
        assert _admin(service, "POST", "/v1/campaigns/thanks/publish").status_code == 200
        now = "2100-01-01T00:00:00Z"  # a time in the future is taken as now (Braze)
        track({"events": [{"external_id": u, "name": "ordered", "time": now} for u in ("ann", "bob")]})
        wait_for(lambda: _metrics(service)["scheduled"] == 2, 20, "both users waiting")
        track({"events": [{"external_id": "bob", "name": "refunded", "time": now}]})

        wait_for(lambda: _metrics(service)["delivered"] == 1, 30, "ann's webhook delivered")
        assert [(r.path, r.body) for r in receiver.received] == [("/thanks", "Ann")]
        assert {k: v for k, v in _metrics(service).items() if v} == {
            "triggered": 2,
            "sent": 1,
            "delivered": 1,
            "exception_cancelled": 1,
        }


def _metrics(service: Service) -> dict[str, int]:
    reply = _admin(service, "GET", "/v1/campaigns/thanks/metrics")
    assert reply.status_code == 200, reply.text
    found: dict[str, int] = json.loads(reply.text)
    return found
