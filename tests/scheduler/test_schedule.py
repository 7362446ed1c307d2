"""The schedule under a clock the test moves: zones, daylight saving, weekends, missed hours and restarts."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.domain import ChannelRef, ChannelSettings
from bot.services.due_digests import channel_statuses
from tests.scheduler.conftest import TODAY, World, synthetic_papers


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


async def test_nothing_is_posted_before_the_local_hour_and_everything_once_after(world: World) -> None:
    berlin = await world.channel("berlin", hour=9, timezone="Europe/Berlin")
    world.clock.set(utc(2026, 3, 27, 7, 59))  # 08:59 in Berlin (CET, UTC+1)
    assert await world.tick() == 0
    world.clock.set(utc(2026, 3, 27, 8, 0))  # 09:00 in Berlin
    assert await world.tick() == 4
    world.clock.set(utc(2026, 3, 27, 8, 1))
    assert await world.tick() == 0

    messages = world.platform.in_channel(berlin)
    parent, papers = messages[0], messages[1:]
    assert parent.thread_id is None
    assert [m.thread_id for m in papers] == [parent.message_id] * 3
    assert (await world.store.delivery_counts(berlin, date(2026, 3, 27))) == {"posted": 4}


async def test_channels_in_different_zones_get_their_digest_at_their_own_hour(world: World) -> None:
    tokyo = await world.channel("tokyo", hour=9, timezone="Asia/Tokyo")
    new_york = await world.channel("new-york", hour=9, timezone="America/New_York")

    world.clock.set(utc(2026, 3, 26, 23, 59))  # 08:59 on the 27th in Tokyo, 19:59 on the 26th in New York
    await world.tick()
    assert world.platform.in_channel(tokyo) == []
    assert await world.store.has_digest(new_york, date(2026, 3, 26))

    world.clock.set(utc(2026, 3, 27, 0, 0))  # 09:00 in Tokyo
    await world.tick()
    assert await world.store.has_digest(tokyo, date(2026, 3, 27))
    world.clock.set(utc(2026, 3, 27, 12, 59))  # 08:59 in New York (EDT since 8 March)
    await world.tick()
    assert not await world.store.has_digest(new_york, date(2026, 3, 27))
    world.clock.set(utc(2026, 3, 27, 13, 0))
    await world.tick()
    assert await world.store.has_digest(new_york, date(2026, 3, 27))
    assert len(world.platform.in_channel(new_york)) == 8
    assert len(world.platform.in_channel(tokyo)) == 4


async def test_an_hour_skipped_by_daylight_saving_posts_right_after_the_gap_once(world: World) -> None:
    # 29 March 2026, Berlin: 02:00 CET jumps to 03:00 CEST, so 02:30 never happens that night.
    night = await world.channel("night-owls", hour=2, minute=30, timezone="Europe/Berlin")
    world.clock.set(utc(2026, 3, 29, 0, 59))  # 01:59 CET
    assert await world.tick() == 0
    world.clock.set(utc(2026, 3, 29, 1, 29))  # 03:29 CEST
    assert await world.tick() == 0
    world.clock.set(utc(2026, 3, 29, 1, 30))  # 03:30 CEST: what 02:30 became
    assert await world.tick() == 4
    for minutes in (1, 60, 600):
        world.clock.set(utc(2026, 3, 29, 1, 30) + timedelta(minutes=minutes))
        assert await world.tick() == 0
    assert len([m for m in world.platform.in_channel(night) if m.thread_id is None]) == 1


async def test_an_hour_that_happens_twice_when_clocks_go_back_posts_once(world: World) -> None:
    autumn = date(2026, 10, 25)  # Berlin: 03:00 CEST goes back to 02:00 CET, so 02:30 happens twice
    await world.paperboy.ingest(synthetic_papers(autumn, 12, prefix="2610"))
    night = await world.channel("night-owls", hour=2, minute=30, timezone="Europe/Berlin")
    world.clock.set(utc(2026, 10, 25, 0, 29))  # 02:29 CEST
    assert await world.tick() == 0
    world.clock.set(utc(2026, 10, 25, 0, 30))  # 02:30 CEST, the first time
    assert await world.tick() == 4
    world.clock.set(utc(2026, 10, 25, 1, 30))  # 02:30 CET, the second time
    assert await world.tick() == 0
    assert len([m for m in world.platform.in_channel(night) if m.thread_id is None]) == 1


async def test_weekday_channels_skip_the_weekend(world: World) -> None:
    office = await world.channel("office", hour=9, timezone="UTC", weekdays_only=True)
    every_day = await world.channel("every-day", hour=9, timezone="UTC", weekdays_only=False)
    for day in (28, 29):  # Saturday and Sunday
        world.clock.set(utc(2026, 3, day, 10, 0))
        await world.tick()
    assert world.platform.in_channel(office) == []
    assert len([m for m in world.platform.in_channel(every_day) if m.thread_id is None]) == 2
    world.clock.set(utc(2026, 3, 30, 10, 0))  # Monday
    await world.tick()
    assert len([m for m in world.platform.in_channel(office) if m.thread_id is None]) == 1


async def test_a_missed_hour_is_caught_up_the_same_day_but_a_missed_day_is_not_posted_later(
    world: World,
) -> None:
    channel = await world.channel("late", hour=9, timezone="UTC")
    # Nothing ran at 09:00; the process comes back at 15:00 the same day.
    world.clock.set(utc(2026, 3, 27, 15, 0))
    assert await world.tick() == 4
    # Down the whole next day; back on the 29th at 00:30, before that day's hour.
    world.clock.set(utc(2026, 3, 29, 0, 30))
    assert await world.tick() == 0
    assert not await world.store.has_digest(channel, date(2026, 3, 28))
    world.clock.set(utc(2026, 3, 29, 9, 0))
    assert await world.tick() == 4
    assert await world.store.has_digest(channel, date(2026, 3, 29))
    assert not await world.store.has_digest(channel, date(2026, 3, 28))


async def test_a_restart_after_the_hour_never_posts_the_day_twice(world: World) -> None:
    channel = await world.channel("restarts", hour=9, timezone="UTC")
    world.clock.set(utc(2026, 3, 27, 9, 0))
    assert await world.tick() == 4
    world.restart()
    world.clock.set(utc(2026, 3, 27, 9, 5))
    assert await world.tick() == 0
    world.restart()
    world.clock.set(utc(2026, 3, 27, 23, 59))
    assert await world.tick() == 0
    assert len(world.platform.in_channel(channel)) == 4


async def test_a_restart_between_queueing_and_posting_posts_the_queued_digest_once(world: World) -> None:
    channel = await world.channel("queued", hour=9, timezone="UTC")
    world.clock.set(utc(2026, 3, 27, 9, 0))
    report = await world.scheduler.tick({"console"})  # queued, then the process dies before delivering
    assert report.created == 1
    assert world.platform.posted == []
    world.restart()
    world.clock.set(utc(2026, 3, 27, 9, 30))
    assert await world.tick() == 4
    assert len(world.platform.in_channel(channel)) == 4
    assert (await world.store.delivery_counts(channel, date(2026, 3, 27))) == {"posted": 4}


async def test_paused_channels_and_platforms_without_an_adapter_get_nothing(world: World) -> None:
    paused = await world.channel("paused", hour=9, paused=True, pause_reason="bot removed")
    elsewhere = ChannelRef("slack", "T1", "C1")
    await world.store.save_settings(ChannelSettings(elsewhere, hour=9, weekdays_only=False))
    world.clock.set(utc(2026, 3, 27, 10, 0))
    assert await world.tick() == 0
    assert not await world.store.has_digest(paused, date(2026, 3, 27))
    assert not await world.store.has_digest(elsewhere, date(2026, 3, 27))


async def test_a_day_with_nothing_new_is_looked_at_again_later_that_day(world: World) -> None:
    channel = await world.channel("niche", hour=9, timezone="UTC")
    await world.paperboy.topics.subscribe(channel, "quantum chromodynamics")
    world.clock.set(utc(2026, 3, 27, 9, 0))
    assert await world.tick() == 0
    assert not await world.store.has_digest(channel, date(2026, 3, 27))

    lattice = synthetic_papers(TODAY, 1, prefix="2699")[0]
    lattice.title = "Quantum chromodynamics on the lattice"
    await world.paperboy.ingest([lattice])
    world.clock.set(utc(2026, 3, 27, 9, 10))  # too soon to look again
    assert await world.tick() == 0
    world.clock.set(utc(2026, 3, 27, 9, 45))
    assert await world.tick() == 2
    assert [m.arxiv_id for m in world.platform.in_channel(channel)] == [None, lattice.arxiv_id]


async def test_a_channel_whose_zone_cannot_be_loaded_is_paused_with_its_reason_and_the_others_go_on(
    world: World,
) -> None:
    # Zones that loaded where they were set but not on this machine: unknown here, a folder of the zone data.
    first = await world.channel("a-first", hour=9, timezone="UTC")
    unknown = await world.channel("b-unknown", hour=9, timezone="Mars/Olympus_Mons")
    folder = await world.channel("c-folder", hour=9, timezone="America")
    last = await world.channel("d-last", hour=9, timezone="Europe/Berlin")

    world.clock.set(utc(2026, 3, 27, 9, 30))
    assert await world.tick() == 8

    assert len(world.platform.in_channel(first)) == 4
    assert len(world.platform.in_channel(last)) == 4
    for channel, zone in ((unknown, "Mars/Olympus_Mons"), (folder, "America")):
        settings = await world.store.get_settings(channel)
        assert settings is not None
        assert settings.paused
        assert settings.pause_reason == (
            f"The time zone {zone!r} cannot be loaded on this server, so digests are paused; set the schedule "
            "again with a zone, e.g. /papers schedule 09:00 Europe/Berlin."
        )
        assert world.platform.in_channel(channel) == []

    world.clock.set(utc(2026, 3, 28, 9, 30))
    assert await world.tick() == 8  # the next day as well; the paused channels stay quiet
    statuses = {status.channel: status for status in await channel_statuses(world.store, world.clock)}
    assert statuses[unknown].next_run is None
    assert statuses[unknown].settings.pause_reason is not None
    assert statuses[first].next_run == utc(2026, 3, 29, 9, 0)
