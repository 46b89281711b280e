"""The benchmark table (printed and written to BENCHMARKS.md) and the chart (BENCHMARKS.png)."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.backfill import PHYSICAL_LIMIT_FACTOR, BackfillResult
from bench.campaign_rate import CampaignRateResult
from bench.campaigns import PlanningResult, WaitingCost
from bench.coldstart import ColdStart, Libraries
from bench.cost import CostResult, api_floor_per_million
from bench.exports import ExportResult
from bench.hot_path import HotPathResult
from bench.imports import ImportResult
from bench.latency import LatencyResult
from bench.million import TARGET_SECONDS as MILLION_TARGET_SECONDS
from bench.million import MillionResult
from bench.pipeline import PipelineResult
from bench.profiles import TrackHotPath, WriterResult
from bench.profiles_stack import ReadYourWrites, SegmentFreshness, UpdateCost
from bench.segments import EvaluationResult, evaluation_cost

HOT_PATH_TARGET = 100_000
FILL_TARGET = 0.98
RATE_USE_TARGET = 0.95
COST_TARGET = 0.05
COST_FLOOR_RATIO = 1.2  # the sync pipeline's (issue 16)
UPDATE_COST_FLOOR_RATIO = 1.5  # attribute updates' (issue 9)
IMPORT_TARGET_MS = 250
HORIZON_SECONDS = 13 * 3600
HORIZON_TOLERANCE = 0.02
TRACK_HOT_PATH_TARGET = 20_000
WRITER_TARGET = 2_000
BURST_OBJECTS = 1_000_000
SEGMENT_EVALUATION_TARGET = 50_000
CAMPAIGN_PLANNING_TARGET = 5_000
CAMPAIGN_RATE_USE_TARGET = 0.95
EXPORT_TARGET = 20_000  # users a second on one core
EXPORT_MEMORY_TARGET_MB = 256
IMPORT_PLANNING_TARGET = 10_000  # rows a second on one core


@dataclass(frozen=True)
class Row:
    metric: str
    value: str
    target: str
    passed: bool | None  # None: reported, no target

    @property
    def mark(self) -> str:
        return {True: "pass", False: "MISS", None: "-"}[self.passed]


@dataclass
class Results:
    hot_path: HotPathResult | None = None
    pipeline: PipelineResult | None = None
    million: MillionResult | None = None
    latency: LatencyResult | None = None
    cost: CostResult | None = None
    cost_keyed: CostResult | None = None
    cold_start: list[ColdStart] | None = None
    cold_start_libraries: Libraries | None = None  # boto3, pydantic and Powertools alone (coldstart.LIBRARIES)
    horizon_seconds: int | None = None
    track_hot_path: TrackHotPath | None = None
    writer: WriterResult | None = None
    burst: WriterResult | None = None
    update_cost: UpdateCost | None = None
    read_your_writes: ReadYourWrites | None = None
    segment_freshness: SegmentFreshness | None = None
    segment_to_linkedin: SegmentFreshness | None = None
    segment_evaluation: EvaluationResult | None = None
    backfill: BackfillResult | None = None
    campaign_planning: PlanningResult | None = None
    campaign_latency: LatencyResult | None = None
    campaign_rate: CampaignRateResult | None = None
    waiting_cost: WaitingCost | None = None
    export: ExportResult | None = None
    imports: ImportResult | None = None


def rows(results: Results) -> list[Row]:
    out: list[Row] = []
    if results.hot_path:
        hp = results.hot_path
        out.append(
            Row(
                "hot path CPU",
                f"{hp.users_per_second:,.0f} users/s (ingest {hp.ingest_users_per_second:,.0f}, "
                f"batcher {hp.batcher_users_per_second:,.0f})",
                f">= {HOT_PATH_TARGET:,} users/s",
                hp.users_per_second >= HOT_PATH_TARGET,
            )
        )
    if results.pipeline:
        p = results.pipeline
        out.append(
            Row(
                "packing",
                f"fill {p.fill:.3f}: {p.requests} requests for {p.users:,} users (ideal {p.ideal_requests})",
                f">= {FILL_TARGET}",
                p.fill >= FILL_TARGET and p.synced == p.users,
            )
        )
        violations = p.throttled + max(0, p.max_in_any_second - p.rate_limit)
        out.append(
            Row(
                "rate use",
                f"{p.rate_use:.1%} of {p.rate_limit} req/s ({p.requests_per_second:.2f}/s), {violations} violations "
                f"(at most {p.max_in_any_second} in any second, {p.throttled} answered 429); "
                f"{p.slots_missed} slots let go",
                f">= {RATE_USE_TARGET:.0%}, 0 violations",
                p.rate_use >= RATE_USE_TARGET and violations == 0,
            )
        )
    if results.million:
        m = results.million
        out.append(
            Row(
                "a million users, webhook to LinkedIn",
                f"{m.synced:,} of {m.users:,} users at LinkedIn {m.seconds:.1f} s after the first webhook (physical "
                f"limit {m.physical_limit_seconds:.0f} s; first request {m.first_request_seconds:.1f} s); "
                f"{m.requests} requests (ideal {m.ideal_requests}), {m.violations} violations, "
                f"{'every user once' if m.sent_once else 'users lost or doubled'}",
                f"<= {MILLION_TARGET_SECONDS:.0f} s, 0 violations, every user once",
                m.seconds <= MILLION_TARGET_SECONDS and m.violations == 0 and m.sent_once,
            )
        )
    if results.latency:
        lat = results.latency
        bound = lat.flush_seconds + 1
        out.append(
            Row(
                "latency",
                f"p50 {lat.p50:.2f} s / p99 {lat.p99:.2f} s ({len(lat.seconds)} webhooks)",
                f"p99 <= {bound} s",
                lat.p99 <= bound,
            )
        )
    if results.cost:
        total, floor = results.cost.total, api_floor_per_million()
        out.append(
            Row(
                "AWS cost",
                f"${total:.4f} per million users = {total / floor:.2f} x the API Gateway floor (${floor:.3f})",
                f"<= ${COST_TARGET}, <= {COST_FLOOR_RATIO} x floor",
                total <= COST_TARGET and total <= COST_FLOOR_RATIO * floor,
            )
        )
    if results.cost_keyed:
        total = results.cost_keyed.total
        out.append(
            Row(
                "AWS cost, every webhook with an idempotency_key",
                f"${total:.4f} per million users",
                "reported",
                None,
            )
        )
    if results.cold_start:
        worst = max(results.cold_start, key=lambda c: c.import_ms)
        plain = [c for c in results.cold_start if not c.snapstart]
        snapped = [c for c in results.cold_start if c.snapstart]
        source = next((c for c in results.cold_start if c.from_source_ms), None)
        compiled = (
            f"; Ingest without the build's bytecode {source.from_source_ms:.0f}"
            if source and source.from_source_ms
            else ""
        )
        measured = f"max {worst.import_ms:.0f} ms: {_imports(plain)}"
        if results.cold_start_libraries is not None:
            measured += f"; the SDK, pydantic and Powertools alone {results.cold_start_libraries.ms:.0f}"
        if snapped:  # their init runs when a version is published: a cold start restores the snapshot
            measured += f"; with SnapStart, init at publish: {_imports(snapped)}"
        out.append(
            Row(
                "cold start (import)",
                measured + compiled,
                f"<= {IMPORT_TARGET_MS} ms",
                worst.import_ms <= IMPORT_TARGET_MS,
            )
        )
        layer = next((c.layer_bytes for c in results.cold_start if c.layer_bytes), None)
        if layer:
            code = max(c.code_bytes or 0 for c in results.cold_start)
            out.append(
                Row(
                    "deployment size",
                    f"layer {layer / 1e6:.1f} MB + function code <= {code / 1e3:.1f} kB",
                    "reported",
                    None,
                )
            )
    if results.horizon_seconds is not None:
        h = results.horizon_seconds
        off = h / HORIZON_SECONDS - 1
        out.append(
            Row(
                "retry horizon",
                f"{h:,} s = {h / 3600:.2f} h ({off:+.2%})",
                f"13 h +/- {HORIZON_TOLERANCE:.0%}",
                abs(off) <= HORIZON_TOLERANCE,
            )
        )
    return out + profile_rows(results)


def profile_rows(results: Results) -> list[Row]:
    out: list[Row] = []
    if results.track_hot_path:
        hp = results.track_hot_path
        out.append(
            Row(
                "/users/track hot path CPU",
                f"{hp.objects_per_second:,.0f} objects/s ({hp.objects:,} objects: 75 attributes + 75 events a request)",
                f">= {TRACK_HOT_PATH_TARGET:,} objects/s",
                hp.objects_per_second >= TRACK_HOT_PATH_TARGET,
            )
        )
    if results.writer:
        w = results.writer
        out.append(
            Row(
                "profile writer",
                f"{w.objects_per_second:,.0f} objects/s sustained ({w.objects:,} objects, {w.writers} writers, "
                f"{w.latency_ms:g} ms a DynamoDB call), {w.mismatches} users wrong",
                f">= {WRITER_TARGET:,} objects/s, 0 wrong",
                w.objects_per_second >= WRITER_TARGET and w.mismatches == 0,
            )
        )
    if results.burst:
        b = results.burst
        out.append(
            Row(
                "profile burst",
                f"{b.objects:,} objects drained in {b.seconds:.0f} s ({b.objects_per_second:,.0f}/s); "
                f"{b.crashed_batches} batches crashed and delivered again; {b.mismatches} of {b.users:,} users wrong",
                f"{BURST_OBJECTS:,} objects, 0 lost or doubled",
                b.objects >= BURST_OBJECTS and b.mismatches == 0,
            )
        )
    if results.update_cost:
        c = results.update_cost
        out.append(
            Row(
                "AWS cost per million attribute updates",
                f"${c.total:.3f} = {c.total / c.floor:.2f} x the floor (${c.floor:.3f}: API Gateway + 1 write unit an "
                "update)",
                f"<= {UPDATE_COST_FLOOR_RATIO} x floor",
                c.total <= UPDATE_COST_FLOOR_RATIO * c.floor,
            )
        )
    if results.read_your_writes:
        r = results.read_your_writes
        bound = r.flush_seconds + 1
        out.append(
            Row(
                "read-your-writes",
                f"p50 {r.p50:.2f} s / p99 {r.p99:.2f} s from the 201 to /users/export/ids ({len(r.seconds)} writes)",
                f"p99 <= {bound} s",
                r.p99 <= bound,
            )
        )
    return out + segment_rows(results)


def _latency_row(metric: str, result: LatencyResult, what: str, bound: float) -> Row:
    return Row(
        metric, f"p50 {result.p50:.2f} s / p99 {result.p99:.2f} s {what}", f"p99 <= {bound} s", result.p99 <= bound
    )


def segment_rows(results: Results) -> list[Row]:
    out: list[Row] = []
    if results.segment_freshness:
        f = results.segment_freshness
        what = f"from the 201 to the entry or exit in the members ({len(f.seconds)} writes)"
        out.append(_latency_row("segment freshness", f, what, f.flush_seconds + 1))
    if results.segment_to_linkedin:
        f = results.segment_to_linkedin
        what = f"from the 201 to the LinkedIn request carrying the user ({len(f.seconds)} entries, a step following it)"
        out.append(_latency_row("segment to LinkedIn", f, what, 2 * f.flush_seconds + 1))
    if results.segment_evaluation:
        e = results.segment_evaluation
        cost = evaluation_cost(e)
        out.append(
            Row(
                "segment evaluation",
                f"{e.changes_per_second:,.0f} profile changes/s ({e.segments} segments, 10 reading the change; "
                f"{e.transitions / e.changes:.2f} memberships moved a change)",
                f">= {SEGMENT_EVALUATION_TARGET:,} changes/s",
                e.changes_per_second >= SEGMENT_EVALUATION_TARGET,
            )
        )
        out.append(
            Row(
                "AWS cost of segments per million profile changes",
                f"${cost.evaluation:.4f} evaluating (100 segments) + ${cost.per_million_moves:.2f} per million "
                "memberships moved",
                "reported",
                None,
            )
        )
    if results.backfill:
        b = results.backfill
        limit = PHYSICAL_LIMIT_FACTOR * b.physical_limit_seconds
        out.append(
            Row(
                "segment backfill",
                f"{b.synced:,} of {b.members:,} members at LinkedIn {b.seconds:.1f} s after the membership was known "
                f"= {b.ratio:.2f} x the limit ({b.physical_limit_seconds:.0f} s); {b.requests} requests (ideal "
                f"{b.ideal_requests}), {b.throttled} answered 429; routing on AWS {b.aws_routing_seconds:.1f} s "
                f"({b.concurrency} x {b.memory_mb:,} MB, {b.aws_us_per_member:.0f} us a member with the SDK's)",
                f"<= {limit:.0f} s ({PHYSICAL_LIMIT_FACTOR} x), routing on AWS <= {b.physical_limit_seconds:.0f} s",
                b.seconds <= limit and b.synced == b.members and b.aws_routing_seconds <= b.physical_limit_seconds,
            )
        )
    if results.campaign_planning:
        c = results.campaign_planning
        out.append(
            Row(
                "campaign planning",
                f"{c.per_second:,.0f} webhooks/s on one core (audience, control group, Liquid url, header and body "
                f"of 14 fields, queue messages; {c.queued:,} of {c.sends:,} queued)",
                f">= {CAMPAIGN_PLANNING_TARGET:,} webhooks/s/core",
                c.per_second >= CAMPAIGN_PLANNING_TARGET,
            )
        )
    if results.campaign_latency:
        lat = results.campaign_latency
        what = f"from the trigger's 202 to the receiver getting the webhook ({len(lat.seconds)} triggers, 2 a second)"
        out.append(_latency_row("campaign trigger to webhook", lat, what, lat.flush_seconds + 1))
    if results.waiting_cost:
        w = results.waiting_cost
        out.append(
            Row(
                "AWS cost per million waiting users",
                f"${w.total:.2f} (delay and exceptions, {w.exception_share:.0%} cancelled: EventBridge Scheduler and a "
                f"wait item; Step Functions waits would be ${w.step_functions:.0f}); computed from the calls the built "
                "code makes a user and list prices, not billed",
                "reported",
                None,
            )
        )
    if results.campaign_rate:
        r = results.campaign_rate
        out.append(
            Row(
                "campaign rate limit",
                f"{r.received:,} of {r.webhooks:,} webhooks at {r.per_minute:,.0f} a minute = {r.rate_use:.1%} of "
                f"rate_limit_per_minute {r.rate_limit_per_minute:,}; at most {r.max_in_any_minute:,} in any 60 s",
                f">= {CAMPAIGN_RATE_USE_TARGET:.0%} of the limit, none over it in any minute",
                r.rate_use >= CAMPAIGN_RATE_USE_TARGET
                and r.max_in_any_minute <= r.rate_limit_per_minute
                and r.received == r.delivered == r.webhooks,
            )
        )
    if results.export:
        out += [_export_row(run) for run in results.export.runs]
    if results.imports:
        out += _import_rows(results.imports)
    return out


def _import_rows(i: ImportResult) -> list[Row]:
    return [
        Row(
            "import planning",
            f"{i.planned_per_second:,.0f} CSV rows/s on one core (read from 1 MiB chunks, five strategies planned as "
            f"/users/track plans them; {i.planned_rows:,} rows)",
            f">= {IMPORT_PLANNING_TARGET:,} rows/s/core",
            i.planned_per_second >= IMPORT_PLANNING_TARGET,
        ),
        Row(
            "import exactly once",
            f"{i.rows:,} rows over {i.users:,} users, the function crashing after {i.crashed_after_writes:,} writes "
            f"then going on: {'every' if i.exact else 'NOT every'} user's sum exact, {i.counted:,} rows counted, "
            f"{i.seconds:.0f} s (the real runner and writer; in-memory stand-ins for DynamoDB and S3)",
            "no row lost or applied twice, every row counted once",
            i.exact and i.counted == i.rows,
        ),
    ]


def _export_row(run: Any) -> Row:
    what = {"bucket": "gzip files of 5,000 users", "url": "one zip streamed in parts"}[run.output]
    return Row(
        f"segment export ({run.output})",
        f"{run.users:,} profiles to {what} at {run.per_second:,.0f} users/s on one core, peak memory "
        f"{run.peak_rss_mb:.0f} MB (in-memory stand-ins for the members' index, profiles and S3)",
        f">= {EXPORT_TARGET:,} users/s/core, <= {EXPORT_MEMORY_TARGET_MB} MB",
        run.per_second >= EXPORT_TARGET and run.peak_rss_mb <= EXPORT_MEMORY_TARGET_MB,
    )


def table(table_rows: list[Row]) -> str:
    widths = [max(len(r.metric) for r in table_rows), max(len(r.value) for r in table_rows)]
    widths.append(max(len(r.target) for r in table_rows))
    lines = []
    for r in table_rows:
        lines.append(f"{r.metric:<{widths[0]}}  {r.value:<{widths[1]}}  {r.target:<{widths[2]}}  {r.mark}")
    return "\n".join(lines)


def markdown_table(table_rows: list[Row]) -> str:
    lines = ["| metric | measured | target | |", "|---|---|---|---|"]
    lines += [f"| {r.metric} | {r.value} | {r.target} | {r.mark} |" for r in table_rows]
    return "\n".join(lines)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1])
        memory = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {cores} cores{memory}; Python {sys.version.split()[0]} on {platform.system()} {platform.release()}"


def chart(pipeline: PipelineResult, path: Path) -> None:
    """Users LinkedIn had taken over time, against the ceiling of the rate limit and the bucket's own rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from localmode.provision import ROOT
    from localmode.template import load_template

    headroom = float(load_template(ROOT / "template.yaml")["Parameters"]["RateHeadroomPercent"]["Default"])
    times = [t for t, _ in pipeline.timeline]
    taken = [n / 1000 for _, n in pipeline.timeline]
    end = times[-1]
    batch = pipeline.max_elements / 1000
    ceiling = pipeline.rate_limit * batch  # thousand users per second; the first request goes at 0 s
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=110)
    ax.step(times, taken, where="post", label="users LinkedIn took (measured)", color="#1f6feb", linewidth=2)
    ax.plot(
        [0, end],
        [batch, batch + ceiling * end],
        "--",
        color="#d1242f",
        label=f"ceiling: {pipeline.rate_limit} req/s x 5,000",
    )
    rate = ceiling * (1 - headroom / 100)
    ax.plot(
        [0, end],
        [batch, batch + rate * end],
        ":",
        color="#24292f",
        zorder=3,
        label=f"the token bucket ({headroom:.0f} % headroom)",
    )
    ax.set_xlabel("seconds since the first LinkedIn request")
    ax.set_ylabel("thousand users")
    ax.set_title(f"A backlog of {pipeline.users:,} users, 2 batchers, LinkedIn allowing 10 requests in any second")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_markdown(results: Results, table_rows: list[Row], path: Path, details: dict[str, Any]) -> None:
    from bench.document import document  # document.py imports this module's rows and targets

    path.write_text(document(results, table_rows, details), encoding="utf-8")


def _imports(cold_starts: list[ColdStart]) -> str:
    return ", ".join(f"{c.function.removesuffix('Function')} {c.import_ms:.0f}" for c in cold_starts)
