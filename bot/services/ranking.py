"""The trending formula, shared by `/papers trending` and the digest planner."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from bot.domain import Paper, ScoredPaper

# Documented in the README ("How trending is ranked"); change both together.
CHAT_VOTE_WEIGHT = 3.0
AGE_OFFSET_DAYS = 2.0
GRAVITY = 1.5


def trending_score(hf_upvotes: int, chat_votes: int, age_days: int) -> float:
    """(HF upvotes + 3 × chat votes + 1) / (age in days + 2) ^ 1.5: votes lift a paper, age lets it sink."""
    # float(): a float power is typed loosely (it could be complex), though these bases are positive.
    return float(
        (max(hf_upvotes, 0) + CHAT_VOTE_WEIGHT * chat_votes + 1.0)
        / (max(age_days, 0) + AGE_OFFSET_DAYS) ** GRAVITY
    )


def paper_age_days(paper: Paper, today: date) -> int:
    """Days since the paper was featured on Daily Papers (or published on arXiv), never negative."""
    day = paper.featured_on or paper.published or today
    return max((today - day).days, 0)


def rank_trending(papers: Iterable[Paper], votes: Mapping[str, int], today: date) -> list[ScoredPaper]:
    """Score and sort papers best first; ties go to more chat votes, more upvotes, then the newer arXiv id."""
    scored = [
        ScoredPaper(
            paper,
            trending_score(paper.hf_upvotes, votes.get(paper.arxiv_id, 0), paper_age_days(paper, today)),
            votes.get(paper.arxiv_id, 0),
        )
        for paper in papers
    ]
    scored.sort(
        key=lambda s: (-round(s.score, 9), -s.chat_votes, -s.paper.hf_upvotes, _descending(s.paper.arxiv_id))
    )
    return scored


def _descending(text: str) -> tuple[int, ...]:
    # Sort key that orders strings in reverse, so the newer arXiv id wins an exact tie.
    return tuple(-ord(ch) for ch in text)
