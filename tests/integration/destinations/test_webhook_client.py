"""destinations/webhook/client.py against real sockets on 127.0.0.1: the request as given, redirects not followed,
loopback refused unless allowed (before anything reaches the receiver), Retry-After read, a hanging endpoint timed
out, and a long answer cut off."""

from __future__ import annotations

import datetime as dt
import socket
import threading
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


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = dt.datetime(2026, 12, 6, 12, 0, 0, tzinfo=dt.UTC)
    assert retry_after("120", now) == 120.0
    assert retry_after("Sun, 06 Dec 2026 12:00:30 GMT", now) == 30.0
    assert retry_after("Sun, 06 Dec 2026 11:00:00 GMT", now) == 0.0  # a date past: no wait
    assert retry_after(None) is None and retry_after("soon") is None and retry_after("") is None
