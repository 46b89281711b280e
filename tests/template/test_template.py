"""Static checks of template.yaml, samconfig.toml and events/: SAM/cfn-lint validation, sam build, structure.

Run with ``pytest tests/template``. The SAM CLI is expected at ``$SAM_CLI`` or ``<repo>/.venv-sam/bin/sam``;
a missing SAM CLI fails these tests instead of skipping them.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.template.iam_support import is_read_action, statement_targets
from tests.template.template_support import (
    REPO,
    TEMPLATE,
    as_list,
    functions,
    load_template,
    policy_statements,
    referenced_names,
    resources_of_type,
    run,
    sam_cli,
    sam_env,
    translated_template,
)

pytestmark = pytest.mark.template

EVENTS = REPO / "events"
CALLBACK_PATH = "/v1/connections/linkedin/callback"
# The console's files: a browser loading a page cannot send x-api-key (functions/console/app.py).
CONSOLE_PATHS = {"/console", "/console/{proxy+}"}
# Functions that call no AWS API at all.
CALLS_NOTHING = {"ConsoleFunction"}
# The routes served without x-api-key: LinkedIn's redirect (its signed state protects it) and the console's files.
OPEN_PATHS = {CALLBACK_PATH, *CONSOLE_PATHS}

EXPECTED_ROUTES = {
    ("ApiFunction", "GET", "/v1/health"),
    ("ApiFunction", "GET", "/v1/connections/linkedin/authorize"),
    ("ApiFunction", "GET", CALLBACK_PATH),
    ("ConsoleFunction", "GET", "/console"),
    ("ConsoleFunction", "GET", "/console/{proxy+}"),
    ("ApiFunction", "GET", "/v1/connections/linkedin"),
    ("ApiFunction", "DELETE", "/v1/connections/linkedin"),
    ("ApiFunction", "PUT", "/v1/steps/{step_id}"),
    ("ApiFunction", "GET", "/v1/steps"),
    ("ApiFunction", "GET", "/v1/segments"),
    ("ApiFunction", "GET", "/v1/steps/{step_id}"),
    ("ApiFunction", "POST", "/v1/steps/{step_id}/launch"),
    ("ApiFunction", "GET", "/v1/steps/{step_id}/metrics"),
    ("ApiFunction", "GET", "/v1/steps/{step_id}/metrics/history"),
    ("ApiFunction", "GET", "/v1/steps/{step_id}/audience"),
    ("ApiFunction", "GET", "/v1/openapi.json"),
    ("ApiFunction", "POST", "/v1/rest-api-keys"),
    ("ApiFunction", "GET", "/v1/rest-api-keys"),
    ("ApiFunction", "DELETE", "/v1/rest-api-keys/{key_id}"),
    ("ApiFunction", "POST", "/v1/data-import-keys"),
    ("ApiFunction", "GET", "/v1/data-import-keys"),
    ("ApiFunction", "DELETE", "/v1/data-import-keys/{key_id}"),
    ("ApiFunction", "GET", "/v1/cohorts"),
    ("ApiFunction", "PUT", "/v1/segments/{segment_id}"),
    ("ApiFunction", "GET", "/v1/segments/{segment_id}"),
    ("ApiFunction", "DELETE", "/v1/segments/{segment_id}"),
    ("ApiFunction", "GET", "/v1/segments/{segment_id}/members"),
    ("ApiFunction", "POST", "/v1/segments/{segment_id}/exports"),
    ("ApiFunction", "GET", "/v1/exports/{export_id}"),
    ("ApiFunction", "GET", "/v1/imports"),
    ("ApiFunction", "PUT", "/v1/imports/{import_id}"),
    ("ApiFunction", "GET", "/v1/imports/{import_id}"),
    ("ApiFunction", "DELETE", "/v1/imports/{import_id}"),
    ("ApiFunction", "POST", "/v1/imports/{import_id}/run"),
    ("ApiFunction", "GET", "/v1/imports/{import_id}/runs"),
    ("ApiFunction", "PUT", "/v1/campaigns/{campaign_id}"),
    ("ApiFunction", "GET", "/v1/campaigns/{campaign_id}"),
    ("ApiFunction", "POST", "/v1/campaigns/{campaign_id}/publish"),
    ("ApiFunction", "POST", "/v1/campaigns/{campaign_id}/stop"),
    ("ApiFunction", "GET", "/v1/campaigns"),
    ("ApiFunction", "POST", "/v1/campaigns/{campaign_id}/preview"),
    ("ApiFunction", "POST", "/v1/campaigns/{campaign_id}/trigger"),
    ("ApiFunction", "GET", "/v1/campaigns/{campaign_id}/metrics"),
    ("ApiFunction", "GET", "/v1/campaigns/{campaign_id}/metrics/history"),
    ("ApiFunction", "POST", "/v1/interactions"),
    ("IngestFunction", "POST", "/v1/steps/{step_id}/users"),
}
# The Braze-compatible API (contract v2 §2): its own API, Bearer keys checked by the function.
EXPECTED_PLATFORM_ROUTES = {
    ("PlatformApiFunction", "POST", path)
    for path in (
        "/users/track",
        "/users/alias/new",
        "/users/identify",
        "/users/merge",
        "/users/delete",
        "/users/export/ids",
        "/partners/{partner}/cohorts",
        "/partners/{partner}/cohorts/users",
        "/users/export/segment",
    )
} | {
    ("PlatformApiFunction", "GET", path)
    for path in ("/segments/list", "/segments/details", "/campaigns/list", "/campaigns/details")
}

# Environment variables the code reads; every function gets exactly these through Globals.
EXPECTED_GLOBAL_ENV = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "POWERTOOLS_TRACER_CAPTURE_RESPONSE",
    "PYDANTIC_DISABLE_PLUGINS",
    "STEPS_TABLE",
    "METRICS_TABLE",
    "METRICS_HISTORY_TABLE",
    "CONNECTIONS_TABLE",
    "RATE_LIMIT_TABLE",
    "SYNC_QUEUE_URL",
    "TOKEN_KEY_ID",
    "LINKEDIN_APP_SECRET_ARN",
    "OAUTH_STATE_SECRET_ARN",
    "LINKEDIN_API_URL",
    "LINKEDIN_OAUTH_URL",
    "LINKEDIN_CLIENT_ID",
    "LINKEDIN_SEND_CONCURRENCY",
    "LINKEDIN_VERSION",
    "LINKEDIN_SOURCE_PLATFORM",
    "OAUTH_REDIRECT_URI",
    "LINKEDIN_MAX_ELEMENTS",
    "LINKEDIN_REQUESTS_PER_SECOND",
    "LINKEDIN_RATE_HEADROOM_PERCENT",
    "RETRY_HORIZON_SECONDS",
    "LEDGER_TABLE",
    "RETRY_BUCKET",
    "RETRY_STATE_MACHINE_ARN",
    "NOTIFICATIONS_TOPIC_ARN",
    "AUDIENCE_VIEWS_TABLE",
    "AUDIENCE_MAX_AGE_SECONDS",
}
# Read by settings.py, set by local mode only (never by the template: the loopback test below).
LOCAL_ONLY_ENV = {
    "WEBHOOK_ALLOW_LOOPBACK",
    "CAMPAIGN_CACHE_SECONDS",
    "TIME_SCALE",
    "S3_PUBLIC_ENDPOINT",
    "SEGMENT_CACHE_SECONDS",
    "SWEEP_DELAY_SECONDS",
}
# Environment variables one function sets for itself: the webhook signing secret and replay table (both empty
# unless the WebhookSigning parameter is enabled).
EXPECTED_FUNCTION_ENV = {
    "IngestFunction": {"WEBHOOK_SIGNING_SECRET_ARN", "WEBHOOK_SIGNATURES_TABLE", "PROFILES_TABLE"},
    "ApiFunction": {
        "CREDENTIALS_TABLE",
        "PROFILES_TABLE",  # an API-triggered campaign renders its recipients' profiles
        "COHORTS_TABLE",
        "SEGMENTS_TABLE",
        "SEGMENT_MEMBERS_TABLE",
        "SEGMENT_STATS_TABLE",
        "SWEEP_QUEUE_URL",
        "MEMBERSHIP_QUEUE_URL",
        "CAMPAIGNS_TABLE",
        "CAMPAIGN_STATE_TABLE",  # POST /v1/interactions: each recorded once
        "CAMPAIGN_ACTIVITY_QUEUE_URL",  # interactions (and a control group's) for action-based campaigns
        "EXPORTS_TABLE",  # exports started (jobs and their segments' locks), queued, linked
        "EXPORT_QUEUE_URL",
        "EXPORT_FILES_BUCKET",
        "EXPORT_BUCKET",
        "IMPORTS_TABLE",  # import definitions, runs started and listed
        "IMPORT_QUEUE_URL",
    },
    "PlatformApiFunction": {
        "CREDENTIALS_TABLE",
        "PROFILES_TABLE",
        "PROFILE_QUEUE_URL",
        "PROFILE_WRITE_GROUPS",
        "ARRAY_MAX_LENGTH",
        "USER_API_REQUESTS_PER_MINUTE",
        "COHORTS_TABLE",
        "PARTNER_API_KEY",
        "SEGMENTS_TABLE",
        "SEGMENT_MEMBERS_TABLE",
        "SEGMENT_STATS_TABLE",
        "SWEEP_QUEUE_URL",
        "CAMPAIGNS_TABLE",
        "EXPORTS_TABLE",  # exports started (jobs and their segments' locks), queued, linked
        "EXPORT_QUEUE_URL",
        "EXPORT_FILES_BUCKET",
        "EXPORT_BUCKET",
    },
    "ExportFunction": {
        "EXPORTS_TABLE",
        "EXPORT_QUEUE_URL",
        "EXPORT_FILES_BUCKET",
        "EXPORT_BUCKET",
        "PROFILES_TABLE",
        "SEGMENT_MEMBERS_TABLE",
        "SEGMENT_STATS_TABLE",  # the members' index is built with both of its tables (reads only the first)
    },
    "ImportFunction": {
        "IMPORTS_TABLE",
        "IMPORT_QUEUE_URL",
        "PROFILES_TABLE",  # the profile writer applies the rows
        "ARRAY_MAX_LENGTH",
        "SEGMENTS_TABLE",
        "MEMBERSHIP_QUEUE_URL",
    },
    "ProfileWriterFunction": {
        "PROFILES_TABLE",
        "ARRAY_MAX_LENGTH",
        "COHORTS_TABLE",
        "SEGMENTS_TABLE",
        "MEMBERSHIP_QUEUE_URL",
        "CAMPAIGNS_TABLE",  # who listens to events and purchases
        "CAMPAIGN_ACTIVITY_QUEUE_URL",
    },
    "MembershipFunction": {"SEGMENT_MEMBERS_TABLE", "SEGMENT_STATS_TABLE", "PROFILES_TABLE", "MEMBERSHIP_QUEUE_URL"},
    # a retried segment move checked against the newest; a stopped campaign's webhooks not sent (both functions)
    # and every delivered webhook records received_webhook (both functions)
    "RetryFunction": {"SEGMENT_MEMBERS_TABLE", "CAMPAIGNS_TABLE", "CAMPAIGN_ACTIVITY_QUEUE_URL"},
    "BatcherFunction": {"CAMPAIGNS_TABLE", "CAMPAIGN_ACTIVITY_QUEUE_URL"},
    "CampaignActivityFunction": {
        "CAMPAIGNS_TABLE",
        "CAMPAIGN_STATE_TABLE",
        "PROFILES_TABLE",
        "CAMPAIGN_ACTIVITY_QUEUE_URL",
        "CAMPAIGN_ACTIVITY_QUEUE_ARN",  # the waits' schedules target it
        "CAMPAIGN_ACTIVITY_DLQ_ARN",  # and put there what they could not deliver for a day
        "WAIT_SCHEDULE_GROUP",
        "WAIT_SCHEDULE_ROLE_ARN",
    },
    "SegmentCountersFunction": {"SEGMENTS_TABLE", "SEGMENT_MEMBERS_TABLE", "SEGMENT_STATS_TABLE"},
    "SegmentSweepFunction": {
        "PROFILES_TABLE",
        "PROFILE_QUEUE_URL",
        "PROFILE_WRITE_GROUPS",
        "SEGMENTS_TABLE",
        "SWEEP_QUEUE_URL",
    },
}

EXPECTED_RETRY_OUTPUTS = {
    "RetryFunctionName",
    "RetryStateMachineArn",
    "RetryBucketName",
    "LedgerTableName",
    "IntegrationErrorsTopicArn",
}

EXPECTED_FUNCTIONS = {
    "ConsoleFunction",
    "ApiFunction",
    "IngestFunction",
    "BatcherFunction",
    "RetryFunction",
    "TokenRefreshFunction",
    "MetricsSnapshotFunction",
    "AudienceRefreshFunction",
    "PlatformApiFunction",
    "ProfileWriterFunction",
    "MembershipFunction",
    "SegmentSweepFunction",
    "SegmentCountersFunction",
    "CampaignActivityFunction",
    "ExportFunction",
    "ImportFunction",
}

# What each function (and the state machine) may change or call, as granted by SAM policy templates, inline statements
# and this template's managed policies. Equality, not a subset: an extra one is excess privilege (and a missing one is
# also caught by test_least_privilege.py's REQUIRED_CALLS, as local mode does not enforce IAM).
EXPECTED_WRITES = {
    # connections (OAuth), step configs and errors, the audience cache, notifications, the API keys
    "ApiFunction": {
        "StepsTable",
        "ConnectionsTable",
        "AudienceViewsTable",
        "IntegrationErrorsTopic",
        "CredentialsTable",
        "SegmentsTable",  # definitions
        "SegmentStatsTable",  # a deleted segment's counters
        "SweepQueue",  # a new filter's sweep
        "MembershipQueue",  # a launched segment step's reconciliation
        "CampaignsTable",  # campaigns' definitions and status
        "SyncQueue",  # an API-triggered campaign's webhooks
        "CampaignStateTable",  # interactions recorded (once each)
        "CampaignActivityQueue",  # interactions for action-based campaigns
        "ExportsTable",  # CSV export jobs and their segments' locks
        "ExportQueue",
        "ImportsTable",  # import definitions, a run started
        "ImportQueue",
    },
    # the profile queue, a request counter per key and partners' cohort names; never a profile (only the writer
    # writes them)
    "PlatformApiFunction": {"ProfileQueue", "RateLimitTable", "CohortsTable", "ExportsTable", "ExportQueue"},
    # an export's job, its files (the stack's bucket; the customer's, named by a parameter, is not a resource here),
    # its hand-off to the next run, and a failure's notification
    "ExportFunction": {"ExportsTable", "ExportFilesBucket", "ExportQueue", "IntegrationErrorsTopic"},
    # an import's state and runs, its hand-off, and as the profile writer: profiles and memberships handed on
    "ImportFunction": {"ImportsTable", "ImportQueue", "ProfilesTable", "MembershipQueue", "IntegrationErrorsTopic"},
    # profiles, per cohort the count of ids that named no user, and segment entries and exits handed on
    # and the events and purchases action-based campaigns listen to
    "ProfileWriterFunction": {"ProfilesTable", "CohortsTable", "MembershipQueue", "CampaignActivityQueue"},
    # entries, waits (with the campaigns' counters), their schedules, the sends (the one pipeline) and a control
    # group's interactions
    "CampaignActivityFunction": {
        "CampaignStateTable",
        "MetricsTable",
        "MetricsHistoryTable",
        "SyncQueue",
        "CampaignActivityQueue",
        "WaitScheduleGroup",
        "WaitScheduleRole",
    },
    # the members' index and new counts items, and the users of the steps that follow segments (the sync queue)
    # (and the rest of a step's reconciliation, on its own queue)
    "MembershipFunction": {"SegmentMembersTable", "SegmentStatsTable", "SyncQueue", "MembershipQueue"},
    # never a profile: re-evaluations on the profile queue, and its own jobs
    "SegmentSweepFunction": {"ProfileQueue", "SweepQueue"},
    # the segments' counters: pending counts folded into the totals
    "SegmentCountersFunction": {"SegmentStatsTable"},
    # only the queue: the webhook's counts travel with its users and the batcher records them; with WebhookSigning
    # enabled, the signatures it has seen (replay protection)
    "IngestFunction": {"SyncQueue", "WebhookSignaturesTable"},
    # step errors, counters and their minute + ledger (one transaction), rate bucket, token refresh, notifications,
    # and the hand-off to the retry: the batch in S3, then an execution. No SQS send any more.
    "BatcherFunction": {
        "StepsTable",
        "MetricsTable",
        "MetricsHistoryTable",
        "LedgerTable",
        "RateLimitTable",
        "ConnectionsTable",
        "IntegrationErrorsTopic",
        "RetryBucket",
        "RetryStateMachine",
        "CampaignActivityQueue",  # received_webhook interactions
    },
    # as the batcher, but reads/writes/deletes its batch in S3; it answers the state machine with the next batch and
    # starts an execution only for the other batches of an attempt split by wait
    "RetryFunction": {
        "StepsTable",
        "MetricsTable",
        "MetricsHistoryTable",
        "LedgerTable",
        "RateLimitTable",
        "ConnectionsTable",
        "IntegrationErrorsTopic",
        "RetryBucket",
        "RetryStateMachine",  # an execution of its own for each batch after the first of an attempt split by wait
        "CampaignActivityQueue",  # received_webhook interactions
    },
    # token refresh; invalid_token notifications
    "TokenRefreshFunction": {"ConnectionsTable", "IntegrationErrorsTopic"},
    # reads counters and the connection's status; its gauges go to CloudWatch through its log (EMF)
    "MetricsSnapshotFunction": set(),
    # the audience cache, audience step errors, a token refresh or invalid_token, notifications
    "AudienceRefreshFunction": {"StepsTable", "AudienceViewsTable", "ConnectionsTable", "IntegrationErrorsTopic"},
    "RetryStateMachine": {"RetryFunction"},
    "ConsoleFunction": set(),  # static files
}
# SAM policy template -> the parameter naming what it lets the holder change or call.
WRITE_POLICY_TEMPLATES = {
    "DynamoDBCrudPolicy": "TableName",
    "DynamoDBWritePolicy": "TableName",
    "S3CrudPolicy": "BucketName",
    "S3WritePolicy": "BucketName",
    "SQSSendMessagePolicy": "QueueName",
    "SNSPublishMessagePolicy": "TopicName",
    "StepFunctionsExecutionPolicy": "StateMachineName",
    "LambdaInvokePolicy": "FunctionName",
}
# Policy templates that only read or use a key; any other template must be classified before it is used.
READ_POLICY_TEMPLATES = {
    "DynamoDBReadPolicy",
    "S3ReadPolicy",
    "KMSEncryptPolicy",
    "KMSDecryptPolicy",
    "AWSSecretsManagerGetSecretValuePolicy",
}

# Gateway response type -> (status code or None = keep the gateway's own 5xx, envelope error code).
EXPECTED_GATEWAY_RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": ("404", "not_found"),
    "INVALID_API_KEY": ("403", "forbidden"),
    "REQUEST_TOO_LARGE": ("413", "payload_too_large"),
    "THROTTLED": ("429", "throttled"),
    "QUOTA_EXCEEDED": ("429", "throttled"),
    "DEFAULT_5XX": (None, "internal_error"),
}

EXPECTED_EVENT_FILES = {
    "api_health.json",
    "api_put_step.json",
    "api_launch_step.json",
    "api_oauth_callback.json",
    "ingest_users.json",
    "batcher_sqs.json",
    "token_refresh_schedule.json",
    "metrics_snapshot_schedule.json",
    "audience_refresh_schedule.json",
    "retry_attempt.json",
}


# --------------------------------------------------------------------------- helpers


def full_access_policies(tpl: dict[str, Any]) -> list[str]:
    """Names of *FullAccess managed policies attached anywhere (function Policies or IAM ManagedPolicyArns)."""
    found: list[str] = []
    for res in tpl.get("Resources", {}).values():
        props = res.get("Properties") or {}
        policies = props.get("Policies", [])
        for policy in policies if isinstance(policies, list) else [policies]:
            if isinstance(policy, str) and policy.endswith("FullAccess"):
                found.append(policy)
        for arn in props.get("ManagedPolicyArns", []):
            if isinstance(arn, str) and arn.endswith("FullAccess"):
                found.append(arn)
    return found


def _policy_target(tpl: dict[str, Any], parameter: str, value: Any) -> str:
    """Logical id a policy template parameter names: !Ref X, !GetAtt X.<parameter>, or a resource's Name."""
    if isinstance(value, dict) and isinstance(value.get("Ref"), str):
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target, attribute = value["Fn::GetAtt"]
        # e.g. TopicName: !GetAtt Topic.Arn would expand to an ARN inside an ARN and grant nothing
        assert attribute == parameter, f"{parameter}: !GetAtt {target}.{attribute} must be .{parameter}"
        return str(target)
    # Built from the name to avoid a dependency cycle (the state machine's ARN): match a resource's Name.
    named = [name for name, res in tpl["Resources"].items() if (res.get("Properties") or {}).get("Name") == value]
    assert len(named) == 1, f"{parameter} {value!r} names no resource of this template"
    return named[0]


def _unconditional(policies: list[Any]) -> Iterator[Any]:
    """Policies with each `!If [condition, policy, !Ref AWS::NoValue]` as the policy it may grant."""
    for policy in policies:
        if isinstance(policy, dict) and "Fn::If" in policy:
            _, *branches = policy["Fn::If"]
            yield from (b for b in branches if b != {"Ref": "AWS::NoValue"})
        else:
            yield policy


def statement_writes(tpl: dict[str, Any], document: Any) -> set[str]:
    """Logical ids the Allow statements of a policy document let the holder change or call (any non-read action)."""
    found: set[str] = set()
    for statement in policy_statements(document):
        actions = [str(a) for a in as_list(statement.get("Action"))]
        if statement.get("Effect") == "Allow" and not all(is_read_action(a) for a in actions):
            found |= statement_targets(tpl, statement.get("Resource"))
    return found


def writes(tpl: dict[str, Any], holder: str) -> set[str]:
    """Logical ids the policies of holder let it change or call: SAM policy templates, inline statements and
    managed policies of this template (Policies: - !Ref X)."""
    found: set[str] = set()
    for policy in _unconditional(tpl["Resources"][holder]["Properties"].get("Policies") or []):
        if not isinstance(policy, dict):
            continue
        if "Statement" in policy:
            found |= statement_writes(tpl, policy)
            continue
        if isinstance(policy.get("Ref"), str):
            managed = tpl["Resources"][policy["Ref"]]
            assert managed["Type"] == "AWS::IAM::ManagedPolicy", f"{holder}: !Ref {policy['Ref']} is no managed policy"
            found |= statement_writes(tpl, managed["Properties"]["PolicyDocument"])
            continue
        (name, params), *rest = policy.items()
        assert not rest, f"{holder}: one policy template per list entry, got {sorted(policy)}"
        if name in WRITE_POLICY_TEMPLATES:
            parameter = WRITE_POLICY_TEMPLATES[name]
            found.add(_policy_target(tpl, parameter, params[parameter]))
        else:
            assert name in READ_POLICY_TEMPLATES, f"{holder}: classify policy template {name} in this test"
    return found


@pytest.fixture
def template() -> dict[str, Any]:
    return load_template()


def _api_events(tpl: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for fn_name, fn in functions(tpl).items():
        for event_name, event in (fn["Properties"].get("Events") or {}).items():
            if event.get("Type") == "Api":
                yield fn_name, event_name, event["Properties"]


def _api_key_required(tpl: dict[str, Any], props: dict[str, Any]) -> bool:
    api_name = props["RestApiId"]["Ref"]
    api_default = tpl["Resources"][api_name]["Properties"].get("Auth", {}).get("ApiKeyRequired", False)
    return bool(props.get("Auth", {}).get("ApiKeyRequired", api_default))


def _event_samples() -> list[Path]:
    return sorted(EVENTS.glob("*.json"))


# --------------------------------------------------------------------------- tools


def test_sam_validate_lint() -> None:
    result = run([str(sam_cli()), "validate", "--lint", "--template-file", str(TEMPLATE)], sam_env(), timeout=180)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "is a valid SAM Template" in output, output


def test_cfn_lint() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    assert cfn_lint.exists(), f"cfn-lint not found next to {sys.executable}"
    result = run([str(cfn_lint), str(TEMPLATE)], sam_env(), timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(300)
def test_sam_build_builds_layer_andfunctions(tmp_path: Path) -> None:
    aws_sam_existed = (REPO / ".aws-sam").exists()
    build_dir = tmp_path / "build"
    cmd = [
        str(sam_cli()),
        "build",
        "--template-file",
        str(TEMPLATE),
        "--build-dir",
        str(build_dir),
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    # samconfig.toml sets cached = true, and SAM then puts .aws-sam/deps under the *working* directory:
    # build from tmp_path so nothing lands in the repository.
    result = run(cmd, sam_env(PYENV_VERSION="3.12.1:3.11.7"), timeout=290, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (build_dir / "CommonLayer" / "python" / "audience_sync" / "__init__.py").is_file()
    assert (build_dir / "CommonLayer" / "python" / "aws_lambda_powertools").is_dir()
    for name in functions(load_template()):
        assert (build_dir / name / "app.py").is_file(), f"{name} was not built"
    # Compiled dependencies (pydantic-core, ...) must match the functions' architecture, or the layer fails to
    # import on Lambda: sam build fetches x86_64 wheels unless the layer says otherwise.
    template = load_template()
    (architecture,) = template["Globals"]["Function"]["Architectures"]
    machine = {"arm64": "aarch64", "x86_64": "x86_64"}[architecture]
    libraries = list((build_dir / "CommonLayer").rglob("*.so"))
    assert any("pydantic_core" in str(lib) for lib in libraries)
    wrong = [lib.name for lib in libraries if f"-{machine}-linux" not in lib.name]
    assert not wrong, f"built for another architecture than {architecture}: {wrong}"
    layer = template["Resources"]["CommonLayer"]
    assert layer["Properties"]["CompatibleArchitectures"] == [architecture]
    _assert_bytecode_compiled_in(build_dir / "CommonLayer" / "python")
    if not aws_sam_existed:
        assert not (REPO / ".aws-sam").exists(), "sam build left .aws-sam/ in the repository"


def _assert_bytecode_compiled_in(layer: Path) -> None:
    """Lambda's /opt is read-only: a module without its .pyc in the layer is compiled at every cold start. Each one
    must be there, for the runtime's Python, and hash-based without a check (flags 0b01), which a zip's 2-second
    mtimes cannot make stale."""
    missing, checked = [], 0
    for source in layer.rglob("*.py"):
        compiled = source.parent / "__pycache__" / f"{source.stem}.cpython-312.pyc"
        if not compiled.is_file():
            missing.append(str(source.relative_to(layer)))
            continue
        assert int.from_bytes(compiled.read_bytes()[4:8], "little") == 1, f"{compiled}: not unchecked-hash"
        checked += 1
    assert not missing, f"modules without bytecode: {missing[:10]}"
    assert checked > 1000


def test_outputs_and_generated_resources_after_sam_transform() -> None:
    """cfn-lint accepts any Ref matching '^SyncApi.+', so translate for real to prove SyncApiApiKey exists."""
    translated = translated_template()
    resources = {name: res["Type"] for name, res in translated["Resources"].items()}
    assert resources.get("SyncApiApiKey") == "AWS::ApiGateway::ApiKey"
    assert resources.get("SyncApiUsagePlanKey") == "AWS::ApiGateway::UsagePlanKey"
    assert resources.get("RetryStateMachine") == "AWS::StepFunctions::StateMachine"
    assert resources.get("RetryStateMachineRole") == "AWS::IAM::Role"
    known = set(resources) | set(load_template()["Parameters"]) | {"AWS::Region", "AWS::AccountId", "AWS::StackName"}
    assert set(translated["Outputs"]) >= EXPECTED_RETRY_OUTPUTS
    for name, output in translated["Outputs"].items():
        missing = referenced_names(output["Value"]) - known
        assert not missing, f"output {name} references unknown {missing}"
    stages = sorted(k for k, v in resources.items() if v == "AWS::ApiGateway::Stage")
    # One 'api' stage per API (no SAM default "Stage"): the management API and the Braze-compatible one.
    assert stages == ["PlatformApiapiStage", "SyncApiapiStage"], stages
    assert {"ApiUrl", "PlatformApiUrl"} <= set(translated["Outputs"])
    platform = translated["Resources"]["PlatformApi"]["Properties"]["Body"]
    braze = ("/users/", "/partners/", "/segments/", "/campaigns/")
    assert all(path.startswith(braze) for path in platform["paths"]), "Braze-compatible only"
    for methods in platform["paths"].values():
        assert all(not operation.get("security") for operation in methods.values()), "Bearer keys, not x-api-key"
    body = translated["Resources"]["SyncApi"]["Properties"]["Body"]
    assert set(body["x-amazon-apigateway-gateway-responses"]) == set(EXPECTED_GATEWAY_RESPONSES)
    for path, methods in body["paths"].items():
        for method, operation in methods.items():
            secured = bool(operation.get("security"))
            assert secured == (path not in OPEN_PATHS), f"{method.upper()} {path}: api key required={secured}"


# CloudFormation takes 500 resources a stack. Past this budget, the next capability goes into a nested stack of its
# own (docs/decisions/0010-one-ordered-template.md says why one template until then).
RESOURCE_BUDGET = 400
FLOW = [
    "Shared code",
    "API",
    "Profiles",
    "Exports",
    "Imports",
    "Ingest",
    "Sync",
    "Retry",
    "Schedules",
    "Observability",
    "Data",
    "Secrets and keys",
]


def test_the_deployed_stack_stays_within_its_resource_budget() -> None:
    count = len(translated_template()["Resources"])
    assert count <= RESOURCE_BUDGET, f"{count} resources after the SAM transform: time for a nested stack (0010)"


def test_resources_are_ordered_by_the_flow_each_part_under_its_banner() -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    resources = text[text.index("\nResources:\n") : text.index("\nOutputs:\n")]
    banners = re.findall(r"^  # (\d+)\. ([A-Za-z ]+):", resources, re.MULTILINE)
    assert [title for _, title in banners] == FLOW
    assert [int(n) for n, _ in banners] == list(range(1, len(FLOW) + 1))
    first_resource = re.search(r"^  [A-Za-z0-9]+:\s*$", resources, re.MULTILINE)
    assert first_resource is not None and resources.index("# 1. Shared code") < first_resource.start()


def test_the_api_key_belongs_to_a_throttled_usage_plan() -> None:
    translated = translated_template()["Resources"]
    (plan,) = [r["Properties"] for r in translated.values() if r["Type"] == "AWS::ApiGateway::UsagePlan"]
    assert plan["Throttle"]["RateLimit"] > 0
    assert plan["Throttle"]["BurstLimit"] >= plan["Throttle"]["RateLimit"]
    assert [referenced_names(stage["ApiId"]) for stage in plan["ApiStages"]] == [{"SyncApi"}]
    key = translated["SyncApiUsagePlanKey"]["Properties"]
    assert (key["KeyType"], referenced_names(key["KeyId"])) == ("API_KEY", {"SyncApiApiKey"})
    (stage,) = [
        r["Properties"]
        for r in translated.values()
        if r["Type"] == "AWS::ApiGateway::Stage" and referenced_names(r["Properties"]["RestApiId"]) == {"SyncApi"}
    ]
    (methods,) = stage["MethodSettings"]
    assert (methods["ResourcePath"], methods["HttpMethod"]) == ("/*", "*")
    assert 0 < methods["ThrottlingRateLimit"] <= methods["ThrottlingBurstLimit"]


def test_the_ingest_role_gets_the_signing_grants_only_when_signing_is_enabled() -> None:
    """SAM keeps each `!If` policy as a conditional policy of the generated role."""
    role = translated_template()["Resources"]["IngestFunctionRole"]["Properties"]["Policies"]
    conditional = {}
    for policy in role:
        if "Fn::If" in policy:
            condition, granted, otherwise = policy["Fn::If"]
            assert (condition, otherwise) == ("WebhookSigningEnabled", {"Ref": "AWS::NoValue"})
            (statement,) = granted["PolicyDocument"]["Statement"]
            resources = referenced_names(statement["Resource"]) & set(load_template()["Resources"])
            conditional[frozenset(statement["Action"])] = resources
    assert conditional == {
        frozenset({"secretsmanager:GetSecretValue"}): {"WebhookSigningSecret"},
        frozenset({"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem"}): {"WebhookSignaturesTable"},
    }


def test_generated_roles_are_least_privilege() -> None:
    """After the transform the policy templates are expanded into roles: check what IAM will actually get."""
    translated = translated_template()
    roles = resources_of_type(translated, "AWS::IAM::Role")
    assert {f"{name}Role" for name in EXPECTED_WRITES} <= set(roles)
    assert full_access_policies(translated) == []
    # wildcards: test_least_privilege.py


# --------------------------------------------------------------------------- structure


def test_policy_checkers_detect_violations() -> None:
    """The structural checkers below must be able to fail."""
    bad = {
        "Resources": {
            "F": {"Properties": {"Policies": ["AmazonS3FullAccess", {"Statement": [{"Action": "s3:*"}]}]}},
            "R": {
                "Properties": {
                    "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AmazonSQSFullAccess"],
                    "Policies": [{"PolicyDocument": {"Statement": {"Action": ["*", "kms:Decrypt"]}}}],
                }
            },
        }
    }
    assert len(full_access_policies(bad)) == 2

    policies = [
        {"DynamoDBCrudPolicy": {"TableName": {"Ref": "T"}}},
        {"SNSPublishMessagePolicy": {"TopicName": {"Fn::GetAtt": ["Topic", "TopicName"]}}},
        {"StepFunctionsExecutionPolicy": {"StateMachineName": {"Fn::Sub": "${AWS::StackName}-x"}}},
        {"DynamoDBReadPolicy": {"TableName": {"Ref": "R"}}},
    ]
    sm = {"Type": "AWS::Serverless::StateMachine", "Properties": {"Name": {"Fn::Sub": "${AWS::StackName}-x"}}}
    tpl = {"Resources": {"F": {"Properties": {"Policies": policies}}, "Sm": sm}}
    assert writes(tpl, "F") == {"T", "Topic", "Sm"}
    # inline statements and managed policies count too, but reads (and key use) on a resource do not
    inline = {
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": {"Fn::Sub": "${B.Arn}/p/*"}},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": {"Fn::Sub": "${R.Arn}/*"}},
        ]
    }
    managed = {
        "Type": "AWS::IAM::ManagedPolicy",
        "Properties": {
            "PolicyDocument": {
                "Statement": [
                    {"Effect": "Allow", "Action": "sns:Publish", "Resource": {"Ref": "Topic"}},
                    {"Effect": "Allow", "Action": "kms:GenerateDataKey", "Resource": {"Fn::GetAtt": ["K", "Arn"]}},
                ]
            }
        },
    }
    tpl = {
        "Resources": {
            "F": {"Properties": {"Policies": [inline, {"Ref": "M"}]}},
            "M": managed,
            **{n: {} for n in ("B", "R", "Topic", "K")},
        }
    }
    assert writes(tpl, "F") == {"B", "Topic"}
    for bad_policy in (
        {"SNSPublishMessagePolicy": {"TopicName": {"Fn::GetAtt": ["Topic", "Arn"]}}},  # ARN where a name goes
        {"StepFunctionsExecutionPolicy": {"StateMachineName": "elsewhere"}},  # names nothing of this template
        {"S3FullAccessPolicy": {"BucketName": {"Ref": "B"}}},  # not classified
    ):
        with pytest.raises(AssertionError):
            writes({"Resources": {"F": {"Properties": {"Policies": [bad_policy]}}, "Sm": sm}}, "F")


def test_no_full_access_policies(template: dict[str, Any]) -> None:
    assert full_access_policies(template) == []
    holders = functions(template) | resources_of_type(template, "AWS::Serverless::StateMachine")
    for name, fn in holders.items():
        policies = fn["Properties"].get("Policies") or []
        if name in CALLS_NOTHING:  # SAM's basic execution role only: its own logs
            assert not policies, f"{name} calls nothing and needs no policy"
            continue
        assert policies, f"{name} has no explicit least-privilege Policies"
        for policy in policies:
            assert isinstance(policy, dict), f"{name}: use SAM policy templates, not {policy!r}"


def test_retry_bucket_is_private_tls_only_and_expires_batches(template: dict[str, Any]) -> None:
    bucket = template["Resources"]["RetryBucket"]["Properties"]
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled"
    assert rule["Prefix"] == "retry/"  # where retry_store.batch_key puts batches
    horizon_days = template["Parameters"]["RetryHorizonSeconds"]["Default"] / 86_400
    assert rule["ExpirationInDays"] > horizon_days, "batches must outlive the retry horizon"
    policies = resources_of_type(template, "AWS::S3::BucketPolicy")
    (policy,) = [p["Properties"] for p in policies.values() if p["Properties"]["Bucket"] == {"Ref": "RetryBucket"}]
    (deny,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Action"] == "s3:*"
    assert deny["Principal"] == "*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert referenced_names(deny["Resource"]) == {"RetryBucket"}
    assert any(isinstance(r, dict) and "Fn::Sub" in r and r["Fn::Sub"].endswith("/*") for r in deny["Resource"])
    assert not [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] != "Deny"]


def test_every_table_queue_bucket_topic_and_state_machine_has_an_output(template: dict[str, Any]) -> None:
    tables = resources_of_type(template, "AWS::DynamoDB::Table")
    queues = resources_of_type(template, "AWS::SQS::Queue")
    others = {
        name
        for rtype in ("AWS::S3::Bucket", "AWS::SNS::Topic", "AWS::Serverless::StateMachine")
        for name in resources_of_type(template, rtype)
    }
    assert {"StepsTable", "MetricsTable", "ConnectionsTable", "RateLimitTable"} <= set(tables)
    assert "LedgerTable" in tables
    assert {"SyncQueue", "SyncDeadLetterQueue"} <= set(queues)
    assert {"RetryBucket", "IntegrationErrorsTopic", "RetryStateMachine"} <= others
    referenced = referenced_names(template["Outputs"])
    missing = (set(tables) | set(queues) | others | EXPECTED_FUNCTIONS) - referenced
    assert not missing, f"no Output for {sorted(missing)}"
    for name, output in template["Outputs"].items():
        assert output.get("Description"), f"output {name} has no Description"


def test_tables_are_plain_dynamodb_tables_with_expected_keys(template: dict[str, Any]) -> None:
    assert not resources_of_type(template, "AWS::Serverless::SimpleTable")
    expected = {
        "StepsTable": ("step_id", None),
        "MetricsTable": ("step_id", None),
        "ConnectionsTable": ("pk", "expires_at"),
        "RateLimitTable": ("bucket", "expires_at"),
        "LedgerTable": ("id", "expires_at"),  # ledger.py writes id and expires_at
        "AudienceViewsTable": ("step_id", None),
        "WebhookSignaturesTable": ("id", "expires_at"),  # signature_store.py writes id and expires_at
    }
    tables = resources_of_type(template, "AWS::DynamoDB::Table")
    for name, (hash_key, ttl) in expected.items():
        props = tables[name]["Properties"]
        assert props["KeySchema"] == [{"AttributeName": hash_key, "KeyType": "HASH"}], name
        assert props["AttributeDefinitions"] == [{"AttributeName": hash_key, "AttributeType": "S"}], name
        assert props["BillingMode"] == "PAY_PER_REQUEST", name
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name
        assert props["SSESpecification"]["SSEEnabled"] is True, name
        assert props.get("TimeToLiveSpecification", {}).get("AttributeName") == ttl, name


def test_api_events_require_api_key_except_oauth_callback(template: dict[str, Any]) -> None:
    api = template["Resources"]["SyncApi"]["Properties"]
    assert api["Auth"]["ApiKeyRequired"] is True
    assert api["Auth"]["UsagePlan"]["CreateUsagePlan"] == "PER_API"
    routes = set()
    platform = set()
    for fn_name, event_name, props in _api_events(template):
        if props["RestApiId"] == {"Ref": "PlatformApi"}:
            platform.add((fn_name, props["Method"].upper(), props["Path"]))
            assert _api_key_required(template, props) is False, f"{fn_name}.{event_name}: Bearer keys, not x-api-key"
            continue
        assert props["RestApiId"] == {"Ref": "SyncApi"}, f"{fn_name}.{event_name} is on neither API"
        routes.add((fn_name, props["Method"].upper(), props["Path"]))
        required = _api_key_required(template, props)
        if props["Path"] in OPEN_PATHS:
            assert required is False, f"{props['Path']} must not require x-api-key"
        else:
            assert required is True, f"{fn_name}.{event_name} {props['Path']} does not require x-api-key"
    assert routes == EXPECTED_ROUTES
    assert platform == EXPECTED_PLATFORM_ROUTES


def test_gateway_responses_use_the_error_envelope(template: dict[str, Any]) -> None:
    responses = template["Resources"]["SyncApi"]["Properties"]["GatewayResponses"]
    assert set(responses) == set(EXPECTED_GATEWAY_RESPONSES)
    for response_type, (status, code) in EXPECTED_GATEWAY_RESPONSES.items():
        response = responses[response_type]
        assert response.get("StatusCode") == status, response_type
        body = json.loads(response["ResponseTemplates"]["application/json"])
        assert body["error"]["code"] == code, response_type
        assert body["error"]["message"], response_type
        assert body["error"]["details"] == [], response_type
    assert responses["INVALID_API_KEY"]["ResponseTemplates"]["application/json"].count("x-api-key") == 1


def test_batcher_sqs_event(template: dict[str, Any]) -> None:
    events = template["Resources"]["BatcherFunction"]["Properties"]["Events"]
    sqs_events = [e["Properties"] for e in events.values() if e["Type"] == "SQS"]
    assert len(sqs_events) == 1
    props = sqs_events[0]
    assert props["Queue"] == {"Fn::GetAtt": ["SyncQueue", "Arn"]}
    assert "ReportBatchItemFailures" in props["FunctionResponseTypes"]
    assert props["MaximumBatchingWindowInSeconds"] == {"Ref": "FlushSeconds"}
    assert props["BatchSize"] == 10000
    assert props["ScalingConfig"]["MaximumConcurrency"] == 2
    timeout = template["Resources"]["BatcherFunction"]["Properties"]["Timeout"]
    queue = template["Resources"]["SyncQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * timeout
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["SyncDeadLetterQueue", "Arn"]}


def test_global_environment_is_read_by_the_code() -> None:
    """Settings.from_env reads every variable of its own; Powertools reads the POWERTOOLS_* ones, pydantic its own."""
    settings_source = (REPO / "layers" / "common" / "audience_sync" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r'(?:"env": |env\.get\()"([A-Z0-9_]+)"', settings_source))
    own = set().union(*EXPECTED_FUNCTION_ENV.values())
    libraries = {name for name in EXPECTED_GLOBAL_ENV if name.startswith(("POWERTOOLS_", "PYDANTIC_"))}
    assert read == EXPECTED_GLOBAL_ENV - libraries | own | LOCAL_ONLY_ENV


def test_no_function_on_aws_may_send_webhooks_to_loopback(template: dict[str, Any]) -> None:
    """Only local mode sets WEBHOOK_ALLOW_LOOPBACK (localmode/service.py): on AWS a campaign's webhook never goes
    to a loopback, private or link-local address (contract v2 §6)."""
    assert "WEBHOOK_ALLOW_LOOPBACK" not in json.dumps(template)
    service_source = (REPO / "localmode" / "service.py").read_text(encoding="utf-8")
    assert '"WEBHOOK_ALLOW_LOOPBACK": "true"' in service_source


def test_webhook_signing_is_optional_and_only_the_ingest_gets_it(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["WebhookSigning"]
    assert (parameter["Default"], set(parameter["AllowedValues"])) == ("disabled", {"disabled", "enabled"})
    assert template["Conditions"]["WebhookSigningEnabled"] == {"Fn::Equals": [{"Ref": "WebhookSigning"}, "enabled"]}
    for name in ("WebhookSigningSecret", "WebhookSignaturesTable"):
        assert template["Resources"][name]["Condition"] == "WebhookSigningEnabled", name
    assert "GenerateSecretString" in template["Resources"]["WebhookSigningSecret"]["Properties"]  # no value to pass
    for name, fn in functions(template).items():
        local_env = (fn["Properties"].get("Environment") or {}).get("Variables") or {}
        assert set(local_env) == EXPECTED_FUNCTION_ENV.get(name, set()), name
    env = template["Resources"]["IngestFunction"]["Properties"]["Environment"]["Variables"]
    assert env["WEBHOOK_SIGNING_SECRET_ARN"] == {
        "Fn::If": ["WebhookSigningEnabled", {"Ref": "WebhookSigningSecret"}, ""]
    }
    assert env["WEBHOOK_SIGNATURES_TABLE"] == {
        "Fn::If": ["WebhookSigningEnabled", {"Ref": "WebhookSignaturesTable"}, ""]
    }
    granted = [p["Fn::If"] for p in template["Resources"]["IngestFunction"]["Properties"]["Policies"] if "Fn::If" in p]
    assert [(c, set(p), n) for c, p, n in granted] == [
        ("WebhookSigningEnabled", {"AWSSecretsManagerGetSecretValuePolicy"}, {"Ref": "AWS::NoValue"}),
        ("WebhookSigningEnabled", {"DynamoDBWritePolicy"}, {"Ref": "AWS::NoValue"}),
    ]
    for name, output in template["Outputs"].items():
        if referenced_names(output["Value"]) & {"WebhookSigningSecret", "WebhookSignaturesTable"}:
            assert output.get("Condition") == "WebhookSigningEnabled", name


def test_global_environment_is_shared_and_not_overridden(template: dict[str, Any]) -> None:
    global_env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert set(global_env) == EXPECTED_GLOBAL_ENV
    assert template["Globals"]["Function"]["Layers"] == [{"Ref": "CommonLayer"}]
    for name, fn in functions(template).items():
        local_env = (fn["Properties"].get("Environment") or {}).get("Variables") or {}
        clashes = {k for k in local_env if k in global_env and local_env[k] != global_env[k]}
        assert not clashes, f"{name} redefines global environment variables {sorted(clashes)}"


def test_traces_never_hold_a_handlers_response(template: dict[str, Any]) -> None:
    """Powertools' tracer would put each handler's return value in X-Ray: the API's replies hold profiles, segment
    members and rendered webhooks (PII), which must not leave for the traces."""
    global_env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert global_env["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"


def test_every_function_has_a_log_group(template: dict[str, Any]) -> None:
    log_groups = resources_of_type(template, "AWS::Logs::LogGroup")
    covered = {}
    for lg in log_groups.values():
        props = lg["Properties"]
        covered |= {ref: props.get("RetentionInDays") for ref in referenced_names(props["LogGroupName"])}
    for name in functions(template):
        assert covered.get(name) == 30, f"{name} has no /aws/lambda log group with 30-day retention"


def test_schedules_are_rates_local_mode_runs(template: dict[str, Any]) -> None:
    """Local mode runs rate() schedules only (period / TIME_SCALE); a cron() one would silently never run there."""
    from localmode.event_sources import rate_seconds

    schedules = {
        name: event["Properties"]["Schedule"]
        for name, fn in functions(template).items()
        for event in (fn["Properties"].get("Events") or {}).values()
        if event["Type"] == "Schedule"
    }
    assert set(schedules) == {
        "TokenRefreshFunction",
        "AudienceRefreshFunction",
        "MetricsSnapshotFunction",
        "SegmentSweepFunction",
        "SegmentCountersFunction",
        "ImportFunction",
    }
    for name, expression in schedules.items():
        assert rate_seconds(expression) is not None, f"{name}: {expression} is not a rate() local mode understands"


def test_function_code_dirs_contain_handlers(template: dict[str, Any]) -> None:
    assert set(functions(template)) == EXPECTED_FUNCTIONS
    for name, fn in functions(template).items():
        props = fn["Properties"]
        module, _, func = props["Handler"].partition(".")
        source = REPO / props["CodeUri"] / f"{module}.py"
        assert source.is_file(), f"{name}: {source.relative_to(REPO)} does not exist yet"
        assert func in source.read_text(encoding="utf-8"), f"{name}: {func} not defined in {source.name}"


def test_layer_content(template: dict[str, Any]) -> None:
    layer = template["Resources"]["CommonLayer"]
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    content = REPO / layer["Properties"]["ContentUri"]
    assert "build-CommonLayer:" in (content / "Makefile").read_text(encoding="utf-8")
    assert (content / "requirements.txt").is_file()
    assert (content / "audience_sync" / "__init__.py").is_file()


# --------------------------------------------------------------------------- samconfig + events


def test_samconfig() -> None:
    config = tomllib.loads((REPO / "samconfig.toml").read_text(encoding="utf-8"))
    assert config["version"] == 0.1
    assert config["default"]["global"]["parameters"]["stack_name"] == "audience-sync"
    assert config["default"]["validate"]["parameters"]["lint"] is True
    prod = config["prod"]["deploy"]["parameters"]
    assert prod["stack_name"] == "audience-sync-prod"
    assert "LogLevel=WARNING" in prod["parameter_overrides"]
    for env in (config["default"]["deploy"]["parameters"], prod):
        assert env["confirm_changeset"] is True
        assert env["resolve_s3"] is True
        assert "s3_bucket" not in env


def test_event_samples_are_valid_json() -> None:
    samples = _event_samples()
    missing = EXPECTED_EVENT_FILES - {p.name for p in samples}
    assert not missing, f"missing sample events {sorted(missing)}"
    for path in samples:
        json.loads(path.read_text(encoding="utf-8"))  # raises on invalid JSON


def test_sqs_event_sample_bodies() -> None:
    sqs_records = [
        record
        for path in _event_samples()
        for record in json.loads(path.read_text(encoding="utf-8")).get("Records", [])
        if record.get("eventSource") == "aws:sqs"
    ]
    assert sqs_records, "no SQS sample event found"
    for record in sqs_records:
        body = json.loads(record["body"])
        assert {"v", "step_id", "target", "users"} <= set(body), record["messageId"]
        assert body["users"], record["messageId"]
        assert re.fullmatch(r"[0-9a-f]{64}", body["users"][0].get("e", "")), "emails travel as SHA-256 hex"
        assert record["attributes"]["ApproximateReceiveCount"].isdigit()


def test_retry_event_sample_is_what_the_state_machine_sends() -> None:
    """`sam local invoke RetryFunction -e events/retry_attempt.json` gets a valid attempt input."""
    from audience_sync.pipeline.retry_attempt import AttemptInput

    sample = json.loads((EVENTS / "retry_attempt.json").read_text(encoding="utf-8"))
    AttemptInput.model_validate(sample)  # raises on a sample the handler would refuse
    payload = json.loads((REPO / "statemachine" / "retry_batch.asl.json").read_text(encoding="utf-8"))
    (task,) = [s for s in payload["States"].values() if s["Type"] == "Task"]
    assert set(sample) == {k.removesuffix(".$") for k in task["Parameters"]["Payload"]}


def test_api_event_samples_match_template_routes(template: dict[str, Any]) -> None:
    routes = {(method, path) for _, method, path in EXPECTED_ROUTES}
    api_samples = 0
    for path in _event_samples():
        event = json.loads(path.read_text(encoding="utf-8"))
        if "httpMethod" not in event:
            continue
        api_samples += 1
        assert (event["httpMethod"], event["resource"]) in routes, path.name
        assert event["requestContext"]["resourcePath"] == event["resource"], path.name
        assert event["requestContext"]["stage"] == "api", path.name
        assert event["isBase64Encoded"] is False, path.name
        if event["body"] is not None:
            json.loads(event["body"])
        has_key = "x-api-key" in {k.lower() for k in event["headers"]}
        assert has_key == (event["resource"] != CALLBACK_PATH), path.name
    assert api_samples >= 5


def test_functions_may_write_the_tables_their_code_writes(template: dict[str, Any]) -> None:
    """Local mode does not enforce IAM, so this is where a missing write permission is caught."""
    holders = functions(template) | resources_of_type(template, "AWS::Serverless::StateMachine")
    assert set(holders) == set(EXPECTED_WRITES)
    for holder in holders:
        assert writes(template, holder) == EXPECTED_WRITES[holder], holder


# --------------------------------------------------------------------------- dashboard and alarms
# Alarm -> (namespace, metric, statistic): each watches what the code publishes.
EXPECTED_ALARMS = {
    "DeadLetterQueueAlarm": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum"),
    "RetryExecutionsFailedAlarm": ("AWS/States", "ExecutionsFailed", "Sum"),
    "LinkedInVersionSunsetAlarm": ("AudienceSync", "LinkedInVersionSunset", "Sum"),
    "ErroredUsersAlarm": ("AudienceSync", "Errored", "Sum"),
    "InvalidTokenAlarm": ("AudienceSync", "LinkedInConnectionInvalid", "Maximum"),
    "LinkedInThrottlingAlarm": ("AudienceSync", "LinkedInThrottled", "Sum"),
    "ProfileDeadLetterQueueAlarm": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum"),
    "MembershipDeadLetterQueueAlarm": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum"),
    "SweepDeadLetterQueueAlarm": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum"),
    "CampaignFailuresAlarm": ("AudienceSync", "CampaignFailed", "Sum"),
    "CampaignActivityDeadLetterQueueAlarm": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum"),
    "ExportDeadLetterQueueAlarm": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum"),
    "ImportDeadLetterQueueAlarm": ("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum"),
}


def _published_metric_names() -> set[str]:
    """Every metric name the code publishes (each module names its metrics in constants)."""
    from audience_sync.destinations.linkedin.client import VERSION_SUNSET
    from audience_sync.destinations.linkedin.destination import LinkedInDestination
    from audience_sync.destinations.webhook.destination import WebhookDestination
    from audience_sync.observability import gauges
    from audience_sync.observability.request_metrics import metric_names
    from audience_sync.observability.step_metrics import CAMPAIGN_METRIC_NAMES, METRIC_NAMES

    requests = set(metric_names(LinkedInDestination.metric_prefix)) | set(
        metric_names(WebhookDestination.metric_prefix)
    )
    steps = set(METRIC_NAMES.values()) | set(CAMPAIGN_METRIC_NAMES.values())
    return requests | {VERSION_SUNSET, gauges.PENDING, gauges.CONNECTION_INVALID} | steps


def _dashboard(tpl: dict[str, Any]) -> dict[str, Any]:
    """The dashboard body with every ${...} of its Fn::Sub replaced by a placeholder."""
    (dashboard,) = resources_of_type(tpl, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    rendered: dict[str, Any] = json.loads(re.sub(r"\$\{([^}]+)\}", r"SUB(\1)", body))
    return rendered


def test_alarms_watch_published_metrics_and_notify_the_topic(template: dict[str, Any]) -> None:
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm")
    assert set(alarms) == set(EXPECTED_ALARMS)
    published = _published_metric_names()
    for name, (namespace, metric, statistic) in EXPECTED_ALARMS.items():
        props = alarms[name]["Properties"]
        assert (props["Namespace"], props["MetricName"], props["Statistic"]) == (namespace, metric, statistic), name
        assert props["AlarmActions"] == [{"Ref": "IntegrationErrorsTopic"}], name
        assert props["TreatMissingData"] == "notBreaching", name
        assert props["AlarmDescription"], name
        if namespace == "AudienceSync":
            assert metric in published, f"{name} watches {metric}, which nothing publishes"
            # Powertools adds the service dimension to every metric; alarms watch the service-wide series.
            assert props["Dimensions"] == [{"Name": "service", "Value": {"Ref": "AWS::StackName"}}], name


def test_dashboard_body_is_json_and_shows_every_alarm_and_metric(template: dict[str, Any]) -> None:
    body = _dashboard(template)
    widgets = body["widgets"]
    (alarm_widget,) = [w for w in widgets if w["type"] == "alarm"]
    assert set(alarm_widget["properties"]["alarms"]) == {f"SUB({name}.Arn)" for name in EXPECTED_ALARMS}
    shown = json.dumps([w["properties"] for w in widgets if w["type"] == "metric"])
    per_step = {"Entered", "Synced", "NotSynced", "Pending", "Errored"}
    for metric in per_step:
        # this stack's steps only: another stack in the account publishes under its own service name
        search = f'{{AudienceSync,service,step}} service=\\"SUB(AWS::StackName)\\" MetricName=\\"{metric}\\"'
        assert search in shown, f"no per-step {metric} widget of this stack"
    for metric in ("LinkedInRequests", "LinkedInThrottled", "LinkedInFailed", "LinkedInLatency"):
        assert f'"{metric}"' in shown, f"no widget for {metric}"
    from audience_sync.observability.step_metrics import CAMPAIGN_METRIC_NAMES

    for metric in CAMPAIGN_METRIC_NAMES.values():  # per campaign, this stack's only
        search = f'{{AudienceSync,campaign,service}} service=\\"SUB(AWS::StackName)\\" MetricName=\\"{metric}\\"'
        assert search in shown, f"no per-campaign {metric} widget of this stack"
    for metric in ("WebhookRequests", "WebhookThrottled", "WebhookFailed", "WebhookLatency"):
        assert f'"{metric}"' in shown and metric in _published_metric_names(), f"no widget for {metric}"
    assert "SUB(SyncDeadLetterQueue.QueueName)" in shown
    # the Braze-compatible API per route (API Gateway's metrics of the API named so), the writer, data points a day
    platform = (
        load_template()["Resources"]["PlatformApi"]["Properties"]["Name"]["Fn::Sub"]
        .replace("${", "SUB(")
        .replace("}", ")")
    )
    for metric in ("Count", "4XXError", "5XXError"):
        assert f'ApiName=\\"{platform}\\" MetricName=\\"{metric}\\"' in shown, metric
    from audience_sync.observability.profile_metrics import METRICS

    for metric in METRICS:
        assert f'"{metric}"' in shown, f"no widget for {metric}"
    assert "SUB(ProfileDeadLetterQueue.QueueName)" in shown
    assert '"service", "audience-sync"' not in shown and '"service", "SUB(AWS::StackName)"' in shown
    assert (per_step | {"LinkedInRequests", "LinkedInThrottled", "LinkedInFailed", "LinkedInLatency"}) <= (
        _published_metric_names()
    )
    # widgets never overlap on the 24-column grid
    cells = [
        (x, y) for w in widgets for x in range(w["x"], w["x"] + w["width"]) for y in range(w["y"], w["y"] + w["height"])
    ]
    assert len(cells) == len(set(cells)) and max(x for x, _ in cells) < 24
