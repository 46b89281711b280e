"""Builds the stack from template.yaml inside an active moto mock: resources, functions, environment.

Local mode and the tests share this, so both run exactly what the template declares.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localmode import moto_threadsafe, stepfunctions
from localmode.api_gateway import ApiGateway, local_api_id, rest_apis
from localmode.functions import LocalFunction, global_environment, layer_paths, load_functions
from localmode.processes import ROOT
from localmode.resources import ACCOUNT_ID, REGION, create_resources
from localmode.template import Resolver, load_template

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


@dataclass
class Stack:
    template: dict[str, Any]
    resolver: Resolver
    functions: dict[str, LocalFunction]
    api_ids: list[str]  # every AWS::Serverless::Api, served on one port
    state_machines: dict[str, str]  # logical id -> ARN

    def stop(self) -> None:
        """Stop running executions (their waits end at once) before the emulated account goes away."""
        stepfunctions.stop_executions(list(self.state_machines.values()))

    def ref(self, logical_id: str) -> str:
        return self.resolver.values[logical_id]

    def gateway(self, api_key: str) -> ApiGateway:
        return ApiGateway(self.template, self.functions, api_key)

    def api_urls(self, base_url: str) -> dict[str, str]:
        """Each API's URL on AWS as the template writes it (https://<id>.execute-api.<region>.amazonaws.com/<stage>)
        -> the local base URL that serves it."""
        apis = rest_apis(self.template)
        return {
            f"https://{local_api_id(api_id)}.execute-api.{REGION}.amazonaws.com/{apis[api_id].stage}": base_url
            for api_id in self.api_ids
        }


def _environments(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The Globals' variables, then each function's own."""
    found = [(((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get("Variables") or {}]
    for resource in template.get("Resources", {}).values():
        if resource["Type"] == "AWS::Serverless::Function":
            found.append(((resource.get("Properties", {}).get("Environment") or {}).get("Variables")) or {})
    return found


def template_parameters(template: dict[str, Any], overrides: dict[str, str]) -> dict[str, str]:
    """Template defaults; then any env var a function reads (Globals' or its own) that is a !Ref to a parameter and
    is set in local mode's environment (PROFILE_WRITE_GROUPS=4 make run); then overrides."""
    params = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}
    for variables in _environments(template):
        for variable, value in variables.items():
            if isinstance(value, dict) and value.get("Ref") in params and variable in os.environ:
                params[value["Ref"]] = os.environ[variable]
    params.update(overrides)
    return params


# moto must run state machines (it only records them by default).
MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}}


def provision(
    overrides: dict[str, str],
    extra_env: dict[str, str],
    root: Path = ROOT,
    stack_name: str = "audience-sync",
    time_scale: float = 1.0,
) -> Stack:
    """Create the template's resources in the (already started) moto mock, with MOTO_CONFIG, and export the
    functions' environment. State machine waits and retries are divided by `time_scale`."""
    template = load_template(root / "template.yaml")
    moto_threadsafe.install()
    os.environ.update(AWS_ENV)
    for path in layer_paths(template, root):  # what Lambda puts on sys.path from the layers
        if str(path) not in sys.path:
            sys.path.insert(0, str(path))
    from audience_sync.adapters.aws import clients

    clients.reset()
    resolver = Resolver(
        template_parameters(template, overrides),
        {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT_ID, "AWS::Partition": "aws", "AWS::StackName": stack_name},
        template.get("Conditions"),
    )
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            name = f"{stack_name}-{logical_id}"
            resolver.set_resource(logical_id, name, Arn=stepfunctions.function_arn(name))
    create_resources(template, resolver, stack_name)
    api_ids = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Api"]
    for api_id in api_ids:
        resolver.set_resource(api_id, local_api_id(api_id))
    functions = load_functions(template, root, resolver)
    stepfunctions.create_functions(functions, stack_name)
    state_machines = stepfunctions.create_state_machines(template, resolver, root, stack_name)
    stepfunctions.install(functions, stack_name, time_scale)
    # Only what every function has goes into the process's environment (Powertools reads it there); each function
    # sees its own whole environment while it runs (localmode/functions.py).
    os.environ.update(global_environment(template, resolver))
    os.environ.update(extra_env)
    for function in functions.values():
        function.environment.update(extra_env)
    return Stack(template, resolver, functions, api_ids, state_machines)
