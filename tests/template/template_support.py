"""Helpers shared by the template tests: template.yaml parsed with CloudFormation tags, and ways to walk it."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short tags (!Ref, !GetAtt, !Sub, ...) into their long form."""


def _construct_cfn_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_cfn_tag)


@cache
def load_template() -> dict[str, Any]:
    """template.yaml, parsed once per test session. Treat it as read-only."""
    return yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass


def resources_of_type(tpl: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in tpl["Resources"].items() if res.get("Type") == rtype}


def functions(tpl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources_of_type(tpl, "AWS::Serverless::Function")


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def referenced_names(node: Any) -> set[str]:
    """Logical ids named by Ref, Fn::GetAtt or ${...} in Fn::Sub anywhere below node."""
    names: set[str] = set()
    for item in walk(node):
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("Ref"), str):
            names.add(item["Ref"])
        getatt = item.get("Fn::GetAtt")
        if isinstance(getatt, list) and getatt:
            names.add(str(getatt[0]))
        sub = item.get("Fn::Sub")
        text = sub[0] if isinstance(sub, list) and sub else sub
        if isinstance(text, str):
            names.update(m.split(".", 1)[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
    return names


def policy_statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every statement of every policy document below node."""
    for item in walk(node):
        if isinstance(item, dict) and isinstance(item.get("Statement"), list | dict):
            statements = item["Statement"] if isinstance(item["Statement"], list) else [item["Statement"]]
            yield from (s for s in statements if isinstance(s, dict))


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


# --------------------------------------------------------------------------- SAM CLI


def sam_cli() -> Path:
    sam = Path(os.environ.get("SAM_CLI") or REPO / ".venv-sam" / "bin" / "sam")
    if not sam.exists():
        pytest.fail(f"SAM CLI not found at {sam}; install it (.venv-sam) or point SAM_CLI at it")
    return sam


def sam_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(SAM_CLI_TELEMETRY="0", AWS_DEFAULT_REGION="us-east-1", **extra)
    return env


def run(cmd: list[str], env: dict[str, str], timeout: int, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


_TRANSLATE = """
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse
tpl = yaml_parse(open(sys.argv[1]).read())
for res in tpl["Resources"].values():  # the translator wants S3 URIs; sam build/package normally does this
    props = res.get("Properties", {})
    for key in ("CodeUri", "ContentUri", "DefinitionUri"):
        if isinstance(props.get(key), str):
            props[key] = "s3://bucket/key.zip"
class Policies:
    def load(self):
        return {}
out = transform(tpl, {"LinkedInClientId": "id", "LinkedInClientSecret": "secret"}, Policies())
print(json.dumps(out))
"""


@cache
def translated_template() -> dict[str, Any]:
    """template.yaml after the SAM transform (what CloudFormation deploys), from the SAM CLI's own translator."""
    sam_python = sam_cli().parent / "python"
    assert sam_python.exists(), f"no python next to the SAM CLI at {sam_python}"
    result = run([str(sam_python), "-c", _TRANSLATE, str(TEMPLATE)], sam_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    translated: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return translated
