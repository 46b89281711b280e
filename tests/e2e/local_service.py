"""Starts local mode (`python -m localmode`, what `make run` runs) as a subprocess and stops it."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import requests

from localmode.processes import ROOT, stop

API_KEY = "e2e-key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Service:
    def __init__(self, base_url: str, log_path: Path):
        self.base_url = base_url
        self.log_path = log_path
        self.headers = {"x-api-key": API_KEY}

    def url(self, path: str) -> str:
        return self.base_url + path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def local_service(tmp_path: Path, **env: str) -> Iterator[Service]:
    port = free_port()
    log_path = tmp_path / "localmode.log"
    environment = {
        **os.environ,
        "PORT": str(port),
        "API_KEY": API_KEY,
        "FLUSH_SECONDS": "1",
        "LOG_LEVEL": "INFO",
        **env,
    }
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "localmode"], cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT
        )
    service = Service(f"http://127.0.0.1:{port}", log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"local mode exited early:\n{service.log()}")
            try:
                if requests.get(service.url("/v1/health"), headers=service.headers, timeout=2).status_code == 200:
                    break
            except requests.RequestException:  # not up yet, or busy starting
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"local mode did not become healthy:\n{service.log()}")
            time.sleep(0.2)  # polling a subprocess's readiness, not timing the code under test
        yield service
    finally:
        stop(process, grace_seconds=15)


# ---- helpers over HTTP ---------------------------------------------------------------------------
def sha(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)  # polling an asynchronous pipeline over HTTP


def connect(service: Service) -> dict[str, Any]:
    response = requests.get(service.url("/v1/connections/linkedin/authorize"), headers=service.headers, timeout=10)
    assert response.status_code == 200, response.text  # requests followed authorize → LinkedIn → callback
    assert [r.status_code for r in response.history] == [302, 302]
    body: dict[str, Any] = response.json()
    return body


def configure_and_launch(service: Service, step_id: str, **config: Any) -> str:
    step = {
        "partner": "linkedin",
        "ad_account_id": "507000001",
        "audience": {"name": f"Audience of {step_id}"},
        "action": "add",
        "match_fields": ["email", "first_last_name", "android_gaid"],
        **config,
    }
    put = requests.put(service.url(f"/v1/steps/{step_id}"), json=step, headers=service.headers, timeout=10)
    assert put.status_code == 200, put.text
    launch = requests.post(service.url(f"/v1/steps/{step_id}/launch"), headers=service.headers, timeout=10)
    assert launch.status_code == 200, launch.text
    assert launch.json()["status"] == "active"
    audience_id: str = launch.json()["audience_id"]
    return audience_id


def metrics(service: Service, step_id: str) -> dict[str, int]:
    response = requests.get(service.url(f"/v1/steps/{step_id}/metrics"), headers=service.headers, timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, int] = response.json()
    return body


def post_users(service: Service, step_id: str, body: Any, **kwargs: Any) -> requests.Response:
    return requests.post(
        service.url(f"/v1/steps/{step_id}/users"), json=body, headers=service.headers, timeout=30, **kwargs
    )


def emulated(service: Service, name: str) -> Any:
    """A boto3 client of local mode's emulated AWS (its /_aws endpoint)."""
    return boto3.client(
        name,
        endpoint_url=service.url("/_aws"),
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # local mode's placeholder
    )
