"""`audience-sync connection | steps | step | metrics` on the moto stack, with rows written by the real handlers:
the tables and the JSON say what the API says, unknown stacks and steps are clear errors, and no token is printed."""

from __future__ import annotations

import json
import warnings
from typing import Any

import boto3

from audience_sync.composition.container import Container
from audience_sync.settings import Settings
from audience_sync.steps.records import AUDIENCE_NOT_FOUND, AUDIENCE_STATUS_ERROR
from audience_sync_cli.render import when
from tests.integration.api.api_helpers import ACCOUNT_ID, VIEWER_ACCOUNT_ID, Api
from tests.integration.cli.cli_support import Cli, rows

USERS = [
    {"external_id": "u-1", "email": "ana@example.com", "ad_tracking_enabled": True},
    {"external_id": "u-2", "email": "bo@example.com", "ad_tracking_enabled": True},
    {"external_id": "u-3", "ad_tracking_enabled": True},  # no match field: not synced
    {"external_id": "u-4", "email": "not-an-email", "ad_tracking_enabled": True},  # not synced, invalid_email
    {"external_id": "u-5", "android_gaid": "a" * 65, "ad_tracking_enabled": True},  # LinkedIn rejects it: errored
    {"external_id": "u-6", "email": "cy@example.com", "ad_tracking_enabled": False},  # filtered
]
FILTERS = [{"attribute": "ad_tracking_enabled", "op": "eq", "value": True}]


def test_connection_shows_status_accounts_and_expiry_never_a_token(api: Api, cli: Cli) -> None:
    disconnected = cli.ok("connection")
    assert disconnected.out.startswith("LinkedIn connection: disconnected")
    assert cli.ok("connection", "--json").json == {"status": "disconnected", "ad_accounts": []}

    api.connect()
    view = api.get("/v1/connections/linkedin").json
    cli.now = view["access_token_expires_at"] - 10 * 86_400 - 5
    shown = cli.ok("connection")
    assert cli.ok("--json", "connection").json == view  # the same view as the API, options before or after
    assert shown.out.startswith("LinkedIn connection: connected\n")
    assert f"access token expires   {when(view['access_token_expires_at'])} (in 10 d)" in shown.out
    assert f"refresh token expires  {when(view['refresh_token_expires_at'])} (in " in shown.out
    assert f"connected at           {when(view['connected_at'])}" in shown.out
    cli.now = view["access_token_expires_at"] + 1
    assert f"{when(view['access_token_expires_at'])} (expired)" in cli.ok("connection").out
    accounts = {r[0]: r for r in rows(shown.out, "ID")}
    assert set(accounts) == {ACCOUNT_ID, VIEWER_ACCOUNT_ID}
    assert accounts[ACCOUNT_ID][-2:] == ["ACCOUNT_BILLING_ADMIN", "yes"]
    assert accounts[VIEWER_ACCOUNT_ID][-2:] == ["VIEWER", "no"]

    Container(Settings.from_env()).connections.mark_invalid("refresh_failed_invalid_grant")
    invalid = cli.ok("connection")
    assert invalid.out.startswith("LinkedIn connection: invalid_token")
    assert "refresh_failed_invalid_grant: Reconnect LinkedIn" in invalid.out

    tokens = api.sandbox_tokens()
    assert tokens
    printed = cli.printed()
    assert not [t for t in tokens if t in printed]
    assert "token_ct" not in printed


def test_steps_lists_every_step_and_step_shows_one_in_detail(api: Api, cli: Cli) -> None:
    assert cli.ok("steps").out.startswith("No steps yet")
    audience_id = api.active_step("welcome", match_fields=["email", "first_last_name"], entry_filters=FILTERS)
    assert api.put_step("later", {"partner": "linkedin", "audience": {"name": "Later"}}).status == 200

    listed = cli.ok("steps")
    table = {r[0]: r for r in rows(listed.out, "STEP")}
    assert table["welcome"][:4] == ["welcome", "active", audience_id, "-"]
    assert table["later"][:4] == ["later", "draft", "-", "-"]
    as_json = cli.ok("steps", "--json").json
    assert [s["step_id"] for s in as_json["steps"]] == ["later", "welcome"]
    assert as_json["steps"] == [api.get(f"/v1/steps/{s}").json for s in ("later", "welcome")]

    Container(Settings.from_env()).steps.set_error("welcome", AUDIENCE_NOT_FOUND)
    assert {r[0]: r for r in rows(cli.ok("steps").out, "STEP")}["welcome"][3] == AUDIENCE_NOT_FOUND
    detail = cli.ok("step", "welcome")
    assert detail.out.startswith("Step welcome: active\n")
    for line in (
        f"audience id    {audience_id}",
        "error          audience_not_found: The audience was deleted in LinkedIn",
        f"ad account     {ACCOUNT_ID}",
        "audience       new, named 'Churn risk'",
        "match fields   email, first_last_name",
        "entry filters  ad_tracking_enabled eq true",
        "last step      no",
    ):
        assert line in detail.out, detail.out
    detail_json = cli.ok("step", "welcome", "--json").json
    assert detail_json["step"] == api.get("/v1/steps/welcome").json
    assert detail_json["step"]["error"] == AUDIENCE_NOT_FOUND

    # The audience's LinkedIn status is an error of its own, shown beside the sync's.
    steps = Container(Settings.from_env()).steps
    steps.set_error("welcome", "audience_expired", attribute=AUDIENCE_STATUS_ERROR)
    listed_row = {r[0]: r for r in rows(cli.ok("steps").out, "STEP")}["welcome"]
    assert listed_row[3] == f"{AUDIENCE_NOT_FOUND},audience_expired"
    both = cli.ok("step", "welcome").out
    assert "error          audience_not_found: The audience was deleted in LinkedIn" in both, both
    assert "error          audience_expired: LinkedIn expired the audience" in both, both
    assert cli.ok("step", "welcome", "--json").json["step"]["errors"] == [AUDIENCE_NOT_FOUND, "audience_expired"]


def test_metrics_table_per_step_with_reasons(api: Api, cli: Cli) -> None:
    api.active_step("welcome", match_fields=["email", "android_gaid"], entry_filters=FILTERS)
    api.active_step("quiet")
    assert api.post_users("welcome", USERS).status == 202
    expected = api.metrics("welcome")  # settles the queue through the real batcher
    assert expected == {
        "entered": 5,
        "proceeded": 5,
        "synced": 2,
        "not_synced": 2,
        "pending": 0,
        "errored": 1,
        "exited": 0,
    }

    shown = cli.ok("metrics")
    header = "STEP     ENTERED  PROCEEDED  SYNCED  NOT_SYNCED  PENDING  ERRORED  EXITED"
    assert header in shown.out
    table = {r[0]: r[1:] for r in rows(shown.out, "STEP     ENTERED")}
    assert table == {"quiet": ["0"] * 7, "welcome": ["5", "5", "2", "2", "0", "1", "0"]}
    assert rows(shown.out.split("Not synced reasons", 1)[1], "STEP") == [
        ["welcome", "invalid_email", "1"],
        ["welcome", "missing_match_fields", "1"],
    ]
    assert rows(shown.out.split("Errored reasons", 1)[1], "STEP") == [["welcome", "linkedin_400_invalid_element", "1"]]

    one = cli.ok("metrics", "welcome", "--json").json
    assert one == {
        "steps": [
            {
                "step_id": "welcome",
                "metrics": expected,
                "not_synced_reasons": {"invalid_email": 1, "missing_match_fields": 1},
                "errored_reasons": {"linkedin_400_invalid_element": 1},
            }
        ]
    }
    detail = cli.ok("step", "welcome", "--json").json
    assert detail["metrics"] == expected
    assert detail["errored_reasons"] == {"linkedin_400_invalid_element": 1}
    assert "ENTERED  PROCEEDED  SYNCED" in cli.ok("step", "welcome").out


def test_unknown_step_or_stack_is_a_clear_error(api: Api, cli: Cli) -> None:
    for argv in (["step", "nope"], ["metrics", "nope"], ["--json", "step", "nope"]):
        run = cli(*argv)
        assert (run.code, run.out) == (1, "")
        assert run.err == "audience-sync: error: step 'nope' not found in stack 'audience-sync'\n"

    run = cli("--stack-name", "elsewhere", "steps")
    assert (run.code, run.out) == (1, "")
    assert "stack 'elsewhere' not found in region us-east-1" in run.err

    other: dict[str, Any] = {"Resources": {"Nothing": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}
    with warnings.catch_warnings():  # moto creates nothing for it, and says so
        warnings.simplefilter("ignore", UserWarning)
        boto3.client("cloudformation").create_stack(StackName="not-ours", TemplateBody=json.dumps(other))
    run = cli("--stack-name", "not-ours", "steps")
    assert run.code == 1
    assert "stack 'not-ours' (CREATE_COMPLETE) has no output StepsTableName" in run.err

    run = cli("--region", "eu-west-1", "steps")  # the stack lives in us-east-1
    assert run.code == 1
    assert "not found in region eu-west-1" in run.err


def test_retries_lists_no_failed_execution_on_a_healthy_stack(api: Api, cli: Cli) -> None:
    assert cli.ok("retries").out == "No failed retry executions.\n"
    assert cli.ok("retries", "list", "--json").json == {"failed_executions": []}
    assert cli.ok("retries", "redrive", "--all-failed").out == "No failed retry executions to redrive.\n"
