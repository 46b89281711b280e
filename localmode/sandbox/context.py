"""Per-request context handed to every view."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request

from localmode.sandbox.oauth import AccessToken
from localmode.sandbox.state import SandboxState

_NO_BODY = object()


@dataclass
class RequestContext:
    state: SandboxState
    request: Request
    arrived: float = 0.0  # when the request reached the sandbox, before it waited for the state's lock
    token: AccessToken | None = None  # set once the REST bearer token has been accepted
    elements: int | None = None  # size of a /users batch, for the request log

    def json_body(self) -> Any:
        """The parsed JSON body; raises ``ValueError`` when it is absent or malformed."""
        data = self.request.get_data(cache=True)
        if not data:
            raise ValueError("Request body is empty")
        return json.loads(data)

    def count_elements(self) -> int | None:
        """Best-effort size of a ``{"elements": [...]}`` body, without raising."""
        try:
            body = self.json_body()
        except ValueError:
            return None
        elements = body.get("elements") if isinstance(body, dict) else None
        return len(elements) if isinstance(elements, list) else None
