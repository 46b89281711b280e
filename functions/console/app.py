"""The web console's files: `GET /console` and `GET /console/{proxy+}` (no API key: a browser loading a page cannot
send one). The console is static; everything it shows it reads from the management API with the key the user signs
in with, kept in the browser's session storage (docs/console.md). Nothing here reads a table or a secret.

The files are read once per container from `static/` beside this module, and only names listed there are served:
a path outside them (`../app.py`, `%2e%2e/`) is a 404, never a file read. Every answer carries a Content-Security-
Policy that allows this origin's scripts, styles and API only: no inline script, no other host, no framing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

STATIC = Path(__file__).resolve().parent / "static"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
FILES: dict[str, tuple[str, str]] = {
    path.relative_to(STATIC).as_posix(): (path.read_text("utf-8"), TYPES[path.suffix])
    for path in sorted(STATIC.rglob("*"))
    if path.is_file() and path.suffix in TYPES
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Small files, changed by every deploy: always revalidated, never a stale console against a new API.
    "Cache-Control": "no-cache",
}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("resource") == "/console":
        # The files' URLs are relative to .../console/: the page must be loaded from there.
        location = "index.html" if str(event.get("path", "")).endswith("/") else "console/index.html"
        return {"statusCode": 302, "headers": {"Location": location, **SECURITY_HEADERS}, "body": ""}
    # Names as listed, exactly: "index.html/" or "a//b" would serve a page whose relative URLs resolve elsewhere.
    found = FILES.get((event.get("pathParameters") or {}).get("proxy") or "")
    if found is None:
        return _answer(404, "not found\n", "text/plain; charset=utf-8")
    body, content_type = found
    return _answer(200, body, content_type)


def _answer(status: int, body: str, content_type: str) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": content_type, **SECURITY_HEADERS}, "body": body}
