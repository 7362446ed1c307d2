"""`paperboy bench …`: benchmarks that print numbers; each imports its benchmark (and its weight) when it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from adapters.cli.exits import fail, require_semantic_extra, run_async
from adapters.cli.groups import command_group

bench_app = command_group("Benchmarks that print numbers.")


@bench_app.command("search")
def bench_search_command(
    papers: Annotated[int, typer.Option(min=100)] = 100_000,
    snapshot: Annotated[
        Path | None, typer.Option(help="Use a snapshot file instead of synthetic papers.")
    ] = None,
    queries: Annotated[int, typer.Option(min=10)] = 1000,
    workdir: Annotated[Path, typer.Option(help="Where the benchmark store and index go.")] = Path(
        "bench-data"
    ),
) -> None:
    """Fill a store with N papers and print search latency (service and raw index) and ingest rate."""
    from adapters.bench.search import bench_search

    typer.echo(run_async(lambda: bench_search(papers, snapshot, queries, workdir)))


@bench_app.command("relevance")
def bench_relevance_command(
    distractors: Annotated[
        int, typer.Option(min=0, help="Synthetic papers the demo papers hide among.")
    ] = 20_000,
    semantic: Annotated[
        bool, typer.Option(help="Also rank by meaning and hybrid (needs the semantic extra).")
    ] = True,
    misses: Annotated[
        bool, typer.Option("--misses", help="List the queries each ranker did not answer first.")
    ] = False,
    workdir: Annotated[Path, typer.Option(help="Where the benchmark store, index and vectors go.")] = Path(
        "bench-data"
    ),
) -> None:
    """MRR@10, recall@10 and latency of each ranker on hand-written queries over the demo papers."""
    from adapters.bench.relevance import bench_relevance

    typer.echo(
        run_async(lambda: bench_relevance(distractors, workdir, semantic=semantic, show_misses=misses))
    )


@bench_app.command("hybrid")
def bench_hybrid_command(
    papers: Annotated[int, typer.Option(min=100)] = 100_000,
    queries: Annotated[int, typer.Option(min=10)] = 200,
    workdir: Annotated[Path, typer.Option(help="Where the benchmark store and index go.")] = Path(
        "bench-data"
    ),
) -> None:
    """Latency of lexical and hybrid search (each query embedded anew) over N papers (needs the semantic extra)."""
    require_semantic_extra("bench hybrid")
    from adapters.bench.relevance import bench_hybrid_latency

    typer.echo(run_async(lambda: bench_hybrid_latency(papers, workdir, queries=queries)))


@bench_app.command("delivery")
def bench_delivery_command(
    channels: Annotated[int, typer.Option(min=0)] = 1000,
    papers: Annotated[int, typer.Option(min=1, max=25)] = 5,
    people: Annotated[
        int, typer.Option(min=0, help="People with their own digest, sent to their direct messages.")
    ] = 0,
    rate: Annotated[float, typer.Option(min=1, help="The fake's messages a second in all.")] = 200.0,
    database: Annotated[
        str | None, typer.Option(help="An empty database URL (default: SQLite in --workdir).")
    ] = None,
    workdir: Annotated[Path, typer.Option(help="Where the benchmark's files go.")] = Path(
        "bench-data/delivery"
    ),
    next_day: Annotated[
        bool,
        typer.Option(
            "--next-day",
            help="Deliver the next day's digests on the store an earlier run left (same --workdir or "
            "--database, --channels and --people), as a new process does.",
        ),
    ] = False,
) -> None:
    """Post every channel's and person's digest at once through Slack's adapter to a rate-limited fake."""
    from adapters.bench.delivery import bench_delivery

    if channels + people == 0:
        raise fail("Give the benchmark some --channels or --people to post to.")
    result = run_async(
        lambda: bench_delivery(
            channels,
            papers,
            people=people,
            rate=rate,
            database_url=database,
            workdir=workdir,
            next_day=next_day,
        )
    )
    typer.echo(result.report())


@bench_app.command("startup")
def bench_startup_command(
    runs: Annotated[int, typer.Option(min=1, max=100, help="Timed runs of each command.")] = 5,
    word: Annotated[str, typer.Option(help="The word `paperboy search` looks for.")] = "matryoshka",
    semantic: Annotated[
        bool, typer.Option(help="Leave search by meaning on (loads the semantic extra's model).")
    ] = False,
    papers: Annotated[
        int,
        typer.Option(
            min=0, help="Synthetic papers added to the demo store (random vectors with --semantic)."
        ),
    ] = 0,
) -> None:
    """Time `paperboy --help` and `paperboy search WORD` in fresh processes on a demo store: median and max."""
    from adapters.bench.startup import StartupBenchError, bench_startup
    from adapters.cli.collector import resume_collector

    resume_collector()
    try:
        typer.echo(bench_startup(runs, word, semantic=semantic, papers=papers))
    except StartupBenchError as error:
        raise fail(str(error)) from None


@bench_app.command("unfurl")
def bench_unfurl_command(
    events: Annotated[int, typer.Option(min=1, help="Timed link_shared events, one after another.")] = 500,
    links: Annotated[int, typer.Option(min=1, max=5, help="Stored paper links in each shared message.")] = 1,
    database: Annotated[
        str | None, typer.Option(help="A database URL (default: SQLite in --workdir).")
    ] = None,
    workdir: Annotated[Path, typer.Option(help="Where the benchmark's files go.")] = Path(
        "bench-data/unfurl"
    ),
) -> None:
    """Time Slack's link_shared to Paperboy's chat.unfurl for stored papers, through the real app: p50 and p99."""
    from adapters.bench.unfurl import bench_unfurl

    result = run_async(lambda: bench_unfurl(events, links, database_url=database, workdir=workdir))
    typer.echo(result.report())


@bench_app.command("serving")
def bench_serving_command(
    papers: Annotated[
        int, typer.Option(min=100, help="Papers in the store (built once in --workdir).")
    ] = 100_000,
    requests: Annotated[
        int, typer.Option(min=1, help="Searches sent one at a time from the first second.")
    ] = 120,
    interval_ms: Annotated[float, typer.Option(min=0, help="Pause between two searches.")] = 0.0,
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Empty the index first: the run rebuilds it while serving.")
    ] = False,
    workdir: Annotated[Path, typer.Option(help="Where the benchmark store and index go.")] = Path(
        "bench-data/serving"
    ),
) -> None:
    """Start `paperboy run` (Slack against a loopback fake) and time /papers search from its first second."""
    from adapters.bench.serving import bench_serving

    result = run_async(
        lambda: bench_serving(papers, requests, interval_ms=interval_ms, rebuild=rebuild, workdir=workdir)
    )
    typer.echo(result.report())


@bench_app.command("memory")
def bench_memory_command(
    papers: Annotated[
        int, typer.Option(min=100, help="Papers in the store (built once in --workdir, shared with serving).")
    ] = 100_000,
    searches: Annotated[int, typer.Option(min=0, help="Searches sent one at a time after the start.")] = 1000,
    channels: Annotated[
        int,
        typer.Option(min=0, help="Channels whose digests the measured tick plans and posts (0: no tick)."),
    ] = 100,
    tracemalloc: Annotated[
        bool,
        typer.Option(
            "--tracemalloc", help="Trace the run's Python memory and print what holds it (costs memory)."
        ),
    ] = False,
    workdir: Annotated[Path, typer.Option(help="Where the benchmark store and index go.")] = Path(
        "bench-data/serving"
    ),
    limit_mb: Annotated[
        int | None,
        typer.Option(
            min=32, help="Run inside a memory cgroup of this many MB, as a container's limit (Linux, root)."
        ),
    ] = None,
) -> None:
    """Resident memory of a words-only `paperboy run`: after start, after searches, after a digest tick."""
    from adapters.bench.limits import LimitUnavailable
    from adapters.bench.memory import bench_memory

    try:
        result = run_async(
            lambda: bench_memory(
                papers, searches, channels=channels, traced=tracemalloc, workdir=workdir, limit_mb=limit_mb
            )
        )
    except LimitUnavailable as error:
        raise fail(str(error)) from None
    typer.echo(result.report())
