"""The outbound webhook's HTTP client: one request, no redirects followed, no cookies kept, every connection made
only to an address the SSRF rule allows (guard.py), bounded in time and in what it reads of the answer.

The one module of the package that speaks HTTP. Why urllib3's connection is subclassed rather than the url's host
checked before the request: a check before connecting is a DNS lookup whose answer the connection does not have to
get (DNS rebinding), and a host written as `127.1` or `2130706433` is an address only the resolver spells out. So
the connection resolves the host itself, keeps only the addresses the rule allows, connects to one of them (TLS
still checks the certificate against the url's host) and checks the socket's peer once more: nothing leaves for a
refused address, not even a SYN.

Why a watchdog besides the timeouts: requests' read timeout bounds each read, not the request; an endpoint that
sends a byte every few seconds would hold a batcher's thread past its Lambda's deadline and cost the whole batch.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import http.cookiejar
import math
import socket
import threading
import time
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from audience_sync.destinations.webhook.guard import BlockedAddress, allowed, check

# (connect, read) seconds. Braze waits 90 s for an answer; a batcher keeps 35 s for one request
# (pipeline/batcher.py REQUEST_BUDGET_MS), so an endpoint that takes longer is retried, then failed.
DEFAULT_TIMEOUT = (5.0, 30.0)
REQUEST_DEADLINE_SECONDS = 30.0  # the whole request, answer included (the watchdog)
# What is read of an answer (its status is what counts): a longer one is cut off and its connection dropped.
MAX_ANSWER_BYTES = 64 * 1024
POOL_SIZE = 32  # connections kept per host: one batcher sends up to SendConcurrency requests at once
LONGEST_RETRY_AFTER_SECONDS = 86_400.0  # what an answer may ask for at most (the retry cuts it at its horizon)
USER_AGENT = "audience-sync-webhooks/1"  # what the receiver's logs name, rather than python-requests


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    method: str
    url: str
    headers: dict[str, str]
    body: str


@dataclass(frozen=True, slots=True)
class WebhookAnswer:
    status: int  # 0: no answer (timeout, connection refused, a refused address)
    code: str  # machine-readable, never the answer's body: `timeout`, `connection_error`, `blocked_address`, `http`
    retry_after_seconds: float | None = None


class WebhookTransport(Protocol):
    """What the destination asks of HTTP (WebhookClient; the tests' fakes)."""

    def send(self, request: WebhookRequest) -> WebhookAnswer: ...


class WebhookClient:
    def __init__(
        self,
        allow_loopback: bool = False,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        deadline_seconds: float = REQUEST_DEADLINE_SECONDS,
    ):
        self.timeout = timeout
        self.deadline_seconds = deadline_seconds
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy from the environment: it would be the peer the guard checks
        # One session serves every campaign and user of a container: a cookie one user's answer set must never go
        # out with the next user's webhook.
        self.session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        adapter = _GuardedAdapter(allow_loopback, pool_maxsize=POOL_SIZE)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def send(self, request: WebhookRequest) -> WebhookAnswer:
        watch = _WATCHDOG.arm(time.monotonic() + self.deadline_seconds)
        try:
            return self._send(request, watch)
        finally:
            _WATCHDOG.disarm(watch)

    def _send(self, request: WebhookRequest, watch: _Watch) -> WebhookAnswer:
        try:
            response = self.session.request(
                request.method,
                request.url,
                headers=_header_values(request.headers),
                data=request.body.encode("utf-8") if request.body else None,
                timeout=self.timeout,
                allow_redirects=False,  # Braze does not follow a 3xx: it is a failure
                stream=True,
            )
        except BlockedAddress:  # raised by the connection itself, before anything was sent
            return WebhookAnswer(0, "blocked_address")
        except requests.Timeout:
            return WebhookAnswer(0, "timeout")
        except requests.ConnectionError:
            return WebhookAnswer(0, "timeout" if watch.fired else "connection_error")
        except (requests.RequestException, ValueError, UnicodeError):  # a url Liquid made unusable
            return WebhookAnswer(0, "invalid_request")
        with contextlib.suppress(requests.RequestException, OSError):  # an answer cut short: its status stands
            _drain(response)
        return WebhookAnswer(response.status_code, "http", retry_after(response.headers.get("Retry-After")))


def _header_values(headers: dict[str, str]) -> dict[str, str | bytes]:
    """Rendered header values as they can go: trimmed (a value Liquid left with a leading space is refused by
    requests), and UTF-8 bytes when not Latin-1 (a name like 李 in a header, which HTTP/1.1 carries as octets)."""
    out: dict[str, str | bytes] = {"User-Agent": USER_AGENT}  # a template may set its own
    for name, raw in headers.items():
        value = raw.strip()
        try:
            value.encode("latin-1")
            out[name] = value
        except UnicodeEncodeError:
            out[name] = value.encode("utf-8")
    return out


def retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds a `Retry-After` header asks for: a number of seconds or an HTTP date, at most a day; None if absent or
    unreadable (the endpoint's header must never fail the send)."""
    if not value:
        return None
    value = value.strip()
    try:
        if value.isascii() and value.isdigit():
            seconds = float(value)
        else:
            when = email.utils.parsedate_to_datetime(value)
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
            seconds = (when - (now or dt.datetime.now(dt.UTC))).total_seconds()
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), LONGEST_RETRY_AFTER_SECONDS)  # an endless number asks for the longest


def _drain(response: requests.Response) -> None:
    """Read the answer (so its connection can be used again) up to MAX_ANSWER_BYTES, then let it go."""
    read = 0
    for chunk in response.iter_content(16384):
        read += len(chunk)
        if read > MAX_ANSWER_BYTES:
            break
    response.close()


# ---- the watchdog: a request's whole time bounded -------------------------------------------------------------
class _Watch:
    __slots__ = ("connections", "deadline", "fired")

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.connections: list[HTTPConnection] = []  # the connections this request used
        self.fired = False


class _Watchdog:
    """One thread for every request of the process: a request past its deadline has its socket shut, which ends
    whatever read it is blocked in. A request registers the connections it uses from its own thread (`_current`)."""

    PERIOD_SECONDS = 0.5

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.watches: set[_Watch] = set()
        self.current = threading.local()
        self.thread: threading.Thread | None = None

    def arm(self, deadline: float) -> _Watch:
        watch = _Watch(deadline)
        self.current.watch = watch
        with self.lock:
            self.watches.add(watch)
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="webhook-watchdog", daemon=True)
                self.thread.start()
        return watch

    def disarm(self, watch: _Watch) -> None:
        self.current.watch = None
        with self.lock:
            self.watches.discard(watch)

    def using(self, connection: HTTPConnection) -> None:
        watch: _Watch | None = getattr(self.current, "watch", None)
        if watch is not None:
            watch.connections.append(connection)

    def _run(self) -> None:
        while True:
            time.sleep(self.PERIOD_SECONDS)
            now = time.monotonic()
            with self.lock:
                late = [w for w in self.watches if w.deadline <= now and not w.fired]
            for watch in late:
                watch.fired = True
                for connection in watch.connections:
                    sock = getattr(connection, "sock", None)
                    if sock is not None:
                        with contextlib.suppress(OSError):
                            sock.shutdown(socket.SHUT_RDWR)


_WATCHDOG = _Watchdog()


# ---- connections made only to allowed addresses ----------------------------------------------------------------
class _Guarded:
    allow_loopback = False
    _dns_host: str  # urllib3's: the host the connection resolves
    port: int

    def _resolved(self) -> str:
        """An address of the host the rule allows; BlockedAddress if it has none (nothing is sent)."""
        host = self._dns_host.strip("[]")
        infos = socket.getaddrinfo(host, self.port, 0, socket.SOCK_STREAM)
        addresses = [str(info[4][0]) for info in infos]
        for address in addresses:
            if allowed(address, self.allow_loopback):
                return address
        raise BlockedAddress(addresses[0] if addresses else host)

    def _checked(self, sock: socket.socket) -> socket.socket:
        try:
            check(str(sock.getpeername()[0]), self.allow_loopback)
        except BlockedAddress:
            sock.close()
            raise
        return sock


def _guarded_new_conn(connection: Any, new_conn: Any) -> socket.socket:
    """urllib3's `_new_conn` on an allowed address of the host (TLS and the Host header keep the url's host)."""
    host = connection._dns_host
    connection._dns_host = connection._resolved()
    try:
        sock: socket.socket = new_conn()
    finally:
        connection._dns_host = host
    return connection._checked(sock)


@cache
def _pool_classes(allow_loopback: bool) -> dict[str, type[HTTPConnectionPool]]:
    """Connection pools whose connections go to allowed addresses only (loopback too when asked)."""

    class Plain(_Guarded, HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return _guarded_new_conn(self, super()._new_conn)

        def request(self, *args: Any, **kwargs: Any) -> None:
            _WATCHDOG.using(self)
            super().request(*args, **kwargs)

    class Tls(_Guarded, HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return _guarded_new_conn(self, super()._new_conn)

        def request(self, *args: Any, **kwargs: Any) -> None:
            _WATCHDOG.using(self)
            super().request(*args, **kwargs)

    Plain.allow_loopback = Tls.allow_loopback = allow_loopback

    class PlainPool(HTTPConnectionPool):
        ConnectionCls = Plain

    class TlsPool(HTTPSConnectionPool):
        ConnectionCls = Tls

    return {"http": PlainPool, "https": TlsPool}


class _GuardedAdapter(HTTPAdapter):
    def __init__(self, allow_loopback: bool, **kwargs: Any):
        self.allow_loopback = allow_loopback
        super().__init__(**kwargs)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.allow_loopback)
