"""A thin HTTP client for the LinkedIn REST API (versioned `/rest`, Rest.li protocol 2.0).

One of the two modules of the package that speak HTTP (with oauth.py): everything else about LinkedIn is pure.
Every request has a timeout; a 426 (the LinkedIn-Version this stack sends is sunset) is published as the
`LinkedInVersionSunset` metric whichever request met it, so a stack with no traffic learns it from its scheduled
audience refresh (LinkedInVersionSunsetAlarm).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from aws_lambda_powertools import Logger

from audience_sync.destinations.linkedin.audiences import account_urn
from audience_sync.destinations.linkedin.errors import MALFORMED_RESPONSE, LinkedInError
from audience_sync.observability import emf

logger = Logger(child=True)

# (connect, read) seconds. A 5,000-element batch is ~1 MB; LinkedIn answers in well under 30 s.
DEFAULT_TIMEOUT = (3.05, 30.0)
RESTLI_PROTOCOL = "2.0.0"
VERSION_SUNSET = "LinkedInVersionSunset"


@dataclass(frozen=True, slots=True)
class ElementResult:
    status: int
    code: str | None = None
    message: str | None = None


class LinkedInApi(Protocol):
    """What the destination asks of LinkedIn (LinkedInClient; the tests' fakes)."""

    def ad_account_users(self, token: str) -> list[dict[str, Any]]: ...

    def ad_account(self, token: str, ad_account_id: str) -> dict[str, Any]: ...

    def create_segment(
        self, token: str, ad_account_id: str, name: str, source_platform: str, source_segment_id: str
    ) -> str: ...

    def get_segment(self, token: str, segment_id: str) -> dict[str, Any]: ...

    def send_users(self, token: str, segment_id: str, body: bytes, expected: int) -> list[ElementResult]: ...


class LinkedInClient:
    def __init__(
        self,
        api_url: str,
        version: str,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ):
        self.api_url = api_url.rstrip("/")
        self.version = version
        self.session = session or requests.Session()
        self.timeout = timeout

    def _headers(self, token: str, restli_method: str | None = None) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {token}",
            "LinkedIn-Version": self.version,
            "X-Restli-Protocol-Version": RESTLI_PROTOCOL,
            "Content-Type": "application/json",
        }
        if restli_method:
            headers["X-RestLi-Method"] = restli_method
        return headers

    def _call(
        self,
        method: str,
        path: str,
        token: str,
        *,
        params: dict[str, str] | None = None,
        body: bytes | None = None,
        restli_method: str | None = None,
    ) -> requests.Response:
        try:
            response = self.session.request(
                method,
                f"{self.api_url}{path}",
                params=params,
                data=body,
                headers=self._headers(token, restli_method),
                timeout=self.timeout,
            )
        except requests.Timeout as exc:
            raise LinkedInError(0, "timeout", type(exc).__name__) from exc
        except requests.RequestException as exc:
            raise LinkedInError(0, "connection_error", type(exc).__name__) from exc
        if response.status_code >= 300:
            error = error_from(response)
            if error.status == 426:
                version_sunset(error.code)
            raise error
        return response

    def ad_account_users(self, token: str) -> list[dict[str, Any]]:
        """Ad accounts of the token's member with the member's role on each (paged)."""
        elements: list[dict[str, Any]] = []
        start = 0
        while True:
            page = self._call(
                "GET",
                "/adAccountUsers",
                token,
                params={"q": "authenticatedUser", "start": str(start), "count": "100"},
            ).json()
            batch = page.get("elements") or []
            elements.extend(batch)
            total = (page.get("paging") or {}).get("total")
            start += len(batch)
            if not batch or len(batch) < 100 or (total is not None and start >= int(total)):
                return elements

    def ad_account(self, token: str, ad_account_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/adAccounts/{ad_account_id}", token).json()
        return result

    def create_segment(
        self, token: str, ad_account_id: str, name: str, source_platform: str, source_segment_id: str
    ) -> str:
        payload: dict[str, Any] = {
            "name": name,
            "account": account_urn(ad_account_id),
            "type": "USER",
            "sourceSegmentId": source_segment_id,
            "destinations": [{"destination": "LINKEDIN"}],
        }
        if source_platform:
            payload["sourcePlatform"] = source_platform
        response = self._call("POST", "/dmpSegments", token, body=json.dumps(payload).encode())
        # docs/integrations/linkedin.md, "Segments": the id comes back in a header; which one is not pinned down,
        # so read both.
        segment_id = response.headers.get("x-restli-id") or response.headers.get("x-linkedin-id")
        if not segment_id:
            location = response.headers.get("Location", "")
            segment_id = location.rstrip("/").rsplit("/", 1)[-1] if location else ""
        if not segment_id:
            raise LinkedInError(response.status_code, "missing_segment_id", "no id in the create response")
        return segment_id

    def get_segment(self, token: str, segment_id: str) -> dict[str, Any]:
        return json_object(self._call("GET", f"/dmpSegments/{segment_id}", token))

    def send_users(self, token: str, segment_id: str, body: bytes, expected: int) -> list[ElementResult]:
        """POST a BATCH_CREATE of users; one result per element, in order."""
        response = self._call(
            "POST", f"/dmpSegments/{segment_id}/users", token, body=body, restli_method="BATCH_CREATE"
        )
        return parse_element_results(response, expected)


def version_sunset(code: str) -> None:
    """LinkedIn answered 426: the LinkedIn-Version this stack sends is no longer served (alarmed)."""
    logger.error("LinkedIn-Version is sunset: deploy with a current LinkedInVersion", extra={"code": code})
    emf.count(VERSION_SUNSET, 1)


def json_object(response: requests.Response) -> dict[str, Any]:
    """The body of a 2xx answer that must be a JSON object. Anything else (an HTML page from a proxy, a list) is an
    answer LinkedIn did not really give: LinkedInError with status 0, like a timeout."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise LinkedInError(
            0, MALFORMED_RESPONSE, f"{response.status_code} without a JSON object", response.headers.get("x-li-uuid")
        )
    return body


def parse_element_results(response: requests.Response, expected: int) -> list[ElementResult]:
    """Per-element statuses. A 2xx without them means the whole batch was accepted (older API versions)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    elements = body.get("elements") if isinstance(body, dict) else None
    if not isinstance(elements, list):
        return [ElementResult(201)] * expected
    results = []
    for element in elements[:expected]:
        error = element.get("error") or {}
        results.append(
            ElementResult(
                int(element.get("status", 500)),
                error.get("code") or (error.get("serviceErrorCode") and str(error["serviceErrorCode"])),
                error.get("message"),
            )
        )
    # Fewer results than elements: the missing ones are unknown, so they are retried, never assumed synced.
    results.extend([ElementResult(500, "missing_result", "no result for this element")] * (expected - len(results)))
    return results


def error_from(response: requests.Response) -> LinkedInError:
    code, message = "error", response.reason or ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        code = str(body.get("code") or body.get("error") or body.get("serviceErrorCode") or code)
        message = str(body.get("message") or body.get("error_description") or message)
    return LinkedInError(response.status_code, code, message[:300], response.headers.get("x-li-uuid"))
