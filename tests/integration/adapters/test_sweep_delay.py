"""A new segment's sweep is queued with a delay (composition/management.py, settings.py sweep_delay_seconds): past
the writers' cache of definitions and their batches in flight, so a user written while the segment was defined is
either evaluated by its writer or read by the sweep. Continuations of a sweep go at once."""

from __future__ import annotations

import boto3

from audience_sync.adapters.aws.membership_queue import SqsSweepJobs
from audience_sync.composition.container import Container
from audience_sync.settings import Resources, Settings


def test_a_new_segments_sweep_waits_and_its_continuations_do_not(aws: None) -> None:
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="sweeps")["QueueUrl"]
    SqsSweepJobs(url, delay_seconds=15).send([{"segments": ["s"], "part": 0, "parts": 8, "start": None}])
    assert "Messages" not in sqs.receive_message(QueueUrl=url)  # held for 15 s
    SqsSweepJobs(url).send([{"segments": ["s"], "part": 1, "parts": 8, "start": None}])
    assert len(sqs.receive_message(QueueUrl=url)["Messages"]) == 1

    names = ("segments_table", "segment_members_table", "segment_stats_table", "campaigns_table", "steps_table")
    resources = Resources(sweep_queue_url=url, **dict.fromkeys(names, "t"))
    container = Container(Settings(resources=resources))
    assert container.settings.sweep_delay_seconds == 15 and container.settings.segment_cache_seconds == 5
    assert container.segments.sweep_jobs.publisher.delay_seconds == 15  # type: ignore[attr-defined]
    assert container.sweep_jobs.publisher.delay_seconds == 0
