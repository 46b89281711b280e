"""Partner cohorts in DynamoDB (CohortsTable): one item per cohort, key `cohort` = `<partner>:<cohort_id>`, with its
name and the count of ids that named no user here. Memberships live on the profiles (profiles/writer.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import translated
from audience_sync.adapters.aws.items import from_dynamodb
from audience_sync.cohorts.requests import CohortDefinition, cohort_key


class DynamoCohortStore:
    def __init__(self, table_name: str):
        self.table = clients.table(table_name)

    @translated("cohorts.save")
    def save(self, definition: CohortDefinition, now: str) -> None:
        self.table.update_item(
            Key={"cohort": cohort_key(definition.partner, definition.cohort_id)},
            UpdateExpression=(
                "SET partner = :partner, cohort_id = :cohort_id, #name = :name, "
                "created_at = if_not_exists(created_at, :created_at), updated_at = :now, "
                "ignored_ids = if_not_exists(ignored_ids, :zero)"
            ),
            ExpressionAttributeNames={"#name": "name"},
            ExpressionAttributeValues={
                ":partner": definition.partner,
                ":cohort_id": definition.cohort_id,
                ":name": definition.name,
                ":created_at": definition.created_at,
                ":now": now,
                ":zero": 0,
            },
        )

    @translated("cohorts.add_ignored")
    def add_ignored(self, counts: Mapping[str, int]) -> None:
        for cohort, count in counts.items():  # a handful of cohorts a batch: one small update each
            partner, _, cohort_id = cohort.partition(":")
            self.table.update_item(
                Key={"cohort": cohort},
                UpdateExpression="SET partner = :partner, cohort_id = :cohort_id ADD ignored_ids :n",
                ExpressionAttributeValues={":partner": partner, ":cohort_id": cohort_id, ":n": count},
            )

    @translated("cohorts.add_members")
    def add_members(self, counts: Mapping[str, int]) -> None:
        for cohort, count in counts.items():
            partner, _, cohort_id = cohort.partition(":")
            self.table.update_item(
                Key={"cohort": cohort},
                UpdateExpression="SET partner = :partner, cohort_id = :cohort_id ADD members :n",
                ExpressionAttributeValues={":partner": partner, ":cohort_id": cohort_id, ":n": count},
            )

    @translated("cohorts.list")
    def list(self) -> list[dict[str, Any]]:
        cohorts: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        while True:  # a table of cohorts (a few hundred at most): a scan is what listing them costs
            page = self.table.scan(**kwargs)
            for item in page.get("Items", []):
                plain = from_dynamodb(item)
                cohorts.append(
                    {
                        "partner": plain["partner"],
                        "cohort_id": plain["cohort_id"],
                        "name": plain.get("name"),
                        "created_at": plain.get("created_at"),
                        "updated_at": plain.get("updated_at"),
                        "ignored_ids": int(plain.get("ignored_ids", 0)),
                        "members": int(plain.get("members", 0)),
                    }
                )
            if "LastEvaluatedKey" not in page:
                return cohorts
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
