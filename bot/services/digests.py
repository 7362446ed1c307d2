"""Digest planning and delivery: which papers a channel gets for a local date, and posting them in order."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Protocol

from bot.domain import ChannelRef, ChannelSettings, Delivery, DigestPlan, ScoredPaper, Workspace
from bot.ports import SearchIndex, Store
from bot.query import parse_query
from bot.services.ranking import rank_trending

log = logging.getLogger(__name__)


class DigestPublisher(Protocol):
    """Posts a digest on one platform: a parent message, then each paper in its thread."""

    async def post_parent(self, plan: DigestPlan, delivery: Delivery) -> str:
        """Post the parent message; return its platform message id (the thread to reply in)."""
        ...

    async def post_paper(
        self, plan: DigestPlan, delivery: Delivery, item: ScoredPaper, thread_id: str
    ) -> str:
        """Post one paper in the digest's thread; return its platform message id."""
        ...


class DigestPlanner:
    """Decides what a channel's digest for a local date carries."""

    def __init__(self, store: Store, index: SearchIndex) -> None:
        self._store = store
        self._index = index

    async def plan(
        self, channel: ChannelRef, local_date: date, settings: ChannelSettings | None = None
    ) -> DigestPlan:
        """Papers featured in the look-back window, matching any topic (all when none), never posted here, best first."""
        settings = settings or await self._store.get_settings(channel) or ChannelSettings(channel)
        # Looking back a few days lets a paper that Hugging Face listed late still reach a digest.
        first = local_date - timedelta(days=settings.lookback_days)
        candidates = await self._store.papers_featured_between(first, local_date)
        posted = await self._store.posted_paper_ids(channel)
        candidates = [p for p in candidates if p.arxiv_id not in posted]
        topics = await self._store.list_topics(channel)
        if topics and candidates:
            ids = {p.arxiv_id for p in candidates}
            matched: set[str] = set()
            for topic in topics:
                hits = await self._index.search(
                    parse_query(topic.query), len(ids), restrict_to=ids, require_all_words=True
                )
                matched.update(arxiv_id for arxiv_id, _ in hits)
            candidates = [p for p in candidates if p.arxiv_id in matched]
        votes = await self._store.vote_counts(
            [p.arxiv_id for p in candidates], Workspace(channel.platform, channel.workspace)
        )
        ranked = rank_trending(candidates, votes, local_date)[: settings.digest_size]
        return DigestPlan(channel, local_date, tuple(t.query for t in topics), tuple(ranked))


class DigestDelivery:
    """Posts the pending deliveries of a digest, parent first, recording each platform message id."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def deliver(self, digest_id: int, plan: DigestPlan, publisher: DigestPublisher) -> int:
        """Post what is still pending; return how many messages were posted now."""
        deliveries = await self._store.deliveries_of(digest_id)
        items = {item.paper.arxiv_id: item for item in plan.papers}
        posted = 0
        thread_id: str | None = None
        for delivery in deliveries:
            if delivery.state == "posted":
                thread_id = thread_id or delivery.message_id
                continue
            if delivery.is_parent:
                thread_id = await publisher.post_parent(plan, delivery)
                await self._store.mark_posted(delivery.id, thread_id)
            else:
                item = items.get(delivery.arxiv_id or "")
                if item is None or thread_id is None:
                    log.warning("delivery %s has no paper or thread; skipped", delivery.id)
                    continue
                message_id = await publisher.post_paper(plan, delivery, item, thread_id)
                await self._store.mark_posted(delivery.id, message_id)
            posted += 1
        return posted
