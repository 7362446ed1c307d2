"""The ingest benchmark keeps working (its numbers are printed by the script, not asserted here)."""

from __future__ import annotations

from pathlib import Path

from adapters.sources.hf import parse_daily_papers_page
from tests.bench.hf_ingest import bench, synthetic_items


def test_synthetic_items_parse_like_real_ones_and_fill_the_week() -> None:
    papers, skipped = parse_daily_papers_page(synthetic_items(200))
    assert skipped == 0
    assert len(papers) == 200
    assert {p.featured_on.isoformat() for p in papers if p.featured_on} == {
        "2025-09-01",
        "2025-09-02",
        "2025-09-03",
        "2025-09-04",
        "2025-09-05",
    }
    assert all(p.ai_summary and p.github_repo for p in papers)


async def test_benchmark_ingests_every_item_then_finds_them_unchanged(tmp_path: Path) -> None:
    report = await bench(120, 50, None, tmp_path)
    assert "first run (empty store)" in report
    assert "(120 new, 0 updated, 0 unchanged, 0 skipped; 3 pages)" in report
    assert "(0 new, 0 updated, 120 unchanged, 0 skipped; 3 pages)" in report
