"""The shipped demo data goes through the live parser and can be moved to any day."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from adapters.sources.demo import load_demo_papers, read_demo_payload
from tests.tools import build_demo

# A copy of ../shared/data/seed-papers.jsonl (arXiv metadata, public domain), so that the tests need nothing outside the repository.
SEED = Path(__file__).resolve().parents[1] / "data" / "seed-papers.jsonl"


def test_demo_holds_every_seed_paper_featured_on_the_seed_day() -> None:
    papers = load_demo_papers()
    lines = SEED.read_text(encoding="utf-8").splitlines()
    seed_ids = [json.loads(line)["arxiv_id"] for line in lines if line]
    assert [p.arxiv_id for p in papers] == seed_ids
    assert {p.featured_on for p in papers} == {date(2025, 9, 1)}
    assert all(p.published is not None and p.abstract and p.authors for p in papers)


def test_matryoshka_leads_the_demo_upvotes() -> None:
    papers = load_demo_papers()
    best = max(papers, key=lambda p: p.hf_upvotes)
    assert best.title == "Matryoshka Representation Learning"
    assert best.github_repo == "https://github.com/RAIVNLab/MRL"


def test_demo_day_can_be_moved_to_today() -> None:
    papers = load_demo_papers(today=date(2026, 1, 5))
    assert {p.featured_on for p in papers} == {date(2026, 1, 5)}


def test_unknown_published_date_is_taken_from_the_arxiv_id() -> None:
    by_id = {p.arxiv_id: p for p in load_demo_papers()}
    assert by_id["1506.03134"].published == date(2015, 6, 1)
    assert by_id["2311.13681"].published == date(2023, 11, 22)


def test_shipped_file_is_what_the_builder_makes_from_the_seed() -> None:
    assert read_demo_payload() == build_demo.build(SEED)
