"""Cold start: how long each handler module takes to import (`python -X importtime`), in an environment like
Lambda's (the function's variables set, so Powertools' Tracer and Logger start as they would there), and how
big each function's deployment is (`sam build`: its code plus the shared layer, unzipped).

The layer is imported as built (layers/common/Makefile, for this machine's platform: Lambda's arm64 wheels would not
load here) and as Lambda imports it, from a directory nothing may write to (PYTHONDONTWRITEBYTECODE): the bytecode
is the build's. The ingest is also imported from sources with no bytecode at all, what SAM's own python builder
shipped and Lambda compiled at every cold start."""

from __future__ import annotations

import dataclasses
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localmode.provision import ROOT

# Fresh interpreters per function. The fastest is the imports' own cost; the others add whatever else the machine
# was doing (measured: the median moves by 100 ms between runs of the same code on a busy 2-core machine).
RUNS = 9
_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|\s?( *)(\S+)")


@dataclass(frozen=True)
class ColdStart:
    function: str
    import_ms: float  # the fastest of RUNS: cumulative time of importing the handler module
    median_ms: float
    biggest: list[tuple[str, float]]  # the heaviest top-level imports under it (ms)
    code_bytes: int | None  # the function's own built code
    layer_bytes: int | None  # the shared layer, built
    from_source_ms: float | None = None  # the same import compiling every module (no bytecode shipped)
    layer_built: bool = True  # False: the build failed and the layer's sources were imported (with their bytecode)
    own_ms: float | None = None  # of import_ms, our package's own modules (their self time: our code, our models)
    snapstart: bool = False  # its init runs when a version is published; a cold start restores the snapshot
    instructions: int | None = None  # of importing the handler module (count_instructions), None without valgrind


@dataclass(frozen=True)
class Libraries:
    """LIBRARIES alone: what every function but the console imports before any of our code."""

    ms: float
    instructions: int | None


def functions() -> dict[str, Path]:
    from localmode.template import load_template

    template = load_template(ROOT / "template.yaml")
    return {
        name: ROOT / str(resource["Properties"]["CodeUri"])
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def snapstart_functions() -> set[str]:
    """The functions the template gives SnapStart (decision 0021)."""
    from localmode.template import load_template

    resources = load_template(ROOT / "template.yaml")["Resources"]
    return {name for name, resource in resources.items() if "SnapStart" in (resource.get("Properties") or {})}


def lambda_environment(function: str | None = None) -> dict[str, str]:
    """What Lambda sets, plus the template's variables of `function` (Globals and its own) with placeholder values
    (nothing is called at init)."""
    from localmode.template import load_template

    template = load_template(ROOT / "template.yaml")
    variables = dict(template["Globals"]["Function"]["Environment"]["Variables"])
    if function is not None:
        own = template["Resources"][function]["Properties"].get("Environment") or {}
        variables.update(own.get("Variables") or {})
    defaults = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}

    def value(name: str, raw: Any) -> str:
        if isinstance(raw, str):
            return raw
        ref = raw.get("Ref") if isinstance(raw, dict) else None
        if isinstance(raw, dict) and "Fn::If" in raw:  # a conditional variable (webhook signing): the default, off
            return ""
        return defaults.get(ref) or f"placeholder-{name.lower()}"  # a resource's name or ARN: never called here

    env = {name: value(name, raw) for name, raw in variables.items()}
    env.update(
        PATH=os.environ.get("PATH", ""),
        PYTHONPATH=str(ROOT / "layers" / "common"),
        AWS_LAMBDA_FUNCTION_NAME="bench",
        AWS_REGION="us-east-1",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EXECUTION_ENV="AWS_Lambda_python3.12",
        LAMBDA_TASK_ROOT="/var/task",
        _X_AMZN_TRACE_ID="Root=1-00000000-000000000000000000000000;Sampled=1",
        # the role's credentials, as Lambda sets them: a handler creates its SDK clients at init (decision 0026), and
        # botocore resolves credentials when it creates a client (placeholders: nothing is sent)
        AWS_ACCESS_KEY_ID="ASIAPLACEHOLDER",
        AWS_SECRET_ACCESS_KEY="placeholder",  # noqa: S106 - a placeholder, never sent
        AWS_SESSION_TOKEN="placeholder",  # noqa: S106 - a placeholder, never sent
    )
    return env


def import_times(
    code_dir: Path, function: str | None = None, layer: Path | None = None, runs: int = RUNS, compile_all: bool = False
) -> tuple[float, float, list[tuple[str, float]], float]:
    """(fastest and median ms to import `app`, its heaviest direct imports in ms, the self time of our own modules in
    the fastest run) over `runs` fresh interpreters, with `layer` (a built layer's python/ directory) on the path and
    nothing written; `compile_all`: no bytecode read."""
    totals: list[float] = []
    own: list[float] = []
    children: dict[str, list[float]] = {}
    environment = _environment(function, layer or ROOT / "layers" / "common")
    for _ in range(runs):
        flags = ["-X", f"pycache_prefix={tempfile.mkdtemp()}"] if compile_all else []
        result = _python(["-X", "importtime", *flags, "-c", "import app"], environment, code_dir)
        rows = [m for m in (_LINE.match(line) for line in result.stderr.splitlines()) if m]
        at = max(i for i, m in enumerate(rows) if m.group(4) == "app")
        totals.append(int(rows[at].group(2)) / 1000)
        own.append(sum(int(m.group(1)) for m in rows if _is_ours(m.group(4))) / 1000)
        for m in _imported_by(rows, at):
            if len(m.group(3)) == 2:  # imported directly by app
                children.setdefault(m.group(4), []).append(int(m.group(2)) / 1000)
    heaviest = sorted(((name, min(ms)) for name, ms in children.items()), key=lambda x: -x[1])[:3]
    return min(totals), statistics.median(totals), heaviest, own[totals.index(min(totals))]


# What every function but the console does at init before any of our code: the SDK (the adapters' boto3, with
# botocore and urllib3) and its first client (every one of them makes a DynamoDB client at init, decision 0026),
# pydantic with its first model (which sets up its validation machinery), and Powertools' logger, metrics and tracer
# patching botocore. Timed the same way as a handler (fresh interpreter, Lambda's environment, the built layer,
# -X importtime's own overhead included): what no handler of ours can start in less.
LIBRARIES = """
import time
started = time.perf_counter()
import boto3, pydantic
from aws_lambda_powertools import Logger, Metrics, Tracer
class First(pydantic.BaseModel):
    n: int
Logger(), Metrics(), Tracer(patch_modules=["botocore"])
boto3.client("dynamodb")
print((time.perf_counter() - started) * 1000)
"""


def _environment(function: str | None, layer: Path) -> dict[str, str]:
    environment = lambda_environment(function)
    environment.update(PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=str(layer))  # Lambda's /var/task and /opt: read-only
    return environment


def _python(
    arguments: list[str],
    environment: dict[str, str],
    cwd: Path | None = None,
    under: list[str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """A fresh interpreter (`under` a tool such as valgrind), its output captured; raises if it fails."""
    return subprocess.run(
        [*(under or []), sys.executable, *arguments],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


def libraries_ms(layer: Path, runs: int = RUNS) -> float:
    """The fastest of `runs` fresh interpreters importing LIBRARIES alone, in the batcher's environment."""
    environment = _environment("BatcherFunction", layer)
    timings = []
    for _ in range(runs):
        result = _python(["-X", "importtime", "-c", LIBRARIES], environment)
        timings.append(float(result.stdout))
    return min(timings)


# Instructions do not move with the machine: on the 2-core VM the fastest of 9 imports still moves by 10-15 % between
# runs (a function measured once below the libraries it imports), while valgrind's count of the same import moves
# by less than 0.2 %. They compare commits; the milliseconds say what a cold start takes.
_INSTRUCTIONS = re.compile(r"I\s+refs:\s+([\d,]+)")


def count_instructions(code: str, environment: dict[str, str], cwd: Path | None = None) -> int | None:
    """Instructions the interpreter executes to run `code` (valgrind's cachegrind, no cache simulation: ~40x slower
    than running it), less those of an empty one; None where valgrind is not installed or could not count (the
    timings are the row; a count is an extra)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return None

    def count(source: str) -> int:
        tool = [valgrind, "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
        result = _python(["-c", source], environment, cwd, under=tool, timeout=600)
        found = _INSTRUCTIONS.search(result.stderr)
        if found is None:
            raise RuntimeError("valgrind printed no instruction count")
        return int(found.group(1).replace(",", ""))

    try:
        return count(code) - count("pass")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, RuntimeError):
        return None


def _imported_by(rows: list[re.Match[str]], at: int) -> list[re.Match[str]]:
    """The rows of the modules imported under rows[at]: -X importtime prints a module after what it imported, indented
    deeper. (Not the interpreter's start-up, whose imports under `site` are indented as deep.)"""
    start = at
    while start > 0 and rows[start - 1].group(3):
        start -= 1
    return rows[start:at]


def _is_ours(module: str) -> bool:
    """Our package and the handler module: the rest is the libraries' and Python's."""
    return module in {"app", "audience_sync"} or module.startswith("audience_sync.")


def built_sizes(progress: Callable[[str], None] | None = None) -> dict[str, int] | None:
    """Bytes of each built function and of the layer (sam build into a temporary directory), or None without SAM."""
    sam = ROOT / ".venv-sam" / "bin" / "sam"
    if not sam.exists():
        return None
    if progress:
        progress("cold start: sam build (deployment sizes)")
    with tempfile.TemporaryDirectory() as tmp:
        build = Path(tmp) / "build"
        env = {
            **os.environ,
            "SAM_CLI_TELEMETRY": "0",
            "PYENV_VERSION": "3.12.1:3.11.7",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        command = [str(sam), "build", "--template-file", str(ROOT / "template.yaml"), "--build-dir", str(build)]
        command += ["--cache-dir", str(Path(tmp) / "cache")]
        result = subprocess.run(command, check=False, cwd=tmp, env=env, capture_output=True, text=True, timeout=600)
        if result.returncode != 0:
            return None
        return {entry.name: _size(entry) for entry in build.iterdir() if entry.is_dir()}


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def build_layer(into: Path) -> Path | None:
    """The layer as layers/common/Makefile builds it, for this machine's platform; its python/ directory, or None if
    the build failed (no package index)."""
    machine = platform.machine()
    wheels = "manylinux2014_aarch64" if machine in ("aarch64", "arm64") else f"manylinux2014_{machine}"
    result = subprocess.run(
        [
            shutil.which("make") or "make",
            "-s",
            "build-CommonLayer",
            f"ARTIFACTS_DIR={into}",
            f"PLATFORM={wheels}",
            f"PYTHON={sys.executable}",
        ],
        cwd=ROOT / "layers" / "common",
        check=False,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return into / "python" if result.returncode == 0 else None


def measure(progress: Callable[[str], None] | None = None) -> tuple[list[ColdStart], Libraries]:
    """Each function's import, and the libraries' alone (LIBRARIES), with the same layer: timed first, then their
    instructions counted two at a time (counting loads the machine, timing must not share it)."""
    sizes = built_sizes(progress) or {}
    results: list[ColdStart] = []
    with tempfile.TemporaryDirectory() as tmp:
        if progress:
            progress("cold start: building the layer (layers/common/Makefile)")
        layer = build_layer(Path(tmp))
        snapstart = snapstart_functions()
        for name, code_dir in functions().items():
            if progress:
                progress(f"cold start: importing {name} {RUNS} times")
            fastest, median, heaviest, own = import_times(code_dir, name, layer or ROOT / "layers" / "common")
            from_source = None
            if name == "IngestFunction":
                from_source = import_times(code_dir, name, ROOT / "layers" / "common", runs=3, compile_all=True)[0]
            results.append(
                ColdStart(
                    name,
                    fastest,
                    median,
                    heaviest,
                    sizes.get(name),
                    sizes.get("CommonLayer"),
                    from_source,
                    layer is not None,
                    own,
                    name in snapstart,
                )
            )
        path = layer or ROOT / "layers" / "common"
        if progress:
            progress(f"cold start: importing the libraries alone {RUNS} times")
        floor_ms = libraries_ms(path)
        if progress:
            progress("cold start: counting each import's instructions (valgrind, if installed)")
        code_dirs = functions()
        libraries = (LIBRARIES, _environment("BatcherFunction", path), None)
        handlers = [("import app", _environment(c.function, path), code_dirs[c.function]) for c in results]
        with ThreadPoolExecutor(max_workers=2) as pool:
            floor_count, *counts = pool.map(lambda job: count_instructions(*job), [libraries, *handlers])
    results = [dataclasses.replace(c, instructions=n) for c, n in zip(results, counts, strict=True)]
    return results, Libraries(floor_ms, floor_count)
