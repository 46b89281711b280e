"""Launching a step (POST /v1/steps/{step_id}/launch): validate, then create the LinkedIn audience or check the
chosen one. Apart from steps.py so the ingest, which only reads steps, does not import the LinkedIn client."""

from __future__ import annotations

from typing import Any

from audience_sync.connections.service import ConnectionService, NotConnected
from audience_sync.core.clock import now_ms
from audience_sync.core.errors import ApiError
from audience_sync.destinations.linkedin.client import account_urn
from audience_sync.destinations.linkedin.errors import Disposition, LinkedInError
from audience_sync.settings import Settings
from audience_sync.steps.repository import StepRepository, int_or_none, launch_problems, problem


class Launcher:
    def __init__(self, settings: Settings, steps: StepRepository, connections: ConnectionService):
        self.settings = settings
        self.steps = steps
        self.connections = connections

    def launch(self, step_id: str) -> dict[str, Any]:
        item = self.steps.get(step_id)
        config = item.get("config", {})
        problems = launch_problems(config, self.connections.view())
        if problems:
            raise ApiError(422, "launch_invalid", "the step cannot be launched", problems)
        audience = config["audience"]
        try:
            if audience.get("id"):
                segment = self.with_token(lambda token: self.connections.linkedin.get_segment(token, audience["id"]))
                if segment.get("account") not in (None, account_urn(config["ad_account_id"])):
                    raise ApiError(
                        422,
                        "launch_invalid",
                        "the step cannot be launched",
                        [problem("audience", "audience_wrong_account", "this audience belongs to another ad account")],
                    )
                audience_id, created_at = audience["id"], None
            elif (
                item.get("created_audience_id")
                and item.get("audience_name") == audience["name"]
                and item.get("audience_account") == config["ad_account_id"]
            ):  # relaunch: the audience this step created for this name and account, never one picked by id since
                audience_id, created_at = item["created_audience_id"], int_or_none(item.get("created_audience_at"))
            else:
                audience_id = self.with_token(
                    lambda token: self.connections.linkedin.create_segment(
                        token,
                        config["ad_account_id"],
                        audience["name"],
                        self.settings.linkedin_source_platform,
                        step_id,
                    )
                )
                created_at = now_ms()
                self.steps.table.update_item(
                    Key={"step_id": step_id},
                    UpdateExpression="SET audience_name = :n, audience_account = :a, created_audience_id = :i, "
                    "created_audience_at = :t",
                    ExpressionAttributeValues={
                        ":n": audience["name"],
                        ":a": config["ad_account_id"],
                        ":i": audience_id,
                        ":t": created_at,
                    },
                )
        except NotConnected as exc:
            raise ApiError(
                422,
                "launch_invalid",
                "the step cannot be launched",
                [problem("connection", f"linkedin_{exc.status}", "reconnect LinkedIn")],
            ) from exc
        except LinkedInError as exc:
            raise _launch_error(exc) from exc
        updated = self.steps.activate(step_id, audience_id, created_at)
        return {"status": updated["status"], "audience_id": audience_id}

    def with_token(self, call: Any) -> Any:
        """Run `call(access_token)`, refreshing the token once if LinkedIn answers 401."""
        token = self.connections.access_token()
        try:
            return call(token.value)
        except LinkedInError as exc:
            if exc.disposition is not Disposition.REFRESH_TOKEN:
                raise
            return call(self.connections.refresh(token).value)


# What a LinkedIn refusal means for the launch: the field at fault, the problem's code, and advice.
_LAUNCH_PROBLEMS = {
    Disposition.NOT_FOUND: ("audience", "audience_not_found", "LinkedIn has no audience with this id"),
    Disposition.ACCESS_DENIED: ("ad_account_id", "ad_account_access", "LinkedIn denied access to this ad account"),
    Disposition.REFRESH_TOKEN: ("connection", "linkedin_invalid_token", "reconnect LinkedIn"),
}


def _launch_error(exc: LinkedInError) -> ApiError:
    found = _LAUNCH_PROBLEMS.get(exc.disposition)
    if found is None:
        return ApiError(502, "linkedin_unavailable", f"LinkedIn did not accept the request ({exc.reason})")
    return ApiError(422, "launch_invalid", "the step cannot be launched", [problem(*found)])
