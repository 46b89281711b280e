"""`audience-sync`: operator commands for a deployed stack (or local mode)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from audience_sync.adapters.aws import clients
from audience_sync_cli import queues, retries, status
from audience_sync_cli.render import Report
from audience_sync_cli.stack import (
    DEFAULT_STACK_NAME,
    LOCAL_REGION,
    SAMCONFIG,
    CliError,
    Stack,
    load_stack,
    local_endpoint,
    samconfig_defaults,
    use_aws,
)

PROG = "audience-sync"
EPILOG = """\
The stack's resources are read from its CloudFormation outputs. Nothing here decrypts or prints a token.
Exit codes: 0 done; 1 an error (unknown stack or step, AWS refused, a redrive left messages behind); 2 bad usage.
"""
_GLOBAL_DEFAULTS: dict[str, Any] = {
    "stack_name": None,
    "region": None,
    "profile": None,
    "endpoint_url": None,
    "local": False,
    "config_env": "default",
    "json": False,
}


def _global_options() -> argparse.ArgumentParser:
    # SUPPRESS lets the options go before or after the command without one position resetting the other.
    options = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    group = options.add_argument_group("stack")
    group.add_argument("--stack-name", help="CloudFormation stack (default: samconfig.toml's, else audience-sync)")
    group.add_argument("--region", help="AWS region (default: samconfig.toml's, else your AWS configuration's)")
    group.add_argument("--profile", help="AWS profile")
    group.add_argument("--config-env", help="samconfig.toml environment to read defaults from (default: default)")
    group.add_argument("--endpoint-url", help="AWS endpoint, e.g. an emulator's")
    group.add_argument(
        "--local",
        action="store_true",
        help="talk to `make run` on 127.0.0.1:$PORT (default 3000) with placeholder credentials",
    )
    options.add_argument("--json", action="store_true", help="print JSON instead of tables")
    return options


def parser() -> argparse.ArgumentParser:
    common = _global_options()
    root = argparse.ArgumentParser(
        prog=PROG,
        description="Operator commands for an audience-sync stack: status, metrics, dead-letter queue and retries.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("connection", parents=[common], help="LinkedIn connection: status, ad accounts, expiry")
    commands.add_parser("steps", parents=[common], help="every step: status, audience id, error")
    one = commands.add_parser("step", parents=[common], help="one step in detail, with its metrics")
    one.add_argument("step_id")
    metrics = commands.add_parser("metrics", parents=[common], help="metrics per step, with reasons")
    metrics.add_argument("step_id", nargs="?", help="one step (default: every step)")

    dlq = commands.add_parser("dlq", parents=[common], help="dead-letter queue: depth (default), redrive")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", metavar="{status,redrive}")
    dlq_commands.add_parser("status", parents=[common], help="messages in the DLQ and in SyncQueue")
    redrive = dlq_commands.add_parser("redrive", parents=[common], help="move the DLQ's messages back to SyncQueue")
    redrive.add_argument(
        "--method",
        choices=["move-task", "copy"],
        help="move-task: SQS StartMessageMoveTask (default on AWS); "
        "copy: receive, send, then delete (default with --local or --endpoint-url)",
    )
    redrive.add_argument("--max-messages", type=int, help="copy: move at most this many (default: the DLQ's depth)")
    redrive.add_argument("--wait", action="store_true", help="move-task: wait until the task ends")

    retry = commands.add_parser("retries", parents=[common], help="failed retry executions: list (default), redrive")
    retry_commands = retry.add_subparsers(dest="retries_command", metavar="{list,redrive}")
    retry_commands.add_parser("list", parents=[common], help="failed executions of the retry state machine")
    again = retry_commands.add_parser("redrive", parents=[common], help="redrive failed executions")
    again.add_argument("executions", nargs="*", metavar="EXECUTION", help="execution names or ARNs")
    again.add_argument("--all-failed", action="store_true", help="every failed execution")
    return root


def main(
    argv: Sequence[str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    now: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    root = parser()
    args = root.parse_args(argv)
    for name, default in _GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)
    _check_usage(root, args)
    try:
        stack_name, region = _target(args)
        endpoint = local_endpoint() if args.local else args.endpoint_url
        use_aws(args.profile, region, endpoint, args.local)
        report = _run(args, load_stack(stack_name), now, sleep, emulated=endpoint is not None)
    except CliError as exc:
        print(f"{PROG}: error: {exc}", file=err)
        return exc.exit_code
    except ClientError as exc:
        print(f"{PROG}: error: {_aws_error(exc)}", file=err)
        return 1
    except NotImplementedError as exc:  # moto, in-process
        print(f"{PROG}: error: the AWS emulator does not implement this call ({exc})", file=err)
        return 1
    except BotoCoreError as exc:  # no credentials or region, endpoint unreachable, unknown profile
        print(f"{PROG}: error: {exc}", file=err)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=err)
        return 130
    print(json.dumps(report.data, indent=2) if args.json else report.text, file=out)
    return report.exit_code


def _aws_error(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    if (
        exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (500, 501)
        and "<html" in str(error.get("Message", "")).lower()
    ):
        return f"the endpoint failed {exc.operation_name} with HTTP 500 (an emulator such as moto may not implement it)"
    return f"AWS answered {error.get('Code')} to {exc.operation_name}: {error.get('Message')}"


def _check_usage(root: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.local and (args.endpoint_url or args.profile):
        root.error("--local sets the endpoint and credentials; leave out --endpoint-url and --profile")
    if getattr(args, "retries_command", None) == "redrive" and bool(args.executions) == bool(args.all_failed):
        root.error("retries redrive: name executions or pass --all-failed (not both)")
    if getattr(args, "max_messages", None) is not None and args.max_messages < 1:
        root.error("--max-messages must be at least 1")


def _target(args: argparse.Namespace) -> tuple[str, str | None]:
    defaults = samconfig_defaults(SAMCONFIG, args.config_env)
    stack_name = args.stack_name or defaults.get("stack_name") or DEFAULT_STACK_NAME
    region = args.region or (LOCAL_REGION if args.local else defaults.get("region"))
    return stack_name, region


def _run(
    args: argparse.Namespace, stack: Stack, now: Callable[[], float], sleep: Callable[[float], None], emulated: bool
) -> Report:
    commands: dict[str, Callable[[], Report]] = {
        "connection": lambda: status.connection(stack, now()),
        "steps": lambda: status.steps(stack),
        "step": lambda: status.step(stack, args.step_id),
        "metrics": lambda: status.metrics(stack, args.step_id),
        "dlq": lambda: _dlq(args, stack, sleep, emulated),
        "retries": lambda: _retries(args, stack),
    }
    return commands[args.command]()


def _dlq(args: argparse.Namespace, stack: Stack, sleep: Callable[[float], None], emulated: bool) -> Report:
    sqs = clients.sqs()
    if args.dlq_command != "redrive":
        return queues.status(sqs, stack)
    method = args.method or ("copy" if emulated else "move-task")
    if method == "copy":
        return queues.redrive_by_copy(sqs, stack, args.max_messages)
    return queues.redrive_with_move_task(sqs, stack, args.wait, sleep)


def _retries(args: argparse.Namespace, stack: Stack) -> Report:
    sfn = clients.stepfunctions()
    if args.retries_command == "redrive":
        return retries.redrive(sfn, stack, args.executions, args.all_failed)
    return retries.list_failed(sfn, stack)


def run() -> None:
    """The console entry point."""
    sys.exit(main())
