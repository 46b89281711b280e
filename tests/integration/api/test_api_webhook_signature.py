"""Signed webhooks (WebhookSigning=enabled): unsigned, tampered, stale and replayed requests are refused with a 4xx
and write nothing; a signed one is queued once; the secret and signatures never reach a log line."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from audience_sync.adapters.aws.queues import SqsPublisher
from audience_sync.pipeline.ports import PublishFailed
from audience_sync.sources.webhook.signature import TOLERANCE_SECONDS, sign, signature
from tests.integration.api.api_helpers import API_KEY, Api, assert_error
from tests.stack_support import provisioned_stack

STEP = "signed"
USERS = [{"external_id": "u1", "email": "ana@example.com"}, {"external_id": "u2", "email": "bo@example.com"}]


@pytest.fixture
def api(sandbox_server: Any) -> Iterator[Api]:
    with provisioned_stack(sandbox_server, {"WebhookSigning": "enabled"}) as stack:
        api = Api(stack)
        api.active_step(STEP)
        yield api


def _secret(api: Api) -> str:
    arn = api.stack.stack.ref("WebhookSigningSecret")
    return str(boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])


def _set_secret(api: Api, value: str) -> None:
    from aws_lambda_powertools.utilities import parameters

    arn = api.stack.stack.ref("WebhookSigningSecret")
    boto3.client("secretsmanager").put_secret_value(SecretId=arn, SecretString=value)
    parameters.clear_caches()  # what the 5-minute cache does on AWS


def _used_signatures(api: Api) -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb").Table(api.stack.stack.ref("WebhookSignaturesTable"))
    items: list[dict[str, Any]] = table.scan()["Items"]
    return items


def _post(api: Api, body: str, header: str | None, step: str = STEP, key: str | None = API_KEY) -> Any:
    headers = {"x-api-key": key} if key is not None else {}
    if header is not None:
        headers["X-Signature"] = header
    response = api.client.post(f"/v1/steps/{step}/users", data=body, headers=headers, content_type="application/json")
    from tests.integration.api.api_helpers import Reply

    return Reply(response.status_code, response.get_data(as_text=True), response.headers)


def _body(**extra: Any) -> str:
    return json.dumps({"users": USERS, **extra})


def _nothing_written(api: Api) -> None:
    assert api.queue_bodies() == []
    assert _used_signatures(api) == []


def test_a_signed_webhook_is_queued_and_its_signature_remembered(api: Api) -> None:
    body, now = _body(), int(time.time())
    reply = _post(api, body, sign(_secret(api), STEP, body, now))
    assert reply.status == 202, reply.text
    assert reply.json == {"accepted": 2, "filtered": 0, "not_synced": 0}
    assert len(api.queued_users(api.queue_bodies())) == 2
    (used,) = _used_signatures(api)
    assert used["expires_at"] == now + TOLERANCE_SECONDS  # DynamoDB's TTL removes it once it is stale anyway
    assert set(used) == {"id", "expires_at"}


def test_missing_or_malformed_signatures_are_401_before_the_body_is_read(api: Api) -> None:
    body, now = _body(), int(time.time())
    good = signature(_secret(api), now, STEP, body)
    for header in (
        None,
        "",
        "garbage",
        f"v1={good}",  # no timestamp
        f"t={now}",  # no signature
        f"t={now},t={now},v1={good}",
        f"t=soon,v1={good}",
        f"t={now},v1={good.upper()}",
        f"t={now},v1={good[:-1]}",
        f"t={now}," + ",".join(f"v1={good}" for _ in range(9)),
        f"t={now},v1={good}," + "x" * 1100,
    ):
        assert_error(_post(api, body, header), 401, "invalid_signature")
    # Checked before parsing: an unsigned malformed body is a 401, not a 400.
    assert_error(_post(api, "{not json", None), 401, "invalid_signature")
    _nothing_written(api)


def test_tampered_requests_are_401(api: Api) -> None:
    secret, body, now = _secret(api), _body(), int(time.time())
    header = sign(secret, STEP, body, now)
    altered = body.replace("ana@example.com", "eve@example.com")
    assert_error(_post(api, altered, header), 401, "invalid_signature")  # another body under the signature
    assert_error(_post(api, body + " ", header), 401, "invalid_signature")  # even a byte of whitespace
    assert_error(_post(api, body, header.replace(f"t={now}", f"t={now + 1}")), 401, "invalid_signature")
    assert_error(_post(api, body, sign("not-the-secret", STEP, body, now)), 401, "invalid_signature")
    api.put_step("other")
    assert_error(_post(api, body, header, step="other"), 401, "invalid_signature")  # signed for another step
    _nothing_written(api)


def test_stale_and_future_timestamps_are_401(api: Api) -> None:
    secret, body, now = _secret(api), _body(), int(time.time())
    for timestamp in (now - TOLERANCE_SECONDS - 60, now + TOLERANCE_SECONDS + 60, 0):
        assert_error(_post(api, body, sign(secret, STEP, body, timestamp)), 401, "stale_signature")
    _nothing_written(api)


def test_a_replayed_signature_is_409_and_queues_nothing_more(api: Api) -> None:
    body = _body(idempotency_key="evt-1")
    header = sign(_secret(api), STEP, body, int(time.time()))
    assert _post(api, body, header).status == 202
    queued = api.queue_bodies()
    for _ in range(2):
        error = assert_error(_post(api, body, header), 409, "replayed_signature")
        assert "sign the request again" in error["message"]
    assert api.queue_bodies() == queued
    # Signed again (a new timestamp), the same webhook goes through; its idempotency_key keeps it counted once.
    assert _post(api, body, sign(_secret(api), STEP, body, int(time.time()) + 1)).status == 202


def test_the_api_key_is_still_required(api: Api) -> None:
    body = _body()
    header = sign(_secret(api), STEP, body, int(time.time()))
    for key in (None, "wrong-key"):
        assert_error(_post(api, body, header, key=key), 403, "forbidden")
    _nothing_written(api)
    assert _post(api, body, header).status == 202  # the gateway refused before the signature was used


def test_both_secrets_verify_during_a_rotation(api: Api) -> None:
    old = _secret(api)
    new = "n" * 64
    _set_secret(api, f"{new} {old}")
    now = int(time.time())
    for n, secrets in enumerate(([old], [new], [new, old], ["stale-one", new])):
        body = _body(idempotency_key=f"rotation-{n}")
        assert _post(api, body, sign(secrets, STEP, body, now)).status == 202, secrets
    _set_secret(api, new)
    body = _body(idempotency_key="after")
    assert_error(_post(api, body, sign(old, STEP, body, now)), 401, "invalid_signature")
    assert _post(api, body, sign(new, STEP, body, now)).status == 202


def test_a_request_the_service_failed_may_be_sent_again(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    body = _body(idempotency_key="evt-503")
    header = sign(_secret(api), STEP, body, int(time.time()))
    with monkeypatch.context() as patch:

        def unavailable(self: SqsPublisher, *args: Any, **kwargs: Any) -> None:
            raise PublishFailed(1)

        patch.setattr(SqsPublisher, "send", unavailable)
        assert_error(_post(api, body, header), 503, "queue_unavailable")
    assert _post(api, body, header).status == 202  # the 503 released the signature
    assert_error(_post(api, body, header), 409, "replayed_signature")


def test_the_secret_and_signatures_never_reach_the_logs(sandbox_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    with provisioned_stack(sandbox_server, {"WebhookSigning": "enabled", "LogLevel": "DEBUG"}) as stack:
        api = Api(stack)
        api.active_step(STEP)
        caplog.clear()
        caplog.set_level(logging.DEBUG)
        secret, body, now = _secret(api), _body(), int(time.time())
        header = sign(secret, STEP, body, now)
        assert _post(api, body, header).status == 202
        assert _post(api, body, header).status == 409  # replayed
        assert _post(api, body.replace("ana", "eve"), header).status == 401  # tampered
        assert _post(api, body, sign(secret, STEP, body, now - 3600)).status == 401  # stale
        refused = [r for r in caplog.records if "signature check failed" in r.getMessage()]
        assert [getattr(r, "code", None) for r in refused] == [
            "replayed_signature",
            "invalid_signature",
            "stale_signature",
        ]
        # botocore's own DEBUG lines print AWS responses (the secret's value too) when its logger is set to DEBUG,
        # which neither Lambda nor this code does; every other logger is checked, Powertools' and ours.
        records = [r for r in caplog.records if not r.name.startswith("botocore")]
        assert {r.name for r in records} >= {"audience-sync"}
        for value in (secret, header, header.split("v1=")[1], header.split("v1=")[1][:16]):
            leaks = {r.name for r in records if value in f"{r.getMessage()} {r.__dict__}"}
            assert leaks == set(), value


def test_unsigned_webhooks_are_accepted_when_signing_is_disabled(sandbox_server: Any) -> None:
    with provisioned_stack(sandbox_server) as stack:
        api = Api(stack)
        api.active_step(STEP)
        assert "WebhookSigningSecret" not in stack.stack.resolver.values  # the condition left it out
        assert _post(api, _body(), None).status == 202
        assert _post(api, _body(), "t=1,v1=whatever").status == 202  # ignored
