"""Local mode creates a template resource only when its Condition holds (as CloudFormation does)."""

from __future__ import annotations

from moto import mock_aws

from localmode.resources import create_resources
from localmode.template import Resolver

CONDITIONS = {"Signing": {"Fn::Equals": [{"Ref": "Mode"}, "enabled"]}}


def test_only_resources_whose_condition_holds_are_created() -> None:
    template = {
        "Resources": {
            "Always": {"Type": "AWS::SNS::Topic", "Properties": {}},
            "OnlySigned": {"Type": "AWS::SNS::Topic", "Condition": "Signing", "Properties": {}},
        }
    }
    for mode, expected in (("enabled", ["Always", "OnlySigned"]), ("disabled", ["Always"])):
        with mock_aws():
            r = Resolver({"Mode": mode}, {}, CONDITIONS)
            assert sorted(create_resources(template, r, "stack")) == expected
