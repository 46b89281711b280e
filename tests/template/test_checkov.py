"""checkov on template.yaml: part of `make test` (`make security`), clean, and every skip explained.

The checkov runs here use the Makefile's own command line. They need checkov's virtualenv: `$CHECKOV` (set by
`make test` / `make template`, and then it must exist) or `<repo>/.venv-checkov/bin/checkov`; without either they
are skipped, which `make test` never is since it installs the venv and runs `make security` first.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.template.template_support import REPO, TEMPLATE, load_template, run

pytestmark = pytest.mark.template

CONFIG = REPO / ".checkov.yaml"
MAKEFILE = REPO / "Makefile"
# A skip's reason must say something: at least this many words.
MIN_REASON_WORDS = 8
# Flags that would let findings through or skip checks without a comment.
FORBIDDEN_FLAGS = ("--soft-fail", "--soft-fail-on", "--hard-fail-on", "--skip-check", "--check", "--skip-framework")
# Inline suppressions: a comment "checkov" ":skip=" ID ":" reason (split so that this file does not match itself).
INLINE_SKIP = re.compile("checkov" + r":skip=([A-Z0-9_]+)(?::(.*))?")


# --------------------------------------------------------------------------- the Makefile runs it


def _makefile_target(name: str) -> tuple[list[str], list[str]]:
    """Prerequisites and recipe lines of a Makefile target."""
    lines = MAKEFILE.read_text(encoding="utf-8").splitlines()
    (index,) = [i for i, line in enumerate(lines) if line.startswith(f"{name}:")]
    prerequisites = lines[index].split(":", 1)[1].split()
    recipe = []
    for line in lines[index + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    return prerequisites, recipe


def checkov_arguments() -> list[str]:
    """The arguments `make security` passes to checkov."""
    _, recipe = _makefile_target("security")
    (command,) = [line for line in recipe if line.startswith("$(CHECKOV) ")]
    return shlex.split(command)[1:]


def test_make_test_runs_checkov_offline_and_failing_on_findings() -> None:
    prerequisites, recipe = _makefile_target("test")
    assert "security" in prerequisites, "make test must run make security (checkov)"
    assert any("CHECKOV=$(CURDIR)/$(CHECKOV)" in line for line in recipe), "pytest must get the checkov to run"
    security_prerequisites, _ = _makefile_target("security")
    assert "$(CHECKOV_VENV)/.installed" in security_prerequisites
    args = checkov_arguments()
    for flag in ("--skip-download", "--directory .", "--framework cloudformation", "--config-file .checkov.yaml"):
        assert flag in " ".join(args), f"make security: checkov without {flag}"
    assert args[args.index("--skip-path") + 1] == ".aws-sam"
    assert not [a for a in args if a.split("=")[0] in FORBIDDEN_FLAGS], "skips belong in .checkov.yaml, with a reason"
    requirements = (REPO / "requirements-checkov.txt").read_text(encoding="utf-8")
    assert re.search(r"^checkov==[\d.]+$", requirements, re.MULTILINE), "pin checkov"


# --------------------------------------------------------------------------- every skip is explained


def unexplained_config_skips(text: str) -> list[str]:
    """skip-check entries of a .checkov.yaml text without a comment block of MIN_REASON_WORDS words right above."""
    unexplained = []
    comment: list[str] = []
    in_skips = False
    for line in text.splitlines():
        stripped = line.strip()
        if not line.startswith((" ", "-", "#")) and stripped:
            in_skips = stripped.startswith("skip-check:")
            comment = []
            continue
        if stripped.startswith("#"):
            comment.append(stripped.lstrip("#"))
        elif in_skips and (entry := re.fullmatch(r"-\s*(\S+)\s*(?:#(.*))?", stripped)):
            reason = " ".join(comment) + " " + (entry.group(2) or "")
            if len(reason.split()) < MIN_REASON_WORDS:
                unexplained.append(entry.group(1))
            comment = []
        elif stripped:
            comment = []
    return unexplained


def unexplained_inline_skips(text: str) -> list[str]:
    """Inline suppressions (see INLINE_SKIP) without a reason of MIN_REASON_WORDS words."""
    return [m.group(1) for m in INLINE_SKIP.finditer(text) if len((m.group(2) or "").split()) < MIN_REASON_WORDS]


def unexplained_metadata_skips(tpl: dict[str, Any]) -> list[str]:
    """`Metadata: checkov: skip:` entries of a template without an id and a comment of MIN_REASON_WORDS words."""
    unexplained = []
    for name, resource in tpl["Resources"].items():
        for skip in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip") or []:
            comment = str(skip.get("comment") or "")
            if not re.fullmatch(r"CKV2?_[A-Z]+_\d+", str(skip.get("id"))) or len(comment.split()) < MIN_REASON_WORDS:
                unexplained.append(f"{name}: {skip}")
    return unexplained


def test_every_checkov_skip_is_explained() -> None:
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    assert set(config) == {"skip-check"}, "only skips in .checkov.yaml; flags go on make security's command line"
    assert config["skip-check"], "no class-wide skips: drop .checkov.yaml from make security instead"
    assert unexplained_config_skips(CONFIG.read_text(encoding="utf-8")) == []
    assert unexplained_metadata_skips(load_template()) == []
    class_wide = set(config["skip-check"])
    for name, resource in load_template()["Resources"].items():
        for skip in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip") or []:
            assert skip["id"] not in class_wide, f"{name}: {skip['id']} is already skipped in .checkov.yaml"
    # Inline suppressions anywhere in the repository (not venvs or other hidden directories) need a reason too.
    for path in _repository_files():
        assert unexplained_inline_skips(path.read_text(encoding="utf-8", errors="replace")) == [], path


def _repository_files() -> list[Path]:
    found = []
    for root, dirs, files in os.walk(REPO):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
        found += [Path(root) / f for f in files if Path(f).suffix in {".yaml", ".yml", ".json", ".py", ".toml", ".md"}]
    assert REPO / "template.yaml" in found
    return found


def test_skip_checks_catch_unexplained_skips() -> None:
    config = """skip-check:
  # Lambda in a VPC: nothing private to reach, and NAT gateways cost money.
  - CKV_AWS_117
  - CKV_AWS_116
  # too short
  - CKV_AWS_115
  - CKV_AWS_173  # inline reasons count when they are a full sentence like this one
"""
    assert unexplained_config_skips(config) == ["CKV_AWS_116", "CKV_AWS_115"]
    tpl = {
        "Resources": {
            "A": {"Metadata": {"checkov": {"skip": [{"id": "CKV_AWS_18", "comment": "temporary"}]}}},
            "B": {"Metadata": {"checkov": {"skip": [{"id": "CKV_AWS_21"}]}}},
            "C": {"Metadata": {"checkov": {"skip": [{"id": "CKV_AWS_76", "comment": "one two three four five six "}]}}},
            "D": {"Metadata": {"checkov": {"skip": [{"id": "CKV_AWS_76", "comment": " ".join(["word"] * 8)}]}}},
        }
    }
    assert len(unexplained_metadata_skips(tpl)) == 3
    inline = "# checkov" + ":skip=CKV_AWS_18:temporary objects\n# checkov" + ":skip=CKV_AWS_21"
    assert unexplained_inline_skips(inline) == ["CKV_AWS_18", "CKV_AWS_21"]
    assert unexplained_inline_skips("# checkov" + ":skip=CKV_AWS_18:" + " ".join(["reason"] * 8)) == []


# --------------------------------------------------------------------------- running it


def checkov_cli() -> Path:
    configured = os.environ.get("CHECKOV")
    if configured:
        if not Path(configured).exists():
            pytest.fail(f"CHECKOV={configured} does not exist; run make install")
        return Path(configured)
    default = REPO / ".venv-checkov" / "bin" / "checkov"
    if not default.exists():
        pytest.skip("checkov's venv is absent (.venv-checkov); make test installs it and runs checkov")
    return default


def run_checkov(directory: Path) -> tuple[int, dict[str, Any]]:
    args = [a for a in checkov_arguments() if a != "--quiet"] + ["--output", "json"]
    result = run([str(checkov_cli()), *args], dict(os.environ), timeout=240, cwd=directory)
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov did not report JSON (rc {result.returncode}): {result.stdout[-2000:]}{result.stderr}")
    assert isinstance(report, dict), f"checkov scanned nothing or more than CloudFormation: {str(report)[:500]}"
    return result.returncode, report


def test_checkov_passes_on_the_template() -> None:
    returncode, report = run_checkov(REPO)
    summary = report["summary"]
    assert (summary["failed"], summary["parsing_errors"]) == (0, 0), report["results"]["failed_checks"]
    assert returncode == 0
    passed = {(c["check_id"], c["resource"]) for c in report["results"]["passed_checks"]}
    assert {c["file_path"] for c in report["results"]["passed_checks"]} == {"/template.yaml"}
    # It really read the template: every resource, and encryption and key policies among the checks.
    assert summary["resource_count"] == len(load_template()["Resources"])
    assert ("CKV_AWS_26", "AWS::SNS::Topic.IntegrationErrorsTopic") in passed
    assert ("CKV_AWS_33", "AWS::KMS::Key.TokenKey") in passed
    declared = {
        (skip["id"], f"{resource['Type']}.{name}")
        for name, resource in load_template()["Resources"].items()
        for skip in ((resource.get("Metadata") or {}).get("checkov") or {}).get("skip") or []
    }
    skipped = {(c["check_id"], c["resource"]) for c in report["results"]["skipped_checks"]}
    assert skipped == declared, "every Metadata skip names a check that applies to its resource"


def test_checkov_fails_on_a_planted_finding(tmp_path: Path) -> None:
    """An unencrypted topic (CKV_AWS_26) must fail the run, with the same configuration and skips."""
    text = TEMPLATE.read_text(encoding="utf-8")
    line = "      KmsMasterKeyId: !Ref IntegrationErrorsKey\n"
    assert text.count(line) == 1
    (tmp_path / "template.yaml").write_text(text.replace(line, ""), encoding="utf-8")
    shutil.copy(CONFIG, tmp_path / ".checkov.yaml")
    returncode, report = run_checkov(tmp_path)
    failed = {(c["check_id"], c["resource"]) for c in report["results"]["failed_checks"]}
    assert failed == {("CKV_AWS_26", "AWS::SNS::Topic.IntegrationErrorsTopic")}
    assert returncode != 0
