"""JSON responses and LinkedIn-style error bodies."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Response

from localmode.sandbox.accounts import PERMISSION_STAMP

VERSION_MISSING_MESSAGE = "A version must be present. Please specify a version by adding the Linkedin-Version header."


class Reject(Exception):
    """Raised by views and their helpers to answer at once with ``response``."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


def li_error(status: int, message: str, code: str | None = None, service_error_code: int | None = None) -> Response:
    """``{"status", "serviceErrorCode"?, "code"?, "message"}`` as LinkedIn's REST API answers errors."""
    body: dict[str, Any] = {"status": status}
    if service_error_code is not None:
        body["serviceErrorCode"] = service_error_code
    if code is not None:
        body["code"] = code
    body["message"] = message
    return json_response(body, status)


def access_denied(resource: str, method: str) -> Response:
    return li_error(
        403, f"Not enough permissions to access: {resource}.{method}.{PERMISSION_STAMP}", "ACCESS_DENIED", 100
    )


def validation_failed(message: str) -> Response:
    return li_error(400, message, "VALIDATION_FAILED")


def segment_not_found(segment_id: int) -> Response:
    return li_error(404, f"Could not find DMP segment with ID {segment_id}")


def oauth_error(status: int, error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, status)


TOKEN_ERRORS: dict[str, tuple[int, str, str]] = {
    "invalid": (65600, "INVALID_ACCESS_TOKEN", "Invalid access token"),
    "revoked": (65601, "REVOKED_ACCESS_TOKEN", "The token used in the request has been revoked by the user"),
    "expired": (65602, "EXPIRED_ACCESS_TOKEN", "Expired access token"),
}


def token_error(kind: str) -> Response:
    service_code, code, message = TOKEN_ERRORS[kind]
    return li_error(401, message, code, service_code)
