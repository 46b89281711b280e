"""localmode/template.py (CloudFormation short tags and intrinsics) and event_sources.rate_seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from localmode.event_sources import rate_seconds
from localmode.template import Resolver, UnresolvedReference, load_template

TEMPLATE = """
Parameters:
  Stage: {Type: String}
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${Stage}-sync-${AWS::Region}"
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          QUEUE_URL: !Ref Queue
          QUEUE_ARN: !GetAtt Queue.Arn
          LIST_ARN: !GetAtt [Queue, Arn]
          NAME: !Sub ["${Prefix}-${Stage}-${Queue.Arn}", {Prefix: !Ref Stage}]
          JOINED: !Join [",", [!Ref Stage, literal, !GetAtt Queue.Arn]]
          PLAIN: just-text
          NESTED: !Select [0, [a, b]]
"""


@pytest.fixture
def template(tmp_path: Path) -> dict:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE, encoding="utf-8")
    return load_template(path)


def env(template: dict) -> dict:
    return template["Resources"]["Fn"]["Properties"]["Environment"]["Variables"]


def test_short_tags_become_intrinsics(template: dict) -> None:
    variables = env(template)
    assert variables["QUEUE_URL"] == {"Ref": "Queue"}
    assert variables["QUEUE_ARN"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    assert variables["LIST_ARN"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    assert variables["NAME"] == {"Fn::Sub": ["${Prefix}-${Stage}-${Queue.Arn}", {"Prefix": {"Ref": "Stage"}}]}
    assert variables["JOINED"] == {"Fn::Join": [",", [{"Ref": "Stage"}, "literal", {"Fn::GetAtt": ["Queue", "Arn"]}]]}
    assert template["Resources"]["Queue"]["Properties"]["QueueName"] == {"Fn::Sub": "${Stage}-sync-${AWS::Region}"}


def resolver() -> Resolver:
    r = Resolver({"Stage": "dev"}, {"AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"})
    r.set_resource("Queue", "https://sqs/queue", Arn="arn:aws:sqs:us-east-1:123456789012:q")
    return r


def test_resolver_resolves_every_intrinsic(template: dict) -> None:
    r = resolver()
    resolved = r.resolve(env(template))
    assert resolved == {
        "QUEUE_URL": "https://sqs/queue",
        "QUEUE_ARN": "arn:aws:sqs:us-east-1:123456789012:q",
        "LIST_ARN": "arn:aws:sqs:us-east-1:123456789012:q",
        "NAME": "dev-dev-arn:aws:sqs:us-east-1:123456789012:q",
        "JOINED": "dev,literal,arn:aws:sqs:us-east-1:123456789012:q",
        "PLAIN": "just-text",
        "NESTED": {"Fn::Select": [0, ["a", "b"]]},  # not needed locally: left as is
    }
    assert r.resolve(template["Resources"]["Queue"]["Properties"]["QueueName"]) == "dev-sync-us-east-1"


def test_parameters_override_pseudo_parameters() -> None:
    assert Resolver({"AWS::Region": "eu-west-1"}, {"AWS::Region": "us-east-1"}).resolve({"Ref": "AWS::Region"}) == (
        "eu-west-1"
    )


@pytest.mark.parametrize(
    "value",
    [
        {"Ref": "Nope"},
        {"Fn::GetAtt": ["Queue", "Nope"]},
        {"Fn::GetAtt": "Missing.Arn"},
        {"Fn::Sub": "${Nope}"},
        {"Fn::Sub": "${Missing.Arn}"},
        {"Fn::Join": ["-", [{"Ref": "Nope"}]]},
        [{"Ref": "Nope"}],
    ],
)
def test_unknown_names_raise(value: object) -> None:
    with pytest.raises(UnresolvedReference):
        resolver().resolve(value)


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(2 hours)", 7200),
        ("rate(1 day)", 86400),
        ("  rate(3 days) ", 259_200),
        ("rate(10 seconds)", None),
        ("cron(0 12 * * ? *)", None),
        ("rate(minute)", None),
        ("", None),
    ],
)
def test_rate_seconds(expression: str, seconds: float | None) -> None:
    assert rate_seconds(expression) == seconds
