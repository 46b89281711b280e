"""The operator CLI's parts that need no AWS: options and samconfig.toml, the outputs it reads exist in the template,
tables and times, and the calls it makes where moto has no implementation (SQS move tasks, Step Functions
redrive), checked against botocore's own API model with its Stubber."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from audience_sync_cli import queues, retries
from audience_sync_cli.main import main
from audience_sync_cli.render import expiry, table, when
from audience_sync_cli.stack import CliError, Stack, samconfig_defaults
from localmode.template import load_template

ROOT = Path(__file__).resolve().parents[3]
REGION = "us-east-1"
DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:audience-sync-SyncDeadLetterQueue"
SYNC_ARN = "arn:aws:sqs:us-east-1:123456789012:audience-sync-SyncQueue"
MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:audience-sync-retry"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:audience-sync-retry"
STACK = Stack(
    "audience-sync",
    "CREATE_COMPLETE",
    {
        "SyncQueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/audience-sync-SyncQueue",
        "SyncDeadLetterQueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/audience-sync-SyncDeadLetterQueue",
        "SyncDeadLetterQueueArn": DLQ_ARN,
        "RetryStateMachineArn": MACHINE,
    },
)


# ---- where the stack is --------------------------------------------------------------------------------------
def test_samconfig_gives_the_stack_and_region_sam_deploy_uses(tmp_path: Path) -> None:
    assert samconfig_defaults(ROOT / "samconfig.toml", "default") == {"stack_name": "audience-sync", "region": REGION}
    assert samconfig_defaults(ROOT / "samconfig.toml", "prod") == {"stack_name": "audience-sync-prod", "region": REGION}
    assert samconfig_defaults(tmp_path / "absent.toml", "default") == {}
    config = tmp_path / "samconfig.toml"
    config.write_text(
        'version = 0.1\n[default.global.parameters]\nstack_name = "g"\nregion = "eu-west-1"\n'
        '[default.deploy.parameters]\nstack_name = "d"\n'
    )
    assert samconfig_defaults(config, "default") == {"stack_name": "d", "region": "eu-west-1"}


def test_every_output_the_cli_reads_is_declared_in_the_template() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "audience_sync_cli").glob("*.py"))
    read = set(re.findall(r'output\("(\w+)"\)', source)) | set(re.findall(r'outputs\.get\("(\w+)"', source))
    assert {"StepsTableName", "MetricsTableName", "ConnectionsTableName", "SyncDeadLetterQueueArn"} <= read
    declared = set(load_template(ROOT / "template.yaml")["Outputs"])
    assert read - declared == set()


def test_a_stack_without_an_output_is_named_in_the_error() -> None:
    with pytest.raises(CliError, match="stack 'audience-sync' \\(CREATE_COMPLETE\\) has no output StepsTableName"):
        STACK.settings()


@pytest.mark.parametrize(
    "argv",
    [
        ["--local", "--profile", "admin", "steps"],
        ["--local", "--endpoint-url", "http://127.0.0.1:9", "steps"],
        ["retries", "redrive"],
        ["retries", "redrive", "exec-1", "--all-failed"],
        ["dlq", "redrive", "--max-messages", "0"],
        ["dlq", "redrive", "--method", "teleport"],
        ["step"],
        ["unknown-command"],
    ],
)
def test_bad_usage_exits_2_before_any_aws_call(argv: list[str]) -> None:
    err = io.StringIO()
    with pytest.raises(SystemExit) as exited, pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stderr", err)
        main(argv, stdout=io.StringIO(), stderr=err)
    assert exited.value.code == 2
    assert "usage: audience-sync" in err.getvalue()


# ---- rendering -------------------------------------------------------------------------------------------------
def test_tables_align_text_left_and_numbers_right() -> None:
    shown = table(["STEP", "SYNCED", "ERROR"], [["a", 5, None], ["long-step", 12, "audience_not_found"]])
    assert shown.splitlines() == [
        "STEP       SYNCED  ERROR",
        "a               5  -",
        "long-step      12  audience_not_found",
    ]
    assert table(["ID", "USABLE"], [["1", True], ["2", False]]) == "ID  USABLE\n1   yes\n2   no"
    assert table(["A"], []) == "A"


def test_times_are_utc_and_expiries_say_how_long() -> None:
    at = int(datetime(2027, 1, 31, 0, 44, 51, tzinfo=UTC).timestamp())
    assert when(at) == "2027-01-31T00:44:51Z"
    assert expiry(at, now=at - 59 * 86_400 - 10) == "2027-01-31T00:44:51Z (in 59 d)"
    assert expiry(at, now=at - 5 * 3_600) == "2027-01-31T00:44:51Z (in 5 h)"
    assert expiry(at, now=at - 30) == "2027-01-31T00:44:51Z (in 1 min)"
    assert expiry(at, now=at) == "2027-01-31T00:44:51Z (expired)"
    assert expiry(None, now=at) is None


# ---- the SQS move task ----------------------------------------------------------------------------------------
def _sqs_with_move_task(statuses: list[dict[str, Any]]) -> tuple[Any, Stubber]:
    sqs = boto3.client("sqs", region_name=REGION)
    stub = Stubber(sqs)
    stub.add_response(
        "get_queue_attributes",
        {"Attributes": {"QueueArn": SYNC_ARN}},
        {"QueueUrl": STACK.outputs["SyncQueueUrl"], "AttributeNames": ["QueueArn"]},
    )
    stub.add_response(
        "start_message_move_task", {"TaskHandle": "handle-1"}, {"SourceArn": DLQ_ARN, "DestinationArn": SYNC_ARN}
    )
    for task in statuses:
        stub.add_response(
            "list_message_move_tasks",
            {"Results": [{"TaskHandle": "handle-1", "SourceArn": DLQ_ARN, **task}]},
            {"SourceArn": DLQ_ARN, "MaxResults": 1},
        )
    return sqs, stub


def test_redrive_starts_a_move_task_from_the_dlq_to_the_sync_queue_and_can_wait_for_it() -> None:
    running = {"Status": "RUNNING", "ApproximateNumberOfMessagesToMove": 3, "ApproximateNumberOfMessagesMoved": 1}
    done = {"Status": "COMPLETED", "ApproximateNumberOfMessagesToMove": 3, "ApproximateNumberOfMessagesMoved": 3}
    sqs, stub = _sqs_with_move_task([running, running, done])
    sleeps: list[float] = []
    with stub:
        report = queues.redrive_with_move_task(sqs, STACK, wait=True, sleep=sleeps.append)
    stub.assert_no_pending_responses()
    assert sleeps == [2.0, 2.0]
    assert report.exit_code == 0
    assert report.data == {
        "method": "move-task",
        "task_handle": "handle-1",
        "status": "COMPLETED",
        "to_move": 3,
        "moved": 3,
        "failure_reason": None,
    }
    assert report.text == "SQS move task COMPLETED: 3 of ~3 message(s) moved from SyncDeadLetterQueue to SyncQueue."


def never_sleeps(seconds: float) -> None:
    pytest.fail(f"slept {seconds} s")


def test_redrive_without_wait_says_the_task_goes_on() -> None:
    sqs, stub = _sqs_with_move_task([{"Status": "RUNNING", "ApproximateNumberOfMessagesToMove": 7}])
    with stub:
        report = queues.redrive_with_move_task(sqs, STACK, wait=False, sleep=never_sleeps)
    assert report.exit_code == 0
    assert "SQS move task RUNNING: 0 of ~7" in report.text
    assert "It continues on AWS" in report.text


def test_a_failed_move_task_exits_1_with_its_reason() -> None:
    failed = {"Status": "FAILED", "FailureReason": "AWS.SimpleQueueService.NonExistentQueue"}
    sqs, stub = _sqs_with_move_task([failed])
    with stub:
        report = queues.redrive_with_move_task(sqs, STACK, wait=True, sleep=never_sleeps)
    assert report.exit_code == 1
    assert "ended FAILED: AWS.SimpleQueueService.NonExistentQueue" in report.text


# ---- failed retry executions ----------------------------------------------------------------------------------
def _execution(name: str, redrives: int = 0) -> dict[str, Any]:
    return {
        "executionArn": f"{EXECUTION}:{name}",
        "stateMachineArn": MACHINE,
        "name": name,
        "status": "FAILED",
        "startDate": datetime(2026, 12, 1, 8, 0, tzinfo=UTC),
        "stopDate": datetime(2026, 12, 1, 8, 20, tzinfo=UTC),
        "redriveCount": redrives,
    }


def _sfn_listing(*names: str) -> tuple[Any, Stubber]:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    stub = Stubber(sfn)
    stub.add_response(
        "list_executions",
        {"executions": [_execution(n) for n in names]},
        {"stateMachineArn": MACHINE, "statusFilter": "FAILED"},
    )
    return sfn, stub


def test_failed_retry_executions_are_listed() -> None:
    sfn, stub = _sfn_listing("batch-a", "batch-b")
    with stub:
        report = retries.list_failed(sfn, STACK)
    assert report.data["failed_executions"][0] == {
        "name": "batch-a",
        "execution_arn": f"{EXECUTION}:batch-a",
        "started": "2026-12-01T08:00:00Z",
        "stopped": "2026-12-01T08:20:00Z",
        "redrive_count": 0,
    }
    assert report.text.splitlines()[:3] == [
        "EXECUTION  STARTED               STOPPED               REDRIVES",
        "batch-a    2026-12-01T08:00:00Z  2026-12-01T08:20:00Z         0",
        "batch-b    2026-12-01T08:00:00Z  2026-12-01T08:20:00Z         0",
    ]


def test_redrive_all_failed_executions_reports_each_and_exits_1_if_one_is_refused() -> None:
    sfn, stub = _sfn_listing("batch-a", "batch-b")
    stub.add_response(
        "redrive_execution",
        {"redriveDate": datetime(2026, 12, 2, 9, 0, tzinfo=UTC)},
        {"executionArn": f"{EXECUTION}:batch-a"},
    )
    stub.add_client_error(
        "redrive_execution",
        service_error_code="ExecutionNotRedrivable",
        service_message="redrive limit reached",
        expected_params={"executionArn": f"{EXECUTION}:batch-b"},
    )
    with stub:
        report = retries.redrive(sfn, STACK, [], all_failed=True)
    stub.assert_no_pending_responses()
    assert report.exit_code == 1
    assert report.data["redriven"] == [
        {"execution_arn": f"{EXECUTION}:batch-a", "redriven": True, "redrive_date": "2026-12-02T09:00:00Z"},
        {
            "execution_arn": f"{EXECUTION}:batch-b",
            "redriven": False,
            "error": "ExecutionNotRedrivable: redrive limit reached",
        },
    ]
    assert "batch-b    ExecutionNotRedrivable: redrive limit reached" in report.text


def test_executions_are_named_or_given_by_arn_of_the_retry_machine_only() -> None:
    assert retries.execution_arn(MACHINE, "batch-a") == f"{EXECUTION}:batch-a"
    assert retries.execution_arn(MACHINE, f"{EXECUTION}:batch-a") == f"{EXECUTION}:batch-a"
    with pytest.raises(CliError, match="not an execution of the retry state machine"):
        retries.execution_arn(MACHINE, "arn:aws:states:us-east-1:123456789012:execution:other-machine:x")


def test_metrics_show_left_and_removed_once_a_step_has_had_removals() -> None:
    from audience_sync_cli.status import _metrics_section

    plain = ("webhook", {"entered": 3, "synced": 3})
    leaving = ("follower", {"entered": 2, "synced": 2, "left": 1, "removed": 1})
    assert "LEFT" not in _metrics_section([plain], with_step=True)
    both = _metrics_section([plain, leaving], with_step=True).splitlines()
    header = both[1].split()
    assert header[-2:] == ["LEFT", "REMOVED"]
    assert both[2].split()[-2:] == ["0", "0"] and both[3].split()[-2:] == ["1", "1"]
