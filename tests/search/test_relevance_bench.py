"""`paperboy bench relevance` on a small haystack: every query set is scored by every ranker, and the ranking of
this release finds the meant paper more often than the linear scan and plain BM25 it is compared with."""

from __future__ import annotations

import re
from pathlib import Path

from adapters.bench.relevance import DESCRIPTIONS_RESOURCE, HELDOUT_RESOURCE, bench_relevance, load_queries


def mrr_rows(report: str) -> dict[str, list[float]]:
    """MRR@10 of each ranker, in the order printed: the first query set, the held-out one, the descriptions."""
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


def test_the_descriptions_are_forty_held_out_queries_about_demo_papers_without_their_title_words() -> None:
    from adapters.sources.demo import load_demo_papers

    titles = {paper.arxiv_id: paper.title for paper in load_demo_papers()}
    descriptions = load_queries(DESCRIPTIONS_RESOURCE)
    assert len(descriptions) == 40
    assert {q.kind for q in descriptions} == {"description"}
    assert all(q.relevant <= set(titles) for q in descriptions)
    others = {q.text for q in load_queries()} | {q.text for q in load_queries(HELDOUT_RESOURCE)}
    assert not {q.text for q in descriptions} & others

    def telling(text: str) -> set[str]:
        """Words of six letters or more, by their first six: a title's telling words, roughly stemmed."""
        return {word[:6] for word in re.findall(r"[a-z]{6,}", text.lower())}

    # A description may share a common word with the title ("models", "learned"), never a telling one.
    generic = {"models", "learne", "learni"}
    for query in descriptions:
        for arxiv_id in query.relevant:
            assert not (telling(query.text) & telling(titles[arxiv_id])) - generic, (query.text, arxiv_id)


async def test_the_benchmark_scores_every_set_and_the_ranking_beats_its_baselines(tmp_path: Path) -> None:
    report = await bench_relevance(500, tmp_path, semantic=False)
    rows = mrr_rows(report)
    assert "held out" in report
    assert "descriptions (40 queries" in report
    for name in ("linear scan (arxiv-sanity-lite)", "plain BM25 (index)", "lexical (search service)"):
        assert len(rows[name]) == 3, name
    for which in (0, 1):
        assert rows["lexical (search service)"][which] > rows["plain BM25 (index)"][which]
        assert rows["lexical (search service)"][which] > rows["linear scan (arxiv-sanity-lite)"][which]
