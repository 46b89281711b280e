"""Local mode runs the template's audience refresh schedule (rate(15 minutes) / TIME_SCALE): an audience LinkedIn
expires becomes a step error without anyone asking, and the error goes when LinkedIn reports a targetable status
again. AUDIENCE_MAX_AGE_SECONDS (the AudienceMaxAgeSeconds parameter) is overridden from the environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.local_service import Service, configure_and_launch, connect, local_service, wait_for

pytestmark = pytest.mark.e2e


def step(service: Service, step_id: str) -> dict[str, Any]:
    response = requests.get(service.url(f"/v1/steps/{step_id}"), headers=service.headers, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def set_segment(service: Service, audience_id: str, **state: Any) -> None:
    response = requests.patch(service.url(f"/linkedin/_sandbox/segments/{audience_id}"), json=state, timeout=10)
    assert response.status_code == 200, response.text


def test_the_schedule_turns_an_expired_audience_into_a_step_error_and_back(tmp_path: Path) -> None:
    # 900: the 15-minute schedule runs every second; readings count as fresh for 1 s.
    with local_service(tmp_path, TIME_SCALE="900", AUDIENCE_MAX_AGE_SECONDS="1") as service:
        connect(service)
        audience_id = configure_and_launch(service, "welcome")
        set_segment(service, audience_id, status="EXPIRED", audience_size=1500, matched_count=1200)
        wait_for(lambda: step(service, "welcome")["error"] == "audience_expired", 20, "the schedule's step error")
        view = requests.get(service.url("/v1/steps/welcome/audience"), headers=service.headers, timeout=10).json()
        assert (view["status"], view["targetable"], view["audience_size"]) == ("EXPIRED", False, 1500)
        assert step(service, "welcome")["errors"] == ["audience_expired"]  # the sync's own error: none

        set_segment(service, audience_id, status="READY")
        wait_for(lambda: step(service, "welcome")["error"] is None, 20, "the error cleared by the schedule")
