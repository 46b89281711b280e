"""Errors that map to the public HTTP error envelope `{"error": {"code", "message", "details"}}`."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error the client caused or can act on; always rendered as a 4xx (or 503 for transient faults)."""

    def __init__(self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class NotFound(ApiError):
    def __init__(self, what: str, code: str = "not_found"):
        super().__init__(404, code, f"{what} not found")


class Conflict(ApiError):
    def __init__(self, code: str, message: str):
        super().__init__(409, code, message)
