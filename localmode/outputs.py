"""The template's Outputs, resolved against the emulated resources and published as a CloudFormation stack of the
emulated account, so tools that find a deployed stack through its outputs (the operator CLI) work unchanged.

The published stack holds one no-op resource: the resources themselves are created by provision.py.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import boto3

from localmode.resources import REGION
from localmode.template import Resolver, UnresolvedReference


def resolved_outputs(template: dict[str, Any], resolver: Resolver) -> dict[str, dict[str, str]]:
    """Each output local mode can resolve (not, for example, the API key's id: local mode has no API key resource)."""
    outputs: dict[str, dict[str, str]] = {}
    for name, output in (template.get("Outputs") or {}).items():
        try:
            value = resolver.resolve(output["Value"])
        except UnresolvedReference:
            continue
        outputs[name] = {"Value": str(value), "Description": str(output.get("Description", ""))}
    return outputs


def publish_outputs(
    template: dict[str, Any], resolver: Resolver, stack_name: str, api_urls: dict[str, str] | None = None
) -> dict[str, str]:
    """Publish the outputs; a value under an API's AWS URL (`api_urls`: AWS URL -> local base URL, Stack.api_urls)
    points at local mode instead (ApiUrl, OAuthCallbackUrl, and any API added later)."""
    outputs = resolved_outputs(template, resolver)
    for output in outputs.values():
        for aws_url, local_url in (api_urls or {}).items():
            if output["Value"].startswith(aws_url):
                output["Value"] = local_url + output["Value"][len(aws_url) :]
    body = {
        "Description": "audience-sync local mode: the outputs of template.yaml, resolved in the emulated account",
        "Resources": {"LocalMode": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": outputs,
    }
    with warnings.catch_warnings():  # moto creates nothing for the no-op resource, and says so
        warnings.simplefilter("ignore", UserWarning)
        boto3.client("cloudformation", region_name=REGION).create_stack(
            StackName=stack_name, TemplateBody=json.dumps(body)
        )
    return {name: output["Value"] for name, output in outputs.items()}
