"""adapters/aws/secrets.py: a Secrets Manager failure is a StoreUnavailable like any AWS failure (503 at the API,
users waiting in the retry at the batcher), never Powertools' own exception (a bare 5xx)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from botocore.exceptions import ClientError

from audience_sync.adapters.aws import secrets
from audience_sync.core.errors import StoreUnavailable


def failing(error: Exception) -> Any:
    def get_secret(*args: Any, **kwargs: Any) -> Any:
        raise error

    return get_secret


def powertools_failure(code: str) -> GetParameterError:
    """What Powertools raises when Secrets Manager refuses: GetParameterError, the ClientError its cause."""
    try:
        try:
            raise ClientError({"Error": {"Code": code, "Message": "injected"}}, "GetSecretValue")
        except ClientError as cause:
            raise GetParameterError(str(cause)) from cause
    except GetParameterError as error:
        return error


@pytest.mark.parametrize(
    "read", [secrets.oauth_state_key, secrets.oauth_client_secret, secrets.webhook_signing_secrets]
)
def test_a_secrets_manager_failure_is_store_unavailable(read: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parameters, "get_secret", failing(powertools_failure("ResourceNotFoundException")))
    with pytest.raises(StoreUnavailable) as raised:
        read("arn:aws:secretsmanager:us-east-1:123456789012:secret:x")
    assert (raised.value.operation, raised.value.reason) == ("secrets.get", "ResourceNotFoundException")


def test_a_secret_that_is_not_json_is_store_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parameters, "get_secret", failing(TransformParameterError("not JSON")))
    with pytest.raises(StoreUnavailable, match=r"secrets\.get"):
        secrets.oauth_client_secret("arn")


def test_values_are_read_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {"state": "k3y", "app": {"client_secret": "s3cret"}, "signing": "new old"}
    monkeypatch.setattr(parameters, "get_secret", lambda arn, **kwargs: values[arn])
    assert secrets.oauth_state_key("state") == b"k3y"
    assert secrets.oauth_client_secret("app") == "s3cret"
    assert secrets.webhook_signing_secrets("signing") == [b"new", b"old"]
