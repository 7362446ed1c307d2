"""The leaderboard and weekly recaps in the store, on SQLite and PostgreSQL: votes by time and workspace, recaps
as digests of their own kind, and where each paper was shown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.domain import (
    SHOWN_AS_CARD,
    SHOWN_AS_LINK,
    ChannelRef,
    DigestPlan,
    PaperShowing,
    ScoredPaper,
    Vote,
    WeekRecap,
    Workspace,
)
from storage.sql.store import SqlStore, open_store
from tests.clock import FixedClock
from tests.storage.factories import make_paper, make_plan

LAB = Workspace("slack", "T1")
OTHER_LAB = Workspace("slack", "T2")
GENERAL = ChannelRef("slack", "T1", "C1")
READING = ChannelRef("slack", "T1", "C2")
FRIDAY = date(2026, 3, 27)
NOON = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOON)


@pytest.fixture
async def clocked(database_url: str, clock: FixedClock) -> AsyncIterator[SqlStore]:
    """A store whose votes and messages are dated by the test's clock."""
    opened = await open_store(database_url, clock=clock)
    try:
        await opened.upsert_papers(
            [
                make_paper("2603.00001", hf_upvotes=5),
                make_paper("2603.00002", hf_upvotes=50),
                make_paper("2603.00003", hf_upvotes=50),
                make_paper("2603.00004", hf_upvotes=1),
                make_paper("2603.00005", hf_upvotes=1),
            ]
        )
        yield opened
    finally:
        await opened.close()


async def vote(store: SqlStore, workspace: Workspace, arxiv_id: str, *users: str) -> None:
    for user in users:
        assert await store.cast_vote(Vote(workspace.platform, workspace.workspace, user, arxiv_id))


def recap_plan(channel: ChannelRef, day: date, *ranking: tuple[str, int]) -> DigestPlan:
    """A recap plan of the given (paper, votes) ranking."""
    until = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
    recap = WeekRecap(until - timedelta(days=7), until, tuple(ranking), shared=7, voted=len(ranking))
    items = tuple(ScoredPaper(make_paper(i), 0.0, votes) for i, votes in ranking)
    return DigestPlan(channel, day, (), items, recap=recap)


async def test_most_voted_counts_only_the_window_and_breaks_ties_like_trending(
    clocked: SqlStore, clock: FixedClock
) -> None:
    clock.set(NOON - timedelta(days=20))
    await vote(clocked, LAB, "2603.00001", "u1", "u2", "u3", "u4")
    clock.set(NOON - timedelta(days=2))
    await vote(clocked, LAB, "2603.00002", "u1", "u2")
    await vote(clocked, LAB, "2603.00003", "u1", "u2")
    await vote(clocked, LAB, "2603.00004", "u1", "u2")
    await vote(clocked, LAB, "2603.00001", "u5")

    week = await clocked.most_voted(LAB, NOON - timedelta(days=7), None, 10)
    every = await clocked.most_voted(LAB, None, None, 2)

    # Two votes each: more upvotes first (00002 and 00003 have 50), then the newer id.
    assert week == [("2603.00003", 2), ("2603.00002", 2), ("2603.00004", 2), ("2603.00001", 1)]
    assert every == [("2603.00001", 5), ("2603.00003", 2)]
    assert await clocked.count_voted(LAB, NOON - timedelta(days=7), NOON) == 4
    assert await clocked.count_voted(LAB, NOON - timedelta(days=30), NOON - timedelta(days=7)) == 1


async def test_one_workspace_never_sees_another_workspaces_votes(clocked: SqlStore) -> None:
    await vote(clocked, OTHER_LAB, "2603.00005", *(f"other{n}" for n in range(9)))
    await vote(clocked, Workspace("discord", "T1"), "2603.00004", "d1", "d2")
    await vote(clocked, LAB, "2603.00001", "u1")

    assert await clocked.most_voted(LAB, None, None, 10) == [("2603.00001", 1)]
    assert await clocked.most_voted(OTHER_LAB, None, None, 10) == [("2603.00005", 9)]
    assert await clocked.most_voted(None, None, None, 1) == [("2603.00005", 9)]
    assert await clocked.count_voted(LAB, NOON - timedelta(days=1), NOON + timedelta(days=1)) == 1


async def test_a_recap_and_the_daily_digest_of_one_date_are_two_digests_each_made_once(
    clocked: SqlStore,
) -> None:
    daily = make_plan(GENERAL, FRIDAY, "2603.00001", "2603.00002")
    recap = recap_plan(GENERAL, FRIDAY, ("2603.00003", 4), ("2603.00001", 2))

    first = await clocked.create_digests([daily, recap])
    again = await clocked.create_digests([recap])

    assert first[0] is not None and first[1] is not None and first[0] != first[1]
    assert again == [None] and await clocked.create_digest(recap) is None
    assert await clocked.digest_recap(first[1]) == recap.recap
    assert await clocked.digest_recap(first[0]) is None
    assert await clocked.recap_keys(FRIDAY - timedelta(days=6), FRIDAY) == {(GENERAL, FRIDAY)}
    assert await clocked.recap_keys(FRIDAY, FRIDAY, channel=GENERAL) == {(GENERAL, FRIDAY)}
    assert await clocked.recap_keys(FRIDAY, FRIDAY, channel=READING) == set()
    # What the daily schedule asks about is the daily digest alone.
    assert await clocked.digest_keys({FRIDAY}) == {(GENERAL, FRIDAY)}
    assert await clocked.delivery_counts(GENERAL, FRIDAY) == {"pending": 3}
    assert [d.arxiv_id for d in await clocked.deliveries_of(first[1])] == [None, "2603.00003", "2603.00001"]


async def test_a_recap_of_one_paper_is_one_message_that_counts_reactions_for_it(clocked: SqlStore) -> None:
    recap = recap_plan(GENERAL, FRIDAY, ("2603.00002", 3))
    digest_id = await clocked.create_digest(recap)
    assert digest_id is not None

    [parent] = await clocked.deliveries_of(digest_id)
    await clocked.mark_posted(parent.id, "1774600000.000100")

    assert parent.is_parent
    assert await clocked.paper_for_message(GENERAL, "1774600000.000100") == "2603.00002"
    # A recap shows again what the week shared: it is not counted as shared, nor as a place it was shown.
    assert await clocked.shared_counts([GENERAL], NOON - timedelta(days=1), NOON + timedelta(days=1)) == {}
    assert await clocked.showings_of(LAB, ["2603.00002"]) == {}


async def test_showings_say_where_a_paper_was_shown_and_count_per_channel_and_week(
    clocked: SqlStore, clock: FixedClock
) -> None:
    clock.set(NOON - timedelta(days=10))
    await clocked.remember_message(READING, "old", "2603.00004", via=SHOWN_AS_CARD)
    clock.set(NOON - timedelta(hours=5))
    digest_id = await clocked.create_digest(make_plan(GENERAL, FRIDAY, "2603.00001"))
    assert digest_id is not None
    parent, reply = await clocked.deliveries_of(digest_id)
    await clocked.mark_posted(parent.id, "p1")
    # Discord remembers a digest reply in its thread too, as the publisher posts it.
    await clocked.remember_message(ChannelRef("slack", "T1", "THREAD"), "r1", "2603.00001")
    await clocked.mark_posted(reply.id, "r1")
    await clocked.remember_message(READING, "card1", "2603.00001", via=SHOWN_AS_CARD)
    await clocked.remember_message(READING, "link1", "2603.00002")
    await clocked.remember_message(ChannelRef("slack", "T2", "C1"), "elsewhere", "2603.00001")
    # A person's own digest by DM is theirs: the team's list of where a paper was shown never names it.
    await clocked.remember_message(ChannelRef.person("slack", "T1", "U7"), "dm1", "2603.00002")

    shown = await clocked.showings_of(LAB, ["2603.00001", "2603.00002", "2603.00005"])
    counts = await clocked.shared_counts([GENERAL, READING], NOON - timedelta(days=7), NOON)

    assert shown == {
        "2603.00001": [PaperShowing("C1", "digest"), PaperShowing("C2", SHOWN_AS_CARD)],
        "2603.00002": [PaperShowing("C2", SHOWN_AS_LINK)],
    }
    assert counts == {GENERAL: 1, READING: 2}
