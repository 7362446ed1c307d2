"""Chat votes: one per person and paper on each platform and workspace, cast and retracted idempotently."""

from __future__ import annotations

from bot.domain import Vote, Workspace
from bot.ports import Store


class VoteBook:
    """Counts the votes people cast in chat."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def cast(self, vote: Vote) -> bool:
        """Count a vote; False when this person had already voted for the paper here."""
        return await self._store.cast_vote(vote)

    async def retract(self, vote: Vote) -> bool:
        """Take a vote back; False when there was none."""
        return await self._store.retract_vote(vote)

    async def toggle(self, vote: Vote) -> bool:
        """Cast the vote, or retract it when it exists (buttons); return whether it now stands."""
        if await self._store.has_vote(vote):
            await self._store.retract_vote(vote)
            return False
        await self._store.cast_vote(vote)
        return True

    async def count(self, arxiv_id: str, workspace: Workspace | None) -> int:
        """Votes for one paper in one workspace (None: everywhere)."""
        return (await self._store.vote_counts([arxiv_id], workspace)).get(arxiv_id, 0)
