"""Digest planning and delivery: which papers a channel gets for a local date, and posting them in order."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, timedelta

from bot.domain import ChannelRef, ChannelSettings, DigestPlan, Paper, Topic, Workspace, default_settings
from bot.ports import SearchIndex, SemanticIndex, Store
from bot.query import SearchQuery, parse_query
from bot.services.delivery import DeliveryEngine
from bot.services.pacing import DeliveryPolicy
from bot.services.publishing import CheckingPublisher, DigestPublisher
from bot.services.ranking import rank_trending
from bot.services.search import filters_of, has_filters, meaning_text

log = logging.getLogger(__name__)

__all__ = ["CheckingPublisher", "DigestDelivery", "DigestPlanner", "DigestPublisher"]


class DigestPlanner:
    """Decides what a channel's digest for a local date carries."""

    def __init__(self, store: Store, index: SearchIndex, semantic: SemanticIndex | None = None) -> None:
        self._store = store
        self._index = index
        self._semantic = semantic

    async def plan(
        self, channel: ChannelRef, local_date: date, settings: ChannelSettings | None = None
    ) -> DigestPlan:
        """Papers featured in the look-back window, matching any topic (all when none), never posted here, best first."""
        settings = settings or await self._store.get_settings(channel) or default_settings(channel)
        [plan] = await self.plan_many([(settings, local_date)])
        return plan

    async def plan_many(self, wanted: Sequence[tuple[ChannelSettings, date]]) -> list[DigestPlan]:
        """The plans of many channels at once (the scheduler's tick), with a handful of queries in all."""
        # Looking back a few days lets a paper that Hugging Face listed late still reach a digest.
        windows: dict[tuple[date, date], list[Paper]] = {}
        for settings, local_date in wanted:
            window = (local_date - timedelta(days=settings.lookback_days), local_date)
            if window not in windows:
                windows[window] = await self._store.papers_featured_between(*window)
        channels = [settings.channel for settings, _ in wanted]
        candidates_anywhere = {p.arxiv_id for papers in windows.values() for p in papers}
        posted = await self._store.posted_paper_ids_of(channels, candidates_anywhere)
        topics = await self._store.topics_of(channels)
        votes: dict[tuple[Workspace, date, date], dict[str, int]] = {}
        plans = []
        for settings, local_date in wanted:
            channel = settings.channel
            window = (local_date - timedelta(days=settings.lookback_days), local_date)
            seen = posted.get(channel, set())
            candidates = [p for p in windows[window] if p.arxiv_id not in seen]
            queries = topics.get(channel, [])
            if queries and candidates:
                candidates = await self._matching(candidates, queries)
            workspace = Workspace(channel.platform, channel.workspace)
            if (workspace, *window) not in votes:
                ids = [p.arxiv_id for p in windows[window]]
                votes[(workspace, *window)] = await self._store.vote_counts(ids, workspace)
            ranked = rank_trending(candidates, votes[(workspace, *window)], local_date)[
                : settings.digest_size
            ]
            plans.append(DigestPlan(channel, local_date, tuple(t.query for t in queries), tuple(ranked)))
        return plans

    async def _matching(self, candidates: list[Paper], topics: Sequence[Topic]) -> list[Paper]:
        """The candidates that match any of the topics, by all their words or (when on) by meaning."""
        ids = {p.arxiv_id for p in candidates}
        matched: set[str] = set()
        for topic in topics:
            query = parse_query(topic.query)
            hits = await self._index.search(query, len(ids), restrict_to=ids, require_all_words=True)
            matched.update(arxiv_id for arxiv_id, _ in hits)
            matched.update(await self._matching_by_meaning(query, ids - matched))
        return [p for p in candidates if p.arxiv_id in matched]

    async def _matching_by_meaning(self, query: SearchQuery, ids: set[str]) -> set[str]:
        """Among `ids`, the papers close enough in meaning to the topic's words that also pass its filters."""
        text = meaning_text(query)
        if self._semantic is None or not text or not ids:
            return set()
        threshold = self._semantic.topic_similarity
        cosines = await self._semantic.cosines(text, ids)
        close = sorted(i for i, cosine in cosines.items() if cosine >= threshold)
        if close and has_filters(query):
            # A topic's phrases, exclusions and filters hold for papers matched by meaning too.
            close = [i for i, _ in await self._index.search(filters_of(query), len(close), restrict_to=close)]
        return set(close)


class DigestDelivery:
    """Posts a digest's deliveries in order through the delivery engine, recording each platform message id.

    The same engine serves `/papers digest` (here) and the scheduler, so that both share its claims, leases,
    pacing and retries. Without one, it posts as fast as each publisher allows (the publishers wait out
    rate limits themselves); the scheduler service of `paperboy run` installs the deployment's paced engine.
    """

    def __init__(self, store: Store, engine: DeliveryEngine | None = None) -> None:
        self.engine = engine or DeliveryEngine(store, policy=DeliveryPolicy(paces={}))

    async def deliver(self, digest_id: int, plan: DigestPlan, publisher: DigestPublisher) -> int:
        """Post what is still to post now; return how many messages were posted. Failures are raised."""
        return await self.engine.deliver_now(digest_id, plan, publisher)
