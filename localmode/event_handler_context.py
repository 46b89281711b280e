"""Keeps each local invocation's API Gateway event to itself in Powertools' event handler.

Powertools' resolvers keep the event being resolved, and its Lambda context, as attributes of the *class*
`BaseRouter` (`resolve()` assigns `BaseRouter.current_event`; every resolver, router and the validation middleware
read it back). On Lambda that is one event per process. Local mode runs the API functions as threads of one
process, so two overlapping requests read each other's event: a browser polling a step's metrics while a webhook
posted its users made the webhook's route validate the poll's empty body (400 "body: Field required", seen in CI).

Here those two attributes become per-thread (a context variable, which threads a handler starts inherit: see
log_context), through a subclass of BaseRouter's metaclass whose properties take the class-level reads and
writes, and properties on BaseRouter for its instances' reads. Nothing else of Powertools changes.
"""

from __future__ import annotations

import contextvars
from abc import ABCMeta
from typing import Any

from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

_PER_INVOCATION = ("current_event", "lambda_context")


def _per_invocation(name: str) -> property:
    value: contextvars.ContextVar[Any] = contextvars.ContextVar(f"powertools_{name}")

    def get(_: object) -> Any:
        try:
            return value.get()
        except LookupError:  # what Powertools' class attribute does before any event
            raise AttributeError(name) from None

    def set_(_: object, new: Any) -> None:
        value.set(new)

    return property(get, set_)


def install() -> None:
    if isinstance(BaseRouter, _PerInvocationRouter):
        return
    for name in _PER_INVOCATION:
        # the instances' reads (self.current_event); set before the metaclass, which would take this assignment
        setattr(BaseRouter, name, getattr(_PerInvocationRouter, name))
    BaseRouter.__class__ = _PerInvocationRouter  # type: ignore[assignment]


class _PerInvocationRouter(ABCMeta):
    """BaseRouter's metaclass (ABCMeta) with the class-level `BaseRouter.current_event = …` made per-thread."""

    current_event = _per_invocation("current_event")
    lambda_context = _per_invocation("lambda_context")
