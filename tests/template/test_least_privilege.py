"""Least privilege, checked: no wildcard where a resource can be named, every call the code makes is granted (local
mode does not enforce IAM, so this is where a missing permission shows), deletes only where the code deletes, and
what encryption at rest takes (the key of an encrypted topic for its publishers, the queues' SSE).

Which (action, resource) each function needs comes from reading its code; keep REQUIRED_CALLS in step with it.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.template.iam_support import allows, granted, grants, statement_targets
from tests.template.template_support import (
    REPO,
    as_list,
    load_template,
    policy_statements,
    referenced_names,
    resources_of_type,
    translated_template,
)

pytestmark = pytest.mark.template

# --------------------------------------------------------------------------- wildcards

_LOG_DELIVERY = frozenset(
    {
        "logs:CreateLogDelivery",
        "logs:GetLogDelivery",
        "logs:UpdateLogDelivery",
        "logs:DeleteLogDelivery",
        "logs:ListLogDeliveries",
        "logs:PutResourcePolicy",
        "logs:DescribeResourcePolicies",
        "logs:DescribeLogGroups",
    }
)
_LOG_DELIVERY_WHY = (
    "Step Functions logging to CloudWatch Logs: these actions have no resource-level permissions, and AWS documents "
    "Resource '*' for them (https://docs.aws.amazon.com/step-functions/latest/dg/cw-logs.html)."
)

# The statements allowed a "*" in Action or Resource, as (logical id, the statement's exact actions), each with why.
# A key policy's Resource "*" is the key itself, so it needs no entry; anything else needs one.
ALLOWED_WILDCARDS: dict[tuple[str, frozenset[str]], str] = {
    ("RetryStateMachine", _LOG_DELIVERY): _LOG_DELIVERY_WHY,
    ("IntegrationErrorsKey", frozenset({"kms:Decrypt", "kms:GenerateDataKey*"})): (
        "CloudWatch alarms publishing to the encrypted topic: the statement AWS documents for it, kept as documented "
        "(a wrong guess at the exact action drops alarm notifications silently). The key is the topic's own."
    ),
    ("RetryBucketPolicy", frozenset({"s3:*"})): (
        "A Deny (any S3 action without TLS): it grants nothing, and listing actions would only weaken it."
    ),
    ("ExportFilesBucketPolicy", frozenset({"s3:*"})): (
        "A Deny (any S3 action without TLS): it grants nothing, and listing actions would only weaken it."
    ),
}
# After the SAM transform: inline statements live in the generated roles, and SAM's policy templates are expanded.
ALLOWED_WILDCARDS_TRANSLATED: dict[tuple[str, frozenset[str]], str] = {
    **{key: why for key, why in ALLOWED_WILDCARDS.items() if key[0] != "RetryStateMachine"},
    ("RetryStateMachineRole", _LOG_DELIVERY): _LOG_DELIVERY_WHY,
    ("IngestFunctionRole", frozenset({"sqs:SendMessage*"})): (
        "SAM's SQSSendMessagePolicy, on the named SyncQueue: it matches sqs:SendMessage only (SQS authorizes "
        "SendMessageBatch with sqs:SendMessage)."
    ),
    ("PlatformApiFunctionRole", frozenset({"sqs:SendMessage*"})): (
        "SAM's SQSSendMessagePolicy, on the named ProfileQueue: it matches sqs:SendMessage only."
    ),
}

# AWS managed policies SAM attaches to the roles it generates (they are not in the template, so not checked above).
ALLOWED_AWS_MANAGED_POLICIES = {
    "AWSLambdaBasicExecutionRole": "every function: CloudWatch Logs streams and events (the log groups are ours)",
    "AWSXrayWriteOnlyAccess": "Tracing: Active / Tracing.Enabled; X-Ray has no resource-level permissions",
    "AWSLambdaSQSQueueExecutionRole": (
        "the batcher's and the profile writer's SQS events; SAM attaches it with no way to scope it: "
        "Receive/Delete/GetQueueAttributes on any queue (the code reads SyncQueue and ProfileQueue)"
    ),
}


def wildcard_statements(tpl: dict[str, Any]) -> set[tuple[str, frozenset[str]]]:
    """(logical id, actions) of every statement with a "*" in an Action, or a Resource "*" (or any NotResource /
    NotAction), in any policy of any resource: identity, key, bucket, topic and queue policies alike."""
    found: set[tuple[str, frozenset[str]]] = set()
    for name, res in tpl["Resources"].items():
        is_key = res.get("Type") == "AWS::KMS::Key"
        for statement in policy_statements(res.get("Properties") or {}):
            actions = [str(a) for a in as_list(statement.get("Action")) + as_list(statement.get("NotAction"))]
            wild_action = "NotAction" in statement or any("*" in a for a in actions)
            wild_resource = "NotResource" in statement or ("*" in as_list(statement.get("Resource")) and not is_key)
            if wild_action or wild_resource:
                found.add((name, frozenset(actions)))
    return found


def _assert_only_allowed(found: set[tuple[str, frozenset[str]]], allowed: dict[Any, str]) -> None:
    unexpected = found - set(allowed)
    assert not unexpected, f"wildcard Action or Resource; name the resource or allow it with a reason: {unexpected}"
    stale = set(allowed) - found
    assert not stale, f"allowed wildcards that no longer exist; drop them: {stale}"


def test_no_wildcards_but_the_allowed_ones() -> None:
    _assert_only_allowed(wildcard_statements(load_template()), ALLOWED_WILDCARDS)


def test_no_wildcards_after_the_sam_transform() -> None:
    """What IAM gets: the policy templates expanded into roles."""
    translated = translated_template()
    _assert_only_allowed(wildcard_statements(translated), ALLOWED_WILDCARDS_TRANSLATED)
    for role_name, role in resources_of_type(translated, "AWS::IAM::Role").items():
        for arn in role["Properties"].get("ManagedPolicyArns", []):
            if isinstance(arn, str):
                name = arn.rsplit("/", 1)[-1]
                assert name in ALLOWED_AWS_MANAGED_POLICIES, f"{role_name}: AWS managed policy {name}"


def test_wildcard_check_catches_planted_wildcards() -> None:
    """The check above must fail when a wildcard is planted anywhere: identity, key or bucket policy."""
    tpl = copy.deepcopy(load_template())
    resources = tpl["Resources"]
    planted = {
        # a function's inline statement with a wildcard action
        ("BatcherFunction", frozenset({"s3:Get*"})),
        # a managed policy on Resource "*"
        ("PublishIntegrationErrorsPolicy", frozenset({"sns:Publish"})),
        # kms:* in a key policy (its Resource "*" alone is fine)
        ("TokenKey", frozenset({"kms:*"})),
        # an Allow on every object of every bucket in a bucket policy
        ("RetryBucketPolicy", frozenset({"s3:GetObject"})),
        # an allowed statement that grew an action
        ("RetryStateMachine", _LOG_DELIVERY | {"logs:CreateLogGroup"}),
    }
    batcher_s3 = next(s for s in policy_statements(resources["BatcherFunction"]) if s.get("Sid") == "RetryBatches")
    batcher_s3["Action"] = ["s3:Get*"]
    publish = next(s for s in policy_statements(resources["PublishIntegrationErrorsPolicy"]) if s["Sid"] == "Publish")
    publish["Resource"] = "*"
    resources["TokenKey"]["Properties"]["KeyPolicy"]["Statement"].append(
        {"Effect": "Allow", "Principal": {"AWS": "x"}, "Action": "kms:*", "Resource": "*"}
    )
    resources["RetryBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"].append(
        {"Effect": "Allow", "Principal": {"AWS": "x"}, "Action": "s3:GetObject", "Resource": "*"}
    )
    delivery = next(
        s for s in policy_statements(resources["RetryStateMachine"]) if s["Sid"] == "StepFunctionsLogDelivery"
    )
    delivery["Action"] = [*delivery["Action"], "logs:CreateLogGroup"]

    found = wildcard_statements(tpl)
    assert planted <= found
    with pytest.raises(AssertionError, match="wildcard"):
        _assert_only_allowed(found, ALLOWED_WILDCARDS)


# --------------------------------------------------------------------------- what the code calls

_PUBLISH = {
    # adapters/aws/sns.py: sns.publish; SNS asks KMS for a data key of the encrypted topic as the publisher
    ("sns:Publish", "IntegrationErrorsTopic"),
    ("kms:GenerateDataKey", "IntegrationErrorsKey"),
    ("kms:Decrypt", "IntegrationErrorsKey"),
}
_TOKENS = {
    # adapters/aws/kms.py: tokens encrypted with TokenKey; adapters/aws/secrets.py: the LinkedIn client secret
    ("kms:Encrypt", "TokenKey"),
    ("kms:Decrypt", "TokenKey"),
    ("secretsmanager:GetSecretValue", "LinkedInAppSecret"),
}
_USE_CONNECTION = {
    # adapters/aws/connections_table.py: get reads the item; write_tokens and mark_invalid update it
    ("dynamodb:GetItem", "ConnectionsTable"),
    ("dynamodb:UpdateItem", "ConnectionsTable"),
}
_SEND = (
    _TOKENS
    | _USE_CONNECTION
    | _PUBLISH
    | {
        # adapters/aws/rate_bucket.py: the token bucket
        ("dynamodb:GetItem", "RateLimitTable"),
        ("dynamodb:UpdateItem", "RateLimitTable"),
        # adapters/aws/steps_table.py set_error / clear_error (pipeline/sender.py)
        ("dynamodb:UpdateItem", "StepsTable"),
        # adapters/aws/ledger_table.py: batch_get_item of buckets; transact_write_items of Update items on the ledger,
        # the counters and their minute
        ("dynamodb:BatchGetItem", "LedgerTable"),
        ("dynamodb:UpdateItem", "LedgerTable"),
        ("dynamodb:UpdateItem", "MetricsTable"),
        ("dynamodb:UpdateItem", "MetricsHistoryTable"),
    }
)
_RECORD_WEBHOOK_INTERACTIONS = {
    # campaigns/connector.py WebhookInteractions: who listens to received_webhook, and the interactions queued
    ("dynamodb:Scan", "CampaignsTable"),
    ("sqs:SendMessage", "CampaignActivityQueue"),
    ("kms:GenerateDataKey", "TokenKey"),
}
# An export started (exports/service.py): the job and its segment's lock (adapters/aws/exports_table.py create, a
# transaction of conditional puts; get; finish deletes the lock of a job that could not be queued), queued, and its
# link signed (a presigned GET is the signer's s3:GetObject, and kms:Decrypt of the files' key).
# Imports (imports/service.py, imports/schedule.py): definitions put, read, deleted with their state and runs
# (adapters/aws/imports_table.py), a run started (a conditional put) and queued.
_MANAGE_IMPORTS = {
    ("dynamodb:GetItem", "ImportsTable"),
    ("dynamodb:PutItem", "ImportsTable"),
    ("dynamodb:Query", "ImportsTable"),
    ("dynamodb:DeleteItem", "ImportsTable"),
    ("sqs:SendMessage", "ImportQueue"),
}
_START_EXPORTS = {
    ("dynamodb:PutItem", "ExportsTable"),
    ("dynamodb:GetItem", "ExportsTable"),
    ("dynamodb:DeleteItem", "ExportsTable"),
    ("sqs:SendMessage", "ExportQueue"),
    ("s3:GetObject", "ExportFilesBucket"),
    ("kms:Decrypt", "TokenKey"),
    ("kms:GenerateDataKey", "TokenKey"),
}
REQUIRED_CALLS: dict[str, set[tuple[str, str]]] = {
    "ApiFunction": _TOKENS
    | _START_EXPORTS
    | _MANAGE_IMPORTS
    | _PUBLISH
    | {
        ("secretsmanager:GetSecretValue", "OAuthStateSecret"),  # connections/oauth_state.py signs the state
        ("dynamodb:GetItem", "StepsTable"),  # adapters/aws/steps_table.py get / put_config
        ("dynamodb:Scan", "StepsTable"),  # adapters/aws/steps_table.py list_all: GET /v1/steps
        ("dynamodb:PutItem", "StepsTable"),  # adapters/aws/steps_table.py put_config
        ("dynamodb:UpdateItem", "StepsTable"),  # adapters/aws/steps_table.py activate (launch)
        ("dynamodb:GetItem", "ConnectionsTable"),
        ("dynamodb:PutItem", "ConnectionsTable"),  # connections_table.py put_state: the OAuth state
        ("dynamodb:UpdateItem", "ConnectionsTable"),  # connections_table.py write_tokens
        ("dynamodb:DeleteItem", "ConnectionsTable"),  # connections_table.py take_state (single use), delete
        ("dynamodb:GetItem", "MetricsTable"),  # adapters/aws/metrics_table.py
        ("dynamodb:Query", "MetricsHistoryTable"),  # metrics_table.py history: GET .../metrics/history
        ("dynamodb:GetItem", "AudienceViewsTable"),  # adapters/aws/audience_cache.py: the cached reading
        ("dynamodb:PutItem", "AudienceViewsTable"),  # a reading on demand
        # adapters/aws/credentials_table.py: keys created, listed, revoked (the management routes)
        ("dynamodb:PutItem", "CredentialsTable"),
        ("dynamodb:Query", "CredentialsTable"),
        ("dynamodb:DeleteItem", "CredentialsTable"),
        ("dynamodb:Scan", "CohortsTable"),  # adapters/aws/cohorts_table.py list: GET /v1/cohorts
        # adapters/aws/segments_table.py: definitions put (read first: the revision), read, listed, tombstoned
        ("dynamodb:GetItem", "SegmentsTable"),
        ("dynamodb:UpdateItem", "SegmentsTable"),
        ("dynamodb:Scan", "SegmentsTable"),
        ("dynamodb:Query", "SegmentMembersTable"),  # adapters/aws/segment_members.py members
        ("dynamodb:GetItem", "SegmentStatsTable"),  # adapters/aws/segment_members.py counts: the generation
        ("dynamodb:Query", "SegmentStatsTable"),  # adapters/aws/segment_members.py counts, forget
        ("dynamodb:DeleteItem", "SegmentStatsTable"),  # adapters/aws/segment_members.py forget
        ("sqs:SendMessage", "SweepQueue"),  # adapters/aws/membership_queue.py SqsSweepJobs: a new filter's sweep
        ("sqs:SendMessage", "MembershipQueue"),  # membership_queue.py SqsReconciliations: a launch's reconciliation
        ("kms:GenerateDataKey", "TokenKey"),  # the sweep and membership queues are encrypted with it
        # adapters/aws/campaigns_table.py: definitions put and read, status moved (conditional updates)
        ("dynamodb:GetItem", "CampaignsTable"),
        ("dynamodb:UpdateItem", "CampaignsTable"),
        ("dynamodb:Scan", "CampaignsTable"),  # campaigns_table.py all: a segment's DELETE, not under a campaign
        ("dynamodb:PutItem", "CampaignStateTable"),  # campaign_state.py first_interaction: POST /v1/interactions
        ("sqs:SendMessage", "CampaignActivityQueue"),  # campaigns/connector.py ActivityRouter: interactions
    },
    "CampaignActivityFunction": {
        ("sqs:ReceiveMessage", "CampaignActivityQueue"),  # the event source mapping reads as the function's role
        ("sqs:DeleteMessage", "CampaignActivityQueue"),
        ("dynamodb:Scan", "CampaignsTable"),  # campaigns/connector.py CachedTriggerIndex
        ("dynamodb:GetItem", "CampaignsTable"),  # connector.py _due: the campaign read again
        # adapters/aws/campaign_state.py: entries and waits, conditional; a wait's counts in a transaction
        ("dynamodb:GetItem", "CampaignStateTable"),
        ("dynamodb:PutItem", "CampaignStateTable"),
        ("dynamodb:UpdateItem", "CampaignStateTable"),
        ("dynamodb:DeleteItem", "CampaignStateTable"),
        ("dynamodb:UpdateItem", "MetricsTable"),
        ("dynamodb:UpdateItem", "MetricsHistoryTable"),  # metrics_table.py counter_updates: the wait's minute
        ("dynamodb:BatchGetItem", "ProfilesTable"),  # campaigns/delivery.py profiles_of
        ("dynamodb:GetItem", "StepsTable"),  # pipeline/ingest.py: an audience_sync campaign's step
        ("sqs:SendMessage", "SyncQueue"),  # the sends, into the one pipeline
        ("sqs:SendMessage", "CampaignActivityQueue"),  # a control group's interactions
        ("scheduler:CreateSchedule", "WaitScheduleGroup"),  # adapters/aws/scheduler.py
        ("scheduler:DeleteSchedule", "WaitScheduleGroup"),
        ("iam:PassRole", "WaitScheduleRole"),  # a schedule sends with its role
        ("kms:Decrypt", "TokenKey"),
        ("kms:GenerateDataKey", "TokenKey"),
    },
    "ExportFunction": _PUBLISH
    | {
        # adapters/aws/exports_table.py: the job's progress and end, its segment's lock freed
        ("dynamodb:GetItem", "ExportsTable"),
        ("dynamodb:PutItem", "ExportsTable"),
        ("dynamodb:DeleteItem", "ExportsTable"),
        ("dynamodb:Query", "SegmentMembersTable"),  # adapters/aws/segment_members.py members
        ("dynamodb:BatchGetItem", "ProfilesTable"),  # adapters/aws/profiles_table.py get
        ("dynamodb:Query", "ProfilesTable"),  # profiles_table.py items_of: custom_events, purchases
        # adapters/aws/export_objects.py: files put, streams (multipart: s3:PutObject) completed or aborted, links
        ("s3:PutObject", "ExportFilesBucket"),
        ("s3:AbortMultipartUpload", "ExportFilesBucket"),
        ("s3:GetObject", "ExportFilesBucket"),
        ("sqs:SendMessage", "ExportQueue"),  # a job near its deadline queued again
        ("sqs:ReceiveMessage", "ExportQueue"),
        ("sqs:DeleteMessage", "ExportQueue"),
        ("kms:Decrypt", "TokenKey"),
        ("kms:GenerateDataKey", "TokenKey"),
    },
    "ImportFunction": _PUBLISH
    | {
        # adapters/aws/imports_table.py: definitions (the tick's scan), state (conditional puts), runs kept
        ("dynamodb:GetItem", "ImportsTable"),
        ("dynamodb:PutItem", "ImportsTable"),
        ("dynamodb:Scan", "ImportsTable"),
        ("sqs:SendMessage", "ImportQueue"),  # a run started by the tick, or handed back near its deadline
        ("sqs:ReceiveMessage", "ImportQueue"),
        ("sqs:DeleteMessage", "ImportQueue"),
        # profiles/writer.py (the rows applied): reads, conditional puts, a changed email's old pointer deleted
        ("dynamodb:BatchGetItem", "ProfilesTable"),
        ("dynamodb:Query", "ProfilesTable"),
        ("dynamodb:PutItem", "ProfilesTable"),
        ("dynamodb:DeleteItem", "ProfilesTable"),
        ("dynamodb:Scan", "SegmentsTable"),  # the writer's segments
        ("sqs:SendMessage", "MembershipQueue"),  # entries and exits
        ("kms:Decrypt", "TokenKey"),
        ("kms:Encrypt", "TokenKey"),
        ("kms:GenerateDataKey", "TokenKey"),
    },
    "PlatformApiFunction": _START_EXPORTS
    | {
        ("dynamodb:UpdateItem", "CohortsTable"),  # adapters/aws/cohorts_table.py save, add_ignored
        ("dynamodb:GetItem", "CredentialsTable"),  # adapters/aws/credentials_table.py get: the key behind a Bearer
        ("dynamodb:UpdateItem", "RateLimitTable"),  # adapters/aws/request_counter.py: the key's requests this minute
        # adapters/aws/profiles_table.py get / items_of: /users/export/ids
        ("dynamodb:BatchGetItem", "ProfilesTable"),
        ("dynamodb:Query", "ProfilesTable"),
        ("sqs:SendMessage", "ProfileQueue"),  # adapters/aws/profile_queue.py send_message_batch
        # the queue and the table are encrypted with TokenKey: a sender's data key, a reader's decrypt
        ("kms:GenerateDataKey", "TokenKey"),
        ("kms:Decrypt", "TokenKey"),
        ("dynamodb:GetItem", "SegmentsTable"),  # adapters/aws/segments_table.py get: /segments/details
        ("dynamodb:Scan", "SegmentsTable"),  # adapters/aws/segments_table.py all: /segments/list
        ("dynamodb:GetItem", "CampaignsTable"),  # adapters/aws/campaigns_table.py get: /campaigns/details
        ("dynamodb:Scan", "CampaignsTable"),  # adapters/aws/campaigns_table.py all: /campaigns/list
    },
    "ProfileWriterFunction": {
        # adapters/aws/profiles_table.py: batched reads, a profile's items, conditional puts, deletes
        ("dynamodb:BatchGetItem", "ProfilesTable"),
        ("dynamodb:Query", "ProfilesTable"),
        ("dynamodb:PutItem", "ProfilesTable"),
        ("dynamodb:DeleteItem", "ProfilesTable"),
        ("dynamodb:UpdateItem", "CohortsTable"),  # adapters/aws/cohorts_table.py add_ignored
        ("sqs:ReceiveMessage", "ProfileQueue"),  # the event source mapping reads as the function's role
        ("sqs:DeleteMessage", "ProfileQueue"),
        ("kms:Decrypt", "TokenKey"),
        ("kms:Encrypt", "TokenKey"),
        ("kms:GenerateDataKey", "TokenKey"),
        ("dynamodb:Scan", "SegmentsTable"),  # adapters/aws/segments_table.py all: the definitions, every few seconds
        ("sqs:SendMessage", "MembershipQueue"),  # adapters/aws/membership_queue.py: entries and exits
        ("dynamodb:Scan", "CampaignsTable"),  # campaigns/connector.py CachedTriggerIndex: who listens
        ("sqs:SendMessage", "CampaignActivityQueue"),  # connector.py ActivityRouter: events and purchases
    },
    "MembershipFunction": {
        # adapters/aws/segment_members.py: transactions of a message's members, each with new counts items
        # (TransactWriteItems is authorized per item)
        ("dynamodb:UpdateItem", "SegmentMembersTable"),
        ("dynamodb:PutItem", "SegmentStatsTable"),
        ("dynamodb:BatchGetItem", "SegmentMembersTable"),  # segment_members.py lookup: the newest transitions
        ("dynamodb:Query", "SegmentMembersTable"),  # segment_members.py held: a step's reconciliation, a shard
        ("sqs:SendMessage", "MembershipQueue"),  # membership_queue.py SqsReconciliations go_on: the rest of a shard
        # sources/segment/router.py: the step, its entrants' profiles, its users queued (adapters/aws/queues.py)
        ("dynamodb:GetItem", "StepsTable"),
        ("dynamodb:Scan", "StepsTable"),  # router.py _forget: a deleted user leaves every webhook step (list_all)
        ("dynamodb:BatchGetItem", "ProfilesTable"),
        ("sqs:SendMessage", "SyncQueue"),
        ("sqs:ReceiveMessage", "MembershipQueue"),
        ("sqs:DeleteMessage", "MembershipQueue"),
        ("kms:Decrypt", "TokenKey"),  # the queue and the members' table are encrypted with it
        ("kms:GenerateDataKey", "TokenKey"),
    },
    "SegmentCountersFunction": {
        ("dynamodb:Scan", "SegmentsTable"),  # segments/counts.py fold_all: every definition
        # adapters/aws/segment_members.py fold: the generation and pending counts read, each deleted by the
        # transaction adding it
        ("dynamodb:GetItem", "SegmentStatsTable"),
        ("dynamodb:Query", "SegmentStatsTable"),
        ("dynamodb:DeleteItem", "SegmentStatsTable"),
        ("dynamodb:UpdateItem", "SegmentStatsTable"),
    },
    "SegmentSweepFunction": {
        # adapters/aws/profiles_table.py scan (a parallel scan segment) and items_of (a profile's events)
        ("dynamodb:Scan", "ProfilesTable"),
        ("dynamodb:Query", "ProfilesTable"),
        ("dynamodb:Scan", "SegmentsTable"),  # adapters/aws/segments_table.py all
        ("sqs:SendMessage", "ProfileQueue"),  # segments/sweep.py: evaluate operations
        ("sqs:SendMessage", "SweepQueue"),  # the rest of a part, and the hourly sweep's jobs
        ("sqs:ReceiveMessage", "SweepQueue"),
        ("sqs:DeleteMessage", "SweepQueue"),
        ("kms:Decrypt", "TokenKey"),
        ("kms:GenerateDataKey", "TokenKey"),
    },
    "IngestFunction": {
        ("dynamodb:GetItem", "StepsTable"),  # adapters/aws/steps_table.py get
        ("sqs:SendMessage", "SyncQueue"),  # adapters/aws/queues.py send_message_batch (sqs:SendMessage)
        # sources/profile_users.py: a user sent with its id only, completed from its profile (encrypted)
        ("dynamodb:BatchGetItem", "ProfilesTable"),
        ("kms:Decrypt", "TokenKey"),
    },
    "BatcherFunction": _SEND
    | {
        ("sqs:ReceiveMessage", "SyncQueue"),  # adapters/aws/queues.py: the top-up
        ("sqs:DeleteMessage", "SyncQueue"),  # adapters/aws/queues.py delete_message_batch
        ("s3:PutObject", "RetryBucket"),  # adapters/aws/retry_store.py put
        ("s3:GetObject", "RetryBucket"),  # adapters/aws/retry_store.py find: a redelivery's restart, its wait
        ("s3:ListBucket", "RetryBucket"),  # ... so that a batch that is gone is a 404, not a 403
        ("s3:DeleteObject", "RetryBucket"),  # pipeline/batcher.py _forget: batches no ledger entry names
        ("states:StartExecution", "RetryStateMachine"),  # adapters/aws/retry_store.py start
    }
    | _RECORD_WEBHOOK_INTERACTIONS,
    "RetryFunction": _SEND
    | {
        ("s3:GetObject", "RetryBucket"),  # adapters/aws/retry_store.py get, find
        ("s3:ListBucket", "RetryBucket"),  # find: a batch another execution settled is a 404, not a 403
        ("s3:PutObject", "RetryBucket"),  # the next attempt's batch
        ("s3:DeleteObject", "RetryBucket"),  # pipeline/retry_attempt.py _forget
        ("states:StartExecution", "RetryStateMachine"),  # retry_attempt.py _start_others: an attempt split by wait
        ("dynamodb:BatchGetItem", "SegmentMembersTable"),  # segment_members.py DynamoMoveOrders: newest moves
    }
    | _RECORD_WEBHOOK_INTERACTIONS,
    "TokenRefreshFunction": _TOKENS | _USE_CONNECTION | _PUBLISH,
    "AudienceRefreshFunction": _TOKENS
    | _USE_CONNECTION
    | _PUBLISH
    | {
        ("dynamodb:Scan", "StepsTable"),  # adapters/aws/steps_table.py launched
        ("dynamodb:UpdateItem", "StepsTable"),  # adapters/aws/steps_table.py set_error / clear_error (audience errors)
        ("dynamodb:Scan", "AudienceViewsTable"),  # adapters/aws/audience_cache.py: which readings are old
        ("dynamodb:GetItem", "AudienceViewsTable"),
        ("dynamodb:PutItem", "AudienceViewsTable"),  # adapters/aws/audience_cache.py: the newest reading (conditional)
    },
    "MetricsSnapshotFunction": {
        ("dynamodb:Scan", "MetricsTable"),  # adapters/aws/metrics_table.py all (the gauges)
        ("dynamodb:GetItem", "ConnectionsTable"),  # adapters/aws/connections_table.py status (its status only)
    },
    "RetryStateMachine": {("lambda:InvokeFunction", "RetryFunction")},
    "ConsoleFunction": set(),  # static files only: it calls nothing
}


def missing_grants(tpl: dict[str, Any], role: str, required: set[tuple[str, str]]) -> set[tuple[str, str]]:
    return {(action, target) for action, target in required if not granted(tpl, role, action, target)}


def undue_deletes(tpl: dict[str, Any], role: str, required: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """Delete actions granted on a resource the code never deletes from. (SAM's DynamoDBWritePolicy also grants
    BatchWriteItem, whose DeleteRequest deletes without DeleteItem; no code calls BatchWriteItem.)"""
    needed = {target for action, target in required if action.split(":")[1].startswith("Delete")}
    return {
        (action, target)
        for action, target in grants(tpl, role)
        if action.split(":")[1].startswith("Delete") and target not in needed
    }


def test_every_call_the_code_makes_is_granted_and_nothing_deletes_more() -> None:
    translated = translated_template()
    template = load_template()
    holders = set(resources_of_type(template, "AWS::Serverless::Function")) | set(
        resources_of_type(template, "AWS::Serverless::StateMachine")
    )
    assert holders == set(REQUIRED_CALLS), "list what a new function calls in REQUIRED_CALLS"
    for holder, required in REQUIRED_CALLS.items():
        role = f"{holder}Role"
        assert not missing_grants(translated, role, required), holder
        assert not undue_deletes(translated, role, required), holder


def test_grant_checks_catch_a_missing_and_an_undue_grant() -> None:
    tpl = copy.deepcopy(translated_template())
    policies = tpl["Resources"]["BatcherFunctionRole"]["Properties"]["Policies"]
    (s3,) = [s for p in policies for s in policy_statements(p) if s.get("Sid") == "RetryBatches"]
    s3["Action"] = ["s3:PutObject"]
    assert missing_grants(tpl, "BatcherFunctionRole", REQUIRED_CALLS["BatcherFunction"]) == {
        ("s3:GetObject", "RetryBucket"),
        ("s3:DeleteObject", "RetryBucket"),
    }
    policies.append(
        {"PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "dynamodb:DeleteItem", "Resource": "x"}]}}
    )
    policies[-1]["PolicyDocument"]["Statement"][0]["Resource"] = {"Fn::GetAtt": ["StepsTable", "Arn"]}
    assert undue_deletes(tpl, "BatcherFunctionRole", REQUIRED_CALLS["BatcherFunction"]) == {
        ("dynamodb:DeleteItem", "StepsTable")
    }


# --------------------------------------------------------------------------- encryption at rest


def _encrypted_topics(tpl: dict[str, Any]) -> dict[str, str]:
    """Topic -> the logical id of the key it is encrypted with."""
    topics = {}
    for name, topic in resources_of_type(tpl, "AWS::SNS::Topic").items():
        keys = referenced_names(topic["Properties"].get("KmsMasterKeyId")) & set(tpl["Resources"])
        if keys:
            (topics[name],) = keys
    return topics


def publishers_without_the_key(tpl: dict[str, Any]) -> set[tuple[str, str]]:
    """(role, topic) of roles that may publish to an encrypted topic but not use its key (SNS would refuse)."""
    problems = set()
    for topic, key in _encrypted_topics(tpl).items():
        for role in resources_of_type(tpl, "AWS::IAM::Role"):
            if granted(tpl, role, "sns:Publish", topic) and not (
                granted(tpl, role, "kms:GenerateDataKey", key) and granted(tpl, role, "kms:Decrypt", key)
            ):
                problems.add((role, topic))
    return problems


def alarms_without_the_key(tpl: dict[str, Any]) -> set[tuple[str, str]]:
    """(alarm, topic) of alarm actions on an encrypted topic whose key policy does not let CloudWatch use the key."""
    topics = _encrypted_topics(tpl)
    problems = set()
    for alarm_name, alarm in resources_of_type(tpl, "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        actions = props.get("AlarmActions", []) + props.get("OKActions", []) + props.get("InsufficientDataActions", [])
        for topic in referenced_names(actions) & set(topics):
            key_policy = tpl["Resources"][topics[topic]]["Properties"]["KeyPolicy"]
            cloudwatch = [
                s
                for s in policy_statements(key_policy)
                if "cloudwatch.amazonaws.com" in as_list((s.get("Principal") or {}).get("Service"))
            ]
            usable = all(any(allows(s, a) for s in cloudwatch) for a in ("kms:GenerateDataKey", "kms:Decrypt"))
            if not usable:
                problems.add((alarm_name, topic))
    return problems


def test_encrypted_topic_publishers_and_alarms_can_use_its_key() -> None:
    translated = translated_template()
    assert _encrypted_topics(translated), "IntegrationErrorsTopic is encrypted (CKV_AWS_26)"
    publishers = {
        r
        for r in resources_of_type(translated, "AWS::IAM::Role")
        if granted(translated, r, "sns:Publish", "IntegrationErrorsTopic")
    }
    assert len(publishers) >= 4
    assert publishers_without_the_key(translated) == set()
    assert resources_of_type(translated, "AWS::CloudWatch::Alarm")
    assert alarms_without_the_key(translated) == set()


def test_topic_key_checks_catch_a_missing_grant() -> None:
    tpl = copy.deepcopy(translated_template())
    managed = tpl["Resources"]["PublishIntegrationErrorsPolicy"]["Properties"]["PolicyDocument"]
    managed["Statement"] = [s for s in managed["Statement"] if s["Sid"] != "UseTheTopicKey"]
    assert ("BatcherFunctionRole", "IntegrationErrorsTopic") in publishers_without_the_key(tpl)
    key_policy = tpl["Resources"]["IntegrationErrorsKey"]["Properties"]["KeyPolicy"]
    key_policy["Statement"] = [s for s in key_policy["Statement"] if s.get("Sid") != "CloudWatchAlarmsPublish"]
    assert ("DeadLetterQueueAlarm", "IntegrationErrorsTopic") in alarms_without_the_key(tpl)


def test_every_queue_is_encrypted() -> None:
    """Backs the CKV_AWS_27 skip in .checkov.yaml: checkov only recognizes KmsMasterKeyId."""
    queues = resources_of_type(load_template(), "AWS::SQS::Queue")
    assert len(queues) >= 2
    for name, queue in queues.items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or props.get("KmsMasterKeyId"), f"{name} is not encrypted"


def test_statement_targets_resolve_names_arns_and_sub_paths() -> None:
    tpl = load_template()
    assert statement_targets(tpl, {"Fn::Sub": "${RetryBucket.Arn}/retry/*"}) == {"RetryBucket"}
    assert statement_targets(tpl, {"Fn::Sub": "${AWS::StackName}-retry"}) == {"RetryStateMachine"}
    assert statement_targets(tpl, "*") == set()


def test_no_code_calls_batch_write_item() -> None:
    """SAM's DynamoDBWritePolicy grants BatchWriteItem, which can delete; the tables stay delete-free only while no
    function calls it (undue_deletes looks at Delete* actions)."""
    sources = [*(REPO / "layers" / "common" / "audience_sync").rglob("*.py"), *(REPO / "functions").rglob("*.py")]
    callers = [p.name for p in sources if "batch_write" in p.read_text(encoding="utf-8").lower()]
    assert callers == []
