"""`paperboy bench relevance` on a small haystack: both query sets are scored by every ranker, and the ranking of
this release finds the meant paper more often than the linear scan and plain BM25 it is compared with."""

from __future__ import annotations

import re
from pathlib import Path

from adapters.bench.relevance import HELDOUT_RESOURCE, bench_relevance, load_queries


def mrr_rows(report: str) -> dict[str, list[float]]:
    """MRR@10 of each ranker, in the order printed: the first query set, then the held-out one."""
    rows: dict[str, list[float]] = {}
    for line in report.splitlines():
        found = re.match(r"\s+(\S.*?)\s{2,}(\d\.\d{3})\s+\d\.\d{3}\s", line)
        if found:
            rows.setdefault(found.group(1), []).append(float(found.group(2)))
    return rows


def test_the_held_out_set_covers_every_kind_and_only_demo_papers() -> None:
    from adapters.sources.demo import load_demo_papers

    demo = {paper.arxiv_id for paper in load_demo_papers()}
    held_out = load_queries(HELDOUT_RESOURCE)
    assert len(held_out) >= 25
    assert {q.kind for q in held_out} == {q.kind for q in load_queries()}
    assert all(q.relevant <= demo for q in held_out)
    assert not {q.text for q in held_out} & {q.text for q in load_queries()}


async def test_the_benchmark_scores_both_sets_and_the_ranking_beats_its_baselines(tmp_path: Path) -> None:
    report = await bench_relevance(500, tmp_path, semantic=False)
    rows = mrr_rows(report)
    assert "held out" in report
    for name in ("linear scan (arxiv-sanity-lite)", "plain BM25 (index)", "lexical (search service)"):
        assert len(rows[name]) == 2, name
    for which in (0, 1):
        assert rows["lexical (search service)"][which] > rows["plain BM25 (index)"][which]
        assert rows["lexical (search service)"][which] > rows["linear scan (arxiv-sanity-lite)"][which]
