"""Commands for one channel that run at the same moment lose nothing, on SQLite and on PostgreSQL.

Adapters acknowledge a command first and run it in the background, so two people (or a workflow and a retry)
can change one channel at once. Each test fires commands together through `Paperboy.execute` and checks that
the end state is one that some serial order of the same commands would have produced.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.commands import CommandContext, Schedule, Subscribe, Unsubscribe
from bot.core import Paperboy
from bot.domain import MAX_TOPICS, ChannelRef, ChannelSettings
from bot.replies import ErrorReply, Reply, ScheduleStatus, TopicList
from storage.search.index import open_index
from storage.sql import SqlStore
from tests.clock import FixedClock

CHANNEL = ChannelRef("slack", "T1", "C1")
FULL = (
    f"A channel can follow at most {MAX_TOPICS} topics; remove one first with /papers unsubscribe <number>."
)
PARIS_DAILY = "06:15 Europe/Paris daily"

Command = Subscribe | Unsubscribe | Schedule


@pytest.fixture
async def paperboy(store: SqlStore, tmp_path: Path) -> AsyncIterator[Paperboy]:
    """The core on the store under test; these commands never search, so the index stays empty."""
    index = await open_index(tmp_path / "index")
    try:
        yield Paperboy(store=store, index=index, clock=FixedClock(datetime(2026, 11, 26, 12, tzinfo=UTC)))
    finally:
        await index.close()


async def at_once(app: Paperboy, commands: Sequence[tuple[ChannelRef, Command]]) -> list[Reply]:
    """Run every command concurrently, as adapters do once they have acknowledged them; replies in order."""
    return list(
        await asyncio.gather(
            *(app.execute(CommandContext(channel, "U1"), command) for channel, command in commands)
        )
    )


def heading(reply: Reply) -> str:
    """What the channel reads first: the heading of a topic list, or the sentence of an error."""
    if isinstance(reply, TopicList):
        return reply.heading
    if isinstance(reply, ErrorReply):
        return reply.text
    raise AssertionError(f"unexpected reply {reply!r}")


def when(settings: ChannelSettings) -> tuple[int, int, str, bool]:
    """A channel's digest time: hour, minute, zone, and whether on weekdays only."""
    return (settings.hour, settings.minute, settings.timezone, settings.weekdays_only)


async def stored_topics(app: Paperboy, channel: ChannelRef = CHANNEL) -> list[str]:
    """The channel's topics as stored, in order."""
    return [topic.query for topic in await app.store.list_topics(channel)]


async def test_fifty_mixed_commands_at_once_end_as_some_serial_order_would(paperboy: Paperboy) -> None:
    distinct = [f"topic{n:02d}" for n in range(20)]
    duplicates = ["diffusion", "Diffusion", "DIFFUSION", "diffusion", "Diffusion", "diffusion"]
    commands: list[Command] = [Subscribe(text) for text in distinct + duplicates]
    commands += [Schedule(f"{PARIS_DAILY} papers 7"), Unsubscribe("topic03")]
    commands += [Schedule("off"), Schedule("on")] * 11
    # Interleaved, so that no kind of command gets a head start.
    commands = commands[::2] + commands[1::2]
    assert len(commands) == 50

    replies = await at_once(paperboy, [(CHANNEL, command) for command in commands])

    answers = list(zip(commands, replies, strict=True))
    subscribed = [c.query for c, r in answers if isinstance(c, Subscribe) and isinstance(r, TopicList)]
    removed = [c.query for c, r in answers if isinstance(c, Unsubscribe) and isinstance(r, TopicList)]
    told_duplicate = [
        r for r in replies if isinstance(r, ErrorReply) and "already follows 'diffusion'" in r.text.casefold()
    ]
    topics = await stored_topics(paperboy)
    settings = await paperboy.store.get_settings(CHANNEL)

    # What every serial order of these 50 commands gives, and what is checked here:
    # - each of the 20 distinct topics subscribes; of the six spellings of one topic, one subscribes and five
    #   are told the channel follows it already; no command gets the apology for a failure on our side;
    assert sorted(q for q in subscribed if q in distinct) == distinct
    assert len([q for q in subscribed if q.casefold() == "diffusion"]) == 1 and len(told_duplicate) == 5
    assert not [r for r in replies if isinstance(r, ErrorReply) and "went wrong" in r.text]
    # - the stored topics are exactly the subscribed ones less the one unsubscribed (when its unsubscribe
    #   came after its subscribe; before, it says the channel does not follow it), each once, at most 25;
    assert sorted(topics) == sorted(set(subscribed) - set(removed))
    assert len({t.casefold() for t in topics}) == len(topics) <= MAX_TOPICS
    # - the schedule's fields are set by one command only, so every serial order keeps all of them, and its
    #   reply shows them; off and on each set only the pause (resuming clears a reason, and none was given),
    #   and each of their replies shows the pause it asked for; which of them came last decides the end
    #   state's pause, and both ends are serial ones.
    assert settings is not None
    assert when(settings) == (6, 15, "Europe/Paris", False) and settings.digest_size == 7
    assert settings.pause_reason is None
    for command, reply in answers:
        if isinstance(command, Schedule):
            assert isinstance(reply, ScheduleStatus), reply
            if command.args in ("off", "on"):
                assert reply.settings.paused is (command.args == "off")
    assert [s.channel for s in await paperboy.store.list_channels()] == [CHANNEL]


async def test_thirty_six_subscribes_at_once_store_exactly_the_cap_none_twice(paperboy: Paperboy) -> None:
    wanted = [f"topic{n:02d}" for n in range(36)]

    replies = await at_once(paperboy, [(CHANNEL, Subscribe(text)) for text in wanted])

    topics = await stored_topics(paperboy)
    assert (len(topics), len(set(topics))) == (MAX_TOPICS, MAX_TOPICS)
    assert set(topics) <= set(wanted)
    answers = Counter("subscribed" if heading(r).startswith("Subscribed to") else heading(r) for r in replies)
    assert answers == {"subscribed": MAX_TOPICS, FULL: len(wanted) - MAX_TOPICS}


async def test_twenty_new_channels_getting_a_topic_and_a_schedule_at_once_keep_every_schedule(
    paperboy: Paperboy,
) -> None:
    channels = [ChannelRef("slack", "T1", f"C{n:02d}") for n in range(20)]
    commands: list[tuple[ChannelRef, Command]] = []
    for channel in channels:
        commands += [(channel, Subscribe("embeddings")), (channel, Schedule(PARIS_DAILY))]

    replies = await at_once(paperboy, commands)

    assert all(isinstance(r, TopicList | ScheduleStatus) for r in replies), replies
    kept = []
    for channel in channels:
        settings = await paperboy.store.get_settings(channel)
        assert settings is not None
        if when(settings) == (6, 15, "Europe/Paris", False):
            kept.append(channel)
        assert await stored_topics(paperboy, channel) == ["embeddings"]
    assert len(kept) == len(channels), f"{len(kept)} of {len(channels)} schedules kept"


async def test_a_pause_racing_subscribes_stays_paused(paperboy: Paperboy) -> None:
    channels = [ChannelRef("slack", "T1", f"C{n:02d}") for n in range(10)]
    commands: list[tuple[ChannelRef, Command]] = []
    for channel in channels:
        subscribes: list[tuple[ChannelRef, Command]] = [
            (channel, Subscribe(f"topic{n:02d}")) for n in range(10)
        ]
        # The pause in the middle: some subscribes start before it, some after.
        commands += [*subscribes[:5], (channel, Schedule("off")), *subscribes[5:]]

    replies = await at_once(paperboy, commands)

    assert all(isinstance(r, TopicList | ScheduleStatus) for r in replies), replies
    still_paused = []
    for channel in channels:
        settings = await paperboy.store.get_settings(channel)
        assert settings is not None
        if settings.paused:
            still_paused.append(channel)
        assert len(await stored_topics(paperboy, channel)) == 10
    assert still_paused == channels, f"{len(still_paused)} of {len(channels)} pauses kept"
