"""The template's state machines, run by moto's Step Functions interpreter with the local functions.

moto runs the real ASL (docs/decisions/0001-in-process-local-mode.md) but would start a Docker container for each
Lambda task, and it waits the real number of seconds in Wait states and between Retry attempts. Three patches make
it local: a Lambda task calls the in-process LocalFunction; a Wait waits `seconds / TIME_SCALE`; a Retry interval
likewise. Every wait asked for is recorded (unscaled) in `requested_waits`, so tests can read the schedule.
"""

from __future__ import annotations

import io
import json
import threading
import time
import traceback
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal
from unittest import mock

import boto3

from localmode.functions import LocalFunction
from localmode.resources import ACCOUNT_ID, REGION
from localmode.template import Resolver

_lock = threading.Lock()
_functions: dict[str, LocalFunction] = {}  # moto function name -> local function
_settings = {"time_scale": 1.0}
requested_waits: list[tuple[str, float]] = []  # ("wait" | "retry", seconds the ASL asked for)
_patches: list[Any] = []


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"


def _invoke_local(self: Any, event: Any = None) -> tuple[str, bool, str]:
    """Replaces moto's LambdaFunction._invoke_lambda (which would run Docker). Same payload shapes."""
    function = _functions.get(self.function_name)
    if function is None:
        return json.dumps({"errorType": "ResourceNotFoundException", "errorMessage": self.function_name}), True, ""
    payload = json.loads(event) if isinstance(event, str) else (event or {})
    try:
        return json.dumps(function.invoke(payload)), False, ""
    except Exception as exc:  # a function error, as Lambda reports it: the state machine's Retry/Catch decide
        error = {
            "errorType": type(exc).__name__,
            "errorMessage": str(exc),
            "stackTrace": traceback.format_tb(exc.__traceback__),
        }
        return json.dumps(error), True, ""


def _scaled_wait(self: Any, env: Any, wait_seconds: int) -> None:
    requested_waits.append(("wait", float(wait_seconds)))
    if wait_seconds > 0:
        env.program_state_event.wait(wait_seconds / _settings["time_scale"])  # set early when the execution is stopped


def _scaled_sleep(seconds: float) -> None:
    requested_waits.append(("retry", float(seconds)))
    time.sleep(seconds / _settings["time_scale"])


def install(functions: dict[str, LocalFunction], stack: str, time_scale: float) -> None:
    """Route moto's Lambda tasks to `functions` (named `<stack>-<logical id>`) and scale every wait."""
    from moto.awslambda.models import LambdaFunction
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    with _lock:
        _functions.clear()
        _functions.update({f"{stack}-{logical_id}": fn for logical_id, fn in functions.items()})
        _settings["time_scale"] = time_scale
        requested_waits.clear()
        if not _patches:
            for patch in (
                mock.patch.object(LambdaFunction, "_invoke_lambda", _invoke_local),
                mock.patch.object(WaitFunction, "_wait_interval", _scaled_wait),
                mock.patch.object(retrier_decl, "time", SimpleNamespace(sleep=_scaled_sleep, time=time.time)),
            ):
                patch.start()
                _patches.append(patch)


def set_time_scale(time_scale: float) -> None:
    """Change the scale of waits from now on (tests that need a horizon they can act inside)."""
    if time_scale <= 0:
        raise ValueError("TIME_SCALE must be positive")
    _settings["time_scale"] = time_scale


def _dummy_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "# the code runs in-process: localmode/stepfunctions.py\n")
    return buffer.getvalue()


def create_functions(functions: dict[str, LocalFunction], stack: str) -> None:
    """Register each function with moto's Lambda so a state machine can invoke it by ARN."""
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName=f"{stack}-local-functions", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = boto3.client("lambda", region_name=REGION)
    code = _dummy_zip()
    for logical_id, function in functions.items():
        lam.create_function(
            FunctionName=f"{stack}-{logical_id}",
            Runtime="python3.12",
            Role=role,
            Handler=function.handler,
            Code={"ZipFile": code},
            Timeout=function.timeout,
        )


def create_state_machines(template: dict[str, Any], resolver: Resolver, root: Path, stack: str) -> dict[str, str]:
    """Create every AWS::Serverless::StateMachine from its DefinitionUri; logical id -> ARN."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName=f"{stack}-local-states", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    created: dict[str, str] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource["Type"] != "AWS::Serverless::StateMachine":
            continue
        props = resource["Properties"]
        definition = (root / str(props["DefinitionUri"])).read_text(encoding="utf-8")
        for name, value in (props.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + name + "}", str(resolver.resolve(value)))
        name = str(resolver.resolve(props.get("Name", f"{stack}-{logical_id}")))
        kind: Literal["EXPRESS", "STANDARD"] = "EXPRESS" if props.get("Type") == "EXPRESS" else "STANDARD"
        arn = sfn.create_state_machine(name=name, definition=definition, roleArn=role, type=kind)["stateMachineArn"]
        resolver.set_resource(logical_id, arn, Arn=arn, Name=name)
        created[logical_id] = arn
    return created


def stop_executions(state_machine_arns: list[str]) -> None:
    """Stop what is still running (waits end at once), so no execution outlives its stack."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    for arn in state_machine_arns:
        for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=arn, statusFilter="RUNNING"):
            for execution in page["executions"]:
                sfn.stop_execution(executionArn=execution["executionArn"])
