"""Where a platform delivers a target (a Slack person's D… conversation), on SQLite and PostgreSQL: kept with
the target's settings, untouched by their changes, forgotten only while still the one stored, gone with them;
and migration 0008, which adds it, both ways."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import inspect, text

from bot.domain import ChannelRef, ChannelSettings, Workspace
from bot.ports import SettingsChange
from storage.sql.engine import create_engine_for
from storage.sql.migrate import downgrade_database, upgrade_database
from storage.sql.store import SqlStore, open_store

ADA = ChannelRef.person("slack", "T1", "U-ada")
BOB = ChannelRef.person("slack", "T1", "U-bob")
ADA_ELSEWHERE = ChannelRef.person("slack", "T2", "U-ada")
GENERAL = ChannelRef("slack", "T1", "C1")


async def test_a_remembered_address_reads_back_and_a_new_one_replaces_it(store: SqlStore) -> None:
    for target in (ADA, BOB, ADA_ELSEWHERE):
        await store.enrol(target, SettingsChange())
    assert await store.address_of(ADA) is None

    await store.remember_address(ADA, "D0ADA")
    await store.remember_address(BOB, "D0BOB")
    await store.remember_address(ADA, "D0ADA")  # told again: nothing changes

    assert (await store.address_of(ADA), await store.address_of(BOB)) == ("D0ADA", "D0BOB")
    assert await store.address_of(ADA_ELSEWHERE) is None  # another workspace, another conversation
    await store.remember_address(ADA, "D1ADA")
    assert await store.address_of(ADA) == "D1ADA"


async def test_a_target_without_settings_keeps_no_address(store: SqlStore) -> None:
    await store.remember_address(ADA, "D0ADA")

    assert await store.address_of(ADA) is None
    assert await store.get_settings(ADA) is None  # remembering an address enrols no one
    assert await store.list_channels() == []


async def test_settings_changes_keep_the_address_and_the_address_changes_no_setting(store: SqlStore) -> None:
    await store.enrol(ADA, SettingsChange(timezone="Europe/Berlin"))
    before = await store.get_settings(ADA)
    await store.remember_address(ADA, "D0ADA")
    assert await store.get_settings(ADA) == before

    await store.change_settings(ADA, SettingsChange(hour=6, paused=True, pause_reason="why"))
    await store.subscribe_topic(ADA, "retrieval", limit=25)
    await store.save_settings(ChannelSettings(ADA, hour=9, timezone="Asia/Tokyo"))

    assert await store.address_of(ADA) == "D0ADA"


async def test_forgetting_an_address_spares_one_that_replaced_it(store: SqlStore) -> None:
    await store.enrol(ADA, SettingsChange())
    await store.remember_address(ADA, "D1ADA")

    # Another process found D0ADA stale after this one had stored D1ADA: D1ADA stays.
    await store.forget_address(ADA, "D0ADA")
    assert await store.address_of(ADA) == "D1ADA"

    await store.forget_address(ADA, "D1ADA")
    assert await store.address_of(ADA) is None
    assert await store.get_settings(ADA) is not None  # the settings stay; only the address goes


async def test_concurrent_remembering_leaves_one_of_the_addresses_told(store: SqlStore) -> None:
    await store.enrol(ADA, SettingsChange())

    await asyncio.gather(*(store.remember_address(ADA, f"D{n}ADA") for n in range(8)))

    assert await store.address_of(ADA) in {f"D{n}ADA" for n in range(8)}


async def test_the_address_goes_with_the_person_and_with_the_workspace(store: SqlStore) -> None:
    for target in (ADA, BOB, ADA_ELSEWHERE):
        await store.enrol(target, SettingsChange())
        await store.remember_address(target, f"D-{target.workspace}-{target.user}")

    await store.delete_person(ADA)
    await store.enrol(ADA, SettingsChange())  # back again: the old conversation is not assumed
    assert await store.address_of(ADA) is None
    assert await store.address_of(BOB) == "D-T1-U-bob"

    await store.delete_workspace(Workspace("slack", "T1"))
    assert (await store.address_of(ADA), await store.address_of(BOB)) == (None, None)
    assert await store.address_of(ADA_ELSEWHERE) == "D-T2-U-ada"


# ----- migration 0008 -----


async def _columns(url: str) -> list[str]:
    engine = create_engine_for(url)
    try:
        async with engine.connect() as conn:
            found = await conn.run_sync(lambda sync: inspect(sync).get_columns("channel_settings"))
        return [str(column["name"]) for column in found]
    finally:
        await engine.dispose()


async def test_0008_adds_an_empty_address_to_every_target_and_going_back_keeps_their_settings(
    database_url: str,
) -> None:
    await downgrade_database(database_url, "0007")
    assert "address" not in await _columns(database_url)
    engine = create_engine_for(database_url)
    try:
        async with engine.begin() as conn:
            # A person's target as 0007 stores it (plain SQL: the code's tables have the new column).
            now: object = datetime(2026, 12, 1, 8, tzinfo=UTC)
            if conn.dialect.name == "sqlite":
                now = "2026-12-01 08:00:00"
            await conn.execute(
                text(
                    "INSERT INTO channel_settings (platform, workspace, channel, hour, minute, timezone, "
                    "weekdays_only, digest_size, lookback_days, paused, pause_reason, updated_at, recap_day) "
                    "VALUES ('slack', 'T1', '@U-ada', 8, 0, 'UTC', true, 5, 2, false, NULL, :now, NULL)"
                ),
                {"now": now},
            )
    finally:
        await engine.dispose()

    await upgrade_database(database_url)

    store = await open_store(database_url, migrate=False)
    try:
        assert await store.address_of(ADA) is None
        await store.remember_address(ADA, "D0ADA")
        assert await store.address_of(ADA) == "D0ADA"
        settings = await store.get_settings(ADA)
    finally:
        await store.close()
    assert settings is not None and (settings.hour, settings.weekdays_only) == (8, True)

    await downgrade_database(database_url, "0007")
    assert "address" not in await _columns(database_url)
    await upgrade_database(database_url)
    store = await open_store(database_url, migrate=False)
    try:
        assert await store.get_settings(ADA) == settings  # the way down kept the row
        assert await store.address_of(ADA) is None  # and the next delivery asks Slack again
    finally:
        await store.close()
