"""Launching a step (POST /v1/steps/{step_id}/launch): list every problem at once (the product's FAQ "Why is my
Canvas not allowed to launch?"), then create the destination's audience or check the chosen one, then activate.

A relaunch with the same audience name and account reuses the audience this step created before, never one picked
by id since. Apart from records.py so the ingest, which only reads steps, does not import a destination.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from audience_sync.connections.errors import NotConnected
from audience_sync.connections.session import TokenSession
from audience_sync.core.clock import now_ms
from audience_sync.core.errors import DomainError, LaunchInvalid, UpstreamFailed
from audience_sync.destinations.base import (
    AudienceReading,
    Audiences,
    AuthorizationFailed,
    Destination,
    DestinationError,
    Problem,
)
from audience_sync.steps.ports import StepSources, StepStore
from audience_sync.steps.records import int_or_none


def problem(field: str, code: str, message: str) -> dict[str, str]:
    return Problem(field, code, message).as_dict()


def launch_problems(
    config: dict[str, Any], connection: dict[str, Any], destination: str = "linkedin", label: str = "LinkedIn"
) -> list[dict[str, str]]:
    """Everything that stops a launch, all at once. Pure. `connection` is the connection's public view."""
    problems: list[dict[str, str]] = []
    if connection["status"] != "connected":
        problems.append(
            problem(
                "connection",
                f"{destination}_{connection['status']}",
                f"connect a {label} ad account (GET /v1/connections/{destination}/authorize)",
            )
        )
    account_id = config.get("ad_account_id")
    if not account_id:
        problems.append(problem("ad_account_id", "required", f"select a {label} ad account"))
    elif connection["status"] == "connected":
        account = next((a for a in connection["ad_accounts"] if a["id"] == account_id), None)
        if account is None:
            problems.append(
                problem(
                    "ad_account_id",
                    "unknown_ad_account",
                    f"the connected {label} member has no access to this ad account",
                )
            )
        elif not account["usable"]:
            problems.append(
                problem(
                    "ad_account_id",
                    "ad_account_read_only",
                    f"role {account['role']} cannot manage audiences; ask for Creative Manager or higher",
                )
            )
    audience = config.get("audience") or {}
    if not audience.get("name") and not audience.get("id"):
        problems.append(problem("audience", "required", "enter a name for a new audience or the id of an existing one"))
    if not config.get("match_fields"):
        problems.append(problem("match_fields", "required", "select at least one field to match"))
    return problems


class Launcher:
    def __init__(
        self,
        steps: StepStore,
        connection_view: Callable[[], dict[str, Any]],
        destination: Destination,
        audiences: Audiences,
        session: TokenSession,
        sources: StepSources | None = None,
    ):
        self.steps = steps
        self.sources = sources
        self.connection_view = connection_view  # the connection's public view (ConnectionService.view)
        self.destination = destination
        self.audiences = audiences
        self.session = session

    def launch(self, step_id: str) -> dict[str, Any]:
        item = self.steps.get(step_id)
        config = item.get("config", {})
        name, label = self.destination.name, self.destination.label
        problems = launch_problems(config, self.connection_view(), name, label)
        if self.sources is not None:
            problems += self.sources.problems(config)
        if problems:
            raise LaunchInvalid(problems)
        audience = config["audience"]
        self.session.reset()  # a token may have been refreshed or revoked since the last request
        try:
            if audience.get("id"):
                reading = self.session.call(lambda token: self.audiences.read(token, audience["id"]))
                self._check_account(reading, config["ad_account_id"])
                audience_id, created_at = audience["id"], None
            elif (
                item.get("created_audience_id")
                and item.get("audience_name") == audience["name"]
                and item.get("audience_account") == config["ad_account_id"]
            ):  # relaunch: the audience this step created for this name and account, never one picked by id since
                audience_id, created_at = item["created_audience_id"], int_or_none(item.get("created_audience_at"))
            else:
                audience_id = self.session.call(
                    lambda token: self.audiences.create(token, config["ad_account_id"], audience["name"], step_id)
                )
                created_at = now_ms()
                self.steps.record_created_audience(
                    step_id, audience["name"], config["ad_account_id"], audience_id, created_at
                )
        except NotConnected as exc:
            raise LaunchInvalid([problem("connection", f"{name}_{exc.status}", f"reconnect {label}")]) from exc
        except AuthorizationFailed as exc:  # the token needed a refresh and the OAuth server did not answer
            raise UpstreamFailed(f"{name}_unavailable", f"{label} did not refresh the token ({exc.error})") from exc
        except DestinationError as exc:
            raise self._launch_error(exc) from exc
        updated = self.steps.activate(step_id, audience_id, created_at)
        if self.sources is not None:  # after activation: what the source starts sending finds the step active
            self.sources.launched(step_id, config)
        return {"status": updated["status"], "audience_id": audience_id}

    def _check_account(self, reading: AudienceReading, account_id: str) -> None:
        if reading.account_id not in (None, account_id):
            raise LaunchInvalid(
                [problem("audience", "audience_wrong_account", "this audience belongs to another ad account")]
            )

    def _launch_error(self, exc: DestinationError) -> DomainError:
        failure = self.destination.classify(exc)
        found = self.audiences.launch_problem(failure)
        if found is None:
            label = self.destination.label
            return UpstreamFailed(
                f"{self.destination.name}_unavailable", f"{label} did not accept the request ({failure.reason})"
            )
        return LaunchInvalid([found.as_dict()])
