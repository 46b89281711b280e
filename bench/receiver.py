"""An HTTP receiver for campaigns' webhooks on 127.0.0.1, for the benchmarks and the tests: it records every request
as it arrived (method, path with its query, headers, body) and answers from a script (a status, or a status with
headers, per request; 200 once the script is spent). Stopped when its `with` block ends."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: str
    at: float  # time.monotonic() when it arrived


@dataclass
class Receiver:
    url: str
    received: list[Received] = field(default_factory=list)
    script: list[int | tuple[int, dict[str, str]]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> tuple[int, dict[str, str]]:
        with self.lock:
            if not self.script:
                return 200, {}
            step = self.script.pop(0)
        return step if isinstance(step, tuple) else (step, {})


@contextmanager
def webhook_receiver(*script: int | tuple[int, dict[str, str]]) -> Iterator[Receiver]:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def _record(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            with receiver.lock:
                receiver.received.append(
                    Received(self.command, self.path, dict(self.headers.items()), body, time.monotonic())
                )
            status, headers = receiver.answer()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = do_POST = do_PUT = do_DELETE = _record

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(f"http://127.0.0.1:{server.server_port}", script=list(script))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


LAST_KEPT = 10


def main() -> None:
    """`python -m bench.receiver`: a receiver in a process of its own (its CPU is not the sender's), answering 200;
    prints its URL, serves the arrival times (time.time()) of what it received at GET /_received and the last
    requests in full at GET /_received/last (the walk-through of `make run` shows a campaign's webhooks there)."""
    import json
    import sys

    arrivals: list[float] = []
    last: list[dict[str, Any]] = []  # the last LAST_KEPT requests, to look at
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real endpoint: a connection a sender thread
        disable_nagle_algorithm = True  # the headers and the body are two writes: Nagle would hold the second

        def _received(self) -> None:
            arrived = time.time()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen = {"method": self.command, "path": self.path, "headers": dict(self.headers.items())}
            with lock:
                arrivals.append(arrived)
                last.append({**seen, "body": body.decode(errors="replace")})
                del last[:-LAST_KEPT]
            self._answer(b"ok")

        do_POST = do_PUT = do_DELETE = _received

        def do_GET(self) -> None:
            if not self.path.startswith("/_received"):
                self._received()
                return
            with lock:  # /_received: every arrival time; /_received/last: the last requests in full
                body = json.dumps(last if self.path.startswith("/_received/last") else arrivals).encode()
            self._answer(body)

        def _answer(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"http://127.0.0.1:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
