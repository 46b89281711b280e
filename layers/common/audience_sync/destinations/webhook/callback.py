"""Export callbacks (exports/ports.py Callbacks) through the outbound webhook's client: the same SSRF rule (no
loopback, private or link-local address on AWS), timeouts and bounded answers as every webhook the platform sends."""

from __future__ import annotations

from audience_sync.destinations.webhook.client import WebhookClient, WebhookRequest, WebhookTransport


class WebhookCallbacks:
    def __init__(self, allow_loopback: bool = False, transport: WebhookTransport | None = None):
        self.transport = transport or WebhookClient(allow_loopback=allow_loopback)

    def post(self, url: str, body: str) -> int:
        headers = {"Content-Type": "application/json"}  # the client adds its User-Agent
        return self.transport.send(WebhookRequest("POST", url, headers, body)).status
