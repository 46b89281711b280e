"""Lambda functions from the template, run in-process: one module instance per warm "container"."""

from __future__ import annotations

import gc
import importlib.util
import itertools
import os
import queue
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from localmode import event_handler_context, log_context
from localmode.template import NO_VALUE

_instances = itertools.count(1)


@dataclass
class LocalFunction:
    logical_id: str
    code_dir: Path
    handler: str
    timeout: int
    memory: int
    environment: dict[str, str]
    events: dict[str, dict[str, Any]]
    _idle: queue.SimpleQueue[ModuleType] = field(default_factory=queue.SimpleQueue)
    freeze_on_load: bool = False  # set by LocalService (`make run`), not by the tests' in-process stacks

    @contextmanager
    def _environment(self) -> Iterator[None]:
        """The function's own environment for the code run inside (audience_sync.settings.function_environment), as
        on Lambda."""
        from audience_sync.settings import FUNCTION_ENVIRONMENT

        token = FUNCTION_ENVIRONMENT.set({**os.environ, **self.environment})
        try:
            yield
        finally:
            FUNCTION_ENVIRONMENT.reset(token)

    def _load(self) -> ModuleType:
        """A new container: the handler's module, imported in the function's environment (its init builds its
        services from it, decision 0026)."""
        with self._environment():
            return self._import()

    def _import(self) -> ModuleType:
        module_name, _ = self.handler.rsplit(".", 1)
        path = self.code_dir / f"{module_name.replace('.', '/')}.py"
        unique = f"_local_{self.logical_id}_{next(_instances)}"
        spec = importlib.util.spec_from_file_location(unique, path)
        if spec is None or spec.loader is None:
            raise RuntimeError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[unique] = module
        spec.loader.exec_module(module)
        if self.freeze_on_load:
            # A container lives as long as local mode: out of the collector's walks, like start-up (LocalService).
            # This freezes whatever else is alive too, other invocations' objects: reference counting still frees
            # them, and the collector gets any cycle among them back when the service stops.
            gc.freeze()
        return module

    def invoke(self, event: dict[str, Any]) -> Any:
        """Invoke like Lambda: reuse an idle container or start a new one; exceptions propagate. The function's code
        sees its own environment (audience_sync.settings.function_environment), as on Lambda."""
        try:
            module = self._idle.get_nowait()
        except queue.Empty:
            module = self._load()
        try:
            with self._environment():
                handler = getattr(module, self.handler.rsplit(".", 1)[1])
                return handler(event, self._context())
        finally:
            self._idle.put(module)

    def _context(self) -> SimpleNamespace:
        deadline = time.monotonic() + self.timeout
        return SimpleNamespace(
            function_name=self.logical_id,
            function_version="$LATEST",
            invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{self.logical_id}",
            memory_limit_in_mb=self.memory,
            aws_request_id=str(uuid.uuid4()),
            log_group_name=f"/aws/lambda/{self.logical_id}",
            log_stream_name="local",
            get_remaining_time_in_millis=lambda: max(0, int((deadline - time.monotonic()) * 1000)),
        )


def load_functions(template: dict[str, Any], root: Path, resolver: Any) -> dict[str, LocalFunction]:
    """Every AWS::Serverless::Function, with Globals merged in and its environment resolved."""
    log_context.install()  # the functions share this process: each invocation keeps its log keys to itself
    event_handler_context.install()  # and its API Gateway event
    defaults = (template.get("Globals") or {}).get("Function") or {}
    functions: dict[str, LocalFunction] = {}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        env = dict(((defaults.get("Environment") or {}).get("Variables")) or {})
        env.update(((props.get("Environment") or {}).get("Variables")) or {})
        functions[logical_id] = LocalFunction(
            logical_id=logical_id,
            code_dir=root / str(props.get("CodeUri", defaults.get("CodeUri", "."))),
            handler=str(props.get("Handler", defaults.get("Handler"))),
            timeout=int(resolver.resolve(props.get("Timeout", defaults.get("Timeout", 3)))),
            memory=int(resolver.resolve(props.get("MemorySize", defaults.get("MemorySize", 128)))),
            environment={k: str(r) for k, r in ((k, resolver.resolve(v)) for k, v in env.items()) if r is not NO_VALUE},
            events=props.get("Events") or {},
        )
    return functions


def global_environment(template: dict[str, Any], resolver: Any) -> dict[str, str]:
    """The Globals' variables, resolved: what every function has, and what local mode puts in the process's
    environment. A function may add or change variables of its own, except Powertools' (POWERTOOLS_*), which
    Powertools reads from the process's environment, shared by every local function."""
    defaults = (template.get("Globals") or {}).get("Function") or {}
    variables = ((defaults.get("Environment") or {}).get("Variables")) or {}
    resolved = {k: str(r) for k, r in ((k, resolver.resolve(v)) for k, v in variables.items()) if r is not NO_VALUE}
    for logical_id, resource in template.get("Resources", {}).items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        own = ((resource.get("Properties", {}).get("Environment") or {}).get("Variables")) or {}
        powertools = sorted(k for k in own if k.startswith("POWERTOOLS_"))
        if powertools:
            raise RuntimeError(
                f"{logical_id} sets {', '.join(powertools)} for itself: local mode runs every function in one "
                "process, where Powertools reads one environment; set them in Globals"
            )
    return resolved


def layer_paths(template: dict[str, Any], root: Path) -> list[Path]:
    return [
        root / str(resource["Properties"]["ContentUri"])
        for resource in template.get("Resources", {}).values()
        if resource["Type"] == "AWS::Serverless::LayerVersion"
    ]
