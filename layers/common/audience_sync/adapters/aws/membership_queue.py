"""The segments' queues (SQS, standard). The membership queue: entries and exits from the profile writer to the
membership function (functions/membership); order does not matter, each transition carries its order
(segments/membership.py). The sweep queue: the sweep's jobs (functions/segment_sweep)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from audience_sync.adapters.aws.queues import SqsPublisher
from audience_sync.segments.membership import Transition
from audience_sync.segments.sweep import encode_job

# a transition is ~250 bytes of JSON: 400 a message stays well under SQS's 256 KiB
PER_MESSAGE = 400
FORMAT_VERSION = 1


def encode(transitions: Sequence[Transition]) -> list[str]:
    return [
        json.dumps(
            {"v": FORMAT_VERSION, "transitions": [t.to_json() for t in transitions[i : i + PER_MESSAGE]]},
            separators=(",", ":"),
        )
        for i in range(0, len(transitions), PER_MESSAGE)
    ]


def encode_reconcile(job: dict[str, Any]) -> str:
    """A step's reconciliation (sources/segment/processor.py): `step_id`, `shard`, `start`."""
    return json.dumps({"v": FORMAT_VERSION, "reconcile": job}, separators=(",", ":"))


def decode(body: str) -> list[Transition]:
    transitions = decode_message(body)
    if not isinstance(transitions, list):
        raise ValueError("not a message of transitions")
    return transitions


def decode_message(body: str) -> list[Transition] | dict[str, Any]:
    """A message's transitions, or a reconciliation job."""
    message = json.loads(body)
    if message.get("v") != FORMAT_VERSION:
        raise ValueError(f"unknown membership message version {message.get('v')!r}")
    if "reconcile" in message:
        job = message["reconcile"]
        if not isinstance(job, dict) or not isinstance(job.get("step_id"), str) or type(job.get("shard")) is not int:
            raise ValueError("unreadable reconciliation")
        return job
    return [Transition.from_json(t) for t in message["transitions"]]


class SqsMembershipSink:
    def __init__(self, queue_url: str):
        self.publisher = SqsPublisher(queue_url)

    def publish(self, transitions: Sequence[Transition]) -> None:
        """Raises PublishFailed if SQS refuses them: the writer's batch fails and is delivered again."""
        self.publisher.send(encode(transitions))


class SqsReconciliations:
    """A step's reconciliation, one message a shard of the members' index, on the membership queue."""

    def __init__(self, queue_url: str, shards: int):
        self.publisher = SqsPublisher(queue_url)
        self.shards = shards

    def reconcile(self, step_id: str) -> None:
        self.publisher.send([encode_reconcile({"step_id": step_id, "shard": n}) for n in range(self.shards)])

    def go_on(self, job: dict[str, Any]) -> None:
        """The rest of a shard, in a message of its own."""
        self.publisher.send([encode_reconcile(job)])


class SqsSweepJobs:
    """The sweep's jobs (segments/sweep.py) on the sweep queue (SQS, standard)."""

    def __init__(self, queue_url: str, delay_seconds: int = 0):
        self.publisher = SqsPublisher(queue_url, delay_seconds)

    def send(self, jobs: Sequence[dict[str, Any]]) -> None:
        self.publisher.send([encode_job(job) for job in jobs])
