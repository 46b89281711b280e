"""Local mode serves any template shape, not only ours: several APIs on one port (each with its own stage, API-key
default and gateway responses), per-function environments, any number of queues, schedules, state machines and
buckets, and stack outputs that point at local mode. A small template of its own, with handlers that report what
they see."""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from localmode.api_gateway import routes_from
from localmode.functions import LocalFunction, global_environment
from localmode.service import LocalConfig, LocalService
from localmode.template import Resolver

TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Shared:
    Type: String
    Default: everyone
Globals:
  Function:
    Runtime: python3.12
    Handler: app.lambda_handler
    Environment:
      Variables:
        SHARED: !Ref Shared
        SEEN_LOG: __LOG__
Resources:
  ManagementApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: api
      Auth:
        ApiKeyRequired: true
      GatewayResponses:
        MISSING_AUTHENTICATION_TOKEN:
          StatusCode: "404"
          ResponseTemplates:
            application/json: '{"error":{"code":"not_found"}}'
  PartnerApi:
    Type: AWS::Serverless::Api
    Properties:
      StageName: v
      GatewayResponses:
        MISSING_AUTHENTICATION_TOKEN:
          StatusCode: "404"
          ResponseTemplates:
            application/json: '{"message":"not found"}'
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: handler/
      Environment:
        Variables:
          WHO: echo
          QUEUE: !Ref FirstQueue
      Events:
        Management:
          Type: Api
          Properties: {RestApiId: !Ref ManagementApi, Path: /v1/echo, Method: get}
        Partner:
          Type: Api
          Properties: {RestApiId: !Ref PartnerApi, Path: /users/echo, Method: get}
        First:
          Type: SQS
          Properties: {Queue: !GetAtt FirstQueue.Arn, BatchSize: 10}
        Often:
          Type: Schedule
          Properties: {Schedule: rate(1 minute)}
  OtherFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: handler/
      Environment:
        Variables:
          WHO: other
      Events:
        Second:
          Type: SQS
          Properties: {Queue: !GetAtt SecondQueue.Arn, BatchSize: 10}
        Sometimes:
          Type: ScheduleV2
          Properties: {ScheduleExpression: rate(2 minutes)}
  FirstQueue:
    Type: AWS::SQS::Queue
  SecondQueue:
    Type: AWS::SQS::Queue
  Exports:
    Type: AWS::S3::Bucket
  Imports:
    Type: AWS::S3::Bucket
  FirstMachine:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: machine.asl.json
  SecondMachine:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: machine.asl.json
Outputs:
  ManagementUrl:
    Value: !Sub https://${ManagementApi}.execute-api.${AWS::Region}.amazonaws.com/api
  PartnerUsersUrl:
    Value: !Sub https://${PartnerApi}.execute-api.${AWS::Region}.amazonaws.com/v/users
"""

HANDLER = """
import json
import os

from audience_sync.settings import function_environment


def lambda_handler(event, context):
    env = function_environment()
    seen = {
        "function": context.function_name,
        "who": env.get("WHO"),
        "shared": env.get("SHARED"),
        "queue": env.get("QUEUE"),
        "process_who": os.environ.get("WHO"),
        "kind": "sqs" if "Records" in event else "schedule" if event.get("source") == "aws.events" else "http",
    }
    with open(env["SEEN_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps(seen) + "\\n")
    return {"statusCode": 200, "body": json.dumps(seen)}
"""

API_KEY = "many-key"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[LocalService, Path]]:
    with served_at(tmp_path) as running:
        yield running


@contextmanager
def served_at(tmp_path: Path) -> Iterator[tuple[LocalService, Path]]:
    log = tmp_path / "seen.jsonl"
    (tmp_path / "template.yaml").write_text(TEMPLATE.replace("__LOG__", str(log)), encoding="utf-8")
    (tmp_path / "handler").mkdir()
    (tmp_path / "handler" / "app.py").write_text(HANDLER, encoding="utf-8")
    machine = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    (tmp_path / "machine.asl.json").write_text(json.dumps(machine), encoding="utf-8")
    before = dict(os.environ)  # local mode exports the stack's environment; the next tests get theirs back
    service = LocalService(LocalConfig(port=0, api_key=API_KEY, time_scale=600.0, flush_seconds=1), root=tmp_path)
    service.start()
    try:
        yield service, log
    finally:
        service.stop()
        os.environ.clear()
        os.environ.update(before)


def seen(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def wait_for(log: Path, predicate: Any, timeout: float = 15.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [s for s in seen(log) if predicate(s)]
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not seen in {timeout} s: {seen(log)}")


def test_both_apis_are_served_on_one_port_each_with_its_own_rules(served: tuple[LocalService, Path]) -> None:
    service, _ = served
    url = service.base_url
    management = requests.get(f"{url}/v1/echo", headers={"x-api-key": API_KEY}, timeout=10)
    assert management.status_code == 200 and management.json()["who"] == "echo"
    assert requests.get(f"{url}/v1/echo", timeout=10).status_code == 403  # the management API wants its key
    partner = requests.get(f"{url}/users/echo", timeout=10)  # the partner API wants none
    assert partner.status_code == 200 and partner.json()["function"] == "EchoFunction"
    # an unknown route is answered by the API its path belongs to
    assert requests.get(f"{url}/users/nobody", timeout=10).json() == {"message": "not found"}
    assert requests.get(f"{url}/v1/nobody", timeout=10).json() == {"error": {"code": "not_found"}}


def test_each_function_sees_its_own_environment_and_the_shared_one(served: tuple[LocalService, Path]) -> None:
    service, log = served
    answer = requests.get(f"{service.base_url}/users/echo", timeout=10).json()
    first_queue = service.stack.ref("FirstQueue") if service.stack else None
    assert (answer["who"], answer["shared"], answer["queue"]) == ("echo", "everyone", first_queue)
    assert answer["process_who"] is None  # a function's own variables stay out of the shared process environment
    sqs = boto3.client("sqs", region_name="us-east-1")
    assert service.stack is not None
    sqs.send_message(QueueUrl=service.stack.ref("SecondQueue"), MessageBody="{}")
    (other,) = wait_for(log, lambda s: s["kind"] == "sqs")
    assert (other["function"], other["who"], other["shared"], other["queue"]) == (
        "OtherFunction",
        "other",
        "everyone",
        None,
    )


def test_what_start_up_and_containers_build_is_left_out_of_garbage_collections_until_it_stops(
    tmp_path: Path,
) -> None:
    """Each full collection stops every thread while it walks the objects it tracks: start-up's and the containers'
    modules (hundreds of thousands of objects, 230-290 ms a walk) are frozen out of it while the service runs
    (localmode/service.py), and given back when it stops."""
    frozen_before = gc.get_freeze_count()  # the interpreter freezes a few hundred objects of its own at start
    before = set(sys.modules)
    with served_at(tmp_path) as (service, _):
        assert requests.get(f"{service.base_url}/users/echo", timeout=10).status_code == 200  # a container loads
        assert service.stack is not None
        # the containers loaded since (the schedules' may be loading one now): the request's was frozen as it loaded
        containers = [sys.modules[name].__dict__ for name in set(sys.modules) - before if name.startswith("_local_")]
        walked = {id(o) for o in gc.get_objects()}  # every generation the collector walks; not the frozen objects
        for built in (service.stack.template, service.functions):
            assert gc.is_tracked(built) and id(built) not in walked
        assert any(id(container) not in walked for container in containers)
        frozen_while_running = gc.get_freeze_count()
    assert frozen_while_running > frozen_before + 100_000 and gc.get_freeze_count() == 0


def test_every_queue_schedule_state_machine_and_bucket_exists(served: tuple[LocalService, Path]) -> None:
    service, log = served
    assert service.stack is not None
    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.send_message(QueueUrl=service.stack.ref("FirstQueue"), MessageBody="{}")
    wait_for(log, lambda s: s["kind"] == "sqs" and s["function"] == "EchoFunction")
    # rate(1 minute) (an EventBridge rule) and rate(2 minutes) (EventBridge Scheduler), divided by TIME_SCALE
    wait_for(log, lambda s: s["kind"] == "schedule" and s["function"] == "EchoFunction")
    wait_for(log, lambda s: s["kind"] == "schedule" and s["function"] == "OtherFunction")
    machines = boto3.client("stepfunctions", region_name="us-east-1").list_state_machines()["stateMachines"]
    assert {m["stateMachineArn"] for m in machines} >= set(service.stack.state_machines.values())
    assert set(service.stack.state_machines) == {"FirstMachine", "SecondMachine"}
    buckets = {b["Name"] for b in boto3.client("s3", region_name="us-east-1").list_buckets()["Buckets"]}
    assert {service.stack.ref("Exports"), service.stack.ref("Imports")} <= buckets


def test_outputs_that_name_an_api_point_at_local_mode(served: tuple[LocalService, Path]) -> None:
    service, _ = served
    (stack,) = boto3.client("cloudformation", region_name="us-east-1").describe_stacks(StackName="audience-sync")[
        "Stacks"
    ]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs == {"ManagementUrl": service.base_url, "PartnerUsersUrl": f"{service.base_url}/users"}


def function(logical_id: str, events: dict[str, Any]) -> LocalFunction:
    return LocalFunction(logical_id, Path(), "app.lambda_handler", 3, 128, {}, events)


def api_event(api: str, path: str) -> dict[str, Any]:
    return {"Type": "Api", "Properties": {"RestApiId": {"Ref": api}, "Path": path, "Method": "get"}}


def test_two_apis_declaring_the_same_route_are_refused() -> None:
    template = {"Resources": {"A": {"Type": "AWS::Serverless::Api"}, "B": {"Type": "AWS::Serverless::Api"}}}
    functions = {"F": function("F", {"a": api_event("A", "/x")}), "G": function("G", {"b": api_event("B", "/x")})}
    with pytest.raises(ValueError, match="GET /x is declared by A and B"):
        routes_from(template, functions)


def test_powertools_settings_of_one_function_are_refused() -> None:
    template = {
        "Globals": {"Function": {"Environment": {"Variables": {"POWERTOOLS_SERVICE_NAME": "svc"}}}},
        "Resources": {
            "F": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Environment": {"Variables": {"POWERTOOLS_LOG_LEVEL": "DEBUG"}}},
            }
        },
    }
    with pytest.raises(RuntimeError, match="F sets POWERTOOLS_LOG_LEVEL"):
        global_environment(template, Resolver({}, {}))
