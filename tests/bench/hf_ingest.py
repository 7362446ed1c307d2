"""Benchmark: a week of Daily Papers (2,000 items by default) served by a loopback fake, fetched and ingested.

    .venv/bin/python -m tests.bench.hf_ingest [--items 2000] [--page-size 50] [--database-url URL]

Prints the seconds spent fetching (HTTP, every page, and parsing) and ingesting (store and index), for a first
run into an empty store (all new) and a second run of the same week (all known). The target of issue 3 is at
most 2 s for the whole first run. arXiv is left out: its pacing (one request every 3 s) is a rule, not a cost.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any, cast

from adapters.app.compose import paperboy_app
from adapters.settings import Settings
from adapters.sources.hf import HuggingFaceClient
from tests.fakes.hf import serve
from tests.tools.build_demo import demo_item

WEEK = "2025-W36"
WEEK_DAYS = [date(2025, 9, 1) + timedelta(days=n) for n in range(5)]  # Monday to Friday
_WORDS = [
    *("language", "model", "retrieval", "diffusion", "vision", "transformer", "sparse", "attention"),
    *("graph", "reasoning", "agent", "benchmark", "alignment", "reward", "policy", "token", "embedding"),
    *("multimodal", "speech", "robot", "dataset", "scaling"),
]


def _words(seed: str, count: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return " ".join(_WORDS[(digest[i % len(digest)] + i) % len(_WORDS)] for i in range(count))


def synthetic_items(count: int) -> list[dict[str, Any]]:
    """`count` items in the real `/api/daily_papers` shape, spread over the weekdays of one week."""
    items = []
    for n in range(count):
        arxiv_id = f"2509.{n:05d}"
        seed = {
            "arxiv_id": arxiv_id,
            "title": f"{_words('t' + arxiv_id, 8).title()} {n}",
            "authors": [f"Author {n}-{k}" for k in range(6)],
            "abstract": _words("a" + arxiv_id, 160) + ".",
            "published": "2025-08-28",
            "featured_on": WEEK_DAYS[n % len(WEEK_DAYS)].isoformat(),
        }
        # The position only spreads submission times over the morning; keep it inside the featured day.
        item = demo_item(seed, (n // len(WEEK_DAYS)) % 100)
        item["paper"].update(
            {
                "ai_summary": _words("s" + arxiv_id, 30) + ".",
                "ai_keywords": _words("k" + arxiv_id, 8).split(),
                "githubRepo": f"https://github.com/example/repo-{n}",
                "githubStars": n % 500,
                "organization": {"name": f"lab-{n % 40}", "fullname": f"Lab {n % 40}"},
            }
        )
        items.append(item)
    return items


async def _run_once(settings: Settings, url: str, page_size: int) -> tuple[float, float, str]:
    async with paperboy_app(settings) as app, HuggingFaceClient(url, page_size=page_size) as hf:
        started = time.perf_counter()
        fetched = await hf.fetch(week=WEEK)
        fetched_at = time.perf_counter()
        counts = await app.ingest(fetched.papers)
        done = time.perf_counter()
    summary = (
        f"{counts.new} new, {counts.updated} updated, {counts.unchanged} unchanged, {fetched.skipped} skipped"
    )
    return fetched_at - started, done - fetched_at, f"{summary}; {fetched.pages} pages"


async def bench(count: int, page_size: int, database_url: str | None, workdir: Path) -> str:
    """Serve `count` items, ingest the week twice, and return the report."""
    url_db = database_url or f"sqlite:///{workdir / 'bench.db'}"
    settings = cast(Any, Settings)(DATABASE_URL=url_db, PAPERBOY_INDEX_DIR=str(workdir / "index"))
    lines = [f"ingest benchmark: {count} items of week {WEEK}, page size {page_size}, store {url_db}"]
    with serve(synthetic_items(count)) as (url, _fake):
        for label in ("first run (empty store)", "second run (same week)"):
            fetch_s, ingest_s, summary = await _run_once(settings, url, page_size)
            total = fetch_s + ingest_s
            lines.append(
                f"{label}: fetch {fetch_s:.3f} s + ingest {ingest_s:.3f} s = {total:.3f} s ({summary})"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the seconds."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument(
        "--database-url", help="a store to fill (default: a new SQLite file in a temp folder)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="paperboy-bench-") as workdir:
        print(asyncio.run(bench(args.items, args.page_size, args.database_url, Path(workdir))))


if __name__ == "__main__":
    main()
