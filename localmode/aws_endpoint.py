"""moto's AWS API over HTTP at /_aws on local mode's port, for tools in another process (the operator CLI).

It is moto's own server application, mounted in local mode's process, so it serves the very backends the handlers
use through the in-process mock (moto keeps one set of backends per process).

It has no API key (boto3 signs requests its own way), so it answers only requests addressed to this machine by
name: a web page the browser fetched from elsewhere cannot reach it by rebinding its own domain to 127.0.0.1 and
read the emulated secrets.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

AWS_PREFIX = "/_aws"
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def aws_endpoint_app() -> Any:
    from moto.server import DomainDispatcherApplication, create_backend_app  # needs moto[server] (Flask)

    return local_hosts_only(DomainDispatcherApplication(create_backend_app))


def local_hosts_only(app: Any) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            host = urlsplit(f"//{environ.get('HTTP_HOST', '')}").hostname or ""
        except ValueError:  # a malformed Host header
            host = ""
        if host not in LOCAL_HOSTS:
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"the local AWS endpoint answers requests to 127.0.0.1 or localhost only\n"]
        # S3 names the bucket in the path, which moto reads from the raw URI: without the mount's prefix
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or ""
        if raw.startswith(AWS_PREFIX + "/"):
            environ = {
                **environ,
                "SCRIPT_NAME": "",
                "RAW_URI": raw[len(AWS_PREFIX) :],
                "REQUEST_URI": raw[len(AWS_PREFIX) :],
            }
        result: Iterable[bytes] = app(environ, start_response)
        return result

    return guarded
