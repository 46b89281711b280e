"""Keeps each local function invocation's Powertools log keys to itself.

In Lambda every function is its own process, so Powertools keeps a function's keys (function_name, cold_start,
correlation_id) on one formatter shared by its loggers. Local mode runs every function as threads of one process,
where all `Logger(service="audience-sync")` share that formatter: a batcher's log line could carry the API's
function_name or another request's correlation id. Here the keys move to a per-thread context (Powertools'
own thread-safe keys), and threads a handler starts inherit the invoking thread's keys.
"""

from __future__ import annotations

import contextvars
import threading
from typing import Any

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

_installed = False


def install() -> None:
    global _installed  # noqa: PLW0603 - patches the process once
    if _installed:
        return
    _installed = True
    formatter: Any = LambdaPowertoolsFormatter
    formatter.append_keys = formatter.thread_safe_append_keys
    formatter.remove_keys = formatter.thread_safe_remove_keys
    original_clear = formatter.clear_state

    def clear_state(self: LambdaPowertoolsFormatter) -> None:
        original_clear(self)
        self.thread_safe_clear_keys()

    formatter.clear_state = clear_state
    logger: Any = Logger
    logger.get_correlation_id = lambda self: self.registered_formatter.thread_safe_get_current_keys().get(
        "correlation_id"
    )
    _inherit_context_in_new_threads()


def _inherit_context_in_new_threads() -> None:
    """A thread starts with the context of the thread that started it (Python starts it empty), so a batcher's
    sender threads log with their invocation's keys, as they do in Lambda."""
    original_start = threading.Thread.start
    original_run = threading.Thread.run

    def start(self: threading.Thread) -> None:
        self._local_mode_context = contextvars.copy_context()  # type: ignore[attr-defined]
        original_start(self)

    def run(self: threading.Thread) -> None:
        context = getattr(self, "_local_mode_context", None)
        if context is None:
            original_run(self)
        else:
            context.run(original_run, self)

    threading.Thread.start = start  # type: ignore[method-assign]
    threading.Thread.run = run  # type: ignore[method-assign]
