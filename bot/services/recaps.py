"""Weekly recaps and the leaderboard: the papers a workspace voted for most, and when a channel's recap is due.

A recap is a digest of its own kind (`DigestPlan.recap`), keyed by the local date it is posted on, so that the
delivery engine posts it exactly once with the same claims, leases, attempts and look-ups as a daily digest.
It sums up the votes cast since the previous recap's moment (the same weekday and hour a week before, in the
channel's zone) until its own: consecutive recaps cover every vote once, whenever the tick actually runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta

from bot.domain import (
    ChannelRef,
    ChannelSettings,
    DigestPlan,
    Paper,
    ScoredPaper,
    VotedPaper,
    WeekRecap,
    Workspace,
)
from bot.ports import Store
from bot.schedule import channel_zone, local_run_time

RECAP_SIZE = 5
TOP_LIMIT = 10
# The leaderboard's windows: the last 7 or 30 days, or every vote ever cast (None).
TOP_WINDOW_DAYS: dict[str, int | None] = {"week": 7, "month": 30, "all": None}
WEEK = timedelta(days=7)


def recap_due_date(settings: ChannelSettings, now: datetime) -> date | None:
    """The local date whose recap is due at `now` (its day and hour have come today), or None.

    ZoneUnavailable when the channel's zone cannot be loaded (the daily schedule pauses the channel for it).
    """
    if settings.paused or settings.recap_day is None:
        return None
    local_now = now.astimezone(channel_zone(settings))
    today = local_now.date()
    if today.weekday() != settings.recap_day:
        return None
    return today if local_now >= local_run_time(settings, today) else None


def recap_window(settings: ChannelSettings, day: date) -> tuple[datetime, datetime]:
    """The votes a recap posted on `day` sums up: from the previous recap's moment until its own (UTC)."""
    until = local_run_time(settings, day).astimezone(UTC)
    since = local_run_time(settings, day - WEEK).astimezone(UTC)
    return since, until


def next_recap(settings: ChannelSettings, now: datetime, *, done_today: bool = False) -> datetime | None:
    """When the channel's next recap comes after `now` (None when paused or off)."""
    if settings.paused or settings.recap_day is None:
        return None
    local_now = now.astimezone(channel_zone(settings))
    for offset in range(8):
        day = local_now.date() + timedelta(days=offset)
        if day.weekday() != settings.recap_day:
            continue
        if offset == 0 and done_today:
            continue
        # Today's moment, even when it passed: the recap is due then, at the scheduler's next tick.
        return local_run_time(settings, day)
    return None


def top_since(window: str, now: datetime) -> datetime | None:
    """The first moment a leaderboard window counts votes from (None: every vote)."""
    days = TOP_WINDOW_DAYS[window]
    return None if days is None else now - timedelta(days=days)


class Leaderboard:
    """The papers a workspace voted for most, with their votes and where they were shown there."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def top(
        self,
        workspace: Workspace | None,
        since: datetime | None,
        until: datetime | None = None,
        *,
        limit: int = TOP_LIMIT,
    ) -> list[VotedPaper]:
        """The most voted papers of a period, best first (ties as in trending); every workspace when None."""
        ranking = await self._store.most_voted(workspace, since, until, limit)
        ids = [arxiv_id for arxiv_id, _ in ranking]
        papers = await self._store.get_papers(ids)
        shown = await self._store.showings_of(workspace, ids) if workspace is not None and ids else {}
        return [
            VotedPaper(ScoredPaper(papers[arxiv_id], float(votes), votes), tuple(shown.get(arxiv_id, ())))
            for arxiv_id, votes in ranking
            if arxiv_id in papers
        ]


class RecapPlanner:
    """Decides what each due recap carries: a handful of queries for many channels at once."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def plan_many(self, wanted: Sequence[tuple[ChannelSettings, date]]) -> list[DigestPlan | None]:
        """One plan per (channel, recap date); None for a channel whose workspace cast no vote that week."""
        windows = [recap_window(settings, day) for settings, day in wanted]
        # Channels of one zone and hour share a window: one count of shown papers per window, and one
        # ranking per workspace and window.
        by_window: dict[tuple[datetime, datetime], list[ChannelRef]] = {}
        for (settings, _), window in zip(wanted, windows, strict=True):
            by_window.setdefault(window, []).append(settings.channel)
        shared: dict[tuple[ChannelRef, datetime], int] = {}
        for (since, until), channels in by_window.items():
            for channel, count in (await self._store.shared_counts(channels, since, until)).items():
                shared[(channel, until)] = count
        rankings: dict[tuple[Workspace, datetime], tuple[list[tuple[str, int]], int]] = {}
        for (settings, _), (since, until) in zip(wanted, windows, strict=True):
            workspace = Workspace(settings.channel.platform, settings.channel.workspace)
            if (workspace, until) not in rankings:
                ranking = await self._store.most_voted(workspace, since, until, RECAP_SIZE)
                voted = await self._store.count_voted(workspace, since, until) if ranking else 0
                rankings[(workspace, until)] = (ranking, voted)
        ids = {arxiv_id for ranking, _ in rankings.values() for arxiv_id, _ in ranking}
        papers = await self._store.get_papers(ids)
        plans: list[DigestPlan | None] = []
        for (settings, day), (since, until) in zip(wanted, windows, strict=True):
            channel = settings.channel
            ranking, voted = rankings[(Workspace(channel.platform, channel.workspace), until)]
            ranking = [(arxiv_id, votes) for arxiv_id, votes in ranking if arxiv_id in papers]
            if not ranking:
                plans.append(None)
                continue
            recap = WeekRecap(since, until, tuple(ranking), shared.get((channel, until), 0), voted)
            plans.append(recap_plan(channel, day, recap, papers))
        return plans


def recap_plan(channel: ChannelRef, day: date, recap: WeekRecap, papers: Mapping[str, Paper]) -> DigestPlan:
    """The digest plan of a recap: its ranking's papers (those still stored), each with the week's votes."""
    items = tuple(
        ScoredPaper(papers[arxiv_id], float(votes), votes)
        for arxiv_id, votes in recap.ranking
        if arxiv_id in papers
    )
    return DigestPlan(channel, day, (), items, recap=recap)


async def rebuild_recap_plan(store: Store, channel: ChannelRef, day: date, recap: WeekRecap) -> DigestPlan:
    """The plan of a recap created elsewhere (or before a restart), from what its digest row kept."""
    papers = await store.get_papers([arxiv_id for arxiv_id, _ in recap.ranking])
    return recap_plan(channel, day, recap, papers)
