"""`audience-sync dlq` and `dlq redrive` on the moto stack: real queued messages are dead-lettered, shown, and
moved back to SyncQueue exactly once each (moto has no StartMessageMoveTask, so the copy method runs here; the
move task is checked against botocore's stubs in tests/unit/cli)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import EndpointConnectionError

from audience_sync_cli import queues
from audience_sync_cli.stack import load_stack
from tests.integration.api.api_helpers import Api
from tests.integration.cli.cli_support import STACK_NAME, Cli, bodies, dead_letter, rows


def _queues(api: Api) -> tuple[str, str]:
    return api.stack.stack.ref("SyncQueue"), api.stack.stack.ref("SyncDeadLetterQueue")


def _dead_lettered_webhooks(api: Api, count: int) -> list[str]:
    api.active_step("welcome")
    for n in range(count):
        users = [{"external_id": f"u-{n}", "email": f"user{n}@example.com", "ad_tracking_enabled": True}]
        assert api.post_users("welcome", users).status == 202
    sync_queue, dlq = _queues(api)
    moved = dead_letter(sync_queue, dlq)
    assert len(moved) == count
    return moved


def _depths(run_json: dict[str, Any]) -> tuple[int, int]:
    return run_json["dead_letter_queue"]["visible"], run_json["sync_queue"]["visible"]


def test_dlq_shows_the_depth_of_both_queues(api: Api, cli: Cli) -> None:
    assert _depths(cli.ok("dlq", "--json").json) == (0, 0)
    assert "message(s) in the DLQ" not in cli.ok("dlq").out
    _dead_lettered_webhooks(api, 3)

    shown = cli.ok("dlq", "status")
    table = {r[0]: r[1:] for r in rows(shown.out, "QUEUE")}
    assert table == {"SyncDeadLetterQueue": ["3", "0", "0"], "SyncQueue": ["0", "0", "0"]}
    assert "3 message(s) in the DLQ" in shown.out
    assert "audience-sync dlq redrive" in shown.out
    assert _depths(cli.ok("--json", "dlq").json) == (3, 0)


def test_redrive_by_copy_moves_every_message_exactly_once(api: Api, cli: Cli) -> None:
    dead = _dead_lettered_webhooks(api, 13)  # more than one receive of 10
    sync_queue, dlq = _queues(api)

    run = cli.ok("dlq", "redrive", "--method", "copy", "--json")
    assert run.json["moved"] == 13
    assert run.json["not_deleted"] == [] and run.json["failure"] is None
    assert run.json["dead_letter_queue"] == {"visible": 0, "in_flight": 0, "delayed": 0}
    assert bodies(dlq) == []
    assert bodies(sync_queue) == dead  # the same bodies, each once

    # The batcher then records them: every webhook counted once.
    assert api.metrics("welcome")["entered"] == 13


def test_redrive_by_copy_stops_at_max_messages(api: Api, cli: Cli) -> None:
    dead = _dead_lettered_webhooks(api, 3)
    sync_queue, dlq = _queues(api)

    run = cli.ok("dlq", "redrive", "--method", "copy", "--max-messages", "2")
    assert run.out.startswith("Moved 2 message(s) from SyncDeadLetterQueue to SyncQueue (copy).")
    assert "The DLQ now holds 1 visible" in run.out
    assert sorted(bodies(dlq) + bodies(sync_queue)) == dead


def test_the_default_method_needs_the_move_task_and_loses_nothing_without_it(api: Api, cli: Cli) -> None:
    dead = _dead_lettered_webhooks(api, 2)
    _, dlq = _queues(api)

    run = cli("dlq", "redrive")  # on AWS (no --endpoint-url/--local) the default is SQS's move task
    assert (run.code, run.out) == (1, "")
    assert "does not implement StartMessageMoveTask" in run.err and "use --method copy" in run.err
    assert bodies(dlq) == dead


class _Failing:
    """The real moto SQS client, with the n-th send or every delete failing as a network error would."""

    def __init__(self, fail_send: int | None = None, fail_delete: bool = False) -> None:
        self.sqs = boto3.client("sqs")
        self.fail_send = fail_send
        self.fail_delete = fail_delete
        self.sends = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sqs, name)

    def send_message(self, **kwargs: Any) -> Any:
        self.sends += 1
        if self.sends == self.fail_send:
            raise EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com")
        return self.sqs.send_message(**kwargs)

    def delete_message(self, **kwargs: Any) -> Any:
        if self.fail_delete:
            raise EndpointConnectionError(endpoint_url="https://sqs.us-east-1.amazonaws.com")
        return self.sqs.delete_message(**kwargs)


def test_a_failed_send_stops_the_copy_and_leaves_the_message_in_the_dlq(api: Api) -> None:
    dead = _dead_lettered_webhooks(api, 4)
    sync_queue, dlq = _queues(api)

    report = queues.redrive_by_copy(_Failing(fail_send=2), load_stack(STACK_NAME), None)

    assert report.exit_code == 1
    assert report.data["moved"] == 1
    assert "could not send message" in report.data["failure"]
    assert "Stopped: could not send" in report.text
    # The unsent messages are visible in the DLQ again at once; nothing is lost or doubled.
    assert report.data["dead_letter_queue"] == {"visible": 3, "in_flight": 0, "delayed": 0}
    moved = bodies(sync_queue)
    assert len(moved) == 1
    assert sorted(moved + bodies(dlq)) == dead


def test_a_failed_delete_is_reported_with_the_message_in_both_queues(api: Api) -> None:
    dead = _dead_lettered_webhooks(api, 2)
    sync_queue, _ = _queues(api)

    report = queues.redrive_by_copy(_Failing(fail_delete=True), load_stack(STACK_NAME), None)

    assert report.exit_code == 1
    assert report.data["moved"] == 2
    assert len(report.data["not_deleted"]) == 2
    assert "could not be deleted from the DLQ" in report.text
    assert bodies(sync_queue) == dead
    assert api.metrics("welcome")["entered"] == 2
