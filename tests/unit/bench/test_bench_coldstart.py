"""bench/coldstart.py's instruction counts: the difference to an empty interpreter, and none without valgrind."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from bench import coldstart


def test_without_valgrind_no_count_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(coldstart.shutil, "which", lambda name: None)
    assert coldstart.count_instructions("import json", {}) is None


def test_the_count_is_the_codes_less_an_empty_interpreters(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[list[str]] = []

    def fake_run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        ran.append(command)
        refs = "1,234,567" if command[-1] == "pass" else "101,234,567"
        return subprocess.CompletedProcess(command, 0, "", f"==1== \n==1== I   refs:      {refs}\n")

    monkeypatch.setattr(coldstart.shutil, "which", lambda name: "/usr/bin/valgrind")
    monkeypatch.setattr(coldstart.subprocess, "run", fake_run)

    assert coldstart.count_instructions("import app", {"A": "1"}) == 100_000_000
    assert [command[-1] for command in ran] == ["import app", "pass"]
    assert all(command[:2] == ["/usr/bin/valgrind", "--tool=cachegrind"] for command in ran)


def test_the_heaviest_imports_are_the_modules_app_imported_not_the_interpreters_start_up() -> None:
    printed = """import time: self [us] | cumulative | imported package
import time:      5000 |       5000 |   startup_finder
import time:       100 |       5100 | site
import time:      2000 |       2000 |     deep
import time:      1000 |       3000 |   first
import time:      4000 |       4000 |   second
import time:       500 |       7500 | app"""
    rows = [m for m in (coldstart._LINE.match(line) for line in printed.splitlines()) if m]

    under_app = coldstart._imported_by(rows, len(rows) - 1)

    assert [m.group(4) for m in under_app] == ["deep", "first", "second"]


def test_a_failed_count_is_no_count_not_a_lost_row(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        raise subprocess.CalledProcessError(1, command, "", "valgrind: unrecognised instruction")

    monkeypatch.setattr(coldstart.shutil, "which", lambda name: "/usr/bin/valgrind")
    monkeypatch.setattr(coldstart.subprocess, "run", failing_run)

    assert coldstart.count_instructions("import app", {}) is None
