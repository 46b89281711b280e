"""The Step Functions definitions in statemachine/ and how template.yaml wires, logs and alarms the retry.

Why the definitions need their own lint: cfn-lint validates a definition (rule E3601) only when it is inline in an
``AWS::StepFunctions::StateMachine``, and the lint of template.yaml never sees the files (cfn-lint's SAM transform
swaps DefinitionUri for a dummy S3 location). So each file is linted here wrapped in a raw resource. E3601 checks the
ASL schema and the StartAt target but not Next/Default/Catch targets, and moto checks even less: the graph checks
below cover transitions and reachability.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from cfnlint.api import lint_file
from moto import mock_aws

from tests.template.template_support import (
    REPO,
    load_template,
    referenced_names,
    resources_of_type,
    translated_template,
)

pytestmark = pytest.mark.template

STATEMACHINE_DIR = REPO / "statemachine"
ASL_FILES = sorted(STATEMACHINE_DIR.glob("*.asl.json"))
RETRY_DEFINITION = STATEMACHINE_DIR / "retry_batch.asl.json"
PLACEHOLDER = re.compile(r"\$\{([^}]+)\}")
REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/audience-sync-RetryStateMachineRole"
TERMINAL_TYPES = {"Succeed", "Fail"}
EXPECTED_ALARMS = {"DeadLetterQueueAlarm", "RetryExecutionsFailedAlarm", "LinkedInVersionSunsetAlarm"}

# What a resource's Ref / GetAtt Arn resolves to, close enough to the real thing for linting and moto.
_ARNS = {
    "AWS::Serverless::Function": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:audience-sync-{{}}-AbC123",
    "AWS::Serverless::StateMachine": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:audience-sync-{{}}",
    "AWS::SNS::Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:audience-sync-{{}}",
    "AWS::SQS::Queue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:audience-sync-{{}}",
    "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/audience-sync-{{}}",
    "AWS::S3::Bucket": "arn:aws:s3:::audience-sync-{}",
}
_REF_IS_ARN = {"AWS::Serverless::StateMachine", "AWS::SNS::Topic"}


# --------------------------------------------------------------------------- helpers


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def _state_machines(tpl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources_of_type(tpl, "AWS::Serverless::StateMachine")


def _machine_for(path: Path) -> tuple[str, dict[str, Any]]:
    """The SAM state machine whose DefinitionUri is path (exactly one)."""
    rel = path.relative_to(REPO).as_posix()
    using = [(n, r["Properties"]) for n, r in _state_machines(load_template()).items()]
    using = [(n, p) for n, p in using if p.get("DefinitionUri") == rel]
    assert len(using) == 1, f"{rel} is the DefinitionUri of {[n for n, _ in using]}, expected exactly one"
    return using[0]


def _plausible(tpl: dict[str, Any], value: Any) -> str:
    """A stand-in for what CloudFormation substitutes for value (a DefinitionSubstitutions entry)."""
    if isinstance(value, str | int | float):
        return str(value)
    if "Fn::GetAtt" in value and value["Fn::GetAtt"][1] == "Arn":
        name = value["Fn::GetAtt"][0]
        return _ARNS[tpl["Resources"][name]["Type"]].format(name)
    if "Ref" in value:
        rtype = tpl["Resources"][value["Ref"]]["Type"]
        return _ARNS[rtype].format(value["Ref"]) if rtype in _REF_IS_ARN else f"audience-sync-{value['Ref']}"
    pytest.fail(f"teach _plausible about {value!r}")


def _substituted_text(path: Path) -> str:
    """The definition as Step Functions gets it: ${...} replaced by the resource's DefinitionSubstitutions."""
    tpl = load_template()
    _, props = _machine_for(path)
    substitutions = {k: _plausible(tpl, v) for k, v in (props.get("DefinitionSubstitutions") or {}).items()}
    # An unknown placeholder stays as it is: test_substitutions_match_the_placeholders names it.
    return PLACEHOLDER.sub(lambda m: substitutions.get(m.group(1), m.group(0)), path.read_text(encoding="utf-8"))


def _definition(path: Path) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(_substituted_text(path))
    return parsed


def _lint(definition: dict[str, Any], directory: Path) -> list[str]:
    """cfn-lint findings ("RULE: message") for definition wrapped in a raw AWS::StepFunctions::StateMachine."""
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "StateMachine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {"Definition": definition, "RoleArn": ROLE_ARN},
            }
        },
    }
    path = directory / "statemachine-template.json"
    path.write_text(json.dumps(template, indent=2), encoding="utf-8")
    return [f"{m.rule.id}: {m.message}" for m in lint_file(path)]


def _transitions(state: dict[str, Any]) -> list[str]:
    targets = [state["Next"]] if "Next" in state else []
    targets += [choice["Next"] for choice in state.get("Choices", []) if "Next" in choice]
    targets += [state["Default"]] if "Default" in state else []
    targets += [catcher["Next"] for catcher in state.get("Catch", [])]
    return targets


def _nested(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The state machines inside a Parallel or Map state."""
    nested = list(state.get("Branches", []))
    for key in ("ItemProcessor", "Iterator"):
        if isinstance(state.get(key), dict):
            nested.append(state[key])
    return nested


def graph_problems(machine: dict[str, Any], where: str = "") -> list[str]:
    """Transition and reachability problems of a state machine (and of those nested in Parallel/Map states)."""
    states: dict[str, dict[str, Any]] = machine.get("States") or {}
    start = machine.get("StartAt")
    if start not in states:
        return [f"{where}StartAt {start!r} is not a state"]
    problems: list[str] = []
    edges: dict[str, list[str]] = {}
    for name, state in states.items():
        kind = state.get("Type")
        edges[name] = _transitions(state)
        problems += [f"{where}{name}: goes to missing state {t!r}" for t in edges[name] if t not in states]
        if kind == "Choice":
            if not state.get("Choices"):
                problems.append(f"{where}{name}: Choice without Choices")
            if "Default" not in state:  # no match would fail the execution with States.NoChoiceMatched
                problems.append(f"{where}{name}: Choice without Default")
        elif kind not in TERMINAL_TYPES and ("Next" in state) == (state.get("End") is True):
            problems.append(f"{where}{name}: needs exactly one of Next and End: true")
        for index, branch in enumerate(_nested(state)):
            problems += graph_problems(branch, f"{where}{name}[{index}].")

    def reachable(frm: str) -> set[str]:
        seen, todo = {frm}, [frm]
        while todo:
            for target in edges.get(todo.pop(), []):
                if target in states and target not in seen:
                    seen.add(target)
                    todo.append(target)
        return seen

    problems += [f"{where}{name}: unreachable from StartAt" for name in sorted(set(states) - reachable(start))]
    terminal = {n for n, s in states.items() if s.get("Type") in TERMINAL_TYPES or s.get("End") is True}
    if not terminal:
        problems.append(f"{where}no terminal state (Succeed, Fail or End: true)")
    else:
        problems += [f"{where}{n}: can never reach a terminal state" for n in states if not reachable(n) & terminal]
    return problems


def _function_timeout(tpl: dict[str, Any], function: str) -> int:
    props = tpl["Resources"][function]["Properties"]
    return int(props.get("Timeout", tpl["Globals"]["Function"]["Timeout"]))


# --------------------------------------------------------------------------- (a) JSON + cfn-lint


def test_every_definition_file_belongs_to_one_state_machine() -> None:
    assert RETRY_DEFINITION in ASL_FILES
    machines = _state_machines(load_template())
    assert machines, "no AWS::Serverless::StateMachine in template.yaml"
    used = set()
    for name, res in machines.items():
        props = res["Properties"]
        assert "Definition" not in props, f"{name}: keep the definition in statemachine/, not inline"
        uri = props.get("DefinitionUri")
        assert isinstance(uri, str), f"{name}: DefinitionUri must be a local file (sam build uploads it)"
        assert (REPO / uri) in ASL_FILES, f"{name}: {uri} is not a statemachine/*.asl.json file"
        used.add(REPO / uri)
    assert used == set(ASL_FILES), f"unused definitions: {sorted(p.name for p in set(ASL_FILES) - used)}"


@pytest.mark.parametrize("path", ASL_FILES, ids=_ids(ASL_FILES))
def test_definition_file_is_valid_json(path: Path) -> None:
    definition = json.loads(path.read_text(encoding="utf-8"))  # placeholders must sit inside JSON strings
    assert isinstance(definition, dict)
    assert {"StartAt", "States"} <= set(definition)


@pytest.mark.parametrize("path", ASL_FILES, ids=_ids(ASL_FILES))
def test_definition_passes_cfn_lint(path: Path, tmp_path: Path) -> None:
    definition = _definition(path)
    assert not PLACEHOLDER.search(json.dumps(definition)), "a placeholder was left unsubstituted"
    assert _lint(definition, tmp_path) == []


def _bad_type(d: dict[str, Any]) -> None:
    d["States"][d["StartAt"]]["Type"] = "Sleep"


def _next_and_end_missing(d: dict[str, Any]) -> None:
    del d["States"][d["StartAt"]]["Next"]


def _start_at_missing_state(d: dict[str, Any]) -> None:
    d["StartAt"] = "NoSuchState"


def _timeout_not_a_number(d: dict[str, Any]) -> None:
    task = next(s for s in d["States"].values() if s["Type"] == "Task")
    task["TimeoutSeconds"] = "two minutes"


@pytest.mark.parametrize("breakage", [_bad_type, _next_and_end_missing, _start_at_missing_state, _timeout_not_a_number])
def test_cfn_lint_rejects_a_broken_definition(breakage: Callable[[dict[str, Any]], None], tmp_path: Path) -> None:
    """The lint above has teeth: the same wrapper fails with E3601 once the retry definition is broken."""
    broken = _definition(RETRY_DEFINITION)
    breakage(broken)
    findings = _lint(broken, tmp_path)
    assert any(f.startswith("E3601:") for f in findings), findings


# --------------------------------------------------------------------------- (b) transitions and reachability


@pytest.mark.parametrize("path", ASL_FILES, ids=_ids(ASL_FILES))
def test_every_transition_exists_and_every_state_is_reachable(path: Path) -> None:
    assert graph_problems(_definition(path)) == []


def _next_missing(d: dict[str, Any]) -> None:
    d["States"]["WaitBeforeAttempt"]["Next"] = "Atempt"


def _catch_next_missing(d: dict[str, Any]) -> None:
    d["States"]["Attempt"]["Catch"][0]["Next"] = "Failed"


def _choice_next_missing(d: dict[str, Any]) -> None:
    d["States"]["Settled?"]["Choices"][0]["Next"] = "Wait"


def _default_missing(d: dict[str, Any]) -> None:
    d["States"]["Settled?"]["Default"] = "Done"


def _unreachable_state(d: dict[str, Any]) -> None:
    d["States"]["Orphan"] = {"Type": "Pass", "End": True}


def _no_way_out(d: dict[str, Any]) -> None:
    """The Choice always loops back and the Catch is gone: Settled and AttemptFailed become unreachable."""
    d["States"]["Settled?"]["Default"] = "WaitBeforeAttempt"
    del d["States"]["Attempt"]["Catch"]


def _next_and_end(d: dict[str, Any]) -> None:
    d["States"]["WaitBeforeAttempt"]["End"] = True


@pytest.mark.parametrize(
    "breakage",
    [
        _next_missing,
        _catch_next_missing,
        _choice_next_missing,
        _default_missing,
        _unreachable_state,
        _no_way_out,
        _next_and_end,
        _start_at_missing_state,
        _next_and_end_missing,
    ],
)
def test_graph_check_detects_broken_definitions(breakage: Callable[[dict[str, Any]], None]) -> None:
    """The graph check has teeth, including where cfn-lint has none (a Next, Default or Catch to a missing state)."""
    broken = _definition(RETRY_DEFINITION)
    breakage(broken)
    assert graph_problems(broken), f"{breakage.__name__} went unnoticed"


def test_graph_check_descends_into_parallel_and_map_states() -> None:
    inner = {"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}
    parallel = {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [inner], "End": True}}}
    mapped = {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": inner, "End": True}}}
    assert "P[0].A: goes to missing state 'Nowhere'" in graph_problems(parallel)
    assert "M[0].A: goes to missing state 'Nowhere'" in graph_problems(mapped)
    inner["States"]["A"] = {"Type": "Pass", "End": True}
    assert graph_problems(parallel) == graph_problems(mapped) == []


# --------------------------------------------------------------------------- (c) substitutions


@pytest.mark.parametrize("path", ASL_FILES, ids=_ids(ASL_FILES))
def test_substitutions_match_the_placeholders(path: Path) -> None:
    tpl = load_template()
    name, props = _machine_for(path)
    placeholders = set(PLACEHOLDER.findall(path.read_text(encoding="utf-8")))
    substitutions = props.get("DefinitionSubstitutions") or {}
    assert set(substitutions) == placeholders, f"{name}: DefinitionSubstitutions vs ${{...}} in {path.name}"
    for key, value in substitutions.items():
        assert referenced_names(value) <= set(tpl["Resources"]), f"{name}.{key} names an unknown resource"
    # The transform hands both to CloudFormation unchanged, next to the uploaded file.
    generated = translated_template()["Resources"][name]["Properties"]
    assert generated["DefinitionSubstitutions"] == json.loads(json.dumps(substitutions))
    assert "DefinitionS3Location" in generated


def test_retry_state_machine_invokes_only_the_retry_function_in_time() -> None:
    """Every Lambda the definition invokes may be invoked by the state machine, and is given time to finish."""
    tpl = load_template()
    name, props = _machine_for(RETRY_DEFINITION)
    raw = json.loads(RETRY_DEFINITION.read_text(encoding="utf-8"))
    may_invoke = {
        p["LambdaInvokePolicy"]["FunctionName"]["Ref"] for p in props["Policies"] if "LambdaInvokePolicy" in p
    }
    tasks = [s for s in raw["States"].values() if s["Type"] == "Task"]
    assert tasks
    for task in tasks:
        assert task["Resource"] == "arn:aws:states:::lambda:invoke"
        invoked = PLACEHOLDER.fullmatch(task["Parameters"]["FunctionName"])
        assert invoked, "name the function through DefinitionSubstitutions, not a hard-coded ARN"
        placeholder = invoked.group(1)
        (function,) = referenced_names(props["DefinitionSubstitutions"][placeholder])
        assert function in may_invoke, f"{name} invokes {function} without LambdaInvokePolicy"
        assert task["TimeoutSeconds"] > _function_timeout(tpl, function), "the task times out before the function"
    assert may_invoke == {"RetryFunction"}


def test_retry_definition_speaks_the_retry_function_protocol() -> None:
    """The definition's paths and values are the ones the batcher starts with and the retry function answers."""
    from audience_sync.pipeline.retry_attempt import RETRY, AttemptInput
    from audience_sync.pipeline.retry_batch import execution_input

    raw = json.loads(RETRY_DEFINITION.read_text(encoding="utf-8"))
    states = raw["States"]
    start = states[raw["StartAt"]]
    assert start["Type"] == "Wait"
    assert start["SecondsPath"].removeprefix("$.") in execution_input("retry/s/0/1.json", 30)
    (task,) = [s for s in states.values() if s["Type"] == "Task"]
    payload = task["Parameters"]["Payload"]
    assert {k.removesuffix(".$") for k in payload} == set(AttemptInput.model_fields)
    assert {v.removeprefix("$.") for v in payload.values()} <= set(execution_input("retry/s/0/1.json", 30))
    assert task["OutputPath"] == "$.Payload"  # the function's answer becomes the next attempt's input
    (choice,) = [s for s in states.values() if s["Type"] == "Choice"]
    (retry_rule,) = choice["Choices"]
    assert retry_rule["StringEquals"] == RETRY
    assert retry_rule["Next"] == raw["StartAt"]
    assert states[choice["Default"]]["Type"] == "Succeed"


# --------------------------------------------------------------------------- (d) logging, tracing, naming


def test_retry_state_machine_logs_errors_without_execution_data() -> None:
    tpl = load_template()
    name, props = _machine_for(RETRY_DEFINITION)
    assert props["Type"] == "STANDARD"  # redrive and the 13 h horizon need a standard workflow
    assert props["Tracing"] == {"Enabled": True}
    logging = props["Logging"]
    assert logging["IncludeExecutionData"] is False
    assert logging["Level"] in {"ERROR", "FATAL", "ALL"}
    (destination,) = logging["Destinations"]
    log_group, attribute = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"]
    assert attribute == "Arn"
    group = tpl["Resources"][log_group]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == 30
    # Under /aws/vendedlogs/ CloudWatch Logs does not grow a resource policy per log group.
    assert group["Properties"]["LogGroupName"]["Fn::Sub"].startswith("/aws/vendedlogs/states/")
    generated = translated_template()["Resources"][name]["Properties"]
    assert generated["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert generated["TracingConfiguration"] == {"Enabled": True}


def test_retry_state_machine_arn_in_the_environment_matches_its_name() -> None:
    """RETRY_STATE_MACHINE_ARN is built from the name (a !Ref would be a dependency cycle): it must not drift."""
    tpl = load_template()
    _, props = _machine_for(RETRY_DEFINITION)
    name = props["Name"]["Fn::Sub"]
    assert name == "${AWS::StackName}-retry"
    env = tpl["Globals"]["Function"]["Environment"]["Variables"]
    arn = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:" + name
    assert env["RETRY_STATE_MACHINE_ARN"] == {"Fn::Sub": arn}
    execution = [
        p for p in tpl["Resources"]["BatcherFunction"]["Properties"]["Policies"] if "StepFunctionsExecutionPolicy" in p
    ]
    assert execution == [{"StepFunctionsExecutionPolicy": {"StateMachineName": {"Fn::Sub": name}}}]


# --------------------------------------------------------------------------- (e) moto


@pytest.mark.parametrize("path", ASL_FILES, ids=_ids(ASL_FILES))
def test_state_machine_is_created_in_moto(path: Path) -> None:
    text = _substituted_text(path)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        sfn = boto3.client("stepfunctions", region_name=REGION)
        created = sfn.create_state_machine(
            name="audience-sync-retry",
            definition=text,
            roleArn=ROLE_ARN,
            type="STANDARD",
            loggingConfiguration={
                "level": "ERROR",
                "includeExecutionData": False,
                "destinations": [
                    {
                        "cloudWatchLogsLogGroup": {
                            "logGroupArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/vendedlogs/states/x:*"
                        }
                    }
                ],
            },
            tracingConfiguration={"enabled": True},
        )
        described = sfn.describe_state_machine(stateMachineArn=created["stateMachineArn"])
        assert described["status"] == "ACTIVE"
        assert json.loads(described["definition"]) == json.loads(text)
        # moto's ASL parser has teeth too: the same call with a broken state type is refused.
        broken = _definition(path)
        _bad_type(broken)
        with pytest.raises(ClientError):
            sfn.create_state_machine(name="broken", definition=json.dumps(broken), roleArn=ROLE_ARN)


# --------------------------------------------------------------------------- (f) alarms and notifications


def test_alarms_notify_the_integration_errors_topic() -> None:
    tpl = load_template()
    alarms = resources_of_type(tpl, "AWS::CloudWatch::Alarm")
    assert set(alarms) >= EXPECTED_ALARMS
    topic = {"Ref": "IntegrationErrorsTopic"}
    assert tpl["Resources"]["IntegrationErrorsTopic"]["Type"] == "AWS::SNS::Topic"
    for name, alarm in alarms.items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [topic], name
        assert props.get("OKActions", [topic]) == [topic], name
        assert props["AlarmDescription"], name
        assert props["TreatMissingData"] == "notBreaching", name  # no traffic is not an incident
        # anything above zero is an incident, but a few throttled requests: that threshold is a parameter
        threshold = {"Ref": "ThrottledRequestsAlarmThreshold"} if name == "LinkedInThrottlingAlarm" else 0
        assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", threshold), name
    env = tpl["Globals"]["Function"]["Environment"]["Variables"]
    assert env["NOTIFICATIONS_TOPIC_ARN"] == topic


def test_dead_letter_queue_alarm_watches_the_dlq() -> None:
    tpl = load_template()
    props = tpl["Resources"]["DeadLetterQueueAlarm"]["Properties"]
    assert (props["Namespace"], props["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert props["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["SyncDeadLetterQueue", "QueueName"]}}]
    redrive = tpl["Resources"]["SyncQueue"]["Properties"]["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["SyncDeadLetterQueue", "Arn"]}


def test_retry_failures_alarm_watches_the_state_machine() -> None:
    props = load_template()["Resources"]["RetryExecutionsFailedAlarm"]["Properties"]
    assert (props["Namespace"], props["MetricName"]) == ("AWS/States", "ExecutionsFailed")
    assert props["Dimensions"] == [{"Name": "StateMachineArn", "Value": {"Ref": "RetryStateMachine"}}]


def test_version_sunset_alarm_watches_the_metric_the_code_emits() -> None:
    """A custom-metric alarm only fires if namespace, name and the full dimension set match what is emitted."""
    tpl = load_template()
    props = tpl["Resources"]["LinkedInVersionSunsetAlarm"]["Properties"]
    env = tpl["Globals"]["Function"]["Environment"]["Variables"]
    assert props["Namespace"] == env["POWERTOOLS_METRICS_NAMESPACE"]
    # Powertools metrics carry exactly one default dimension: service = POWERTOOLS_SERVICE_NAME.
    assert props["Dimensions"] == [{"Name": "service", "Value": env["POWERTOOLS_SERVICE_NAME"]}]
    from audience_sync.destinations.linkedin.client import VERSION_SUNSET

    assert props["MetricName"] == VERSION_SUNSET


def test_alert_email_subscription_is_optional() -> None:
    tpl = load_template()
    parameter = tpl["Parameters"]["AlertEmail"]
    assert parameter["Default"] == ""
    subscriptions = resources_of_type(tpl, "AWS::SNS::Subscription")
    assert set(subscriptions) == {"IntegrationErrorsEmail"}
    subscription = subscriptions["IntegrationErrorsEmail"]
    condition = subscription["Condition"]
    assert tpl["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlertEmail"}, ""]}]}
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "IntegrationErrorsTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlertEmail"},
    }
    generated = translated_template()["Resources"]["IntegrationErrorsEmail"]
    assert generated["Condition"] == condition
