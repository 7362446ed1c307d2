"""Small builders of domain objects for the storage tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from bot.domain import ChannelRef, DigestPlan, Paper, ScoredPaper
from tests.clock import FixedClock


def make_paper(arxiv_id: str, **fields: Any) -> Paper:
    """A paper with a title derived from its id, and whatever fields the test names."""
    fields.setdefault("title", f"Paper {arxiv_id}")
    return Paper(arxiv_id=arxiv_id, **fields)


def full_paper(*, withdrawn: bool = False) -> Paper:
    """A paper with every field set, for round trips through the store."""
    return make_paper(
        "2205.13147",
        title="Matryoshka Representation Learning",
        authors=["Aditya Kusupati", "Gantavya Bhatt"],
        abstract="Learned representations are a central component.",
        published=date(2022, 5, 26),
        featured_on=date(2024, 2, 1),
        hf_upvotes=42,
        num_comments=3,
        ai_summary="Nested embeddings.",
        ai_keywords=["embeddings", "nested"],
        github_repo="https://github.com/example/mrl",
        github_stars=0,
        project_page="https://example.org/mrl",
        organization="Example Lab",
        thumbnail="https://example.org/mrl.png",
        categories=["cs.LG", "cs.CV"],
        comment="NeurIPS 2022",
        journal_ref="NeurIPS 35",
        doi="10.48550/arXiv.2205.13147",
        withdrawn=withdrawn,
    )


def make_plan(
    channel: ChannelRef, local_date: date, *arxiv_ids: str, topics: tuple[str, ...] = ()
) -> DigestPlan:
    """A digest plan carrying the given papers, best first."""
    scored = tuple(
        ScoredPaper(make_paper(arxiv_id), score=float(len(arxiv_ids) - i))
        for i, arxiv_id in enumerate(arxiv_ids)
    )
    return DigestPlan(channel=channel, local_date=local_date, topics=topics, papers=scored)


def fixed_clock() -> FixedClock:
    """The tests' clock at Monday 2025-03-03 09:00 UTC; the test moves it by hand (`clock.moment += ...`)."""
    return FixedClock(datetime(2025, 3, 3, 9, 0, tzinfo=UTC))
