"""Hand-made `requests` responses and a recording session, for the LinkedIn client tests."""

from __future__ import annotations

import json
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict


def response(
    status: int, body: Any = None, headers: dict[str, str] | None = None, reason: str = ""
) -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r.reason = reason
    if body is None:
        r._content = b""
    elif isinstance(body, bytes):
        r._content = body
    else:
        r._content = json.dumps(body).encode()
    r.headers = CaseInsensitiveDict(headers or {})
    return r


class FakeSession(requests.Session):
    def __init__(self, *answers: requests.Response | Exception):
        super().__init__()
        self.answers = list(answers)
        self.calls: list[dict[str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.calls.append({"method": method, "url": url, **kwargs})
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer
