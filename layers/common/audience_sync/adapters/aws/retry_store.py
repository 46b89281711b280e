"""The retry's batches: the users in S3 (a batch outgrows Step Functions' 256 KB state), the schedule in a Step
Functions execution (statemachine/retry_batch.asl.json) that carries only the object's key."""

from __future__ import annotations

import json
from collections.abc import Callable

from botocore.exceptions import ClientError

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import error_code, translated
from audience_sync.core.errors import StoreUnavailable
from audience_sync.pipeline.retry_batch import RetryBatch, execution_input


class S3RetryStore:
    def __init__(self, bucket: str, state_machine_arn: Callable[[], str]):
        clients.create_now("s3", "stepfunctions")  # at the container's init (decision 0026)
        self.bucket = bucket
        # asked for when an execution is started (the batcher's hand-offs, a retry attempt's split by wait)
        self.state_machine_arn = state_machine_arn

    @translated("retry.put")
    def put(self, batch: RetryBatch) -> str:
        clients.s3().put_object(
            Bucket=self.bucket, Key=batch.key, Body=batch.model_dump_json().encode(), ContentType="application/json"
        )
        return batch.key

    def get(self, key: str) -> RetryBatch:
        batch = self.find(key)
        if batch is None:  # an attempt's own batch is never optional
            raise StoreUnavailable("retry.get", "NoSuchKey")
        return batch

    @translated("retry.find")
    def find(self, key: str) -> RetryBatch | None:
        try:
            body = clients.s3().get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as exc:
            if error_code(exc) == "NoSuchKey":
                return None
            raise
        return RetryBatch.model_validate_json(body)

    @translated("retry.delete")
    def delete(self, key: str) -> None:
        clients.s3().delete_object(Bucket=self.bucket, Key=key)

    @translated("retry.start")
    def start(self, key: str, wait_seconds: int, attempt: int = 1) -> None:
        """The execution's name is the batch id, so a redelivered message that starts it again finds it running
        (same input) or finished (ExecutionAlreadyExists); both mean done."""
        batch_id = key.split("/")[-2]
        try:
            clients.stepfunctions().start_execution(
                stateMachineArn=self.state_machine_arn(),
                name=batch_id,
                input=json.dumps(execution_input(key, wait_seconds, attempt)),
            )
        except ClientError as exc:
            if error_code(exc) != "ExecutionAlreadyExists":
                raise
