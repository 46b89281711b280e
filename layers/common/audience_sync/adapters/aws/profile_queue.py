"""The profile queue (SQS FIFO): the Braze-compatible API queues planned operations, one message group per identity
group, so the writer applies each group's messages in the order they were queued (profiles/writer.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.queues import fits_one_call
from audience_sync.profiles.operations import GroupMessage
from audience_sync.profiles.ports import QueueUnavailable

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

_SEND_ATTEMPTS = 3


class SqsProfileQueue:
    def __init__(self, queue_url: str):
        clients.create_now("sqs")  # at the container's init (decision 0026)
        self.queue_url = queue_url

    def send(self, messages: Sequence[GroupMessage], request_id: str) -> None:
        """Queue in rounds: a group's first message in the first round, its second (a request over 240 KB for one
        group) in the next, and so on, each round only after the previous is queued, so a retried entry never
        lands behind a later message of its group. Deduplication ids (request id, position) make the SDK's and our
        retries of one entry harmless (SQS drops a repeat within 5 minutes)."""
        rounds: list[list[tuple[int, str, str]]] = []
        seen: dict[str, int] = {}
        for position, message in enumerate(messages):
            index = seen.get(message.group, 0)
            seen[message.group] = index + 1
            while len(rounds) <= index:
                rounds.append([])
            rounds[index].append((position, message.group, message.body))
        for entries in rounds:
            self._send_round(entries, request_id)

    def _send_round(self, entries: list[tuple[int, str, str]], request_id: str) -> None:
        pending = entries
        for _ in range(_SEND_ATTEMPTS):
            by_position = {position: (group, body) for position, group, body in pending}
            failed: list[tuple[int, str, str]] = []
            for chunk in fits_one_call([(position, body) for position, _, body in pending]):
                batch: list[SendMessageBatchRequestEntryTypeDef] = [
                    {
                        "Id": str(position),
                        "MessageBody": body,
                        "MessageGroupId": by_position[position][0],
                        "MessageDeduplicationId": f"{request_id}-{position}"[-128:],
                    }
                    for position, body in chunk
                ]
                try:
                    result = clients.sqs().send_message_batch(QueueUrl=self.queue_url, Entries=batch)
                except (ClientError, BotoCoreError) as error:
                    raise QueueUnavailable() from error
                refused = {f["Id"] for f in result.get("Failed", [])}
                failed += [(p, by_position[p][0], b) for p, b in chunk if str(p) in refused]
            pending = failed
            if not pending:
                return
        raise QueueUnavailable()
