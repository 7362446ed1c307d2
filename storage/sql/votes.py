"""Votes in the SQL store: one person's vote for one paper in one workspace, counted per paper."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import delete, func, literal, select

from bot.domain import Vote, Workspace
from storage.sql.base import StorePart, affected, chunks, of_workspace
from storage.sql.tables import votes
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
