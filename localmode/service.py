"""The whole service on one machine: moto for AWS, the real handlers wired from template.yaml, and the
built-in LinkedIn sandbox — no AWS account, no Docker."""

from __future__ import annotations

import gc
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import BaseWSGIServer, make_server

from localmode.aws_endpoint import AWS_PREFIX, aws_endpoint_app
from localmode.chaos import Chaos
from localmode.event_sources import Schedule, SqsPoller, rate_seconds
from localmode.functions import LocalFunction
from localmode.outputs import publish_outputs
from localmode.provision import MOTO_CONFIG, ROOT, Stack, provision
from localmode.sandbox import LinkedInSandbox
from localmode.scheduler import OneTimeSchedules
from localmode.template import Resolver

logger = logging.getLogger("localmode")
SANDBOX_PREFIX = "/linkedin"


@dataclass(frozen=True)
class LocalConfig:
    port: int = 3000
    api_key: str = "local-dev-key"
    linkedin_api_url: str | None = None
    linkedin_oauth_url: str | None = None
    linkedin_client_id: str = "sandbox-client-id"
    linkedin_client_secret: str = "sandbox-client-secret"  # noqa: S105 - the sandbox's published test value
    flush_seconds: int = 5
    time_scale: float = 1.0
    log_level: str = "WARNING"
    chaos_crash_probability: float = 0.0
    # Set: webhooks must be signed with it (the template's WebhookSigning=enabled, this value in its secret).
    webhook_signing_secret: str = ""
    # The cohort import's partner API key (the template's PartnerApiKey): what a partner sends as partner_api_key.
    partner_api_key: str = "local-partner-key"
    # The customer's bucket of Braze's segment exports (the template's ExportBucket); created here if missing, as a
    # customer's would exist in its account. Empty: exports make one zip behind a download link.
    export_bucket: str = ""

    @staticmethod
    def from_env(env: dict[str, str] | None = None) -> LocalConfig:
        env = dict(os.environ if env is None else env)
        scale = float(env.get("TIME_SCALE", "1"))
        if scale <= 0:
            raise ValueError("TIME_SCALE must be positive")
        return LocalConfig(
            port=int(env.get("PORT", "3000")),
            api_key=env.get("API_KEY", "local-dev-key"),
            linkedin_api_url=env.get("LINKEDIN_API_URL") or None,
            linkedin_oauth_url=env.get("LINKEDIN_OAUTH_URL") or None,
            linkedin_client_id=env.get("LINKEDIN_CLIENT_ID", "sandbox-client-id"),
            linkedin_client_secret=env.get("LINKEDIN_CLIENT_SECRET", "sandbox-client-secret"),
            flush_seconds=int(env.get("FLUSH_SECONDS", "5")),
            time_scale=scale,
            log_level=env.get("LOG_LEVEL", "WARNING").upper(),
            chaos_crash_probability=float(env.get("CHAOS_CRASH_PROBABILITY", "0")),
            webhook_signing_secret=env.get("WEBHOOK_SIGNING_SECRET", ""),
            partner_api_key=env.get("PARTNER_API_KEY", "local-partner-key"),
            export_bucket=env.get("EXPORT_BUCKET", ""),
        )


def use_webhook_signing_secret(stack: Stack, secret: str) -> None:
    """Replace the generated webhook signing secret with `secret` (the stack has WebhookSigning=enabled)."""
    import boto3

    boto3.client("secretsmanager").put_secret_value(SecretId=stack.ref("WebhookSigningSecret"), SecretString=secret)


def create_customer_bucket(name: str) -> None:
    """The customer's export bucket, as it would exist in its account (kept if a client created it already)."""
    import boto3

    s3 = boto3.client("s3")
    existing = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    if name not in existing:
        s3.create_bucket(Bucket=name)


class _Late:
    """A WSGI app set after the socket is bound (the callback URL needs the real port first)."""

    app: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.app(environ, start_response)


class LocalService:
    def __init__(self, config: LocalConfig, root: Path = ROOT):
        self.config = config
        self.root = root
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.functions: dict[str, LocalFunction] = {}
        self.stack: Stack | None = None
        self.sandbox = LinkedInSandbox()
        self.chaos = Chaos(config.chaos_crash_probability)
        self._mock: Any = None
        self._late = _Late()
        self.server: BaseWSGIServer = make_server("127.0.0.1", config.port, self._late, threaded=True)
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"

    def start(self) -> None:
        from moto import mock_aws  # imported late: moto is a local-mode dependency, not a Lambda one

        self._mock = mock_aws(config=MOTO_CONFIG)
        self._mock.start()
        sandbox = self.base_url + SANDBOX_PREFIX
        stack_name = os.environ.get("STACK_NAME", "audience-sync")
        self.stack = provision(
            overrides={
                "LinkedInApiUrl": self.config.linkedin_api_url or f"{sandbox}/rest",
                "LinkedInOAuthUrl": self.config.linkedin_oauth_url or f"{sandbox}/oauth/v2",
                "LinkedInClientId": self.config.linkedin_client_id,
                "LinkedInClientSecret": self.config.linkedin_client_secret,
                "FlushSeconds": str(self.config.flush_seconds),
                "OAuthRedirectUri": f"{self.base_url}/v1/connections/linkedin/callback",
                "WebhookSigning": "enabled" if self.config.webhook_signing_secret else "disabled",
                "PartnerApiKey": self.config.partner_api_key,
                "ExportBucket": self.config.export_bucket,
            },
            extra_env={
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": self.config.log_level,
                "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
                # Campaigns' webhooks may reach receivers on this machine (127.0.0.1), where tests run theirs; on
                # AWS a webhook never goes to a loopback, private or link-local address (docs/campaigns.md).
                "WEBHOOK_ALLOW_LOOPBACK": "true",
                # A campaign published here listens at once (a test's or the walk-through's next event).
                "CAMPAIGN_CACHE_SECONDS": "0",
                # and a segment defined here is evaluated by the next write; its sweep waits for batches in flight
                "SEGMENT_CACHE_SECONDS": "0",
                "SWEEP_DELAY_SECONDS": "2",
                # what the functions measure themselves (campaigns' re-eligibility) is scaled as the waits are
                "TIME_SCALE": str(self.config.time_scale),
                # Download links (exports) must download from this machine: moto's S3 at /_aws on this port.
                "S3_PUBLIC_ENDPOINT": self.base_url + AWS_PREFIX,
            },
            root=self.root,
            stack_name=stack_name,
            time_scale=self.config.time_scale,
        )
        # The operator CLI finds the stack through its outputs and reads it over /_aws, as it would on AWS.
        publish_outputs(self.stack.template, self.stack.resolver, stack_name, self.stack.api_urls(self.base_url))
        self.functions = self.stack.functions
        if self.config.export_bucket:
            create_customer_bucket(self.config.export_bucket)
        if self.config.webhook_signing_secret:
            use_webhook_signing_secret(self.stack, self.config.webhook_signing_secret)
        if self.config.chaos_crash_probability > 0:  # crashes in the batcher and the profile writer (chaos.py)
            self.chaos.install(self.functions["BatcherFunction"], self.functions.get("ProfileWriterFunction"))
        self._late.app = DispatcherMiddleware(
            self.stack.gateway(self.config.api_key), {SANDBOX_PREFIX: self.sandbox, AWS_PREFIX: aws_endpoint_app()}
        )
        # What start-up built (moto's service models and backends, the template, the layer's modules: ~380,000
        # objects) lives as long as the service. Left to the collector, each full collection walks it all, 230-290 ms
        # with every thread stopped: a request holding its rate-limit slot left that much late and bunched with the
        # next in LinkedIn's second. Frozen, a full collection walks only what came after; so do the containers'
        # modules, frozen as each is loaded. `stop` gives them all back to the collector.
        gc.collect()
        gc.freeze()
        for function in self.functions.values():
            function.freeze_on_load = True
        self._start_event_sources(self.stack.resolver)
        one_time = OneTimeSchedules(self.config.time_scale, self.stop_event)  # the waits' (decision 0017)
        one_time.start()
        self.threads.append(one_time)
        server_thread = threading.Thread(target=self.server.serve_forever, name="http", daemon=True)
        server_thread.start()
        self.threads.append(server_thread)

    def _start_event_sources(self, resolver: Resolver) -> None:
        for function in self.functions.values():
            for name, event in function.events.items():
                props = event.get("Properties", {})
                if event.get("Type") == "SQS":
                    queue_arn = resolver.resolve(props["Queue"])
                    queue_id = next(k for k, v in resolver.attributes.items() if k[1] == "Arn" and v == queue_arn)[0]
                    concurrency = int((props.get("ScalingConfig") or {}).get("MaximumConcurrency", 2))
                    redelivery = None
                    if self.config.time_scale > 1:
                        visibility = resolver.resolve(self.stack_resource(queue_id).get("VisibilityTimeout", 30))
                        redelivery = int(int(visibility) / self.config.time_scale)
                    for n in range(concurrency):
                        poller = SqsPoller(
                            function,
                            queue_url=resolver.values[queue_id],
                            queue_arn=queue_arn,
                            batch_size=int(resolver.resolve(props.get("BatchSize", 10))),
                            window=float(resolver.resolve(props.get("MaximumBatchingWindowInSeconds", 0))),
                            report_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
                            stop=self.stop_event,
                            name=f"{function.logical_id}.{name}.{n}",
                            redelivery_seconds=redelivery,
                        )
                        poller.start()
                        self.threads.append(poller)
                elif event.get("Type") in ("Schedule", "ScheduleV2"):  # EventBridge rules, or EventBridge Scheduler
                    period = rate_seconds(str(props.get("Schedule") or props.get("ScheduleExpression") or ""))
                    if period is None:
                        logger.warning("schedule %s of %s is not a rate(); not run locally", name, function.logical_id)
                        continue
                    schedule = Schedule(
                        function, period / self.config.time_scale, self.stop_event, name=f"{function.logical_id}.{name}"
                    )
                    schedule.start()
                    self.threads.append(schedule)

    def stack_resource(self, logical_id: str) -> dict[str, Any]:
        assert self.stack is not None
        properties: dict[str, Any] = self.stack.template["Resources"][logical_id].get("Properties", {})
        return properties

    def stop(self) -> None:
        self.stop_event.set()
        self.server.shutdown()
        self.server.server_close()
        for thread in self.threads:
            thread.join(timeout=5)
        self.chaos.uninstall()
        if self.stack is not None:
            self.stack.stop()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        gc.unfreeze()  # what start-up and the containers built is garbage now (a test process goes on)
