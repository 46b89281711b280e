"""`make bench`: every benchmark, a table with targets, BENCHMARKS.md and BENCHMARKS.png.

python -m bench                      # all of them (about 5 minutes)
python -m bench --only cost,latency  # some
python -m bench --quick              # smaller runs, to try the harness (numbers not comparable)
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path
from typing import Any

from bench import coldstart, cost, hot_path, latency, pipeline, reference
from bench.report import Results, chart, machine, rows, table, write_markdown

BENCHMARKS = (
    "hot_path",
    "pipeline",
    "million",
    "latency",
    "cost",
    "cold_start",
    "horizon",
    "profiles",
    "segments",
    "backfill",
    "campaigns",
    "exports",
    "imports",
)
ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(BENCHMARKS), help=f"comma-separated: {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="smaller runs (numbers not comparable)")
    parser.add_argument("--out", type=Path, default=ROOT, help="where BENCHMARKS.md and BENCHMARKS.png go")
    args = parser.parse_args(argv)
    chosen = set(args.only.split(","))
    unknown = chosen - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    checkpoints: list[tuple[str, float]] = []  # the machine's speed along the run (bench/reference.py)

    def checkpoint(label: str) -> None:
        checkpoints.append((label, reference.rate()))
        progress(f"CPU reference at {label}: {checkpoints[-1][1]:.1f} rounds/s")

    results = Results()
    checkpoint("start")
    if "hot_path" in chosen:
        results.hot_path = hot_path.measure(20_000 if args.quick else 300_000, progress)
    if "pipeline" in chosen:
        results.pipeline = pipeline.run(users=50_000 if args.quick else 500_000, progress=progress)
    if "million" in chosen:
        from bench import million

        results.million = million.run(users=100_000 if args.quick else 1_000_000, progress=progress)
    if "latency" in chosen:
        results.latency = latency.measure(webhooks=10 if args.quick else 80, progress=progress)
    if "cost" in chosen:
        results.cost = cost.measure(webhooks=50 if args.quick else 300, progress=progress)
        results.cost_keyed = cost.measure(webhooks=50 if args.quick else 300, keyed=True, progress=progress)
    if "cold_start" in chosen:
        results.cold_start, results.cold_start_libraries = coldstart.measure(progress)
    if "horizon" in chosen:
        from audience_sync.core.backoff import retry_schedule

        results.horizon_seconds = sum(retry_schedule())

    checkpoint("pipeline rows done")
    _platform(results, chosen, args.quick, progress, checkpoint)
    checkpoint("end")

    table_rows = rows(results)
    print(table(table_rows))
    args.out.mkdir(parents=True, exist_ok=True)
    if results.pipeline:
        chart(results.pipeline, args.out / "BENCHMARKS.png")
    details = {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "seconds": time.monotonic() - started,
        "machine": machine(),
        "reference": reference.describe(checkpoints),
    }
    write_markdown(results, table_rows, args.out / "BENCHMARKS.md", details)
    progress(f"wrote {args.out / 'BENCHMARKS.md'}")
    return 0


def _platform(results: Results, chosen: set[str], quick: bool, progress: Any, checkpoint: Any) -> None:
    """The platform's benchmarks (contract v2): profiles, segments, the backfill, campaigns, exports."""
    if "profiles" in chosen:
        _profiles(results, quick, progress)
    checkpoint("profile rows done")
    if "segments" in chosen:
        from bench import segments

        results.segment_evaluation = segments.measure(50_000 if quick else 500_000, progress)

    if "backfill" in chosen:
        from bench import backfill

        results.backfill = backfill.run(members=100_000 if quick else 1_000_000, progress=progress)

    checkpoint("segment rows done")
    if "campaigns" in chosen:
        _campaigns(results, quick, progress)
    if "exports" in chosen:
        from bench import exports

        results.export = exports.measure(100_000 if quick else 1_000_000, progress)
    if "imports" in chosen:
        from bench import imports

        results.imports = imports.measure(
            20_000 if quick else 200_000, 20_000 if quick else 1_000_000, 2_000 if quick else 100_000, progress
        )


def _campaigns(results: Results, quick: bool, progress: Any) -> None:
    from bench import campaign_rate, campaigns

    results.campaign_planning = campaigns.measure(20_000 if quick else 100_000, progress)
    results.waiting_cost = campaigns.waiting_cost()
    results.campaign_latency = campaigns.measure_latency(triggers=10 if quick else 60, progress=progress)
    results.campaign_rate = campaign_rate.run(webhooks=20_000 if quick else 100_000, progress=progress)


def _profiles(results: Results, quick: bool, progress: Any) -> None:
    from bench import profiles, profiles_stack
    from bench.report import BURST_OBJECTS

    results.track_hot_path = profiles.hot_path(200 if quick else 2_000, progress)
    results.writer = profiles.writer_pipeline(
        100 if quick else 700, users=20_000, latency_ms=5.0, crash_rate=0.02, progress=progress
    )
    burst_requests = -(-BURST_OBJECTS // (2 * profiles.OBJECTS_PER_REQUEST))
    results.burst = profiles.writer_pipeline(
        200 if quick else burst_requests, users=100_000, latency_ms=0.0, crash_rate=0.01, progress=progress
    )
    api_ms = profiles.api_ms_per_request(50 if quick else 200)
    (
        results.update_cost,
        results.read_your_writes,
        results.segment_freshness,
        results.segment_to_linkedin,
    ) = profiles_stack.measure(
        api_ms, results.writer.ms_per_message, 40 if quick else 100, users=1_500, progress=progress
    )


if __name__ == "__main__":
    sys.exit(main())
