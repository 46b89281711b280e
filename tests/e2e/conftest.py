"""Fixtures of the end-to-end tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from localmode.sandbox import LinkedInSandbox


@pytest.fixture
def external_linkedin() -> Iterator[str]:
    """An independent LinkedIn-compatible endpoint on its own port (not the one local mode mounts)."""
    app = LinkedInSandbox()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
