"""localmode.event_handler_context: API functions running as threads of one process resolve their own events."""

from __future__ import annotations

import json
import threading
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.api_gateway import Router
from pydantic import BaseModel

from localmode import event_handler_context


class Users(BaseModel):
    users: list[str]


def _container() -> APIGatewayRestResolver:
    """One warm container of an API function: its own resolver and router, as each handler module builds them."""
    app = APIGatewayRestResolver(enable_validation=True)
    router = Router()

    @router.post("/steps/<step_id>/users")
    def post_users(step_id: str, body: Users) -> dict[str, Any]:
        both_resolving.wait(timeout=10)  # the other request's resolve() has begun before this one reads its event
        return {"step": step_id, "users": body.users, "path": router.current_event.path, "app": app.current_event.path}

    @app.get("/steps/<step_id>/metrics")
    def metrics(step_id: str) -> dict[str, Any]:
        both_resolving.wait(timeout=10)
        return {"step": step_id, "body": app.current_event.body, "context": app.lambda_context}

    app.include_router(router)
    return app


both_resolving = threading.Barrier(2)


def test_overlapping_requests_each_read_their_own_event_and_context() -> None:
    event_handler_context.install()
    event_handler_context.install()  # idempotent: load_functions installs it for each stack
    post = {
        "httpMethod": "POST",
        "path": "/steps/welcome/users",
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"users": ["u1", "u2"]}),
        "requestContext": {"requestId": "post"},
    }
    poll = {"httpMethod": "GET", "path": "/steps/welcome/metrics", "headers": {}, "body": None, "requestContext": {}}
    answers: dict[str, Any] = {}

    def resolve(name: str, app: APIGatewayRestResolver, event: dict[str, Any]) -> None:
        answers[name] = app.resolve(event, f"context-of-{name}")

    threads = [
        threading.Thread(target=resolve, args=("post", _container(), post)),
        threading.Thread(target=resolve, args=("poll", _container(), poll)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert answers["post"]["statusCode"] == 200, answers["post"]["body"]
    assert json.loads(answers["post"]["body"]) == {
        "step": "welcome",
        "users": ["u1", "u2"],
        "path": "/steps/welcome/users",
        "app": "/steps/welcome/users",
    }
    assert json.loads(answers["poll"]["body"]) == {"step": "welcome", "body": None, "context": "context-of-poll"}
