"""bench/report.py: each row's pass or miss follows its target."""

from __future__ import annotations

from bench.backfill import BackfillResult
from bench.coldstart import ColdStart, Libraries
from bench.cost import CostResult, Usage
from bench.hot_path import HotPathResult
from bench.latency import LatencyResult
from bench.million import MillionResult
from bench.report import Results, markdown_table, rows, table
from tests.unit.bench.test_bench_pipeline import result as pipeline_result


def cost(total_lines: dict[str, float]) -> CostResult:
    return CostResult(Usage(1, 1, False, None, {}, {}, 0), total_lines, {}, 1.0)  # type: ignore[arg-type]


def marks(results: Results) -> dict[str, str]:
    return {r.metric: r.mark for r in rows(results)}


def test_every_target_decides_pass_or_miss() -> None:
    good = Results(
        hot_path=HotPathResult(100_000, ingest_seconds=0.5, batcher_seconds=0.49, core=0),  # 101,010 users/s
        pipeline=pipeline_result(requests=40, first_to_last_seconds=4.1),  # 95.1 %
        latency=LatencyResult([1.0] * 98 + [5.5, 5.9], flush_seconds=5),
        cost=cost({"API Gateway requests": 0.035, "the rest": 0.0069}),  # 1.197 x the floor
        horizon_seconds=46_800,
        million=million(24.9),
    )
    assert set(marks(good).values()) == {"pass"}
    bad = Results(
        hot_path=HotPathResult(100_000, ingest_seconds=2.0, batcher_seconds=0.5, core=0),  # 40,000 users/s
        pipeline=pipeline_result(requests=42, throttled=1),
        latency=LatencyResult([1.0] * 90 + [6.5] * 10, flush_seconds=5),
        cost=cost({"API Gateway requests": 0.035, "the rest": 0.0071}),  # 1.203 x the floor
        horizon_seconds=46_800 - 1000,
        million=million(25.1),
    )
    assert set(marks(bad).values()) == {"MISS"}


def test_a_run_without_every_benchmark_shows_what_ran() -> None:
    results = Results(horizon_seconds=46_800)
    (row,) = rows(results)
    assert row.metric == "retry horizon" and row.passed
    assert "13.00 h" in table([row])
    assert markdown_table([row]).splitlines()[2].startswith("| retry horizon |")


def test_latency_percentiles() -> None:
    lat = LatencyResult([float(i) for i in range(1, 101)], flush_seconds=5)
    assert lat.p50 == 50.5
    assert lat.p99 == 99.0


def million(seconds: float, elements: list[int] | None = None, throttled: int = 0) -> MillionResult:
    return MillionResult(
        users=1_000_000,
        synced=1_000_000,
        seconds=seconds,
        first_request_seconds=0.5,
        posting_seconds=6.0,
        requests=200,
        elements=[5000] * 200 if elements is None else elements,
        throttled=throttled,
        max_in_any_second=10,
        rate_limit=10,
        ingest_cpu_seconds=6.0,
    )


def test_a_million_users_pass_within_25_s_only_without_violations_and_each_user_once() -> None:
    name = "a million users, webhook to LinkedIn"
    assert million(21.0).physical_limit_seconds == 20
    assert marks(Results(million=million(21.0))) == {name: "pass"}
    assert marks(Results(million=million(21.0, throttled=1))) == {name: "MISS"}
    assert marks(Results(million=million(21.0, elements=[5000] * 199 + [4999]))) == {name: "MISS"}  # one lost
    assert marks(Results(million=million(21.0, elements=[5000] * 200 + [1]))) == {name: "MISS"}  # one twice


def backfill(seconds: float, synced: int = 1_000_000, sdk_us: float = 100.0) -> BackfillResult:
    return BackfillResult(
        1_000_000,
        synced,
        seconds,
        200,
        [5000] * 200,
        0,
        10,
        10,
        routing_cpu_seconds=18.0,
        sdk_us={"serialize": sdk_us},
        concurrency=8,
        memory_mb=1769,
    )


def test_a_backfill_passes_within_1_2_times_the_physical_limit_with_every_member_synced() -> None:
    assert backfill(23.9).physical_limit_seconds == 20 and backfill(23.9).routing_us_per_member == 18
    assert marks(Results(backfill=backfill(23.9))) == {"segment backfill": "pass"}
    assert marks(Results(backfill=backfill(24.5))) == {"segment backfill": "MISS"}
    assert marks(Results(backfill=backfill(21.0, synced=995_000))) == {"segment backfill": "MISS"}


def test_a_backfill_misses_if_aws_could_not_route_it_ahead_of_linkedin() -> None:
    """8 containers of a vCPU at 118 us a member route a million in 14.75 s; at 200 us, 27.25 s: LinkedIn waits."""
    assert backfill(23.0).aws_routing_seconds == 1_000_000 * 118e-6 / 8
    assert marks(Results(backfill=backfill(23.0, sdk_us=200.0))) == {"segment backfill": "MISS"}
    assert marks(Results(backfill=backfill(23.0, sdk_us=50.0))) == {"segment backfill": "pass"}


def test_campaign_planning_passes_at_five_thousand_webhooks_a_second_on_a_core() -> None:
    from bench.campaigns import PlanningResult

    def mark(seconds: float) -> str:
        return marks(Results(campaign_planning=PlanningResult(10_000, seconds, 9_000, 180, 0)))["campaign planning"]

    assert (mark(2.0), mark(2.1)) == ("pass", "MISS")


def test_a_segment_export_passes_at_twenty_thousand_users_a_second_within_256_mb() -> None:
    from bench.exports import ExportResult, ExportRun

    def mark(seconds: float, peak_mb: float) -> str:
        run = ExportRun("bucket", 1_000_000, seconds, 200, 30.0, peak_mb)
        return marks(Results(export=ExportResult([run])))["segment export (bucket)"]

    assert (mark(50.0, 100.0), mark(50.1, 100.0), mark(40.0, 257.0)) == ("pass", "MISS", "MISS")


def test_imports_pass_at_ten_thousand_rows_a_second_and_only_when_exact() -> None:
    from bench.imports import ImportResult

    def marks_of(seconds: float, exact: bool, counted: int) -> dict[str, str]:
        result = ImportResult(100_000, seconds, 1_000, 10, 500, exact, counted, 3.0)
        return marks(Results(imports=result))

    assert marks_of(10.0, True, 1_000) == {"import planning": "pass", "import exactly once": "pass"}
    assert marks_of(10.1, True, 1_000)["import planning"] == "MISS"
    assert marks_of(1.0, False, 1_000)["import exactly once"] == "MISS"
    assert marks_of(1.0, True, 999)["import exactly once"] == "MISS"


def cold(function: str, import_ms: float, snapstart: bool = False) -> ColdStart:
    return ColdStart(function, import_ms, import_ms, [], None, None, snapstart=snapstart)


def test_every_function_imports_within_the_target_or_the_cold_start_row_misses() -> None:
    within = Results(cold_start=[cold("IngestFunction", 240, snapstart=True), cold("BatcherFunction", 250)])
    over = Results(cold_start=[cold("IngestFunction", 251, snapstart=True), cold("BatcherFunction", 120)])

    assert marks(within)["cold start (import)"] == "pass"
    assert marks(over)["cold start (import)"] == "MISS"  # SnapStart's init counts too: every function's import


def test_the_cold_start_row_names_the_functions_with_snapstart_apart() -> None:
    results = Results(cold_start=[cold("ApiFunction", 700, True), cold("BatcherFunction", 400)])
    (row,) = [r for r in rows(results) if r.metric == "cold start (import)"]

    assert row.value.startswith("max 700 ms: Batcher 400; with SnapStart, init at publish: Api 700")


def test_the_cold_start_row_and_its_section_show_the_libraries_alone() -> None:
    from bench.document import _cold_start

    results = Results(cold_start=[cold("BatcherFunction", 400)], cold_start_libraries=Libraries(262.4, 1_111_000_000))
    (row,) = [r for r in rows(results) if r.metric == "cold start (import)"]

    assert row.value == "max 400 ms: Batcher 400; the SDK, pydantic and Powertools alone 262"
    section = "\n".join(_cold_start(results))
    assert "take **262 ms** the same way\n(1,111 M instructions;" in section
    assert "| BatcherFunction | 400 (400) | - |" in section  # no count without valgrind
