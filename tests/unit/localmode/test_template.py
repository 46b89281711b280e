"""localmode/template.py (CloudFormation short tags and intrinsics) and event_sources.rate_seconds."""

from __future__ import annotations

from pathlib import Path

import pytest

from localmode.event_sources import rate_seconds
from localmode.template import NO_VALUE, Resolver, UnresolvedReference, load_template

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


CONDITIONS = {
    "Signing": {"Fn::Equals": [{"Ref": "Mode"}, "enabled"]},
    "HasEmail": {"Fn::Not": [{"Fn::Equals": [{"Ref": "Email"}, ""]}]},
    "Both": {"Fn::And": [{"Condition": "Signing"}, {"Condition": "HasEmail"}]},
    "Either": {"Fn::Or": [{"Condition": "Signing"}, {"Condition": "HasEmail"}]},
}


@pytest.mark.parametrize(
    ("mode", "email", "expected"),
    [
        ("enabled", "", {"Signing": True, "HasEmail": False, "Both": False, "Either": True}),
        ("disabled", "a@b.c", {"Signing": False, "HasEmail": True, "Both": False, "Either": True}),
        ("enabled", "a@b.c", {"Signing": True, "HasEmail": True, "Both": True, "Either": True}),
        ("disabled", "", {"Signing": False, "HasEmail": False, "Both": False, "Either": False}),
    ],
)
def test_conditions(mode: str, email: str, expected: dict[str, bool]) -> None:
    r = Resolver({"Mode": mode, "Email": email}, {}, CONDITIONS)
    assert {name: r.condition(name) for name in CONDITIONS} == expected


def test_fn_if_and_no_value() -> None:
    r = Resolver({"Mode": "disabled", "Email": ""}, {}, CONDITIONS)
    r.set_resource("Secret", "arn:secret")
    value = {"Fn::If": ["Signing", {"Ref": "Secret"}, ""]}
    assert r.resolve(value) == ""
    # NoValue drops the entry from a mapping or a list, as CloudFormation removes the property.
    dropped = {"A": {"Fn::If": ["Signing", "x", {"Ref": "AWS::NoValue"}]}, "B": "kept"}
    assert r.resolve(dropped) == {"B": "kept"}
    assert r.resolve([{"Fn::If": ["Signing", "x", {"Ref": "AWS::NoValue"}]}, "y"]) == ["y"]
    assert r.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE
    enabled = Resolver({"Mode": "enabled", "Email": ""}, {}, CONDITIONS)
    enabled.set_resource("Secret", "arn:secret")
    assert enabled.resolve(value) == "arn:secret"


def test_an_unknown_condition_raises() -> None:
    with pytest.raises(UnresolvedReference):
        Resolver({}, {}, {}).condition("Nope")
    with pytest.raises(UnresolvedReference):
        Resolver({}, {}, {}).resolve({"Fn::If": ["Nope", "a", "b"]})
