"""What each Lambda function imports at its init (composition/__init__.py): its own capability's modules, and not
another capability's. Each function is imported as Lambda imports it, in a fresh interpreter: its directory, the
layer's sources, the template's variables (bench/coldstart.py builds them, as `make bench` measures the imports).

The markers are what a function pays for only if it needs them: a destination's HTTP client (requests), campaign
templates (Liquid), Powertools' OpenAPI models (the API's document) and every capability at once (`Container`)."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import pytest

from bench.coldstart import functions, lambda_environment

HTTP = "requests"
LIQUID = "liquid"
OPENAPI = "aws_lambda_powertools.event_handler.openapi.models"
EVERYTHING = "audience_sync.composition.container"
MARKERS = (HTTP, LIQUID, OPENAPI, EVERYTHING)

EXPECTED: dict[str, set[str]] = {
    "IngestFunction": set(),  # the hot path: nothing of a destination, a campaign or the API's document
    "MembershipFunction": set(),
    "SegmentCountersFunction": set(),
    "SegmentSweepFunction": set(),
    "MetricsSnapshotFunction": set(),
    "ConsoleFunction": set(),
    "TokenRefreshFunction": {HTTP},
    "AudienceRefreshFunction": {HTTP},
    "ExportFunction": {HTTP},  # the export's callback
    # they route what users did to the campaigns listening: from their deliveries, no template (campaigns/routing.py)
    "ProfileWriterFunction": set(),
    "ImportFunction": set(),
    "BatcherFunction": {HTTP},  # a delivered campaign webhook records received_webhook
    "RetryFunction": {HTTP},
    # they load campaigns whole: to send them, to save them (their templates checked)
    "CampaignActivityFunction": {LIQUID},
    "PlatformApiFunction": {LIQUID},  # the segments' service checks no campaign uses a deleted segment
    "ApiFunction": {HTTP, LIQUID, OPENAPI, EVERYTHING},
}


# the modules after `import app`, and whether pydantic looked for plugins (its `_plugins` is filled by a scan of every
# installed package's entry points, which the template's PYDANTIC_DISABLE_PLUGINS skips)
PLUGINS_SCANNED = "<pydantic scanned for plugins>"
IMPORT_AND_LIST = f"""
import app, json, sys
loader = sys.modules.get("pydantic.plugin._loader")
scanned = [{PLUGINS_SCANNED!r}] if getattr(loader, "_plugins", None) is not None else []
print(json.dumps(sorted(sys.modules) + scanned))
"""


@cache
def imported() -> dict[str, set[str]]:
    """Every function's modules after `import app`, each in its own interpreter (two at a time)."""

    def modules(name: str) -> set[str]:
        result = subprocess.run(
            [sys.executable, "-c", IMPORT_AND_LIST],
            cwd=functions()[name],
            env=lambda_environment(name),
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return set(json.loads(result.stdout))

    names = sorted(functions())
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(names, pool.map(modules, names), strict=True))


def test_every_function_of_the_template_is_expected() -> None:
    assert set(EXPECTED) == set(functions())


@pytest.mark.parametrize("function", sorted(EXPECTED))
def test_a_function_imports_what_its_capability_needs_and_no_more(function: str) -> None:
    modules = imported()[function]
    assert {marker for marker in MARKERS if marker in modules} == EXPECTED[function]


def test_each_function_but_the_console_imports_its_composition_at_init() -> None:
    for function, modules in imported().items():
        if function != "ConsoleFunction":
            assert any(m.startswith("audience_sync.composition.") for m in modules), function


# Libraries' modules no function needs, each measured in tens of milliseconds of a cold start: Powertools' batch
# utility imports every parser model and event data class (adapters/aws/sqs_batch.py), and wrapt from 2.0 imports
# asyncio under the X-Ray SDK (layers/common/requirements.txt); pydantic's scan for plugins reads every installed
# package's metadata (template.yaml, PYDANTIC_DISABLE_PLUGINS).
NEVER = (
    "aws_lambda_powertools.utilities.batch",
    "aws_lambda_powertools.utilities.parser",
    "wrapt.synchronization",
    PLUGINS_SCANNED,
)


def test_no_function_imports_what_only_costs_its_cold_start() -> None:
    for function, modules in imported().items():
        assert not [module for module in NEVER if module in modules], function
