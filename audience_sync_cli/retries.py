"""Failed executions of the retry state machine, and redriving them (Step Functions RedriveExecution).

An execution fails when the retry function keeps failing (docs/pipeline.md, "When something is stuck"). Its users
stay in their S3 batch, and a redrive runs it again from the failed state (docs/operations.md, "Retry executions");
an attempt already counted is never counted again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from audience_sync_cli.render import Report, table
from audience_sync_cli.stack import CliError, Stack


def failed_executions(sfn: Any, state_machine_arn: str) -> list[dict[str, Any]]:
    executions: list[dict[str, Any]] = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn, statusFilter="FAILED"):
        executions += [_execution(e) for e in page.get("executions", [])]
    return executions


def _execution(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": item["name"],
        "execution_arn": item["executionArn"],
        "started": _iso(item.get("startDate")),
        "stopped": _iso(item.get("stopDate")),
        "redrive_count": int(item.get("redriveCount", 0)),
    }


def _iso(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def list_failed(sfn: Any, stack: Stack) -> Report:
    executions = failed_executions(sfn, stack.output("RetryStateMachineArn"))
    if not executions:
        return Report({"failed_executions": []}, "No failed retry executions.")
    rows = [[e["name"], e["started"], e["stopped"], e["redrive_count"]] for e in executions]
    text = table(["EXECUTION", "STARTED", "STOPPED", "REDRIVES"], rows)
    text += "\n\nFix the cause, then: audience-sync retries redrive --all-failed (or name executions)"
    return Report({"failed_executions": executions}, text)


def redrive(sfn: Any, stack: Stack, names: list[str], all_failed: bool) -> Report:
    state_machine_arn = stack.output("RetryStateMachineArn")
    if all_failed:
        arns = [e["execution_arn"] for e in failed_executions(sfn, state_machine_arn)]
    else:
        arns = [execution_arn(state_machine_arn, name) for name in names]
    results: list[dict[str, Any]] = []
    for arn in arns:
        try:
            answer = sfn.redrive_execution(executionArn=arn)
            results.append({"execution_arn": arn, "redriven": True, "redrive_date": _iso(answer.get("redriveDate"))})
        except ClientError as exc:
            error = exc.response["Error"]
            reason = f"{error.get('Code')}: {error.get('Message')}"
            results.append({"execution_arn": arn, "redriven": False, "error": reason})
    if not results:
        return Report({"redriven": []}, "No failed retry executions to redrive.")
    rows = [[r["execution_arn"].rsplit(":", 1)[-1], "redriven" if r["redriven"] else r["error"]] for r in results]
    failed = [r for r in results if not r["redriven"]]
    return Report({"redriven": results}, table(["EXECUTION", "RESULT"], rows), exit_code=1 if failed else 0)


def execution_arn(state_machine_arn: str, name_or_arn: str) -> str:
    """An execution of the retry state machine, given by name or ARN (an ARN of another machine is refused)."""
    prefix = state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":"
    if not name_or_arn.startswith("arn:"):
        return prefix + name_or_arn
    if not name_or_arn.startswith(prefix):
        raise CliError(f"{name_or_arn} is not an execution of the retry state machine {state_machine_arn}")
    return name_or_arn
