"""Benchmark of the store's paper upsert: `python -m adapters.bench.upsert --url URL --papers N` prints papers/s."""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from bot.domain import Paper, UpsertCounts
from storage.sql import open_store

_WORDS = [
    "learning",
    "model",
    "language",
    "representation",
    "neural",
    "network",
    "training",
    "data",
    "transformer",
    "attention",
    "retrieval",
    "graph",
    "diffusion",
    "image",
    "video",
    "reasoning",
    "agent",
    "policy",
    "reward",
    "benchmark",
    "evaluation",
    "sparse",
    "dense",
    "embedding",
    "token",
    "context",
    "memory",
    "inference",
    "scaling",
    "efficient",
    "robust",
    "adversarial",
    "causal",
    "contrastive",
    "generative",
    "latent",
    "vision",
    "speech",
    "multimodal",
    "alignment",
    "instruction",
    "tuning",
    "pretraining",
]
_CATEGORIES = ("cs.CL", "cs.LG", "cs.CV", "cs.AI", "stat.ML", "cs.IR", "cs.RO", "eess.AS")


def synthetic_papers(count: int, seed: int = 7) -> list[Paper]:
    """`count` papers shaped like arXiv records: ~10-word titles, ~150-word abstracts, a few authors."""
    rng = random.Random(seed)
    first_day = date(2020, 1, 1)
    papers = []
    for n in range(count):
        papers.append(
            Paper(
                arxiv_id=f"{20 + n // 1_000_000:02d}{(n // 100_000) % 10 + 1:02d}.{n % 100_000:05d}",
                title=" ".join(rng.choices(_WORDS, k=10)).capitalize(),
                authors=[f"Author {rng.randrange(50_000)}" for _ in range(rng.randint(1, 8))],
                abstract=" ".join(rng.choices(_WORDS, k=150)),
                published=first_day + timedelta(days=n % 1500),
                categories=list(rng.sample(_CATEGORIES, k=rng.randint(1, 3))),
                comment="12 pages, 4 figures" if n % 3 == 0 else None,
            )
        )
    return papers


@dataclass(frozen=True)
class Pass:
    """One timed pass over all papers."""

    name: str
    seconds: float
    counts: UpsertCounts

    def line(self, papers: int) -> str:
        """A printable summary."""
        return (
            f"{self.name:<10} {papers / self.seconds:>10,.0f} papers/s  ({self.seconds:.2f} s; "
            f"new {self.counts.new}, updated {self.counts.updated}, unchanged {self.counts.unchanged})"
        )


async def _timed(
    name: str,
    upsert: Callable[[Sequence[Paper]], Awaitable[UpsertCounts]],
    papers: Sequence[Paper],
    batch: int,
) -> Pass:
    """Upsert `papers` in batches and time the whole pass."""
    total = UpsertCounts()
    started = time.perf_counter()
    for start in range(0, len(papers), batch):
        total += await upsert(papers[start : start + batch])
    return Pass(name, time.perf_counter() - started, total)


async def bench_upsert(url: str, count: int, batch: int) -> list[Pass]:
    """Insert `count` papers into an empty store, upsert them again unchanged, then with new upvotes."""
    papers = synthetic_papers(count)
    bumped = [Paper(arxiv_id=p.arxiv_id, title="", hf_upvotes=5) for p in papers]
    store = await open_store(url)
    try:
        if await store.count_papers():
            raise SystemExit(f"The store at {url} is not empty; benchmark an empty database.")
        return [
            await _timed("insert", store.upsert_papers, papers, batch),
            await _timed("unchanged", store.upsert_papers, papers, batch),
            await _timed("update", store.upsert_papers, bumped, batch),
        ]
    finally:
        await store.close()


def main() -> None:
    """Parse the command line, run the benchmark and print one line a pass."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--url", required=True, help="an EMPTY database: sqlite:///bench.db or postgresql://…"
    )
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args()
    for result in asyncio.run(bench_upsert(args.url, args.papers, args.batch)):
        print(result.line(args.papers))


if __name__ == "__main__":
    main()
