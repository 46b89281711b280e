"""Creates the template's stateful resources (tables, queues, keys, secrets) in the emulated account."""

from __future__ import annotations

import json
import secrets
from typing import Any

import boto3

from localmode.template import Resolver, UnresolvedReference

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


def _physical_name(stack: str, logical_id: str) -> str:
    return f"{stack}-{logical_id}"


def _create_table(logical_id: str, props: dict[str, Any], resolver: Resolver, stack: str) -> None:
    client = boto3.client("dynamodb", region_name=REGION)
    name = _physical_name(stack, logical_id)
    client.create_table(
        TableName=name,
        KeySchema=props["KeySchema"],
        AttributeDefinitions=props["AttributeDefinitions"],
        BillingMode="PAY_PER_REQUEST",
    )
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"
    resolver.set_resource(logical_id, name, Arn=arn)


def _create_queue(logical_id: str, props: dict[str, Any], resolver: Resolver, stack: str) -> None:
    attributes: dict[str, Any] = {}
    for key in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds"):
        if key in props:
            attributes[key] = str(resolver.resolve(props[key]))
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = json.dumps(resolver.resolve(props["RedrivePolicy"]))
    name = _physical_name(stack, logical_id)
    if props.get("FifoQueue"):  # a FIFO queue's name ends in .fifo, as CloudFormation names it
        name += ".fifo"
        attributes["FifoQueue"] = "true"
        for key in ("ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"):
            if key in props:
                value = resolver.resolve(props[key])
                attributes[key] = str(value).lower() if isinstance(value, bool) else str(value)
    client: Any = boto3.client("sqs", region_name=REGION)
    url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    resolver.set_resource(logical_id, url, Arn=arn, QueueUrl=url, QueueName=name)


def _create_key(logical_id: str, props: dict[str, Any], resolver: Resolver, stack: str) -> None:
    key = boto3.client("kms", region_name=REGION).create_key(Description=f"{stack} {logical_id}")["KeyMetadata"]
    resolver.set_resource(logical_id, key["KeyId"], Arn=key["Arn"], KeyId=key["KeyId"])


def _create_secret(logical_id: str, props: dict[str, Any], resolver: Resolver, stack: str) -> None:
    # GenerateSecretString is emulated with a random value of the same strength.
    value = str(resolver.resolve(props["SecretString"])) if "SecretString" in props else secrets.token_urlsafe(48)
    arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name=_physical_name(stack, logical_id), SecretString=value
    )["ARN"]
    resolver.set_resource(logical_id, arn, Id=arn)


def _create_bucket(logical_id: str, props: dict[str, Any], resolver: Resolver, stack: str) -> None:
    name = _physical_name(stack, logical_id).lower()
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=name)
    resolver.set_resource(logical_id, name, Arn=f"arn:aws:s3:::{name}")


def _create_topic(logical_id: str, props: dict[str, Any], resolver: Resolver, stack: str) -> None:
    name = _physical_name(stack, logical_id)
    arn = boto3.client("sns", region_name=REGION).create_topic(Name=name)["TopicArn"]
    resolver.set_resource(logical_id, arn, TopicArn=arn, TopicName=name)


def _create_schedule_group(logical_id: str, props: dict[str, Any], resolver: Resolver, stack: str) -> None:
    name = str(resolver.resolve(props.get("Name") or _physical_name(stack, logical_id)))
    arn = boto3.client("scheduler", region_name=REGION).create_schedule_group(Name=name)["ScheduleGroupArn"]
    resolver.set_resource(logical_id, name, Arn=arn)


def _create_role(logical_id: str, props: dict[str, Any], resolver: Resolver, stack: str) -> None:
    # Only its name and ARN: the emulated account checks no permissions (the template's tests read the policies).
    name = _physical_name(stack, logical_id)
    resolver.set_resource(logical_id, name, Arn=f"arn:aws:iam::{ACCOUNT_ID}:role/{name}")


_CREATORS = {
    "AWS::Scheduler::ScheduleGroup": _create_schedule_group,
    "AWS::IAM::Role": _create_role,
    "AWS::S3::Bucket": _create_bucket,
    "AWS::SNS::Topic": _create_topic,
    "AWS::DynamoDB::Table": _create_table,
    "AWS::SQS::Queue": _create_queue,
    "AWS::KMS::Key": _create_key,
    "AWS::SecretsManager::Secret": _create_secret,
}


def create_resources(template: dict[str, Any], resolver: Resolver, stack: str) -> list[str]:
    """Create every supported resource whose Condition holds, dependencies first (a queue's DLQ before the
    queue)."""
    pending = {
        logical_id: resource
        for logical_id, resource in template.get("Resources", {}).items()
        if resource["Type"] in _CREATORS and ("Condition" not in resource or resolver.condition(resource["Condition"]))
    }
    created: list[str] = []
    while pending:
        progressed = False
        for logical_id, resource in list(pending.items()):
            try:
                _CREATORS[resource["Type"]](logical_id, resource.get("Properties", {}), resolver, stack)
            except UnresolvedReference:
                continue
            created.append(logical_id)
            del pending[logical_id]
            progressed = True
        if not progressed:
            raise RuntimeError(f"cannot resolve references of {sorted(pending)}")
    return created
