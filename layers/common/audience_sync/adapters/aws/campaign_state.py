"""Campaign state in DynamoDB (CampaignStateTable, key pk + sk, TTL `expires_at`): campaigns/ports.py CampaignState.

Items (external ids are personal data: the table is encrypted with the stack's key):
- `c#<campaign>#<external id>` / `entry`: the user's last entry into the campaign (activity id, its time, when it
  was claimed, whether it was acted on). Kept while it can matter: for ever when the user is never re-eligible,
  else until re-eligible.
- `c#<campaign>#<external id>` / `wait`: the user's wait (decision 0017), until a day after it is due (a schedule
  lost for good does not keep the user out of the campaign for longer). Its event properties are kept as JSON text:
  a number DynamoDB cannot hold (1e300) stays as it was sent.
- `c#<campaign>#<external id>` / `exception`: the time of the user's latest exception event, kept past the longest
  delay, so a wait that starts after an exception that happened later (the queue does not keep order) ends at once.
- `i#<campaign>#<external id>` / `<type>#<time ms>`: an interaction recorded, kept INTERACTION_DAYS to refuse its
  repeats.

A wait's counts are written in the same transaction as the wait item (the campaign's counters item of MetricsTable),
so each is counted exactly once however often an activity or a due is delivered. Transactions that lose a race on
the counters item (`TransactionConflict`, other writers of the same campaign) are tried again, as the ledger's are.

Leases: an activity's claim, and a wait's release, may be taken again by the same activity or due once LEASE_MS
have passed (a redelivery after a crash comes after the queue's visibility timeout, 180 s), or at once by the same
holder (the invocation that took it, trying a failed batch's messages one by one); a copy of the message delivered
to another invocation meanwhile (SQS and Scheduler deliver at least once) is refused.
"""

from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import ClientError

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import applied, error_code, translated
from audience_sync.adapters.aws.items import from_dynamodb
from audience_sync.adapters.aws.metrics_table import CounterTables, counter_updates, serialised
from audience_sync.campaigns.ports import Claim, Wait
from audience_sync.campaigns.triggers import MAX_DELAY_SECONDS
from audience_sync.core.clock import Clock
from audience_sync.core.metrics import StepDelta, campaign_counters_id

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

DAY_SECONDS = 86_400
INTERACTION_DAYS = 35  # longer than the longest delay (30 days): a repeat within a wait is always refused
LEASE_MS = 120_000  # less than CampaignActivityQueue's visibility timeout (180 s): a redelivery finds it expired
CONFLICT_ATTEMPTS = 5
ENTRY = "entry"
WAIT = "wait"
EXCEPTION = "exception"


def _user_pk(campaign_id: str, external_id: str) -> str:
    return f"c#{campaign_id}#{external_id}"  # '#' is in no campaign id: the pair is unambiguous


def _wait(item: dict[str, Any]) -> Wait:
    plain = from_dynamodb(item)
    return Wait(
        campaign_id=plain["campaign_id"],
        external_id=plain["external_id"],
        wait_id=plain["wait_id"],
        due_ms=plain["due_ms"],
        trigger_ms=plain["trigger_ms"],
        event_properties=json.loads(plain.get("event_properties") or "{}"),
    )


class DynamoCampaignState:
    def __init__(self, table_name: str, counters: CounterTables, clock: Clock):
        clients.create_now("dynamodb")  # at the container's init (decision 0026)
        self.table_name = table_name
        self.table = clients.table(table_name)
        self.counters = counters
        self.clock = clock

    # ---- entries -----------------------------------------------------------------------------------------
    @translated("campaign_state.claim")
    def claim(
        self,
        campaign_id: str,
        external_id: str,
        activity_id: str,
        time_ms: int,
        reeligible_after_ms: int | None,
        holder: str,
    ) -> Claim:
        now = self.clock.now_ms()
        item: dict[str, Any] = {
            "pk": _user_pk(campaign_id, external_id),
            "sk": ENTRY,
            "activity_id": activity_id,
            "time_ms": time_ms,
            "claimed_ms": now,
            "holder": holder,
            "done": False,
        }
        # never entered; or this activity claimed it, did not finish, and its lease ran out (a crash)
        condition = (
            "attribute_not_exists(pk) OR "
            "(activity_id = :id AND done = :false AND (claimed_ms <= :lease_end OR holder = :holder))"
        )
        values: dict[str, Any] = {":id": activity_id, ":false": False, ":lease_end": now - LEASE_MS, ":holder": holder}
        if reeligible_after_ms is not None:
            item["expires_at"] = (time_ms + reeligible_after_ms) // 1000 + DAY_SECONDS
            # or re-eligible: the last entry was acted on long enough ago
            # (either way in time: an activity that arrives late, older than the last entry, is as far from it)
            condition += " OR (done = :true AND activity_id <> :id AND (time_ms <= :before OR time_ms >= :after))"
            values.update(
                {":true": True, ":before": time_ms - reeligible_after_ms, ":after": time_ms + reeligible_after_ms}
            )
        if applied(
            lambda: self.table.put_item(Item=item, ConditionExpression=condition, ExpressionAttributeValues=values)
        ):
            return Claim.TAKEN
        if reeligible_after_ms is None:
            return Claim.REFUSED  # once only: whatever the previous entry becomes, this one is not another
        current = self._get(campaign_id, external_id, ENTRY)
        busy = (
            current is not None
            and not current.get("done")
            and current.get("activity_id") != activity_id
            and int(current.get("claimed_ms", 0)) > now - LEASE_MS
        )
        return Claim.BUSY if busy else Claim.REFUSED

    @translated("campaign_state.current_wait")
    def current_wait(self, campaign_id: str, external_id: str) -> Wait | None:
        found = self._get(campaign_id, external_id, WAIT)
        return None if found is None or found.get("released") else _wait(found)

    @translated("campaign_state.finish")
    def finish(self, campaign_id: str, external_id: str, activity_id: str) -> None:
        applied(
            lambda: self.table.update_item(
                Key={"pk": _user_pk(campaign_id, external_id), "sk": ENTRY},
                UpdateExpression="SET done = :true",
                ConditionExpression="activity_id = :id",
                ExpressionAttributeValues={":true": True, ":id": activity_id},
            )
        )

    # ---- waits -------------------------------------------------------------------------------------------------
    def _get(self, campaign_id: str, external_id: str, sk: str) -> dict[str, Any] | None:
        key = {"pk": _user_pk(campaign_id, external_id), "sk": sk}
        found: dict[str, Any] | None = self.table.get_item(Key=key, ConsistentRead=True).get("Item")
        return found

    def _transact(self, writes: list[dict[str, Any]], campaign_id: str, counts: dict[str, int]) -> bool:
        """`writes` (conditional Puts, Updates or Deletes of this table) with the campaign's counters, all or none;
        False if a condition did not hold."""
        delta = StepDelta()
        for name, n in counts.items():
            delta.add(name, n)
        items: list[dict[str, Any]] = []
        for write in writes:
            kind, body = next(iter(write.items()))
            body = {"TableName": self.table_name, **body}
            for part in ("Item", "Key", "ExpressionAttributeValues"):
                if part in body:
                    body[part] = serialised(body[part])
            items.append({kind: body})
        transaction = cast("list[TransactWriteItemTypeDef]", items)
        transaction += counter_updates(self.counters, campaign_counters_id(campaign_id), delta, self.clock.now_ms())
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                clients.dynamodb().transact_write_items(TransactItems=transaction)
                return True
            except ClientError as error:
                if error_code(error) != "TransactionCanceledException":
                    raise
                codes = [r.get("Code") for r in error.response.get("CancellationReasons") or []]
                if "ConditionalCheckFailed" in codes:
                    return False
                if "TransactionConflict" not in codes or attempt == CONFLICT_ATTEMPTS:
                    raise
            # another writer of the campaign's counters won the race: after a jittered pause, again
            self.clock.sleep(random.uniform(0.01, 0.05) * 2**attempt)  # jitter, not a secret
        return False  # not reached

    @translated("campaign_state.start_wait")
    def start_wait(self, wait: Wait, activity_id: str) -> bool:
        item = {
            "pk": _user_pk(wait.campaign_id, wait.external_id),
            "sk": WAIT,
            "campaign_id": wait.campaign_id,
            "external_id": wait.external_id,
            "wait_id": wait.wait_id,
            "due_ms": wait.due_ms,
            "trigger_ms": wait.trigger_ms,
            "expires_at": wait.due_ms // 1000 + DAY_SECONDS,
        }
        if wait.event_properties:
            item["event_properties"] = json.dumps(wait.event_properties, separators=(",", ":"), ensure_ascii=False)
        writes = [
            {"Put": {"Item": item, "ConditionExpression": "attribute_not_exists(pk)"}},
            {  # the entry acted on, in the same write: a redelivery cannot start the wait again once it ended
                "Update": {
                    "Key": {"pk": item["pk"], "sk": ENTRY},
                    "UpdateExpression": "SET done = :true",
                    "ConditionExpression": "activity_id = :id",
                    "ExpressionAttributeValues": {":true": True, ":id": activity_id},
                }
            },
        ]
        if self._transact(writes, wait.campaign_id, {"triggered": 1, "scheduled": 1}):
            return True
        current = self._get(wait.campaign_id, wait.external_id, WAIT)
        return current is not None and current.get("wait_id") == wait.wait_id  # recorded by an earlier delivery

    @translated("campaign_state.note_exception")
    def note_exception(self, campaign_id: str, external_id: str, time_ms: int) -> None:
        applied(
            lambda: self.table.update_item(
                Key={"pk": _user_pk(campaign_id, external_id), "sk": EXCEPTION},
                UpdateExpression="SET time_ms = :t, expires_at = :e",
                ConditionExpression="attribute_not_exists(time_ms) OR time_ms < :t",
                ExpressionAttributeValues={
                    ":t": time_ms,
                    ":e": time_ms // 1000 + MAX_DELAY_SECONDS + DAY_SECONDS,
                },
            )
        )

    @translated("campaign_state.last_exception")
    def last_exception(self, campaign_id: str, external_id: str) -> int | None:
        found = self._get(campaign_id, external_id, EXCEPTION)
        return None if found is None else int(found["time_ms"])

    @translated("campaign_state.cancel_wait")
    def cancel_wait(self, campaign_id: str, external_id: str, since_ms: int) -> Wait | None:
        current = self._get(campaign_id, external_id, WAIT)
        if (
            current is None
            or current.get("released")
            or not int(current["trigger_ms"]) <= since_ms < int(current["due_ms"])
        ):
            return None  # not waiting, being sent now, or the exception happened before the wait or after its end
        delete = {
            "Delete": {
                "Key": {"pk": current["pk"], "sk": WAIT},
                "ConditionExpression": "wait_id = :w AND attribute_not_exists(released)",
                "ExpressionAttributeValues": {":w": current["wait_id"]},
            }
        }
        if not self._transact([delete], campaign_id, {"exception_cancelled": 1}):
            return None
        return _wait(current)

    @translated("campaign_state.release_wait")
    def release_wait(self, campaign_id: str, external_id: str, wait_id: str, holder: str) -> Wait | None:
        for _ in range(2):
            current = self._get(campaign_id, external_id, WAIT)
            if current is None or current.get("wait_id") != wait_id:
                return None  # an exception ended it, or it was sent and ended already
            now = self.clock.now_ms()
            if current.get("released"):
                # released and not ended: a redelivery after a crash (its lease ran out) sends it; a copy of the
                # due delivered meanwhile does not
                mine = current.get("holder") == holder or int(current["released_ms"]) <= now - LEASE_MS
                return _wait(current) if mine else None
            release = {
                "Update": {
                    "Key": {"pk": current["pk"], "sk": WAIT},
                    "UpdateExpression": "SET released = :true, released_ms = :now, holder = :holder",
                    "ConditionExpression": "wait_id = :w AND attribute_not_exists(released)",
                    "ExpressionAttributeValues": {":w": wait_id, ":true": True, ":now": now, ":holder": holder},
                }
            }
            if self._transact([release], campaign_id, {"released": 1}):
                return _wait(current)
        return None

    @translated("campaign_state.end_wait")
    def end_wait(self, wait: Wait) -> None:
        applied(
            lambda: self.table.delete_item(
                Key={"pk": _user_pk(wait.campaign_id, wait.external_id), "sk": WAIT},
                ConditionExpression="wait_id = :w",
                ExpressionAttributeValues={":w": wait.wait_id},
            )
        )

    # ---- interactions --------------------------------------------------------------------------------------------
    @translated("campaign_state.first_interaction")
    def first_interaction(self, external_id: str, campaign_id: str, kind: str, time_ms: int) -> bool:
        item: dict[str, Any] = {
            "pk": f"i#{campaign_id}#{external_id}",
            "sk": f"{kind}#{time_ms}",
            "expires_at": self.clock.now_ms() // 1000 + INTERACTION_DAYS * DAY_SECONDS,
        }
        return applied(lambda: self.table.put_item(Item=item, ConditionExpression="attribute_not_exists(pk)"))
