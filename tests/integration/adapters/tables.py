"""Tables as template.yaml declares them, for the adapters' tests."""

from __future__ import annotations

import boto3

from localmode.provision import ROOT
from localmode.template import load_template


def create_table(logical_id: str, name: str) -> None:
    """The table `logical_id` as template.yaml declares it (keys and indexes), named `name`, in the emulated account."""
    properties = load_template(ROOT / "template.yaml")["Resources"][logical_id]["Properties"]
    wanted = ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes", "BillingMode")
    boto3.client("dynamodb").create_table(TableName=name, **{k: properties[k] for k in wanted if k in properties})
