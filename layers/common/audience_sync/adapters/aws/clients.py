"""boto3 clients, created once per container with explicit timeouts and retries, typed with boto3-stubs.

The only place that creates AWS clients. Adapters take their client from here, so a test or local mode that starts a
fresh emulated account calls `reset()` once.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.service_resource import Table
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

# Every service the platform calls: `client` refuses any other. The layer's build keeps botocore's data for these
# alone (layers/common/trim_botocore_data.py: parsing the endpoints and models of every AWS service was ~60 ms of each
# cold start). secretsmanager is Powertools' parameters' (secrets.py); sts, botocore's for credentials from a role.
SERVICES = frozenset(
    {"cloudformation", "dynamodb", "kms", "s3", "scheduler", "secretsmanager", "sns", "sqs", "stepfunctions", "sts"}
)

# max_pool_connections: a membership function's ten record threads and the calls they fan out (fanout.py, 32).
_CONFIG = Config(
    connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 4}, max_pool_connections=48
)
# Where the SDK's check of a request's parameters is a measured share of a hot path's CPU, it is skipped
# (botocore's Config: "You can disable parameter validation for performance reasons"). DynamoDB checks every request
# itself, so a malformed one is still refused and nothing is written; only the error's wording differs. The members'
# index writes transactions of up to 100 members, and checking them was 48 µs of the ~200 µs of SDK CPU a member
# costs a backfill (bench/sdk_cpu.py).
_UNCHECKED = _CONFIG.merge(Config(parameter_validation=False))
# Creating clients from boto3's default session is not thread-safe (local mode runs functions as threads);
# the clients themselves are, and Table actions are stateless wrappers over the client.
_CREATE = threading.Lock()


@cache
def _client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)  # type: ignore[call-overload]


@cache
def _unchecked_client(service: str) -> Any:
    return boto3.client(service, config=_UNCHECKED)  # type: ignore[call-overload]


@cache
def _dynamodb_resource() -> Any:
    # One for every table: each resource makes a client of its own, and a function reads up to eight tables (each
    # client ~50 M instructions of its init). Not the low-level client's either: the resource's client turns Python
    # values into DynamoDB's typed JSON on every call (boto3.dynamodb.transform).
    return boto3.resource("dynamodb", config=_CONFIG)


@cache
def _table(name: str) -> Any:
    return _dynamodb_resource().Table(name)


def create_now(*services: str) -> None:
    """Create these services' clients now, at the container's init, not at their first call (decision 0026): an
    adapter calls it from its constructor, and its calls take the client from the cache (where a test can swap it)."""
    for service in services:
        client(service)


def client(service: str) -> Any:
    if service not in SERVICES:  # its data is not in the layer (SERVICES): fail here, in the tests, not on Lambda
        raise ValueError(f"{service} is not in clients.SERVICES")
    with _CREATE:
        return _client(service)


def dynamodb() -> DynamoDBClient:
    found: DynamoDBClient = client("dynamodb")
    return found


def unchecked_dynamodb() -> DynamoDBClient:
    """A DynamoDB client that sends requests without botocore's parameter check (see _UNCHECKED): for adapters
    whose requests are built by code under test and sent in bulk."""
    with _CREATE:
        found: DynamoDBClient = _unchecked_client("dynamodb")
        return found


def table(name: str) -> Table:
    with _CREATE:
        found: Table = _table(name)
        return found


def sqs() -> SQSClient:
    found: SQSClient = client("sqs")
    return found


def s3() -> S3Client:
    found: S3Client = client("s3")
    return found


@cache
def _presigner(endpoint_url: str | None) -> Any:
    # SigV4 (what S3 takes in every region); path-style at an endpoint of our own (local mode's /_aws), where a
    # bucket is not a host name
    config = _CONFIG.merge(
        Config(signature_version="s3v4", s3={"addressing_style": "path" if endpoint_url else "auto"})
    )
    return boto3.client("s3", endpoint_url=endpoint_url, config=config)


def s3_presigner(endpoint_url: str | None) -> S3Client:
    """The S3 client that signs download links: for the public endpoint when one is set (local mode's port)."""
    with _CREATE:
        found: S3Client = _presigner(endpoint_url)
        return found


def stepfunctions() -> SFNClient:
    found: SFNClient = client("stepfunctions")
    return found


def sns() -> SNSClient:
    found: SNSClient = client("sns")
    return found


def kms() -> KMSClient:
    found: KMSClient = client("kms")
    return found


def cloudformation() -> CloudFormationClient:
    found: CloudFormationClient = client("cloudformation")
    return found


def reset() -> None:
    """Forget cached clients and secrets (tests and local mode start a fresh emulated account)."""
    # secrets.py caches through Powertools' parameters; imported here, as only tests and local mode reset
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415

    with _CREATE:
        _client.cache_clear()
        _unchecked_client.cache_clear()
        _table.cache_clear()
        _dynamodb_resource.cache_clear()
        _presigner.cache_clear()
        parameters.clear_caches()
