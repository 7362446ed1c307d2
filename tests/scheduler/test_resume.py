"""A digest given up when its channel was paused is finished, in its own thread, once the channel runs again."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.commands import CommandContext
from bot.domain import ChannelRef
from tests.scheduler.conftest import Posted, World
from tests.scheduler.test_delivery import assert_each_once

DAY = date(2026, 3, 27)
NINE = datetime(2026, 3, 27, 9, 0, tzinfo=UTC)
# 09:00 of the 27th in Auckland (UTC+13 in March) is 20:00 UTC of the 26th.
NINE_IN_AUCKLAND = datetime(2026, 3, 26, 20, 0, tzinfo=UTC)


async def half_posted(world: World, moment: datetime, timezone: str = "UTC") -> ChannelRef:
    """A channel due at `moment` (09:00 in `timezone`) whose platform goes down after the parent and the first
    paper: the engine gives up after its attempts and pauses the channel, the thread half posted."""
    world.restart(max_attempts=2)
    world.clock.set(moment)
    channel = await world.channel("c1", timezone=timezone)

    def platform_goes_down(message: Posted) -> None:
        if len(world.platform.in_channel(channel)) == 2:
            world.platform.failures[str(channel)] = 100

    world.platform.on_post = platform_goes_down
    await world.tick()
    assert (await world.paperboy.schedules.get(channel)).paused
    assert await world.store.delivery_counts(channel, DAY) == {"posted": 2, "failed": 2}
    world.platform.on_post = None
    world.platform.failures.clear()  # the platform takes messages again
    return channel


async def schedule(world: World, channel: ChannelRef, args: str) -> None:
    await world.paperboy.handle_text(CommandContext(channel=channel, user="ada"), f"schedule {args}")


async def test_schedule_on_finishes_today_s_digest_where_it_stopped_without_doubles(world: World) -> None:
    channel = await half_posted(world, NINE)
    world.clock.advance(hours=2)

    before = len(world.platform.events)

    await schedule(world, channel, "on")
    assert await world.tick() == 2

    assert_each_once(world.platform, [channel])  # one parent, its three papers in its thread
    assert await world.store.delivery_counts(channel, DAY) == {"posted": 4}
    # The paper whose attempts failed may have reached the platform: it was looked for before it was posted;
    # the last one, never attempted, was simply posted.
    assert world.platform.events[before:] == [f"look {channel}", f"post {channel}", f"post {channel}"]


async def test_a_paused_channel_s_digest_stays_given_up(world: World) -> None:
    channel = await half_posted(world, NINE)
    world.clock.advance(hours=2)

    assert await world.tick() == 0
    assert await world.store.delivery_counts(channel, DAY) == {"posted": 2, "failed": 2}


async def test_yesterday_s_digest_is_not_resumed_the_next_day(world: World) -> None:
    channel = await half_posted(world, NINE)
    world.clock.set(datetime(2026, 3, 28, 8, 0, tzinfo=UTC))  # before the next day's digest is due

    await schedule(world, channel, "on")
    assert await world.tick() == 0
    assert await world.store.delivery_counts(channel, DAY) == {"posted": 2, "failed": 2}


async def test_today_is_the_channel_s_own_today(world: World) -> None:
    channel = await half_posted(world, NINE_IN_AUCKLAND, "Pacific/Auckland")
    world.clock.set(datetime(2026, 3, 26, 22, 0, tzinfo=UTC))  # the 26th in UTC, 11:00 of the 27th there

    await schedule(world, channel, "on")
    assert await world.tick() == 2
    assert_each_once(world.platform, [channel])


async def test_a_digest_of_the_day_before_in_the_channel_s_zone_is_not_resumed(world: World) -> None:
    channel = await half_posted(world, NINE_IN_AUCKLAND, "Pacific/Auckland")
    world.clock.set(datetime(2026, 3, 27, 11, 30, tzinfo=UTC))  # the 27th in UTC, 00:30 of the 28th there

    await schedule(world, channel, "on")
    assert await world.tick() == 0
    assert await world.store.delivery_counts(channel, DAY) == {"posted": 2, "failed": 2}
