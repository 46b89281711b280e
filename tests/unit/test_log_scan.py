"""tests/log_scan.py: the scanner the privacy tests rely on must find what a careless log line would carry."""

from __future__ import annotations

import json
import logging

import pytest
from aws_lambda_powertools import Logger

from tests.log_scan import find_leaks

SENSITIVE = {"email": ["  Zoëlle.Planted@Example.com "], "name": ["Zoëlle"], "access_token": ["AQX-token-123456"]}


@pytest.mark.parametrize(
    "line",
    [
        "user zoëlle.planted@example.com failed",  # normalised (trimmed, lowercased)
        json.dumps({"message": "bad user", "email": "  Zoëlle.Planted@Example.com "}),  # JSON escapes the ë
        "GET /callback?email=Zo%C3%ABlle.Planted%40Example.com",  # URL-encoded
        "Authorization: Bearer AQX-token-123456",
    ],
)
def test_each_form_of_a_planted_value_is_found(line: str) -> None:
    leaks = find_leaks(f"harmless line\n{line}\nanother harmless line", {**SENSITIVE, "name": ["Zoëlle Planted"]})
    assert [leak.line_number for leak in leaks] == [2]


def test_a_powertools_log_line_with_a_raw_email_is_found(capsys: pytest.CaptureFixture[str]) -> None:
    """What the privacy test would see if a handler logged a user: Powertools' JSON line on stdout."""
    logger = Logger(service="planted", logger_handler=logging.StreamHandler(__import__("sys").stdout))
    logger.info("syncing user", extra={"user": {"email": "  Zoëlle.Planted@Example.com "}})
    leaks = find_leaks(capsys.readouterr().out, SENSITIVE)
    assert [leak.kind for leak in leaks] == ["email"]


def test_hashes_and_counts_are_not_leaks() -> None:
    assert find_leaks('{"users": 3, "e": "5f1c..."}', SENSITIVE) == []


def test_values_too_short_to_scan_reliably_are_refused() -> None:
    with pytest.raises(ValueError, match="too short"):
        find_leaks("anything", {"name": ["Al"]})
