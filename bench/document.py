"""BENCHMARKS.md: the table, then how each number was measured, with the details behind it."""

from __future__ import annotations

from typing import Any

from bench.cost import PLATFORM_LOG_BYTES, REFERENCE_USERS_PER_SECOND, api_floor_per_million
from bench.prices import PRICES, PRICES_CHECKED
from bench.report import IMPORT_TARGET_MS, Results, Row, markdown_table


def document(results: Results, rows: list[Row], details: dict[str, Any]) -> str:
    parts = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {details['date']} in {details['seconds']:.0f} s. Machine: {details['machine']}.",
        "Run it again to reproduce these numbers (they move a few percent between runs; the CPU ones also with the",
        "machine). Every row says how it was measured below.",
        "",
        "The machine's own speed along the run (bench/reference.py: a fixed pure-Python loop on one core, against its",
        f"fastest checkpoint): {details.get('reference', 'not measured')}. Rows measured where it is low were",
        "measured on a slower machine.",
        "",
        markdown_table(rows),
        "",
    ]
    if results.pipeline:
        parts += ["![users synced over time against the rate limit](BENCHMARKS.png)", ""]
    for section in (
        _hot_path,
        _pipeline,
        _million,
        _latency,
        _cost,
        _cold_start,
        _horizon,
        _profiles,
        _backfill,
        _campaigns,
        _campaign_latency,
        _exports,
        _imports,
    ):
        parts += section(results)
    return "\n".join(parts).rstrip() + "\n"


def _hot_path(results: Results) -> list[str]:
    hp = results.hot_path
    if hp is None:
        return []
    return [
        "## Hot path CPU",
        "",
        f"`bench/hot_path.py`, pinned to one core (core {hp.core}), CPU time of the process (`time.process_time`),",
        f"{hp.users:,} users in webhooks of 100: mixed-case emails with spaces, names, a consent flag (one in ten",
        "without consent, filtered out), custom attributes.",
        "- ingest: validate the body (pydantic), entry filters, normalise and SHA-256 the email, trim the names, pack",
        f"  into queue messages of at most 240 KB: {hp.ingest_seconds:.2f} s, {hp.ingest_users_per_second:,.0f} users/s;",
        "- batcher: read the messages, pack requests of 5,000 users, encode the `BATCH_CREATE` bodies, with the",
        "  cycle collector paused as `Batcher.handle` pauses it (`pipeline/batcher.py` `IN_FLIGHT`):",
        f"  {hp.batcher_seconds:.2f} s, {hp.batcher_users_per_second:,.0f} users/s;",
        f"- both, one user end to end: **{hp.users_per_second:,.0f} users/s**.",
        "",
        "Measured and fixed on the way (users/s end to end, this machine):",
        "- sizing each user's JSON for the 240 KB messages with `json.dumps` took a third of the ingest's CPU;",
        "  `pipeline/chunking.py` `json_size` counts the bytes instead (exact for plain ASCII, never short);",
        "- an entry of up to 1,000 users is written whole as one message first, and that body is the one sent, instead",
        "  of being sized with `json.dumps` and then written (most fit one message); an ASCII body skips the scan for",
        "  characters SQS refuses (`str.isascii` reads a flag); LinkedIn's bodies are encoded by pydantic's Rust",
        "  encoder, a third of `json.dumps`'s time: 86,000 to 96,000;",
        "- the entry filters loop instead of `all()` over a generator, and an email is only matched as a SHA-256 when",
        "  it has 64 characters: 96,000 to 105,000;",
        "- the benchmark's batcher step had run with the cycle collector on, which the batcher never does: with a",
        "  batch's users in memory, collections took a third of its time (batcher 280,000 to 370,000 users/s).",
        "",
    ]


def _pipeline(results: Results) -> list[str]:
    p = results.pipeline
    if p is None:
        return []
    sizes = sorted(set(p.elements))
    return [
        "## Packing and rate use: a backlog through two batchers",
        "",
        f"`bench/pipeline.py`: {p.users:,} users queued by the real ingest code (webhooks of 100), then drained by",
        "two batcher processes (the template's `MaximumConcurrency: 2`), each the real `Batcher`, `Sender` and DynamoDB",
        "token bucket. The two share the bucket in DynamoDB (moto, served over HTTP from the benchmark process), and",
        "LinkedIn is the sandbox in a process of its own, allowing 10 requests in any second (stricter than LinkedIn's",
        "600 per minute) and stamping each request when it arrives. Two parts stand in for AWS, and say so:",
        "- the queue is in memory, handing out batches as Lambda's event source mapping does (10,000 records or 6 MB",
        "  with their envelopes): moto's SQS gets slower with every message queued and would measure the emulator;",
        "- the ledger is in memory with DynamoDB's latency (25 ms a call): moto parses the ledger's conditions in about",
        "  200 ms a transaction, where DynamoDB takes about 25 ms. The ledger's writes are measured for cost below.",
        "",
        f"- LinkedIn took **{p.synced:,}** users in **{p.requests}** requests (ideal `ceil(users / 5000)` =",
        f"  {p.ideal_requests}; request sizes seen: {', '.join(f'{s:,}' for s in sizes)}): fill **{p.fill:.3f}**;",
        f"- **{p.requests_per_second:.2f} requests/s** from the first request to the last ({p.first_to_last_seconds:.1f} s):",
        f"  **{p.rate_use:.1%}** of the 10 allowed; at most {p.max_in_any_second} requests in any second,",
        f"  {p.throttled} answered 429; {p.invocations} batcher invocations, {p.redelivered} messages redelivered.",
        "",
        "What it took (each measured before and after, see the commit log):",
        "- full requests under a backlog: a full batch reads just enough more of the queue to fill its last request",
        "  (the top-up), so a 6 MB batch does not end in a part-empty request;",
        "- a batcher keeps up to `SendConcurrency` (8) requests in flight: one at a time cannot use the limit when",
        "  LinkedIn takes longer to answer than the gap between two tokens;",
        "- under a backlog the invocation reads the queue in rounds while the previous round sends: two batchers",
        "  settling at the same moment left the limit unused (76 % before);",
        "- the cycle collector is paused while a batch is in flight: a full collection stopped every thread for up",
        "  to 337 ms, and the token that came up meanwhile was lost (the bucket holds one);",
        "- the limit is what bounds it: the bucket runs at 92 % of `RequestsPerSecond` (`RateHeadroomPercent` 8), the",
        "  margin that keeps a request sent a little late from bunching with the next one into 11 in a second.",
        "",
    ]


def _latency(results: Results) -> list[str]:
    lat = results.latency
    if lat is None:
        return []
    ordered = sorted(lat.seconds)
    return [
        "## Latency at light load",
        "",
        "`bench/latency.py`: local mode in this process (what `make run` runs: moto's SQS, the batching window",
        f"`FLUSH_SECONDS={lat.flush_seconds}`, two pollers, the real handlers), one webhook of one user every 0.5 s;",
        "the time from the webhook's `202` to the LinkedIn request carrying its user arriving at the sandbox.",
        f"- p50 **{lat.p50:.2f} s**, p99 **{lat.p99:.2f} s** over {len(ordered)} webhooks (min {ordered[0]:.2f} s,",
        f"  max {ordered[-1]:.2f} s).",
        "- A user waits for its batch's window to close: from 0 s (the window was closing) to `FLUSH_SECONDS`.",
        "",
    ]


def _cost(results: Results) -> list[str]:
    c = results.cost
    if c is None:
        return []
    floor = api_floor_per_million()
    lines = [
        "## AWS cost per million users",
        "",
        f"`bench/cost.py`: {c.usage.users:,} users in webhooks of 100 through local mode in this process, every AWS",
        "request counted by botocore event hooks on every client (the SQS poller that stands in for the event source",
        "mapping included, since AWS bills its receives to you), then priced at list prices (us-east-1, on-demand,",
        f"no free tier; read {PRICES_CHECKED} from the pages named in `bench/prices.py`).",
        "- DynamoDB write and read units come from the stored item sizes (moto's), doubled in transactions;",
        "- SQS bills a request per started 64 KiB; Lambda duration is the wall time of each invocation here times the",
        "  template's memory on arm64;",
        f"- CloudWatch Logs: the bytes the handlers print plus Lambda's own {PLATFORM_LOG_BYTES} bytes of",
        "  START/END/REPORT per invocation, except for the ingest, which the template keeps at `SystemLogLevel: WARN`;",
        f"- X-Ray: traces the template's sampling rule records at {REFERENCE_USERS_PER_SECOND:,} users/s (LinkedIn's",
        "  ceiling for one connection);",
        f"- the floor is what API Gateway alone charges: 10,000 requests x "
        f"${PRICES['api_requests'].usd:.2f}/million = ${floor:.3f}.",
        "",
        "| line | $ per million users |",
        "|---|---|",
    ]
    lines += [f"| {line} | {dollars:.5f} |" for line, dollars in sorted(c.per_million.items(), key=lambda x: -x[1])]
    lines += [f"| **total** | **{c.total:.5f}** |", ""]
    scale = 1e6 / c.usage.users
    calls = ", ".join(f"{name} {n * scale:,.0f}" for name, n in sorted(c.calls.items(), key=lambda x: -x[1]))
    lines += [f"AWS requests per million users: {calls}.", ""]
    if results.cost_keyed:
        k = results.cost_keyed
        lines += [
            f"With an `idempotency_key` on every webhook: **${k.total:.4f}**. A keyed webhook's chunks need a ledger",
            "bucket of their own (its retry by the client is a new message that must find the first): one",
            "transactional write, 2 write units, per webhook. Without a key, the webhooks an ingest container queues in",
            "a second share a bucket and the ledger costs about a tenth of a write unit per webhook.",
            "",
        ]
    lines += [
        "What it took: the ingest writes nothing to DynamoDB (the webhook's counts ride on its first queued message",
        "and the batcher records them in its exactly-once transaction); the ledger keeps 16-byte digests in shared",
        "buckets instead of an item per message; Powertools' idempotency store was dropped (the ledger already counts a",
        "retried keyed webhook once); arm64; an X-Ray sampling rule of 1 % for the webhook route; no Lambda platform",
        "lines for the ingest. Before these: $0.089 per million users.",
        "",
    ]
    return lines


def _cold_start(results: Results) -> list[str]:
    cs = results.cold_start
    if not cs:
        return []
    lines = [
        "## Cold start",
        "",
        "`bench/coldstart.py`: `python -X importtime -c 'import app'` in each function's directory with the layer on",
        "the path and Lambda's environment (the template's variables, `AWS_LAMBDA_FUNCTION_NAME`, a trace id, so",
        "Powertools' Tracer starts as on Lambda); the cumulative time of `app`, the fastest of 9 fresh interpreters",
        "(the median, in brackets, moves by up to 100 ms between runs on a busy 2-core machine). The layer is the one",
        "`layers/common/Makefile` builds (for this machine's platform), imported as Lambda imports it: nothing may be",
        "written (`PYTHONDONTWRITEBYTECODE`), so what is not compiled in the build is compiled at every start.",
        "Nothing a function runs is left for its first invocation: each imports at its init its capability's",
        "modules (`composition/`, one class per capability) and every module it will run (ruff's PLC0415 refuses an",
        "import inside a function in the layer and the handlers), and builds the services its handler uses, their",
        'SDK clients with them (decision 0026): the row is the whole init. "Our modules" is the self time of',
        "our package's modules and the handler's in the fastest run (our code, pydantic building our models, and",
        "the handler's module building its services, their SDK clients' creation included); the rest is the",
        "libraries' imports and Python's."
        + (
            ""
            if all(c.layer_built for c in cs)
            else " **The build failed in this run: the layer's sources were used.**"
        ),
        "Sizes: `sam build` into a temporary directory, unzipped. Instructions: valgrind's count of the same import",
        "less an empty interpreter's (`coldstart.count_instructions`); unlike the milliseconds, which move by 10-15 %",
        "between runs on this VM, they move by less than 0.2 %: compare commits by them.",
        "",
        "| function | import, ms (median) | instructions | of it, our modules (ms) | heaviest imports (ms) | code | layer |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in cs:
        heavy = ", ".join(f"{name} {ms:.0f}" for name, ms in c.biggest)
        code = f"{c.code_bytes / 1e3:.1f} kB" if c.code_bytes else "-"
        layer = f"{c.layer_bytes / 1e6:.1f} MB" if c.layer_bytes else "-"
        own = f"{c.own_ms:.0f}" if c.own_ms is not None else "-"
        counted = _millions(c.instructions)
        lines.append(
            f"| {c.function} | {c.import_ms:.0f} ({c.median_ms:.0f}) | {counted} | {own} | {heavy} | {code} | {layer} |"
        )
    source = next((c for c in cs if c.from_source_ms), None)
    if source is not None and source.from_source_ms is not None:
        lines += [
            "",
            f"The layer's bytecode is compiled in the build: {source.function} imports in {source.import_ms:.0f} ms from",
            f"it, and in {source.from_source_ms:.0f} ms from the same sources without it, which is what SAM's own",
            "python builder shipped (wheels unpacked, no `.pyc`) and Lambda, on a read-only `/opt`, compiled at every",
            "cold start. The request path's three functions have SnapStart besides (decision 0021). The build",
            "also trims botocore's data to the services the platform calls (`layers/common/trim_botocore_data.py`):",
            "creating a function's clients parsed the endpoints and models of every AWS service.",
        ]
    floor = results.cold_start_libraries
    if floor is not None:
        lines += [
            "",
            f"The libraries every function but the console imports, alone, take **{floor.ms:.0f} ms** the same way",
            f"({_millions(floor.instructions)} instructions; `coldstart.LIBRARIES`: boto3 with botocore and urllib3",
            "and a first client, pydantic with a first model, Powertools' logger, metrics and tracer patching",
            "botocore): no handler that uses them can start in less on this machine.",
        ]
    worst = max(c.import_ms for c in cs)
    if worst > IMPORT_TARGET_MS:
        lines += [
            "",
            f"**Missed** on this machine ({worst:.0f} ms against {IMPORT_TARGET_MS}). Most of it is those libraries,",
            "then a client for each further AWS service a function calls (its model and endpoint rules parsed,",
            "about 20-35 M instructions each, S3's 118 M), Liquid where campaigns are sent or saved, requests where",
            'HTTP is sent, and our modules ("our modules" includes pydantic building our models and the dataclasses',
            "Python generates).",
            "The management API is the largest: it holds every capability, its OpenAPI models and Liquid, and has",
            "SnapStart, so its init runs when a version is published, not at a cold start. Nothing is deferred to a",
            "first invocation but Powertools' Secrets Manager client, made with the first secret read (decision",
            "0026). Removed because they cost a cold start and did nothing for us: Powertools' batch utility (every",
            "parser model and event class), wrapt 2's asyncio under the X-Ray SDK, pydantic's scan of every installed",
            "package for plugins at its first model, and botocore's data for the services the platform does not call.",
        ]
    lines.append("")
    return lines


def _millions(instructions: int | None) -> str:
    return f"{instructions / 1e6:,.0f} M" if instructions is not None else "-"


def _horizon(results: Results) -> list[str]:
    if results.horizon_seconds is None:
        return []
    from audience_sync.core.backoff import retry_schedule

    schedule = retry_schedule()
    return [
        "## Retry horizon",
        "",
        f"`core/backoff.py` `retry_schedule()`, LinkedIn's policy: {len(schedule)} waits, {', '.join(str(w) for w in schedule[:8])}, ... {schedule[-1]} s;",
        f"total **{results.horizon_seconds:,} s** = {results.horizon_seconds / 3600:.2f} h (a unit test asserts it too).",
        "",
    ]


def _profiles(results: Results) -> list[str]:
    lines: list[str] = []
    if results.track_hot_path:
        hp = results.track_hot_path
        lines += [
            "## /users/track hot path CPU",
            "",
            f"`bench/profiles.py` `hot_path`, pinned to one core (core {hp.core}), CPU time: what the platform API",
            "function does for each request of 75 attribute objects and 75 events (Segment's identify and track",
            "shapes: fields, custom attributes, an `inc`, an array `add`, a time; events with properties): read the body",
            "strictly (duplicated keys refused), check the Bearer key from the instance's cache, count the request,",
            "check the permission, check and plan every object, encode the operations and split them by message group.",
            f"**{hp.objects_per_second:,.0f} objects/s** ({hp.objects:,} objects in {hp.seconds:.2f} s).",
            "",
        ]
    for result, title in ((results.writer, "sustained"), (results.burst, "a burst of 1,000,000 objects")):
        if result is None:
            continue
        lines += [
            f"## Profile writer: {title}",
            "",
            f"`bench/profiles.py` `writer_pipeline`: {result.requests:,} requests ({result.objects:,} objects over",
            f"{result.users:,} users) planned by the real code and queued at once into an in-memory SQS FIFO (message",
            "groups, one batch of at most 10 messages in flight per group, as Lambda polls FIFO), then drained by",
            f"{result.writers} threads each running the real `ProfileWriter` (8 writes in flight) into an in-memory",
            f"table with DynamoDB's conditional writes that waits {result.latency_ms:g} ms a call. Two stand-ins, and why:",
            "moto's SQS slows with every message queued and its DynamoDB parses each condition expression in Python",
            "(the same reasons as the sync pipeline's benchmark). "
            f"{result.crashed_batches} batches were written and then delivered again, as after a crash before SQS",
            f"deletes them ({result.redelivered_messages:,} messages). Then every user's `inc` counter and event count",
            f"is compared with what was sent: **{result.mismatches} wrong**. **{result.objects_per_second:,.0f}",
            f"objects/s** ({result.seconds:.1f} s; {result.store_calls:,} table calls; {result.batches:,} writer",
            f"invocations, {result.ms_per_message:.1f} ms a message).",
            "",
        ]
    if results.update_cost:
        c = results.update_cost
        lines += [
            "## AWS cost per million attribute updates",
            "",
            f"`bench/profiles_stack.py`: {c.updates:,} attribute updates (each sets two attributes of an existing",
            "user), 75 a request from 4 clients at once, through local mode in this process: the platform API function,",
            "the FIFO profile queue polled as Lambda polls it, the profile writer, moto. Every AWS request is counted",
            "as for the sync pipeline (moto's item sizes for DynamoDB's units; SQS FIFO at its own price; the idle",
            "polls of the sync queue left out: they cost the same with no profile traffic). The two Lambda lines use",
            "the durations measured against the stand-ins above (moto in one process would bill its own slowness),",
            f"scaled by {1769}/512 for the CPU share of a 512 MB function. The floor: API Gateway's requests",
            f"(1,000,000 / 75 x ${PRICES['api_requests'].usd:.2f}/million) plus one DynamoDB write unit an update",
            f"(${PRICES['dynamodb_wru'].usd:.3f}/million): ${c.floor:.3f}.",
            "",
            "| line | $ per million updates |",
            "|---|---|",
        ]
        lines += [f"| {line} | {dollars:.5f} |" for line, dollars in sorted(c.per_million.items(), key=lambda x: -x[1])]
        lines += [f"| **total** | **{c.total:.5f}** ({c.total / c.floor:.2f} x the floor) |", ""]
        moto = ", ".join(f"{k} ${v:.3f}" for k, v in sorted(c.moto_lambda_per_million.items()))
        lines += [f"Billed by their wall clock in moto instead, the Lambda lines would read: {moto}.", ""]
        scale = 1e6 / c.updates
        calls = ", ".join(f"{name} {n * scale:,.0f}" for name, n in sorted(c.calls.items(), key=lambda x: -x[1]))
        lines += [f"AWS requests per million updates: {calls}.", ""]
    if results.read_your_writes:
        r = results.read_your_writes
        lines += [
            "## Read-your-writes",
            "",
            f"`bench/profiles_stack.py`: {len(r.seconds)} writes, one at a time, through local mode (`FLUSH_SECONDS`",
            f"{r.flush_seconds}); each timed from its 201 until `/users/export/ids` shows the value (polled every",
            f"20 ms). p50 {r.p50:.2f} s, p99 **{r.p99:.2f} s**, max {max(r.seconds):.2f} s. The profile queue is FIFO,",
            "which has no batching window: a writer takes a write as soon as it is polled.",
            "",
        ]
    return lines


def _million(results: Results) -> list[str]:
    m = results.million
    if m is None:
        return []
    return [
        "## A million users, webhook to LinkedIn",
        "",
        f"`bench/million.py`: {m.users:,} users posted to a launched step in webhooks of 10,000 (the contract's "
        "largest) by two",
        "clients at once, each webhook through the ingest's work (the raw body validated, the step read from",
        "DynamoDB, the users filtered, hashed and queued by the one pipeline's IngestService); two batchers with the",
        "template's 5 s batching window drain the queue into the sandbox, which allows 10 requests in any second. The",
        "clock starts when the first webhook is posted and stops when the sandbox stamps the last accepted request.",
        "The queue and the ledger stand in as in the backlog above; the clients run at the lowest CPU priority (on",
        "AWS each webhook has an ingest container of its own).",
        "",
        f"- **{m.seconds:.1f} s** from the first webhook to LinkedIn's last request: "
        f"{m.seconds / m.physical_limit_seconds:.2f} x the physical limit",
        f"  ({m.users:,} / 50,000 a second = {m.physical_limit_seconds:.0f} s); the first request "
        f"{m.first_request_seconds:.1f} s after the first webhook;",
        f"- every webhook answered within {m.posting_seconds:.1f} s ({m.ingest_cpu_seconds:.1f} s of ingest CPU, "
        f"{m.users / max(m.ingest_cpu_seconds, 1e-9):,.0f} users/s);",
        f"- {m.requests} requests (ideal {m.ideal_requests}), {sum(m.elements):,} users in them, {m.synced:,} "
        f"counted synced; {m.throttled} answered 429, at most {m.max_in_any_second} in any second.",
        "",
    ]


def _backfill(results: Results) -> list[str]:
    b = results.backfill
    if b is None:
        return []
    sizes = sorted(set(b.elements))
    return [
        "## Segment backfill",
        "",
        f"`bench/backfill.py`: a step following a segment launched with `backfill` through the API; then "
        f"{b.members:,} members' baseline entries of its own segment as the profile writer publishes them (400 a",
        f"membership message), and the clock starts. {b.concurrency} membership processes (the function's "
        "`MaximumConcurrency`), each doing what functions/membership does (the ten records of a batch at once, each",
        "through the real router and the one pipeline's IngestService), feed two batchers (5 s batching window, the",
        "token bucket, the sandbox allowing 10 requests in any second). The members' index, the profiles the router",
        "reads and the step's reads stand in, each call waiting what DynamoDB takes, the calls of one read or write",
        "made at once (adapters/aws/fanout.py).",
        "",
        f"- **{b.seconds:.1f} s** from the membership known to LinkedIn's last request: {b.ratio:.2f} x the physical",
        f"  limit ({b.members:,} / 50,000 a second = {b.physical_limit_seconds:.0f} s; the token bucket's headroom",
        "  alone makes it 8 % longer);",
        f"- {b.requests} requests (ideal {b.ideal_requests}), sizes {', '.join(f'{n:,}' for n in sizes)}; "
        f"{b.throttled} answered 429, at most {b.max_in_any_second} in any second; {b.synced:,} synced.",
        "",
        "On this machine the membership processes, the batchers and the sandbox share two cores; the membership",
        "processes run at the lowest CPU priority, as on AWS no routing takes a batcher's CPU. Routing took",
        f"{b.routing_us_per_member:.1f} us of CPU a member here (reading the transition, hashing the email, the queue",
        "message). On AWS the SDK adds its own (bench/sdk_cpu.py, measured on the adapters' payloads): "
        + "; ".join(f"{name} {us:.1f} us" for name, us in b.sdk_us.items())
        + f". So a member costs {b.aws_us_per_member:.0f} us, and {b.concurrency} containers of "
        f"{b.memory_mb:,} MB (a vCPU each) route {b.members:,} in **{b.aws_routing_seconds:.1f} s**, ahead of",
        f"LinkedIn's {b.physical_limit_seconds:.0f} s.",
        "",
    ]


def _campaigns(results: Results) -> list[str]:
    c = results.campaign_planning
    if c is None:
        return []
    return [
        "## Campaign planning",
        "",
        f"`bench/campaigns.py`, pinned to one core (core {c.core}), CPU time of the process: {c.sends:,} sends of an",
        "API-triggered webhook campaign in calls of 50 recipients, each planned as `POST /v1/campaigns/{id}/trigger`",
        "plans it once the profiles are read (`campaigns/delivery.py` `plan`): the audience segment checked, the",
        "control group drawn (10 %), url, a header and a body of 14 fields rendered with python-liquid (the Lytics",
        "webhook of docs/integrations/lytics.md, with trigger properties and the dispatch_id), then the queued",
        f"webhooks cut into sync-queue messages ({c.messages:,} messages for {c.queued:,} webhooks): "
        f"**{c.per_second:,.0f} webhooks/s**. The campaign is compiled once (`load`), as a container does.",
        "",
    ]


def _exports(results: Results) -> list[str]:
    e = results.export
    if e is None:
        return []
    lines = [
        "## Segment export",
        "",
        "`bench/exports.py`: the real export runner (`exports/runner.py`) in a child process pinned to one core, CPU",
        "time of the process, on in-memory stand-ins for the members' index, the profile table (each profile made",
        "from its key when read: five standard fields and four custom attributes) and S3 (bytes counted, none",
        "kept). Fields: external_id, email, first_name, last_name, country, custom_attributes. DynamoDB and S3 round",
        "trips are not CPU of the process and are not counted. Peak memory is the child's `VmHWM` (its own",
        "address space's peak, the interpreter included; `ru_maxrss` would carry the benchmark process's over). The stand-ins' profiles compress far better than real ones: the bytes are not a guide.",
        "",
    ]
    for run in e.runs:
        lines.append(
            f"- `{run.output}`: {run.users:,} users in {run.seconds:.1f} s = **{run.per_second:,.0f} users/s**, "
            f"{run.files:,} files (or zip entries), peak **{run.peak_rss_mb:.0f} MB**."
        )
    return [*lines, ""]


def _imports(results: Results) -> list[str]:
    i = results.imports
    if i is None:
        return []
    return [
        "## Scheduled S3 import",
        "",
        "`bench/imports.py`. Planning, pinned to one core, CPU time of the process: a CSV of "
        f"{i.planned_rows:,} rows held in memory, read in 1 MiB chunks by `imports/rows.py` and planned by",
        "`imports/mapping.py` (an external id and five columns, one per strategy, checked as `/users/track` checks",
        f"them): **{i.planned_per_second:,.0f} rows/s**. Applying them is DynamoDB's work and is not counted here.",
        "",
        f"Exactly once: a file of {i.rows:,} rows over {i.users:,} users, each row adding 1 to its user's points,",
        "imported by the real runner and profile writer on in-memory stand-ins of the import store, S3 and the",
        f"profile table, which fails after {i.crashed_after_writes:,} writes (the function dies); the run is delivered",
        f"again and goes on from its last chunk. Every user's points exact: **{i.exact}**; rows counted once:",
        f"**{i.counted:,}** of {i.rows:,}; {i.seconds:.0f} s in all.",
        "",
    ]


def _campaign_latency(results: Results) -> list[str]:
    f = results.campaign_latency
    if f is None:
        return []
    return [
        "## Campaign trigger to webhook",
        "",
        "`bench/campaigns.py` `measure_latency`: local mode as `make run` runs it (FLUSH_SECONDS "
        f"{f.flush_seconds}), an API-triggered webhook campaign to a receiver on 127.0.0.1 (`bench/receiver.py`),",
        f"{len(f.seconds)} triggers of one recipient, two a second; from the 202 to the receiver getting the webhook:",
        f"p50 {f.p50:.2f} s, p99 **{f.p99:.2f} s** (target {f.flush_seconds + 1} s). The sync queue's batching window",
        "is most of it: the batcher is invoked when the window closes, and sends at once (a campaign without a rate",
        "limit takes no token).",
        "",
    ]


def _campaign_rate(results: Results) -> list[str]:
    r = results.campaign_rate
    if r is None:
        return []
    return [
        "## Campaign rate limit",
        "",
        f"`bench/campaign_rate.py`: {r.webhooks:,} webhooks of a campaign with `rate_limit_per_minute`",
        f"{r.rate_limit_per_minute:,}, planned by the real planner and drained by two batcher processes (the real",
        "Batcher, Sender, webhook destination and DynamoDB token bucket on moto's server; queue and ledger in memory,",
        "as in the packing benchmark) to a receiver process on 127.0.0.1 that notes each arrival.",
        f"- received {r.received:,}, delivered (the ledger's count) {r.delivered:,}, first to last "
        f"{r.first_to_last_seconds:.1f} s: **{r.per_minute:,.0f} a minute, {r.rate_use:.1%} of the limit**;",
        f"- the most in any 60 s window (sliding, every arrival a start): **{r.max_in_any_minute:,}**.",
        "",
        "The campaign's bucket keeps 1 % of the limit back and hands out its tokens in leases of 50 ms of the rate",
        "(one DynamoDB write per lease, not per webhook: at 1,000 webhooks a second a write each would be a",
        "partition's whole throughput); a lease not used within 200 ms is dropped and the bucket holds 200 ms of",
        "tokens, so no minute can hold more than 60.4 s of the rate (59.8 s of the limit). Found on the way: the",
        "receiver's answers took 40 ms each (Nagle's algorithm holding the body behind the headers, against delayed",
        "ACKs) until its handler set TCP_NODELAY; and the batchers read their rounds by size, 4 MB, which for",
        "webhooks of one user a request is 9,000 requests: an invocation held 30,000 at its start, and when the",
        "queue ran dry one batcher sent them alone for 35 s at two thirds of the limit (86-91 % over the run). A",
        "round now holds at most 2 s of the invocation's pace (`pipeline/batcher.py` `READ_AHEAD_MS`, bounded by the",
        "rate limit before the pace is known), and the next is read once what it holds would leave within that.",
        "",
    ]


def _waiting_cost(results: Results) -> list[str]:
    w = results.waiting_cost
    if w is None:
        return []
    lines = [f"  - {name}: ${usd:.3f}" for name, usd in w.lines.items()]
    return [
        "## Cost per million waiting users",
        "",
        "`bench/campaigns.py` `waiting_cost`, computed from the calls the built code makes a user",
        "(`adapters/aws/campaign_state.py`: the entry's claim and finish, the wait's transactions with the campaign's",
        "counters, the consistent reads; one schedule; the activity queue's messages) and the list prices of",
        f"`bench/prices.py`, for a million users waiting out a campaign's delay, {w.exception_share:.0%} of them",
        "cancelled by an exception event (the function's milliseconds a user are estimates from its calls, not",
        "measured on AWS):",
        *lines,
        f"- **${w.total:.2f} per million waiting users**; Step Functions Standard waits (an execution a user, about",
        f"  four transitions each) would be ${w.step_functions:.0f}. The schedules' API calls are not priced.",
        "",
    ]
