"""AWS cost per million users: every AWS request counted while webhooks of 100 users go through the whole
pipeline (local mode in-process), priced with list prices (prices.py).

What is counted, and how:
- API Gateway: one REST request per webhook;
- Lambda: invocations of every function, and their wall-clock duration in this process (moto answers about as
  fast as AWS in-region, so this is a fair estimate; it includes the batcher's waits on the rate limiter) times the
  template's memory size;
- SQS, DynamoDB, S3, KMS, Secrets Manager, SNS, Step Functions: botocore hooks on every client (meter.py),
  including the SQS poller that stands in for Lambda's event source mapping (AWS bills its receives to you);
- CloudWatch Logs: the bytes the handlers print (JSON logs, EMF metrics), plus Lambda's own START/END/REPORT lines
  unless the template sets SystemLogLevel WARN for that function;
- X-Ray: traces recorded at the reference rate below, under the template's sampling rule for the webhook route
  (X-Ray's default rule, 1 request/s then 5 %, if it has none).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import requests

from bench.prices import PRICES

USERS_PER_WEBHOOK = 100
# The load the X-Ray estimate assumes: LinkedIn's ceiling for one connection (10 req/s x 5,000 users).
REFERENCE_USERS_PER_SECOND = 50_000
XRAY_RESERVOIR_PER_SECOND = 1.0
XRAY_FIXED_RATE = 0.05
# Lambda's own lines per invocation in the text format: START, END and REPORT (with the X-Ray line).
PLATFORM_LOG_BYTES = 420


@dataclass(frozen=True)
class FunctionUse:
    invocations: int
    billed_ms: int
    memory_mb: int
    architecture: str  # x86_64 | arm64
    platform_logs: bool  # Lambda's START/END/REPORT lines reach CloudWatch
    traced: bool  # Tracing: Active


@dataclass(frozen=True)
class Usage:
    users: int
    api_requests: int
    api_traced: bool
    webhook_sampling: Sampling  # the rule for the webhook route (the default rule if the template sets none)
    functions: dict[str, FunctionUse]
    aws_units: dict[str, float]  # meter units: sqs_requests, dynamodb_wru, ...
    log_bytes: int  # printed by the handlers


@dataclass(frozen=True)
class Sampling:
    """An X-Ray sampling rule: `reservoir` requests per second, then `fixed_rate` of the rest."""

    reservoir: float = XRAY_RESERVOIR_PER_SECOND
    fixed_rate: float = XRAY_FIXED_RATE

    def fraction(self, requests_per_second: float) -> float:
        """Share of requests recorded at a steady rate."""
        if requests_per_second <= 0:
            return 0.0
        reservoir = min(self.reservoir, requests_per_second)
        return (reservoir + self.fixed_rate * (requests_per_second - reservoir)) / requests_per_second


def price_lines(usage: Usage) -> dict[str, float]:
    """Dollars per line for this usage (not yet per million users)."""
    lines: dict[str, float] = {"API Gateway requests": PRICES["api_requests"].of(usage.api_requests)}
    webhooks_per_second = REFERENCE_USERS_PER_SECOND / (usage.users / max(1, usage.api_requests))
    traces = usage.api_requests * usage.webhook_sampling.fraction(webhooks_per_second) if usage.api_traced else 0.0
    platform_bytes = 0
    for name, use in sorted(usage.functions.items()):
        gb_seconds = use.billed_ms / 1000 * use.memory_mb / 1024
        lines[f"Lambda {name}"] = PRICES["lambda_requests"].of(use.invocations) + PRICES[
            f"lambda_gb_seconds_{use.architecture}"
        ].of(gb_seconds)
        if use.platform_logs:
            platform_bytes += use.invocations * PLATFORM_LOG_BYTES
        if use.traced and not usage.api_traced:
            traces += use.invocations * usage.webhook_sampling.fraction(webhooks_per_second)
    for unit, label in _LABELS.items():
        if unit == "sqs_fifo_requests" and not usage.aws_units.get(unit):
            continue  # the sync pipeline has no FIFO queue: no line of zeros in its table
        lines[label] = PRICES[unit].of(usage.aws_units.get(unit, 0))
    other = sum(PRICES[u].of(usage.aws_units.get(u, 0)) for u in _OTHER_UNITS)
    lines["KMS, Secrets Manager, SNS, Step Functions"] = other
    lines["CloudWatch Logs"] = PRICES["log_bytes"].of(usage.log_bytes + platform_bytes)
    lines["X-Ray"] = PRICES["xray_traces"].of(traces)
    return lines


_LABELS = {
    "sqs_requests": "SQS requests",
    "sqs_fifo_requests": "SQS FIFO requests",
    "dynamodb_wru": "DynamoDB writes",
    "dynamodb_rru": "DynamoDB reads",
    "s3_put_requests": "S3 PUT",
    "s3_get_requests": "S3 GET",
}
_OTHER_UNITS = ("kms_requests", "secretsmanager_requests", "sns_publishes", "sfn_transitions")


def per_million_users(usage: Usage) -> dict[str, float]:
    scale = 1e6 / usage.users
    return {line: dollars * scale for line, dollars in price_lines(usage).items()}


def api_floor_per_million(users_per_webhook: int = USERS_PER_WEBHOOK) -> float:
    """What API Gateway alone charges per million users: the cost no design can go under."""
    return PRICES["api_requests"].of(math.ceil(1e6 / users_per_webhook))


# ---- the measurement ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CostResult:
    usage: Usage
    per_million: dict[str, float]
    calls: dict[str, int]  # "service.Operation" -> count during the measured phase
    seconds: float

    @property
    def total(self) -> float:
        return sum(self.per_million.values())


def measure(
    webhooks: int = 300, users_per_webhook: int = USERS_PER_WEBHOOK, keyed: bool = False, progress: Any = None
) -> CostResult:
    """`keyed`: every webhook carries an idempotency_key (its chunks then get ledger buckets of their own)."""
    from bench.stack import bench_stack
    from localmode.template import load_template

    template = load_template(_template_path())
    with bench_stack() as stack:
        stack.connect_and_launch("cost", "Cost benchmark")
        time.sleep(5.5)  # LinkedIn accepts users 5 s after an audience is created; keep that wait out of the count
        stack.reset()
        started = time.monotonic()
        session = requests.Session()
        for n in range(webhooks):
            users = [
                {"external_id": f"c{n}-{i}", "email": f"user{n}-{i}@example.com"} for i in range(users_per_webhook)
            ]
            body: dict[str, Any] = {"users": users}
            if keyed:
                body["idempotency_key"] = f"cost-{n}"
            stack.post_users("cost", body, session)
            if progress and n % 50 == 0:
                progress(f"cost: {n}/{webhooks} webhooks posted")
        settled = stack.wait_settled("cost", webhooks * users_per_webhook, timeout=300)
        elapsed = time.monotonic() - started
        if settled["synced"] != webhooks * users_per_webhook:
            raise RuntimeError(f"cost run did not sync every user: {settled}")
        stack.aws.enabled = False  # the metric polls above are monitoring, not pipeline cost
        usage = Usage(
            users=webhooks * users_per_webhook,
            api_requests=stack.api_requests,
            api_traced=bool(_api_props(template).get("TracingEnabled")),
            webhook_sampling=webhook_sampling(template),
            functions={
                name: _function_use(template, name, stack.invocations.count[name], stack.invocations.billed_ms[name])
                for name in stack.invocations.count
            },
            aws_units=dict(stack.aws.units),
            log_bytes=stack.logs.bytes,
        )
        calls = {f"{service}.{operation}": n for (service, operation), n in sorted(stack.aws.calls.items())}
    return CostResult(usage, per_million_users(usage), calls, elapsed)


def _template_path() -> Any:
    from localmode.provision import ROOT

    return ROOT / "template.yaml"


def _api_props(template: dict[str, Any]) -> dict[str, Any]:
    api = next(r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Api")
    props: dict[str, Any] = api.get("Properties", {})
    return props


def webhook_sampling(template: dict[str, Any]) -> Sampling:
    """The template's sampling rule for POST /v1/steps/*/users, or X-Ray's default rule."""
    for resource in template["Resources"].values():
        rule = resource.get("Properties", {}).get("SamplingRule", {})
        if resource["Type"] == "AWS::XRay::SamplingRule" and rule.get("URLPath") == "/v1/steps/*/users":
            return Sampling(float(rule["ReservoirSize"]), float(rule["FixedRate"]))
    return Sampling()


def _function_use(template: dict[str, Any], name: str, invocations: int, billed_ms: int) -> FunctionUse:
    defaults = (template.get("Globals") or {}).get("Function") or {}
    props = template["Resources"][name].get("Properties", {})

    def setting(key: str, default: Any) -> Any:
        return props.get(key, defaults.get(key, default))

    logging_config = setting("LoggingConfig", {}) or {}
    return FunctionUse(
        invocations=invocations,
        billed_ms=billed_ms,
        memory_mb=int(setting("MemorySize", 128)),
        architecture=str((setting("Architectures", ["x86_64"]) or ["x86_64"])[0]),
        platform_logs=str(logging_config.get("SystemLogLevel", "INFO")).upper() != "WARN",
        traced=setting("Tracing", "PassThrough") == "Active",
    )
