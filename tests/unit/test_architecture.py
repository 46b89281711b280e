"""The architecture's rules, checked (docs/architecture.md): AWS and HTTP only in adapters and destination clients,
each package importing only the packages below it, and nothing a function runs imported after its init. A rule that
stops being checked fails here."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "layers" / "common" / "audience_sync"
RUFF = Path(sys.executable).parent / "ruff"
SDK_IMPORT = re.compile(r"^\s*(?:import|from)\s+(boto3|botocore|requests)\b", re.MULTILINE)
# Where boto3, botocore and requests may be imported inside the package.
ALLOWED = (
    "adapters/",
    "destinations/linkedin/client.py",
    "destinations/linkedin/oauth.py",
    "destinations/webhook/client.py",
)
PLANTS = ["import boto3", "from botocore.exceptions import ClientError", "import requests"]


def ruff_on(path: str, source: str, rule: str = "TID251") -> subprocess.CompletedProcess[str]:
    """ruff with the project's configuration on `source`, as if it were the file at `path`."""
    return subprocess.run(
        [str(RUFF), "check", "--select", rule, "--stdin-filename", path, "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    "path",
    [
        "layers/common/audience_sync/pipeline/planted.py",
        "layers/common/audience_sync/core/planted.py",
        "layers/common/audience_sync/destinations/linkedin/planted.py",
        "functions/planted/app.py",
    ],
)
@pytest.mark.parametrize("statement", PLANTS)
def test_a_planted_sdk_import_outside_the_adapters_fails_the_lint(path: str, statement: str) -> None:
    result = ruff_on(path, f"{statement}\n")
    assert result.returncode == 1, result.stdout
    assert "TID251" in result.stdout


@pytest.mark.parametrize(
    "path",
    [
        "layers/common/audience_sync/adapters/aws/planted.py",
        "layers/common/audience_sync/destinations/linkedin/client.py",
        "audience_sync_cli/planted.py",
    ],
)
def test_adapters_and_destination_clients_may_import_the_sdks(path: str) -> None:
    result = ruff_on(path, "import boto3\nfrom botocore.exceptions import ClientError\nimport requests\n")
    assert result.returncode == 0, result.stdout


LATE_IMPORT = "def handle() -> None:\n    import json\n\n    json.dumps(1)\n"


@pytest.mark.parametrize(
    "path",
    [
        "layers/common/audience_sync/campaigns/planted.py",
        "layers/common/audience_sync/composition/planted.py",
        "functions/planted/app.py",
    ],
)
def test_a_planted_import_inside_a_function_of_the_layer_or_a_handler_fails_the_lint(path: str) -> None:
    """A function imports at its init what it will run (composition/__init__.py, docs/decisions/0026)."""
    result = ruff_on(path, LATE_IMPORT, "PLC0415")
    assert result.returncode == 1, result.stdout
    assert "PLC0415" in result.stdout


@pytest.mark.parametrize("path", ["tests/unit/planted.py", "localmode/planted.py", "bench/planted.py"])
def test_the_tools_around_the_functions_may_import_late(path: str) -> None:
    assert ruff_on(path, LATE_IMPORT, "PLC0415").returncode == 0


def test_only_adapters_and_destination_clients_import_the_sdks() -> None:
    importing = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if SDK_IMPORT.search(path.read_text(encoding="utf-8"))
    )
    assert importing, "no adapter imports boto3: the check is not looking at the package"
    assert [p for p in importing if not p.startswith(ALLOWED)] == []


def test_the_import_contracts_hold() -> None:
    """import-linter's contracts of pyproject.toml: layers, and no destination named in the domain."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PYTHONPATH": str(REPO / "layers" / "common"), "PATH": str(Path(sys.executable).parent)},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout
