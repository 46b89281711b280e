"""Static checks of template.yaml, samconfig.toml and events/: SAM/cfn-lint validation, sam build, structure.

Run with ``pytest tests/template``. The SAM CLI is expected at ``$SAM_CLI`` or ``<repo>/.venv-sam/bin/sam``;
a missing SAM CLI fails these tests instead of skipping them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.template

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "template.yaml"
EVENTS = REPO / "events"
CALLBACK_PATH = "/v1/connections/linkedin/callback"

EXPECTED_ROUTES = {
    ("ApiFunction", "GET", "/v1/health"),
    ("ApiFunction", "GET", "/v1/connections/linkedin/authorize"),
    ("ApiFunction", "GET", CALLBACK_PATH),
    ("ApiFunction", "GET", "/v1/connections/linkedin"),
    ("ApiFunction", "DELETE", "/v1/connections/linkedin"),
    ("ApiFunction", "PUT", "/v1/steps/{step_id}"),
    ("ApiFunction", "GET", "/v1/steps/{step_id}"),
    ("ApiFunction", "POST", "/v1/steps/{step_id}/launch"),
    ("ApiFunction", "GET", "/v1/steps/{step_id}/metrics"),
    ("ApiFunction", "GET", "/v1/steps/{step_id}/audience"),
    ("IngestFunction", "POST", "/v1/steps/{step_id}/users"),
}

# Environment variables the code reads; every function gets exactly these through Globals.
EXPECTED_GLOBAL_ENV = {
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_LOG_LEVEL",
    "STEPS_TABLE",
    "METRICS_TABLE",
    "CONNECTIONS_TABLE",
    "RATE_LIMIT_TABLE",
    "IDEMPOTENCY_TABLE",
    "SYNC_QUEUE_URL",
    "TOKEN_KEY_ID",
    "LINKEDIN_APP_SECRET_ARN",
    "OAUTH_STATE_SECRET_ARN",
    "LINKEDIN_API_URL",
    "LINKEDIN_OAUTH_URL",
    "LINKEDIN_CLIENT_ID",
    "LINKEDIN_VERSION",
    "LINKEDIN_SOURCE_PLATFORM",
    "OAUTH_REDIRECT_URI",
    "LINKEDIN_MAX_ELEMENTS",
    "LINKEDIN_REQUESTS_PER_SECOND",
    "LINKEDIN_RATE_HEADROOM_PERCENT",
    "RETRY_HORIZON_SECONDS",
    "FLUSH_SECONDS",
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
}


# --------------------------------------------------------------------------- helpers


class CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short tags (!Ref, !GetAtt, !Sub, ...) into their long form."""


def _construct_cfn_tag(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_cfn_tag)


@cache
def _template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(encoding="utf-8"), Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass


@pytest.fixture
def template() -> dict[str, Any]:
    return _template()


def _resources(tpl: dict[str, Any], rtype: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in tpl["Resources"].items() if res.get("Type") == rtype}


def _functions(tpl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return _resources(tpl, "AWS::Serverless::Function")


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _referenced_names(node: Any) -> set[str]:
    """Logical ids named by Ref, Fn::GetAtt or ${...} in Fn::Sub anywhere below node."""
    names: set[str] = set()
    for item in _walk(node):
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("Ref"), str):
            names.add(item["Ref"])
        getatt = item.get("Fn::GetAtt")
        if isinstance(getatt, list) and getatt:
            names.add(str(getatt[0]))
        sub = item.get("Fn::Sub")
        text = sub[0] if isinstance(sub, list) and sub else sub
        if isinstance(text, str):
            names.update(m.split(".", 1)[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
    return names


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


def wildcard_actions(node: Any) -> list[str]:
    """Every Action/NotAction of any policy statement below node that is "*" or "service:*"."""
    found: list[str] = []
    for item in _walk(node):
        if not isinstance(item, dict) or not isinstance(item.get("Statement"), list | dict):
            continue
        statements = item["Statement"] if isinstance(item["Statement"], list) else [item["Statement"]]
        for statement in statements:
            for key in ("Action", "NotAction"):
                actions = statement.get(key, [])
                for action in actions if isinstance(actions, list) else [actions]:
                    if isinstance(action, str) and (action == "*" or re.fullmatch(r"[\w-]+:\*", action)):
                        found.append(action)
    return found


def _api_events(tpl: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for fn_name, fn in _functions(tpl).items():
        for event_name, event in (fn["Properties"].get("Events") or {}).items():
            if event.get("Type") == "Api":
                yield fn_name, event_name, event["Properties"]


def _api_key_required(tpl: dict[str, Any], props: dict[str, Any]) -> bool:
    api_name = props["RestApiId"]["Ref"]
    api_default = tpl["Resources"][api_name]["Properties"].get("Auth", {}).get("ApiKeyRequired", False)
    return bool(props.get("Auth", {}).get("ApiKeyRequired", api_default))


def _sam_cli() -> Path:
    sam = Path(os.environ.get("SAM_CLI") or REPO / ".venv-sam" / "bin" / "sam")
    if not sam.exists():
        pytest.fail(f"SAM CLI not found at {sam}; install it (.venv-sam) or point SAM_CLI at it")
    return sam


def _sam_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(SAM_CLI_TELEMETRY="0", AWS_DEFAULT_REGION="us-east-1", **extra)
    return env


def _run(cmd: list[str], env: dict[str, str], timeout: int, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def _event_samples() -> list[Path]:
    return sorted(EVENTS.glob("*.json"))


# --------------------------------------------------------------------------- tools


def test_sam_validate_lint() -> None:
    result = _run([str(_sam_cli()), "validate", "--lint", "--template-file", str(TEMPLATE)], _sam_env(), timeout=180)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "is a valid SAM Template" in output, output


def test_cfn_lint() -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    assert cfn_lint.exists(), f"cfn-lint not found next to {sys.executable}"
    result = _run([str(cfn_lint), str(TEMPLATE)], _sam_env(), timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(300)
def test_sam_build_builds_layer_and_functions(tmp_path: Path) -> None:
    aws_sam_existed = (REPO / ".aws-sam").exists()
    build_dir = tmp_path / "build"
    cmd = [
        str(_sam_cli()),
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
    result = _run(cmd, _sam_env(PYENV_VERSION="3.12.1:3.11.7"), timeout=290, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (build_dir / "CommonLayer" / "python" / "audience_sync" / "__init__.py").is_file()
    assert (build_dir / "CommonLayer" / "python" / "aws_lambda_powertools").is_dir()
    for name in _functions(_template()):
        assert (build_dir / name / "app.py").is_file(), f"{name} was not built"
    if not aws_sam_existed:
        assert not (REPO / ".aws-sam").exists(), "sam build left .aws-sam/ in the repository"


def test_outputs_and_generated_resources_after_sam_transform() -> None:
    """cfn-lint accepts any Ref matching '^SyncApi.+', so translate for real to prove SyncApiApiKey exists."""
    sam_python = _sam_cli().parent / "python"
    assert sam_python.exists(), f"no python next to the SAM CLI at {sam_python}"
    script = """
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse
tpl = yaml_parse(open(sys.argv[1]).read())
for res in tpl["Resources"].values():  # the translator wants S3 URIs; sam build/package normally does this
    props = res.get("Properties", {})
    for key in ("CodeUri", "ContentUri"):
        if isinstance(props.get(key), str):
            props[key] = "s3://bucket/key.zip"
class Policies:
    def load(self):
        return {}
out = transform(tpl, {"LinkedInClientId": "id", "LinkedInClientSecret": "secret"}, Policies())
print(json.dumps({"Resources": {k: v["Type"] for k, v in out["Resources"].items()}, "Outputs": out["Outputs"],
                  "Body": out["Resources"]["SyncApi"]["Properties"]["Body"]}))
"""
    result = _run([str(sam_python), "-c", script, str(TEMPLATE)], _sam_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    translated = json.loads(result.stdout.strip().splitlines()[-1])
    resources = translated["Resources"]
    assert resources.get("SyncApiApiKey") == "AWS::ApiGateway::ApiKey"
    assert resources.get("SyncApiUsagePlanKey") == "AWS::ApiGateway::UsagePlanKey"
    known = set(resources) | set(_template()["Parameters"]) | {"AWS::Region", "AWS::AccountId", "AWS::StackName"}
    for name, output in translated["Outputs"].items():
        missing = _referenced_names(output["Value"]) - known
        assert not missing, f"output {name} references unknown {missing}"
    stages = [k for k, v in resources.items() if v == "AWS::ApiGateway::Stage"]
    assert len(stages) == 1, f"expected only the 'api' stage, got {stages}"
    body = translated["Body"]
    assert set(body["x-amazon-apigateway-gateway-responses"]) == set(EXPECTED_GATEWAY_RESPONSES)
    for path, methods in body["paths"].items():
        for method, operation in methods.items():
            secured = bool(operation.get("security"))
            assert secured == (path != CALLBACK_PATH), f"{method.upper()} {path}: api key required={secured}"


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
    assert sorted(wildcard_actions(bad)) == ["*", "s3:*"]
    assert wildcard_actions({"Statement": [{"Action": ["kms:GenerateDataKey*", "kms:Decrypt"]}]}) == []


def test_no_full_access_policies(template: dict[str, Any]) -> None:
    assert full_access_policies(template) == []
    for name, fn in _functions(template).items():
        policies = fn["Properties"].get("Policies") or []
        assert policies, f"{name} has no explicit least-privilege Policies"
        for policy in policies:
            assert isinstance(policy, dict), f"{name}: use SAM policy templates, not {policy!r}"


def test_no_wildcard_iam_actions(template: dict[str, Any]) -> None:
    assert any("Statement" in item for item in _walk(template) if isinstance(item, dict))
    assert wildcard_actions(template) == []


def test_every_table_and_queue_has_an_output(template: dict[str, Any]) -> None:
    tables = _resources(template, "AWS::DynamoDB::Table")
    queues = _resources(template, "AWS::SQS::Queue")
    assert {"StepsTable", "MetricsTable", "ConnectionsTable", "RateLimitTable", "IdempotencyTable"} <= set(tables)
    assert {"SyncQueue", "SyncDeadLetterQueue"} <= set(queues)
    referenced = _referenced_names(template["Outputs"])
    missing = (set(tables) | set(queues)) - referenced
    assert not missing, f"no Output for {sorted(missing)}"
    for name, output in template["Outputs"].items():
        assert output.get("Description"), f"output {name} has no Description"


def test_tables_are_plain_dynamodb_tables_with_expected_keys(template: dict[str, Any]) -> None:
    assert not _resources(template, "AWS::Serverless::SimpleTable")
    expected = {
        "StepsTable": ("step_id", None),
        "MetricsTable": ("step_id", None),
        "ConnectionsTable": ("pk", "expires_at"),
        "RateLimitTable": ("bucket", "expires_at"),
        "IdempotencyTable": ("id", "expiration"),
    }
    tables = _resources(template, "AWS::DynamoDB::Table")
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
    for fn_name, event_name, props in _api_events(template):
        assert props["RestApiId"] == {"Ref": "SyncApi"}, f"{fn_name}.{event_name} is not on SyncApi"
        routes.add((fn_name, props["Method"].upper(), props["Path"]))
        required = _api_key_required(template, props)
        if props["Path"] == CALLBACK_PATH:
            assert required is False, "the OAuth callback must not require x-api-key"
        else:
            assert required is True, f"{fn_name}.{event_name} {props['Path']} does not require x-api-key"
    assert routes == EXPECTED_ROUTES


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


def test_global_environment_is_shared_and_not_overridden(template: dict[str, Any]) -> None:
    global_env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert set(global_env) == EXPECTED_GLOBAL_ENV
    assert template["Globals"]["Function"]["Layers"] == [{"Ref": "CommonLayer"}]
    for name, fn in _functions(template).items():
        local_env = (fn["Properties"].get("Environment") or {}).get("Variables") or {}
        clashes = {k for k in local_env if k in global_env and local_env[k] != global_env[k]}
        assert not clashes, f"{name} redefines global environment variables {sorted(clashes)}"


def test_every_function_has_a_log_group(template: dict[str, Any]) -> None:
    log_groups = _resources(template, "AWS::Logs::LogGroup")
    covered = {}
    for lg in log_groups.values():
        props = lg["Properties"]
        covered |= {ref: props.get("RetentionInDays") for ref in _referenced_names(props["LogGroupName"])}
    for name in _functions(template):
        assert covered.get(name) == 30, f"{name} has no /aws/lambda log group with 30-day retention"


def test_function_code_dirs_contain_handlers(template: dict[str, Any]) -> None:
    functions = _functions(template)
    assert len(functions) == 4
    for name, fn in functions.items():
        props = fn["Properties"]
        module, _, func = props["Handler"].partition(".")
        source = REPO / props["CodeUri"] / f"{module}.py"
        assert source.is_file(), f"{name}: {source.relative_to(REPO)} does not exist yet"
        assert func in source.read_text(encoding="utf-8"), f"{name}: {func} not defined in {source.name}"


def test_layer_content(template: dict[str, Any]) -> None:
    layer = template["Resources"]["CommonLayer"]
    assert layer["Metadata"]["BuildMethod"] == "python3.12"
    content = REPO / layer["Properties"]["ContentUri"]
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
    writes = {"DynamoDBCrudPolicy", "DynamoDBWritePolicy"}

    def writable(function: str) -> set[str]:
        policies = template["Resources"][function]["Properties"]["Policies"]
        return {next(iter(p.values()))["TableName"]["Ref"] for p in policies if isinstance(p, dict) and set(p) & writes}

    # batcher: step errors (steps.set_error), counters, rate bucket, token refresh
    assert {"StepsTable", "MetricsTable", "RateLimitTable", "ConnectionsTable"} <= writable("BatcherFunction")
    assert {"MetricsTable", "IdempotencyTable"} <= writable("IngestFunction")
    assert {"StepsTable", "ConnectionsTable"} <= writable("ApiFunction")
    assert {"ConnectionsTable"} <= writable("TokenRefreshFunction")
