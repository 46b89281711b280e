"""`WEBHOOK_SIGNING_SECRET=… make run`: unsigned webhooks are refused, and the signed curl + openssl lines that
local mode prints (and docs/api.md, "Signed webhooks", shows) are accepted once, then refused as a replay."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import requests

from audience_sync.sources.webhook.signature import sign
from localmode.service import LocalConfig
from localmode.walkthrough import walkthrough
from tests.e2e.local_service import API_KEY, configure_and_launch, connect, local_service, post_users

pytestmark = pytest.mark.e2e

SECRET = "e2e-webhook-secret-" + "x" * 40


def _signed_lines(base_url: str) -> str:
    """The walk-through's step 3 as local mode prints it with signing on."""
    printed = walkthrough(base_url, LocalConfig(api_key=API_KEY, webhook_signing_secret=SECRET), sandbox=True)
    lines = printed.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("# 3."))
    end = next(i for i, line in enumerate(lines) if line.strip().startswith("# 4."))
    return "\n".join(line.strip() for line in lines[start + 1 : end])


def test_signed_webhooks_in_local_mode(tmp_path: Path) -> None:
    with local_service(tmp_path, WEBHOOK_SIGNING_SECRET=SECRET) as service:
        connect(service)
        configure_and_launch(service, "welcome")

        unsigned = post_users(service, "welcome", {"users": [{"external_id": "u-1", "email": "a@example.com"}]})
        assert unsigned.status_code == 401, unsigned.text
        assert unsigned.json()["error"]["code"] == "invalid_signature"

        script = _signed_lines(service.base_url)
        assert "openssl dgst -sha256 -hmac" in script
        env = {"API": service.base_url, "KEY": API_KEY, "WEBHOOK_SIGNING_SECRET": SECRET, "PATH": "/usr/bin:/bin"}
        bash = shutil.which("bash")
        assert bash is not None
        run = subprocess.run([bash, "-c", script], env=env, capture_output=True, text=True, timeout=30, check=True)
        assert json.loads(run.stdout) == {"accepted": 2, "filtered": 0, "not_synced": 1}

        # Another webhook signed with the helper clients can use (sources/webhook/signature.py: sign), sent twice.
        found = re.search(r"BODY='(.*?)'", script)
        assert found is not None
        body = found.group(1).replace("evt-0001", "evt-0002")
        header = sign(SECRET, "welcome", body, int(time.time()))
        headers = {"x-api-key": API_KEY, "X-Signature": header}
        url = service.url("/v1/steps/welcome/users")
        first = requests.post(url, data=body, headers=headers, timeout=10)
        assert first.status_code == 202, first.text
        again = requests.post(url, data=body, headers=headers, timeout=10)
        assert again.status_code == 409, again.text
        assert again.json()["error"]["code"] == "replayed_signature"

        log = service.log()
        assert SECRET not in log
        assert header.split("v1=")[1] not in log
