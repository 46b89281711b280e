"""destinations/webhook/client.py against real sockets on 127.0.0.1: the request as given, redirects not followed,
loopback refused unless allowed (before anything reaches the receiver), Retry-After read, a hanging endpoint timed
out, and a long answer cut off."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from audience_sync.destinations.webhook.client import WebhookClient, WebhookRequest, retry_after
from bench.receiver import webhook_receiver


def test_the_request_goes_as_given_and_the_answer_is_its_status() -> None:
    with webhook_receiver((429, {"Retry-After": "7"})) as receiver:
        answer = WebhookClient(allow_loopback=True).send(
            WebhookRequest("PUT", receiver.url + "/a?b=1", {"X-Key": "k", "Content-Type": "text/plain"}, "héllo")
        )
    assert (answer.status, answer.code, answer.retry_after_seconds) == (429, "http", 7.0)
    (got,) = receiver.received
    assert (got.method, got.path, got.body) == ("PUT", "/a?b=1", "héllo")
    assert got.headers["X-Key"] == "k" and got.headers["Content-Type"] == "text/plain"
    assert got.headers["User-Agent"] == "audience-sync-webhooks/1"


def test_a_redirect_is_not_followed() -> None:
    with webhook_receiver() as target, webhook_receiver((302, {"Location": "/elsewhere"})) as receiver:
        answer = WebhookClient(allow_loopback=True).send(WebhookRequest("POST", receiver.url, {}, "{}"))
        assert answer.status == 302
    assert len(receiver.received) == 1 and target.received == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_refused_unless_allowed_and_nothing_reaches_the_receiver(host: str) -> None:
    with webhook_receiver() as receiver:
        url = receiver.url.replace("127.0.0.1", host)
        answer = WebhookClient().send(WebhookRequest("POST", url, {}, "{}"))
    assert (answer.status, answer.code) == (0, "blocked_address")
    assert receiver.received == []


def test_an_unusable_url_is_an_invalid_request() -> None:
    assert WebhookClient().send(WebhookRequest("POST", "http://exa mple.com/", {}, "")).code == "invalid_request"
    assert WebhookClient().send(WebhookRequest("POST", "not a url", {}, "")).code == "invalid_request"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never answers, until the test ends."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    done = threading.Event()
    accepted: list[socket.socket] = []

    def accept() -> None:
        server.settimeout(0.05)
        while not done.is_set():
            try:
                accepted.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    done.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def test_an_endpoint_that_hangs_times_out(silent_server: int) -> None:
    client = WebhookClient(allow_loopback=True, timeout=(1.0, 0.2))
    answer = client.send(WebhookRequest("POST", f"http://127.0.0.1:{silent_server}/", {}, "{}"))
    assert (answer.status, answer.code) == (0, "timeout")


@pytest.fixture
def trickling_server() -> Iterator[int]:
    """Answers a byte of its status line every 0.2 s: each read is quick, the answer never ends."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    done = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 1000:
                if done.wait(0.2):
                    return
                with contextlib.suppress(OSError):
                    conn.sendall(bytes([byte]))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    done.set()
    thread.join()
    server.close()


def test_an_endpoint_that_answers_a_byte_at_a_time_is_cut_off_at_the_deadline(trickling_server: int) -> None:
    client = WebhookClient(allow_loopback=True, timeout=(1.0, 1.0), deadline_seconds=1.0)
    started = time.monotonic()
    answer = client.send(WebhookRequest("POST", f"http://127.0.0.1:{trickling_server}/", {}, "{}"))
    assert (answer.status, answer.code) == (0, "timeout")
    assert time.monotonic() - started < 3.0  # the deadline and the watchdog's period, not the trickle


@pytest.fixture
def counting_server() -> Iterator[list[int]]:
    """Counts the TCP connections it accepts (a refused address must not even get one)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.05)
    accepted = [server.getsockname()[1], 0]
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                server.accept()[0].close()
                accepted[1] += 1
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield accepted
    done.set()
    thread.join()
    server.close()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "localhost"])
def test_every_spelling_of_loopback_is_refused_before_connecting(counting_server: list[int], host: str) -> None:
    port = counting_server[0]
    answer = WebhookClient().send(WebhookRequest("POST", f"http://{host}:{port}/", {}, "{}"))
    assert (answer.status, answer.code) == (0, "blocked_address")
    assert counting_server[1] == 0  # no connection was made: a refused port and an open one look the same


def test_no_cookie_goes_from_one_users_webhook_to_the_next() -> None:
    with webhook_receiver((200, {"Set-Cookie": "session=alice@example.com; Path=/"})) as receiver:
        client = WebhookClient(allow_loopback=True)
        client.send(WebhookRequest("POST", receiver.url + "/a", {}, "alice"))
        client.send(WebhookRequest("POST", receiver.url + "/a", {}, "bob"))
    assert [r.headers.get("Cookie") for r in receiver.received] == [None, None]


def test_rendered_header_values_are_trimmed_and_sent_as_utf_8() -> None:
    with webhook_receiver() as receiver:
        headers = {"X-Name": " 李 ", "X-Plain": "ok "}
        assert WebhookClient(allow_loopback=True).send(WebhookRequest("POST", receiver.url, headers, "")).status == 200
    (got,) = receiver.received
    assert got.headers["X-Plain"] == "ok"
    assert got.headers["X-Name"].encode("latin-1").decode("utf-8") == "李"  # octets, as HTTP/1.1 carries them


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = dt.datetime(2026, 12, 6, 12, 0, 0, tzinfo=dt.UTC)
    assert retry_after("120", now) == 120.0
    assert retry_after("Sun, 06 Dec 2026 12:00:30 GMT", now) == 30.0
    assert retry_after("Sun, 06 Dec 2026 11:00:00 GMT", now) == 0.0  # a date past: no wait
    assert retry_after(None) is None and retry_after("soon") is None and retry_after("") is None
    # what an endpoint may send must never fail the send: odd digits, an endless number, a date past year 9999
    assert retry_after("²") is None and retry_after("1 Jan 9999999999 00:00:00 GMT") is None
    assert retry_after("9" * 400) == 86_400.0 and retry_after("9" * 20) == 86_400.0
