"""localmode.log_context: functions running as threads of one process log with their own keys."""

from __future__ import annotations

import io
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

from aws_lambda_powertools import Logger

from localmode import log_context


def _context(name: str) -> SimpleNamespace:
    return SimpleNamespace(
        function_name=name,
        function_version="$LATEST",
        invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        memory_limit_in_mb=128,
        aws_request_id=f"{name}-request",
    )


def test_concurrent_invocations_keep_their_function_name_and_correlation_id() -> None:
    log_context.install()
    stream = io.StringIO()
    # Two handler modules' loggers of one service: in one process they share a formatter, as in local mode.
    loggers = [Logger(service="log-context-test", logger_handler=logging.StreamHandler(stream))]
    loggers.append(Logger(service="log-context-test"))
    both_started = threading.Barrier(2)
    answers: dict[str, Any] = {}

    def make_handler(logger: Logger, name: str) -> Any:
        @logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
        def handler(event: dict[str, Any], context: Any) -> None:
            both_started.wait(timeout=10)  # each invocation has set its keys before either logs
            logger.info("in the handler")
            with ThreadPoolExecutor(max_workers=1) as pool:  # threads the handler starts inherit its keys
                pool.submit(logger.info, "in a worker thread").result()
            answers[name] = logger.get_correlation_id()

        return handler

    threads = [
        threading.Thread(
            target=make_handler(logger, name), args=({"requestContext": {"requestId": f"corr-{name}"}}, _context(name))
        )
        for logger, name in zip(loggers, ["ApiFunction", "BatcherFunction"], strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 4
    for line in lines:
        assert line["correlation_id"] == f"corr-{line['function_name']}", line
    assert {(line["function_name"], line["message"]) for line in lines} == {
        (name, message)
        for name in ("ApiFunction", "BatcherFunction")
        for message in ("in the handler", "in a worker thread")
    }
    assert answers == {"ApiFunction": "corr-ApiFunction", "BatcherFunction": "corr-BatcherFunction"}
