"""Votes in the SQL store: one person's vote for one paper in one workspace, counted per paper."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import delete, desc, func, literal, select

from bot.domain import Bookmark, Vote, Workspace
from storage.sql.base import StorePart, affected, chunks, of_workspace
from storage.sql.papers import paper_from_row
from storage.sql.tables import papers, votes
from storage.sql.transactions import transaction


def _is_vote(vote: Vote) -> Any:
    """A WHERE clause naming one vote by its whole primary key."""
    return (
        (votes.c.platform == vote.platform)
        & (votes.c.workspace == vote.workspace)
        & (votes.c.user_id == vote.user)
        & (votes.c.arxiv_id == vote.arxiv_id)
    )


class VoteRows(StorePart):
    """The votes table: the store's `VoteRepository`."""

    async def cast_vote(self, vote: Vote) -> bool:
        """Record the vote; False when it was already there (also when two casts race)."""
        statement = (
            self._insert(votes)
            .values(
                platform=vote.platform,
                workspace=vote.workspace,
                user_id=vote.user,
                arxiv_id=vote.arxiv_id,
                created_at=self._now(),
            )
            .on_conflict_do_nothing(index_elements=["platform", "workspace", "user_id", "arxiv_id"])
        )
        async with transaction(self.engine, write=True) as conn:
            return affected(await conn.execute(statement)) > 0

    async def retract_vote(self, vote: Vote) -> bool:
        """Remove the vote; False when there was none."""
        async with transaction(self.engine, write=True) as conn:
            return affected(await conn.execute(delete(votes).where(_is_vote(vote)))) > 0

    async def has_vote(self, vote: Vote) -> bool:
        """True when this person has voted for this paper in this workspace."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(literal(1)).where(_is_vote(vote)))).first()
        return row is not None

    async def vote_counts(self, arxiv_ids: Collection[str], workspace: Workspace | None) -> dict[str, int]:
        """Votes per paper in one workspace, or everywhere when `workspace` is None; zero counts left out."""
        counts: dict[str, int] = {}
        async with self.engine.connect() as conn:
            for chunk in chunks(list(dict.fromkeys(arxiv_ids))):
                statement = select(votes.c.arxiv_id, func.count()).where(votes.c.arxiv_id.in_(chunk))
                if workspace is not None:
                    statement = statement.where(of_workspace(votes, workspace))
                for arxiv_id, count in await conn.execute(statement.group_by(votes.c.arxiv_id)):
                    counts[arxiv_id] = int(count)
        return counts

    def _cast_between(
        self, workspace: Workspace | None, since: datetime | None, until: datetime | None
    ) -> list[Any]:
        """WHERE clauses for the votes of a workspace (None: every one) cast in [since, until)."""
        clauses: list[Any] = []
        if workspace is not None:
            clauses.append(of_workspace(votes, workspace))
        if since is not None:
            clauses.append(votes.c.created_at >= since)
        if until is not None:
            clauses.append(votes.c.created_at < until)
        return clauses

    async def most_voted(
        self, workspace: Workspace | None, since: datetime | None, until: datetime | None, limit: int
    ) -> list[tuple[str, int]]:
        """The stored papers with the most votes cast in [since, until) (None: no bound), best first.

        Ties go to more Hugging Face upvotes, then the newer arXiv id, as in trending; ids compare byte by
        byte on both databases (PostgreSQL's "C" collation), as Python compares them.
        """
        # Count first (from the covering index alone), then join the counted papers for the tie-break.
        counted = (
            select(votes.c.arxiv_id, func.count().label("votes"))
            .where(*self._cast_between(workspace, since, until))
            .group_by(votes.c.arxiv_id)
            .subquery()
        )
        arxiv_id = counted.c.arxiv_id
        newest_first = desc(arxiv_id.collate("C") if self._dialect == "postgresql" else arxiv_id)
        statement = (
            select(arxiv_id, counted.c.votes)
            .join(papers, papers.c.arxiv_id == arxiv_id)
            .order_by(counted.c.votes.desc(), papers.c.hf_upvotes.desc(), newest_first)
            .limit(max(0, limit))
        )
        async with self.engine.connect() as conn:
            return [(str(row[0]), int(row[1])) for row in await conn.execute(statement)]

    async def count_voted(self, workspace: Workspace, since: datetime, until: datetime) -> int:
        """How many papers got at least one vote in [since, until) in a workspace."""
        statement = select(func.count(votes.c.arxiv_id.distinct())).where(
            *self._cast_between(workspace, since, until)
        )
        async with self.engine.connect() as conn:
            return int((await conn.execute(statement)).scalar_one())

    def _of_person(self, workspace: Workspace, user: str, since: datetime | None) -> Any:
        """A WHERE clause for one person's votes in a workspace, since a moment when given."""
        clause = of_workspace(votes, workspace) & (votes.c.user_id == user)
        return clause if since is None else clause & (votes.c.created_at >= since)

    async def votes_of(
        self, workspace: Workspace, user: str, since: datetime | None, limit: int | None
    ) -> list[Bookmark]:
        """The stored papers one person voted for in a workspace since `since`, newest vote first."""
        statement = (
            select(papers, votes.c.created_at.label("voted_at"))
            .join(papers, papers.c.arxiv_id == votes.c.arxiv_id)
            .where(self._of_person(workspace, user, since))
            .order_by(desc(votes.c.created_at), desc(votes.c.arxiv_id))
            .limit(limit)
        )
        async with self.engine.connect() as conn:
            return [Bookmark(paper_from_row(row), row.voted_at) for row in await conn.execute(statement)]

    async def count_votes_of(self, workspace: Workspace, user: str, since: datetime | None) -> int:
        """How many stored papers one person voted for in a workspace since `since` (None: ever)."""
        statement = (
            select(func.count())
            .select_from(votes.join(papers, papers.c.arxiv_id == votes.c.arxiv_id))
            .where(self._of_person(workspace, user, since))
        )
        async with self.engine.connect() as conn:
            return int((await conn.execute(statement)).scalar_one())
