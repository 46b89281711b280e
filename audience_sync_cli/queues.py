"""The dead-letter queue: its depth, and moving its messages back to SyncQueue (redrive).

Two ways to redrive:
- `move-task` (AWS): SQS's own message move task (StartMessageMoveTask) moves the messages server-side.
- `copy` (emulators such as moto, which lack the move task; local mode): the CLI receives a message, sends its
  body and attributes to SyncQueue, and deletes it from the DLQ only once that send succeeded. A message is never
  lost. A message whose send failed stays in the DLQ. One whose delete failed is in both queues; the ledger
  counts it once (its `chunk_id` is in the body).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from audience_sync_cli.render import Report, table
from audience_sync_cli.stack import CliError, Stack

_DEPTH = {
    "ApproximateNumberOfMessages": "visible",
    "ApproximateNumberOfMessagesNotVisible": "in_flight",
    "ApproximateNumberOfMessagesDelayed": "delayed",
}
# Long enough that a message being copied does not come back mid-run; short enough that an interrupted run's
# message is soon visible in the DLQ again.
COPY_VISIBILITY_SECONDS = 300
_MOVE_TASK_POLL_SECONDS = 2.0
_RUNNING = ("RUNNING", "CANCELLING")
_ATTRIBUTE_KEYS = ("DataType", "StringValue", "BinaryValue")
_NO_MOVE_TASK = "this endpoint does not implement StartMessageMoveTask (moto, local mode): use --method copy"


def depth(sqs: Any, queue_url: str) -> dict[str, int]:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=list(_DEPTH))["Attributes"]
    return {name: int(attributes.get(attribute, 0)) for attribute, name in _DEPTH.items()}


def status(sqs: Any, stack: Stack) -> Report:
    queues = {
        "dead_letter_queue": depth(sqs, stack.output("SyncDeadLetterQueueUrl")),
        "sync_queue": depth(sqs, stack.output("SyncQueueUrl")),
    }
    rows = [
        [label, d["visible"], d["in_flight"], d["delayed"]]
        for label, d in (("SyncDeadLetterQueue", queues["dead_letter_queue"]), ("SyncQueue", queues["sync_queue"]))
    ]
    text = table(["QUEUE", "VISIBLE", "IN FLIGHT", "DELAYED"], rows)
    waiting = queues["dead_letter_queue"]["visible"] + queues["dead_letter_queue"]["in_flight"]
    if waiting:
        text += (
            f"\n\n{waiting} message(s) in the DLQ: their users and counts are not recorded yet."
            "\nFix the cause, then: audience-sync dlq redrive"
        )
    return Report(queues, text)


def redrive_with_move_task(sqs: Any, stack: Stack, wait: bool, sleep: Callable[[float], None]) -> Report:
    source_arn = stack.output("SyncDeadLetterQueueArn")
    destination_arn = sqs.get_queue_attributes(QueueUrl=stack.output("SyncQueueUrl"), AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    try:
        handle = sqs.start_message_move_task(SourceArn=source_arn, DestinationArn=destination_arn)["TaskHandle"]
    except NotImplementedError as exc:  # moto in-process
        raise CliError(_NO_MOVE_TASK) from exc
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (500, 501):  # moto's server
            raise CliError(_NO_MOVE_TASK) from exc
        raise
    task = _move_task(sqs, source_arn)
    while wait and task.get("Status") in _RUNNING:
        sleep(_MOVE_TASK_POLL_SECONDS)
        task = _move_task(sqs, source_arn)
    data = {
        "method": "move-task",
        "task_handle": handle,
        "status": task.get("Status"),
        "to_move": task.get("ApproximateNumberOfMessagesToMove"),
        "moved": task.get("ApproximateNumberOfMessagesMoved"),
        "failure_reason": task.get("FailureReason"),
    }
    text = (
        f"SQS move task {data['status']}: {data['moved'] or 0} of ~{data['to_move'] or 0} message(s) moved "
        "from SyncDeadLetterQueue to SyncQueue."
    )
    if data["status"] in _RUNNING:
        text += "\nIt continues on AWS; follow it with: audience-sync dlq (or pass --wait)"
    failed = data["status"] in ("FAILED", "CANCELLED")
    if failed:
        text += f"\nThe task ended {data['status']}: {data['failure_reason'] or 'no reason given'}"
    return Report(data, text, exit_code=1 if failed else 0)


def _move_task(sqs: Any, source_arn: str) -> dict[str, Any]:
    results: list[dict[str, Any]] = sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=1).get("Results", [])
    return results[0] if results else {}


def redrive_by_copy(sqs: Any, stack: Stack, max_messages: int | None, wait_seconds: int = 1) -> Report:
    """Move up to `max_messages` (default: the DLQ's depth when the run starts, so messages that fail again and
    come back during the run are not moved twice) from the DLQ to SyncQueue."""
    source = stack.output("SyncDeadLetterQueueUrl")
    destination = stack.output("SyncQueueUrl")
    limit = depth(sqs, source)["visible"] if max_messages is None else max_messages
    moved = 0
    not_deleted: list[str] = []
    failure: str | None = None
    while moved < limit and failure is None:
        received: list[dict[str, Any]] = sqs.receive_message(
            QueueUrl=source,
            MaxNumberOfMessages=min(10, limit - moved),
            VisibilityTimeout=COPY_VISIBILITY_SECONDS,
            WaitTimeSeconds=wait_seconds,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            break
        for index, message in enumerate(received):
            try:
                sqs.send_message(**_copy(destination, message))
            except (ClientError, BotoCoreError) as exc:
                failure = f"could not send message {message['MessageId']} to SyncQueue: {exc}"
                _release(sqs, source, received[index:])
                break
            moved += 1
            try:
                sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
            except (ClientError, BotoCoreError):
                not_deleted.append(message["MessageId"])
    data: dict[str, Any] = {
        "method": "copy",
        "moved": moved,
        "not_deleted": not_deleted,
        "failure": failure,
        "dead_letter_queue": depth(sqs, source),
    }
    lines = [f"Moved {moved} message(s) from SyncDeadLetterQueue to SyncQueue (copy)."]
    if not_deleted:
        lines.append(
            f"{len(not_deleted)} of them could not be deleted from the DLQ and are in both queues "
            f"(the ledger counts each once): {', '.join(not_deleted)}"
        )
    if failure:
        lines.append(f"Stopped: {failure}. That message and the rest stay in the DLQ.")
    remaining = data["dead_letter_queue"]
    lines.append(f"The DLQ now holds {remaining['visible']} visible, {remaining['in_flight']} in flight.")
    return Report(data, "\n".join(lines), exit_code=1 if failure or not_deleted else 0)


def _copy(queue_url: str, message: dict[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {"QueueUrl": queue_url, "MessageBody": message["Body"]}
    attributes = {
        name: {k: v for k, v in value.items() if k in _ATTRIBUTE_KEYS}
        for name, value in (message.get("MessageAttributes") or {}).items()
    }
    if attributes:
        request["MessageAttributes"] = attributes
    return request


def _release(sqs: Any, queue_url: str, messages: list[dict[str, Any]]) -> None:
    """Make messages we will not copy visible in the DLQ again at once (best effort: else after the timeout)."""
    for message in messages:
        with contextlib.suppress(ClientError, BotoCoreError):
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
