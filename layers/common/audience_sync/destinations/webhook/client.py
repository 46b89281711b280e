"""The outbound webhook's HTTP client: one request, no redirects followed, every connection checked against the
SSRF rule on the address it reached (guard.py), bounded in time and in what it reads of the answer.

The one module of the package that speaks HTTP. Why urllib3's connection is subclassed rather than the host
resolved and checked before the request: a check before connecting is a second DNS lookup whose answer the
connection does not have to get (DNS rebinding); the socket's peer is the address the request really goes to, and
it is checked before a byte is sent, TLS handshake included.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import ipaddress
import socket
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from audience_sync.destinations.webhook.guard import BlockedAddress, check

# (connect, read) seconds. Braze waits 90 s for an answer; a batcher keeps 35 s for one request
# (pipeline/batcher.py REQUEST_BUDGET_MS), so an endpoint that takes longer is retried, then failed.
DEFAULT_TIMEOUT = (5.0, 30.0)
# What is read of an answer (its status is what counts): a longer one is cut off and its connection dropped.
MAX_ANSWER_BYTES = 1 << 20
POOL_SIZE = 32  # connections kept per host: one batcher sends up to SendConcurrency requests at once


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
    def __init__(self, allow_loopback: bool = False, timeout: tuple[float, float] = DEFAULT_TIMEOUT):
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy from the environment: it would be the peer the guard checks
        adapter = _GuardedAdapter(allow_loopback, pool_maxsize=POOL_SIZE)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def send(self, request: WebhookRequest) -> WebhookAnswer:
        try:
            response = self.session.request(
                request.method,
                request.url,
                headers=request.headers,
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
            return WebhookAnswer(0, "connection_error")
        except (requests.RequestException, ValueError, UnicodeError):  # a url Liquid made unusable
            return WebhookAnswer(0, "invalid_request")
        with contextlib.suppress(requests.RequestException, OSError):  # an answer cut short: its status stands
            _drain(response)
        return WebhookAnswer(response.status_code, "http", retry_after(response.headers.get("Retry-After")))


def retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds a `Retry-After` header asks for: a number of seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def _drain(response: requests.Response) -> None:
    """Read the answer (so its connection can be used again) up to MAX_ANSWER_BYTES, then let it go."""
    read = 0
    for chunk in response.iter_content(65536):
        read += len(chunk)
        if read > MAX_ANSWER_BYTES:
            break
    response.close()


# ---- connections checked on the address they reached ----------------------------------------------------------
class _Guarded:
    allow_loopback = False
    _dns_host: str  # urllib3's: the host the connection resolves

    def _literal_checked(self) -> None:
        """A literal address is refused before a packet leaves (a name can be checked only once resolved)."""
        try:
            ipaddress.ip_address(self._dns_host.strip("[]"))
        except ValueError:
            return
        check(self._dns_host.strip("[]"), self.allow_loopback)

    def _checked(self, sock: socket.socket) -> socket.socket:
        try:
            check(str(sock.getpeername()[0]), self.allow_loopback)
        except BlockedAddress:
            sock.close()
            raise
        return sock


@cache
def _pool_classes(allow_loopback: bool) -> dict[str, type[HTTPConnectionPool]]:
    """Connection pools whose connections refuse a non-public peer (loopback allowed when asked)."""

    class Plain(_Guarded, HTTPConnection):
        def _new_conn(self) -> socket.socket:
            self._literal_checked()
            return self._checked(super()._new_conn())

    class Tls(_Guarded, HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            self._literal_checked()
            return self._checked(super()._new_conn())

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
