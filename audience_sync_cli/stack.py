"""Where the deployed stack is: samconfig.toml's defaults, the AWS session, and the stack's outputs."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from audience_sync.adapters.aws import clients
from audience_sync.composition.container import Container
from audience_sync.settings import Resources, Settings

DEFAULT_STACK_NAME = "audience-sync"
SAMCONFIG = Path("samconfig.toml")
# `make run` serves moto's API on its own port under this prefix (localmode/aws_endpoint.py).
LOCAL_AWS_PATH = "/_aws"
LOCAL_REGION = "us-east-1"


class CliError(Exception):
    """A problem the operator can act on: printed as one line on stderr, no traceback."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


def samconfig_defaults(path: Path, config_env: str) -> dict[str, str]:
    """`stack_name` and `region` as `sam deploy` reads them: the deploy command's table, then the global one."""
    if not path.is_file():
        return {}
    with path.open("rb") as file:
        config: dict[str, Any] = tomllib.load(file)
    env = config.get(config_env) or {}
    found: dict[str, str] = {}
    for command in ("global", "deploy"):  # deploy's own values win
        parameters = (env.get(command) or {}).get("parameters") or {}
        found.update({k: str(parameters[k]) for k in ("stack_name", "region") if k in parameters})
    return found


def local_endpoint(port: str | None = None) -> str:
    return f"http://127.0.0.1:{port or os.environ.get('PORT', '3000')}{LOCAL_AWS_PATH}"


def use_aws(profile: str | None, region: str | None, endpoint_url: str | None, local: bool) -> None:
    """Point boto3's default session, which the domain's repositories use, at the stack's account and region.

    An endpoint is given through AWS_ENDPOINT_URL because that is the only way boto3 applies one to every client
    of a session. Local mode gets fixed placeholder credentials: an operator's real ones never go to the emulator.
    """
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url
    if local:
        for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(variable, None)
        os.environ.update(AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local")  # noqa: S106 - a placeholder
    boto3.setup_default_session(profile_name=profile, region_name=region)
    clients.reset()


def current_region() -> str:
    return str(boto3.DEFAULT_SESSION.region_name if boto3.DEFAULT_SESSION else None)


@dataclass(frozen=True)
class Stack:
    name: str
    status: str
    outputs: dict[str, str]

    def output(self, key: str) -> str:
        if key not in self.outputs:
            raise CliError(
                f"stack '{self.name}' ({self.status}) has no output {key}: "
                "is it an audience-sync stack (template.yaml)?"
            )
        return self.outputs[key]

    def settings(self) -> Settings:
        """The resources the CLI reads, from the stack's outputs. No destination settings, tuning or secrets: nothing
        the CLI runs reads them."""
        return Settings(
            resources=Resources(
                steps_table=self.output("StepsTableName"),
                metrics_table=self.output("MetricsTableName"),
                connections_table=self.output("ConnectionsTableName"),
                rate_limit_table=self.outputs.get("RateLimitTableName", ""),
                sync_queue_url=self.output("SyncQueueUrl"),
                ledger_table=self.outputs.get("LedgerTableName", ""),
                retry_bucket=self.outputs.get("RetryBucketName", ""),
                retry_state_machine_arn=self.outputs.get("RetryStateMachineArn", ""),
            )
        )

    def container(self) -> Container:
        """The platform's services over this stack (composition/container.py), as the handlers build them."""
        return Container(self.settings())


def load_stack(name: str) -> Stack:
    try:
        stacks = clients.cloudformation().describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        error = exc.response["Error"]
        if error.get("Code") == "ValidationError" and "does not exist" in error.get("Message", ""):
            raise CliError(
                f"stack '{name}' not found in region {current_region()} (see --stack-name, --region, --profile)"
            ) from exc
        raise
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    return Stack(name, str(stacks[0].get("StackStatus", "")), outputs)
