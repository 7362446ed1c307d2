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
