"""Starts local mode (`python -m localmode`, what `make run` runs) as a subprocess and stops it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
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
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
