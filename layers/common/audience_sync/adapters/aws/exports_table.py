"""Export jobs in DynamoDB (ExportsTable, KMS-encrypted: a job holds its callback URL).

Key `id`: `job#<export_id>` holds the job (its record as JSON, `status` beside it), expiring JOB_TTL_DAYS after it
was created; `lock#<segment_id>` is the segment's one running export: `export_id` and `until` (epoch ms). A job and
its lock are created in one transaction, the lock's put conditional on no lock or an expired one, so two requests
racing for one segment get one job and one 429. A finished job deletes the lock only while it still holds it.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import applied, error_code, translated
from audience_sync.exports.exceptions import ExportRunning
from audience_sync.exports.jobs import ExportJob

JOB_TTL_DAYS = 30


def _job_key(export_id: str) -> dict[str, Any]:
    return {"id": {"S": f"job#{export_id}"}}


def _lock_key(segment_id: str) -> dict[str, Any]:
    return {"id": {"S": f"lock#{segment_id}"}}


class DynamoExportJobs:
    def __init__(self, table_name: str):
        clients.create_now("dynamodb")  # at the container's init (decision 0026)
        self.table_name = table_name

    def _job_item(self, job: ExportJob) -> dict[str, Any]:
        return {
            **_job_key(job.export_id),
            "status": {"S": job.status},
            "record": {"S": json.dumps(job.to_record(), separators=(",", ":"))},
            "expires_at": {"N": str(job.created_ms // 1000 + JOB_TTL_DAYS * 86_400)},
        }

    @translated("exports.create")
    def create(self, job: ExportJob, lock_until_ms: int) -> None:
        try:
            clients.dynamodb().transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": {
                                **_lock_key(job.spec.segment_id),
                                "export_id": {"S": job.export_id},
                                "until": {"N": str(lock_until_ms)},
                                "expires_at": {"N": str(lock_until_ms // 1000 + 86_400)},
                            },
                            "ConditionExpression": "attribute_not_exists(id) OR #until < :now",
                            "ExpressionAttributeNames": {"#until": "until"},
                            "ExpressionAttributeValues": {":now": {"N": str(job.created_ms)}},
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": self._job_item(job),
                            "ConditionExpression": "attribute_not_exists(id)",
                        }
                    },
                ]
            )
        except ClientError as error:
            reasons = error.response.get("CancellationReasons", [])
            if (
                error_code(error) == "TransactionCanceledException"
                and reasons[:1]
                and (reasons[0].get("Code") == "ConditionalCheckFailed")
            ):
                raise ExportRunning(job.spec.segment_id) from None
            raise

    @translated("exports.get")
    def get(self, export_id: str) -> ExportJob | None:
        item = clients.dynamodb().get_item(TableName=self.table_name, Key=_job_key(export_id), ConsistentRead=True)
        raw = item.get("Item")
        return ExportJob.from_record(json.loads(raw["record"]["S"])) if raw else None

    @translated("exports.save")
    def save(self, job: ExportJob, lock_until_ms: int | None = None) -> None:
        clients.dynamodb().put_item(TableName=self.table_name, Item=self._job_item(job))
        if lock_until_ms is not None:
            applied(
                lambda: clients.dynamodb().update_item(
                    TableName=self.table_name,
                    Key=_lock_key(job.spec.segment_id),
                    UpdateExpression="SET #until = :until, expires_at = :expires",
                    ConditionExpression="export_id = :me",
                    ExpressionAttributeNames={"#until": "until"},
                    ExpressionAttributeValues={
                        ":until": {"N": str(lock_until_ms)},
                        ":expires": {"N": str(lock_until_ms // 1000 + 86_400)},
                        ":me": {"S": job.export_id},
                    },
                )
            )

    @translated("exports.finish")
    def finish(self, job: ExportJob) -> None:
        clients.dynamodb().put_item(TableName=self.table_name, Item=self._job_item(job))
        applied(
            lambda: clients.dynamodb().delete_item(
                TableName=self.table_name,
                Key=_lock_key(job.spec.segment_id),
                ConditionExpression="export_id = :me",
                ExpressionAttributeValues={":me": {"S": job.export_id}},
            )
        )
