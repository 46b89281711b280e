"""moto's AWS API over HTTP at /_aws on local mode's port, for tools in another process (the operator CLI).

It is moto's own server application, mounted in local mode's process, so it serves the very backends the handlers
use through the in-process mock (moto keeps one set of backends per process).
"""

from __future__ import annotations

from typing import Any

AWS_PREFIX = "/_aws"


def aws_endpoint_app() -> Any:
    from moto.server import DomainDispatcherApplication, create_backend_app  # needs moto[server] (Flask)

    return DomainDispatcherApplication(create_backend_app)
