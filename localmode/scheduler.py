"""EventBridge Scheduler's one-time schedules (`at(...)`), fired locally: moto keeps schedules but never runs them.

A schedule whose time has come (its wait divided by TIME_SCALE, counted from when it was created) has its input
sent to its target queue, then is deleted (the waits' schedules ask for `ActionAfterCompletion: DELETE`). Only SQS
targets, which is what the template's schedules use. `fire_due` is what the local service's thread runs; tests call
it with `everything=True` to end every wait at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import threading
import time
from typing import Any

import boto3

from localmode.resources import REGION

logger = logging.getLogger("localmode.scheduler")
_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
PERIOD_SECONDS = 0.1


def _due_at(schedule: dict[str, Any], time_scale: float) -> float | None:
    """When a one-time schedule fires locally (epoch seconds), or None for another kind."""
    match = _AT.match(str(schedule.get("ScheduleExpression", "")))
    if not match:
        return None
    at = dt.datetime.fromisoformat(match.group(1)).replace(tzinfo=dt.UTC).timestamp()
    created = schedule["CreationDate"].timestamp()
    return created + max(0.0, at - created) / time_scale


def _queue_url(sqs: Any, arn: str) -> str:
    name = arn.rsplit(":", 1)[-1]
    url: str = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    return url


_FIRING = threading.Lock()  # the service's thread and a test's call never fire one schedule twice


def fire_due(time_scale: float, everything: bool = False) -> int:
    """Fire the one-time schedules that are due (all of them with `everything`); how many fired."""
    with _FIRING:
        return _fire_due(time_scale, everything)


def _fire_due(time_scale: float, everything: bool) -> int:
    scheduler = boto3.client("scheduler", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    now = time.time()
    fired = 0
    for group in scheduler.list_schedule_groups()["ScheduleGroups"]:
        for listed in scheduler.list_schedules(GroupName=group["Name"])["Schedules"]:
            try:
                schedule = scheduler.get_schedule(GroupName=group["Name"], Name=listed["Name"])
            except scheduler.exceptions.ResourceNotFoundException:
                continue  # deleted meanwhile (an exception cancelled the wait)
            due = _due_at(schedule, time_scale)
            if due is None or (not everything and due > now):
                continue
            target = schedule["Target"]
            if ":sqs:" not in target["Arn"]:
                continue  # only SQS targets are emulated (the template's schedules have no other)
            sqs.send_message(QueueUrl=_queue_url(sqs, target["Arn"]), MessageBody=target.get("Input", "{}"))
            with contextlib.suppress(scheduler.exceptions.ResourceNotFoundException):
                scheduler.delete_schedule(GroupName=group["Name"], Name=listed["Name"])
            fired += 1
    return fired


class OneTimeSchedules(threading.Thread):
    """Fires due one-time schedules every PERIOD_SECONDS until `stop` is set."""

    def __init__(self, time_scale: float, stop: threading.Event):
        super().__init__(name="scheduler.at", daemon=True)
        self.time_scale = time_scale
        self.stop = stop

    def run(self) -> None:
        while not self.stop.wait(PERIOD_SECONDS):
            try:
                fire_due(self.time_scale)
            except Exception:
                logger.exception("one-time schedules not fired this round")
