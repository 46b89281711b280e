"""The sandbox as a process of its own (`python -m localmode.sandbox`): the instrument the rate-limit tests and the
benchmarks judge arrivals by."""

from __future__ import annotations

import subprocess
import sys

import requests

from localmode.processes import ROOT
from localmode.sandbox.server import STAMPING_SWITCH_INTERVAL_SECONDS, sandbox_process

PYTHON_DEFAULT_SWITCH_INTERVAL_SECONDS = 0.005
# main() up to serving, which reports the interpreter's settings instead of serving
REPORT_SETTINGS = """
import contextlib, gc, sys
from localmode.sandbox import server

@contextlib.contextmanager
def report(app, port=0):
    print(gc.isenabled(), sys.getswitchinterval(), flush=True)
    sys.exit(0)
    yield ""

server.serving = report
server.main([])
"""


def test_it_stamps_arrivals_with_the_collector_off_and_a_short_gil_switch_interval() -> None:
    done = subprocess.run(
        [sys.executable, "-c", REPORT_SETTINGS], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    enabled, interval = done.stdout.split()
    assert enabled == "False"
    assert float(interval) == STAMPING_SWITCH_INTERVAL_SECONDS < PYTHON_DEFAULT_SWITCH_INTERVAL_SECONDS


def test_a_started_sandbox_serves_and_is_stopped() -> None:
    with sandbox_process({"rate_limit": 3}) as url:
        assert requests.get(f"{url}/_sandbox/requests", timeout=10).json() == []
    try:
        requests.get(f"{url}/_sandbox/requests", timeout=2)
    except requests.ConnectionError:
        return
    raise AssertionError("the sandbox still answers after its context ended")
