"""Processes of our own that the tools around the functions start (the sandbox, the benchmarks' receiver, local
mode under test), and how they are stopped: SIGTERM, a grace period, then SIGKILL, always waited for."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # the repository: template.yaml, functions/, layers/


@contextmanager
def url_process(what: str, module: str, *args: str) -> Iterator[str]:
    """`python -m module args` as a process of its own (its CPU is not this one's), which prints its base URL on
    127.0.0.1 first; yields the URL, and stops the process after."""
    pythonpath = os.pathsep.join([str(ROOT), str(ROOT / "layers" / "common")])
    environment = {**os.environ, "PYTHONPATH": pythonpath}
    command = [sys.executable, "-m", module, *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=environment)
    output = process.stdout
    assert output is not None  # stdout=PIPE
    try:
        url = output.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"{what} did not start: {url!r}")
        yield url
    finally:
        try:
            stop(process, grace_seconds=10)
        finally:
            output.close()


def stop(process: subprocess.Popen[str] | subprocess.Popen[bytes], grace_seconds: float) -> None:
    process.terminate()
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
