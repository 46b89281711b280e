"""Serving the sandbox on its own: in a thread of the caller (tests), or as a process of its own
(`python -m localmode.sandbox`, an independent LinkedIn endpoint for benchmarks and manual tests)."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from werkzeug.serving import WSGIRequestHandler, make_server

from localmode.processes import url_process
from localmode.sandbox.app import ARRIVED, LinkedInSandbox
from localmode.sandbox.config import SandboxConfig

# The GIL switch interval of the sandbox as a process of its own (`main`): why, there.
STAMPING_SWITCH_INTERVAL_SECONDS = 0.0005


class ArrivalStampingHandler(WSGIRequestHandler):
    """Stamps each request with the time its request line was read off the socket (environ["sandbox.arrived"]),
    before anything else in this process can delay it: the sandbox rate-limits arrivals, as LinkedIn does."""

    def parse_request(self) -> bool:
        self.arrived = time.time()
        return super().parse_request()

    def make_environ(self) -> Any:
        environ = super().make_environ()
        environ[ARRIVED] = self.arrived
        return environ


@contextmanager
def serving(app: Any, port: int = 0) -> Iterator[str]:
    """`app` on 127.0.0.1 (a free port by default) in a daemon thread; yields its base URL, stops on exit."""
    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=ArrivalStampingHandler)
    thread = threading.Thread(target=server.serve_forever, name="sandbox", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def sandbox_process(config: dict[str, Any] | None = None) -> Iterator[str]:
    """The sandbox as a process of its own (`main`), as LinkedIn is: its arrival stamps wait on no other work,
    garbage collection or GIL of the caller (in a thread of a loaded test process, CI saw a request stamped about
    110 ms late, bunched into 11 in a second). Yields its base URL."""
    with url_process("the sandbox", "localmode.sandbox", "--config", json.dumps(config or {})) as url:
        yield url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The LinkedIn sandbox on 127.0.0.1 (…/rest, …/oauth/v2).")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--config", default="{}", help='SandboxConfig fields as JSON, e.g. {"rate_limit": 10}')
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # As a process of its own the sandbox is a measuring instrument (arrival times, the rate limit). Its members
    # (hundreds of thousands after a benchmark) would make each full cycle collection pause every request thread
    # for a large part of a second, so arrivals would be stamped late and bunched. It makes no garbage cycles to
    # speak of, so the collector is off.
    gc.disable()
    # For the same reason its threads hand over the GIL every 0.5 ms, not Python's 5 ms: a request's arrival is
    # stamped by a thread that waits for the GIL while others validate the requests before it (5,000 elements
    # each). At 5 ms, 3 runs of "a million users" stamped arrivals up to ~45 ms late: 15-20 windows of 11 requests
    # spanned under 1.03 s, and 2 of the runs were answered 429 twice. At 0.5 ms: 3-7 such windows, no 429.
    sys.setswitchinterval(STAMPING_SWITCH_INTERVAL_SECONDS)
    config = SandboxConfig()
    config.update(json.loads(args.config))
    stopped = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    with serving(LinkedInSandbox(config), args.port) as url:
        print(url, flush=True)  # the first line of output: where it listens
        stopped.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
