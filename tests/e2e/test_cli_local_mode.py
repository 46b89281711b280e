"""The operator CLI against `python -m localmode` (what `make run` runs), as a separate process with `--local`: it
finds the stack through the outputs local mode publishes and reads it over local mode's /_aws endpoint. A message
dead-lettered there is redriven and then synced and counted by local mode's own batchers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from audience_sync.pipeline.messages import QueuedMessage, SyncTarget
from tests.e2e.local_service import (
    ROOT,
    Service,
    configure_and_launch,
    connect,
    emulated,
    local_service,
    metrics,
    sha,
    wait_for,
)

pytestmark = pytest.mark.e2e


def audience_sync(service: Service, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}  # --local brings its own
    env.update(PORT=str(urlsplit(service.base_url).port), PYTHONPATH=f"{ROOT / 'layers' / 'common'}{os.pathsep}{ROOT}")
    return subprocess.run(
        [sys.executable, "-m", "audience_sync_cli", "--local", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def as_json(service: Service, *argv: str) -> Any:
    done = audience_sync(service, *argv, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_cli_reads_local_mode_and_redrives_its_dlq(tmp_path: Path) -> None:
    with local_service(tmp_path) as service:
        assert as_json(service, "connection") == {"status": "disconnected", "ad_accounts": []}
        connect(service)
        view = requests.get(service.url("/v1/connections/linkedin"), headers=service.headers, timeout=10).json()
        assert as_json(service, "connection") == view
        launched_at = int(time.time() * 1000)
        audience_id = configure_and_launch(service, "welcome")
        assert [s["audience_id"] for s in as_json(service, "steps")["steps"]] == [audience_id]

        outputs = emulated(service, "cloudformation").describe_stacks(StackName="audience-sync")["Stacks"][0]
        dlq_url = next(o["OutputValue"] for o in outputs["Outputs"] if o["OutputKey"] == "SyncDeadLetterQueueUrl")
        message = QueuedMessage(
            chunk_id="dead-lettered-1",
            step_id="welcome",
            target=SyncTarget(
                connection_id="linkedin",
                ad_account_id="507000001",
                audience_id=audience_id,
                action="add",
                # as the ingest sets it: the sender waits out LinkedIn's propagation of a new audience
                audience_created_at=launched_at,
            ),
            users=[{"x": "u-dlq", "e": sha("dlq@example.com")}],
            entry={"entered": 1, "proceeded": 1},
            first_enqueued_at=int(time.time() * 1000) - 60_000,
        )
        emulated(service, "sqs").send_message(QueueUrl=dlq_url, MessageBody=message.model_dump_json())
        assert as_json(service, "dlq")["dead_letter_queue"]["visible"] == 1

        redrive = audience_sync(service, "dlq", "redrive")  # --local: the copy method
        assert redrive.returncode == 0, redrive.stderr
        assert redrive.stdout.startswith("Moved 1 message(s) from SyncDeadLetterQueue to SyncQueue (copy).")

        wait_for(lambda: metrics(service, "welcome")["synced"] == 1, 30, "the redriven user to sync")
        shown = as_json(service, "metrics", "welcome")["steps"][0]["metrics"]
        assert shown == metrics(service, "welcome")
        assert (shown["entered"], shown["synced"], shown["pending"]) == (1, 1, 0)
        assert as_json(service, "dlq")["dead_letter_queue"] == {"visible": 0, "in_flight": 0, "delayed": 0}
        members = requests.get(service.url(f"/linkedin/_sandbox/segments/{audience_id}/members"), timeout=10).json()
        assert [m["userIds"] for m in members["members"]] == [
            [{"idType": "SHA256_EMAIL", "idValue": sha("dlq@example.com")}]
        ]
