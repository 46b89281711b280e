"""AWS list prices used to price the benchmark's request counts: us-east-1, on-demand, no free tier, first tier.

Read on 2026-12-01 from stored copies of the AWS pricing pages below (and checked against independent write-ups
of the same pages dated 2025-2026). Prices change: re-check them before quoting a number.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES_CHECKED = "2026-12-01"


@dataclass(frozen=True)
class Price:
    usd: float  # per `per` units
    per: float
    unit: str
    source: str

    def of(self, quantity: float) -> float:
        return quantity * self.usd / self.per


PRICES: dict[str, Price] = {
    "api_requests": Price(3.50, 1e6, "REST API request", "https://aws.amazon.com/api-gateway/pricing/"),
    "lambda_requests": Price(0.20, 1e6, "Lambda request", "https://aws.amazon.com/lambda/pricing/"),
    "lambda_gb_seconds_x86_64": Price(0.0000166667, 1, "GB-s (x86_64)", "https://aws.amazon.com/lambda/pricing/"),
    "lambda_gb_seconds_arm64": Price(0.0000133334, 1, "GB-s (arm64)", "https://aws.amazon.com/lambda/pricing/"),
    "sqs_requests": Price(0.40, 1e6, "SQS request (per 64 KiB)", "https://aws.amazon.com/sqs/pricing/"),
    "sqs_fifo_requests": Price(0.50, 1e6, "SQS FIFO request (per 64 KiB)", "https://aws.amazon.com/sqs/pricing/"),
    "dynamodb_wru": Price(0.625, 1e6, "write request unit", "https://aws.amazon.com/dynamodb/pricing/on-demand/"),
    "dynamodb_rru": Price(0.125, 1e6, "read request unit", "https://aws.amazon.com/dynamodb/pricing/on-demand/"),
    "s3_put_requests": Price(0.005, 1e3, "S3 PUT/COPY/POST/LIST", "https://aws.amazon.com/s3/pricing/"),
    "s3_get_requests": Price(0.0004, 1e3, "S3 GET", "https://aws.amazon.com/s3/pricing/"),
    "sfn_transitions": Price(0.025, 1e3, "Standard state transition", "https://aws.amazon.com/step-functions/pricing/"),
    # Scheduler's API calls (CreateSchedule, DeleteSchedule) are not priced; what a schedule costs is its invocation
    "scheduler_invocations": Price(1.00, 1e6, "scheduled invocation", "https://aws.amazon.com/eventbridge/pricing/"),
    "kms_requests": Price(0.03, 1e4, "KMS request", "https://aws.amazon.com/kms/pricing/"),
    "secretsmanager_requests": Price(0.05, 1e4, "API call", "https://aws.amazon.com/secrets-manager/pricing/"),
    "sns_publishes": Price(0.50, 1e6, "SNS publish", "https://aws.amazon.com/sns/pricing/"),
    "log_bytes": Price(0.50, 1024**3, "GB of logs ingested", "https://aws.amazon.com/cloudwatch/pricing/"),
    "xray_traces": Price(5.00, 1e6, "trace recorded", "https://aws.amazon.com/xray/pricing/"),
}
