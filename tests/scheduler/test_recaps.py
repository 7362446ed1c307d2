"""Weekly recaps under a clock the test moves, on SQLite and PostgreSQL: once a week at the digest's hour on
the recap day, only with votes, each exactly once across ticks, restarts and a lost answer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.commands import CommandContext, ScheduleRecap
from bot.domain import MAX_TOPICS, ChannelRef, Vote, Workspace
from bot.render_text import render_text
from bot.replies import ScheduleStatus, TopPapers
from storage.sql import SqlStore
from storage.sql.tables import digests
from tests.scheduler.conftest import TODAY, World

FRIDAY_NINE = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)  # TODAY, a Friday: the default recap day
LOCAL = Workspace("console", "local")


def paper(offset: int, number: int) -> str:
    """A paper of the world's store: featured TODAY + `offset` days (0, 2 … 10), number 1 … 12."""
    return f"26{offset:02d}.{number:05d}"


class Voters:
    """Casts votes dated by the test's clock (the world's store dates them by the real one)."""

    def __init__(self, world: World) -> None:
        self.store = SqlStore(world.store.engine, clock=world.clock)
        self.clock = world.clock

    async def vote(self, arxiv_id: str, *users: str, at: datetime, workspace: Workspace = LOCAL) -> None:
        back = self.clock.now()
        self.clock.set(at)
        for user in users:
            await self.store.cast_vote(Vote(workspace.platform, workspace.workspace, user, arxiv_id))
        self.clock.set(back)


async def quiet_channel(world: World, name: str, **settings: object) -> ChannelRef:
    """A channel whose daily digest has nothing to post (its topic matches no paper): only recaps come."""
    ref = await world.channel(name, **settings)
    await world.store.subscribe_topic(ref, '"no paper says this"', limit=MAX_TOPICS)
    return ref


async def recap_digest_ids(world: World, channel: ChannelRef) -> list[int]:
    """The ids of a channel's recap digests, oldest first."""
    statement = (
        select(digests.c.id)
        .where(
            digests.c.platform == channel.platform,
            digests.c.workspace == channel.workspace,
            digests.c.channel == channel.channel,
            digests.c.kind == "recap",
        )
        .order_by(digests.c.id)
    )
    async with world.store.engine.connect() as conn:
        return [int(i) for i in (await conn.execute(statement)).scalars()]


async def recap_papers(world: World, channel: ChannelRef) -> list[str]:
    """The papers the channel's recap posted in its thread, in order."""
    [digest_id] = await recap_digest_ids(world, channel)
    return [str(d.arxiv_id) for d in await world.store.deliveries_of(digest_id) if d.arxiv_id]


async def test_the_recap_comes_once_on_its_day_at_the_digest_hour_with_the_weeks_top_papers(
    world: World,
) -> None:
    team = await quiet_channel(world, "team")
    voters = Voters(world)
    monday = FRIDAY_NINE - timedelta(days=4)
    await voters.vote(paper(0, 3), "ada", "bob", "cy", at=monday)
    await voters.vote(paper(0, 1), "ada", "bob", at=monday)
    await voters.vote(paper(0, 2), "ada", "bob", at=monday)  # ties 0.00001 on votes: fewer upvotes
    for n in range(4, 9):
        await voters.vote(paper(0, n), "ada", at=monday)
    await voters.vote(paper(2, 1), *(f"u{n}" for n in range(9)), at=FRIDAY_NINE - timedelta(days=8))
    await voters.vote(paper(2, 2), "late", at=FRIDAY_NINE + timedelta(minutes=1))

    world.clock.set(FRIDAY_NINE - timedelta(minutes=1))
    assert await world.tick() == 0
    world.clock.set(FRIDAY_NINE)
    posted = await world.tick()
    world.clock.set(FRIDAY_NINE + timedelta(hours=3))
    again = await world.tick()
    world.restart()
    after_restart = await world.tick()

    # Top five of the week, ties to more upvotes (0.00001 has more than 0.00002), then the newer id.
    assert await recap_papers(world, team) == [
        paper(0, 3),
        paper(0, 1),
        paper(0, 2),
        paper(0, 4),
        paper(0, 5),
    ]
    assert (posted, again, after_restart) == (6, 0, 0)
    messages = world.platform.in_channel(team)
    assert [m.thread_id for m in messages[1:]] == [messages[0].message_id] * 5
    [digest_id] = await recap_digest_ids(world, team)
    recap = await world.store.digest_recap(digest_id)
    assert recap is not None
    assert (recap.since, recap.until) == (FRIDAY_NINE - timedelta(days=7), FRIDAY_NINE)
    assert recap.voted == 8  # the paper voted for eight days ago and the one after the recap's moment aside


async def test_no_vote_this_week_means_no_recap_and_other_workspaces_votes_do_not_count(
    world: World,
) -> None:
    team = await quiet_channel(world, "team")
    voters = Voters(world)
    await voters.vote(
        paper(0, 1), "ada", at=FRIDAY_NINE - timedelta(days=2), workspace=Workspace("slack", "T9")
    )
    await voters.vote(paper(0, 2), "ada", at=FRIDAY_NINE - timedelta(days=7, minutes=1))

    world.clock.set(FRIDAY_NINE + timedelta(minutes=5))
    assert await world.tick() == 0
    assert world.platform.in_channel(team) == []
    assert await world.store.recap_keys(TODAY - timedelta(days=7), TODAY) == set()


async def test_a_recap_of_one_paper_is_a_single_message_and_off_or_another_day_sends_none(
    world: World,
) -> None:
    single = await quiet_channel(world, "single")
    off = await quiet_channel(world, "off", recap_day=None)
    monday = await quiet_channel(world, "monday", recap_day=0)
    await Voters(world).vote(paper(0, 7), "ada", "bob", at=FRIDAY_NINE - timedelta(days=1))

    world.clock.set(FRIDAY_NINE)
    assert await world.tick() == 1

    [message] = world.platform.in_channel(single)
    assert message.thread_id is None and message.arxiv_id is None
    # Reactions on that one message vote for its paper.
    assert await world.store.paper_for_message(single, message.message_id) == paper(0, 7)
    assert world.platform.in_channel(off) == [] and world.platform.in_channel(monday) == []


async def test_a_missed_recap_is_caught_up_that_day_only_and_a_changed_day_waits_a_week(world: World) -> None:
    late = await quiet_channel(world, "late", timezone="America/New_York")  # 09:00 there is 13:00 UTC
    voters = Voters(world)
    await voters.vote(paper(0, 1), "ada", at=FRIDAY_NINE - timedelta(days=1))

    world.clock.set(datetime(2026, 3, 28, 3, 59, tzinfo=UTC))  # 23:59 on Friday in New York
    assert await world.tick() == 1
    # The channel moves its recap to Saturday: not a second one the next day.
    await world.store.change_settings(late, {"recap_day": 5})
    await voters.vote(paper(0, 2), "bob", at=datetime(2026, 3, 28, 10, tzinfo=UTC))
    world.clock.set(datetime(2026, 3, 28, 14, 0, tzinfo=UTC))  # Saturday 10:00 in New York
    assert await world.tick() == 0
    # A week later it comes on the new day, summing up the week since the Saturday before.
    world.clock.set(datetime(2026, 4, 4, 14, 0, tzinfo=UTC))
    await voters.vote(paper(0, 3), "cy", at=datetime(2026, 4, 1, tzinfo=UTC))
    assert await world.tick() == 1
    assert len(world.platform.in_channel(late)) == 2


async def test_a_recap_whose_answer_was_lost_is_found_again_and_never_posted_twice(world: World) -> None:
    team = await quiet_channel(world, "team")
    voters = Voters(world)
    for number in (1, 2, 3):
        await voters.vote(
            paper(0, number), *(f"u{n}" for n in range(number)), at=FRIDAY_NINE - timedelta(days=1)
        )
    world.platform.lost_answers[str(team)] = 1  # the parent reaches the platform, its answer does not

    world.clock.set(FRIDAY_NINE)
    await world.tick()
    world.restart()
    world.clock.advance(minutes=5)
    await world.tick()

    messages = world.platform.in_channel(team)
    assert len(messages) == 4
    assert [m.thread_id for m in messages[1:]] == [messages[0].message_id] * 3
    assert await world.store.delivery_counts(team, TODAY) == {}  # the recap is not the daily digest
    [digest_id] = await recap_digest_ids(world, team)
    assert {d.state for d in await world.store.deliveries_of(digest_id)} == {"posted"}


async def test_top_and_the_recap_setting_through_the_core(world: World) -> None:
    team = await world.channel("team")
    voters = Voters(world)
    await voters.vote(paper(0, 5), "ada", "bob", at=FRIDAY_NINE - timedelta(days=3))
    await voters.vote(paper(0, 6), "ada", at=FRIDAY_NINE - timedelta(days=20))
    await voters.vote(
        paper(0, 9), *(f"x{n}" for n in range(5)), at=FRIDAY_NINE, workspace=Workspace("slack", "T1")
    )
    world.clock.set(FRIDAY_NINE)
    await world.tick()  # the daily digest shows papers in #team
    ctx = CommandContext(team, "ada")

    week = await world.paperboy.handle_text(ctx, "/papers top")
    every = await world.paperboy.handle_text(ctx, "/papers top all")
    saved = await world.paperboy.handle_text(ctx, "/papers schedule recap monday")
    refused = await world.paperboy.execute(CommandContext(team, "eve", can_manage=False), ScheduleRecap(None))

    assert isinstance(week, TopPapers) and [v.item.paper.arxiv_id for v in week.items] == [paper(0, 5)]
    assert isinstance(every, TopPapers)
    assert [(v.item.paper.arxiv_id, v.item.chat_votes) for v in every.items] == [
        (paper(0, 5), 2),
        (paper(0, 6), 1),
    ]
    assert render_text(week).splitlines()[:2] == [
        "Most voted papers of the week in this workspace",
        f"1. Paper number 5 on delivery [{paper(0, 5)}] — 2 votes",
    ]
    assert isinstance(saved, ScheduleStatus) and saved.settings.recap_day == 0
    assert "Weekly recap: Mondays at 09:00; next Mon 30 Mar 2026 09:00 UTC." in render_text(saved)
    assert "manage" in render_text(refused)


async def test_recaps_of_many_channels_are_planned_together(world: World) -> None:
    channels = [await quiet_channel(world, f"c{n}", hour=9 + n % 3) for n in range(30)]
    await Voters(world).vote(paper(0, 1), "ada", at=FRIDAY_NINE - timedelta(days=1))

    world.clock.set(FRIDAY_NINE + timedelta(hours=3))
    assert await world.tick() == 30
    assert all(len(world.platform.in_channel(c)) == 1 for c in channels)
