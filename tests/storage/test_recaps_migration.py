"""Migration 0006 on SQLite and PostgreSQL: digests, their deliveries and remembered messages come through
whole (SQLite copies the digests table), each channel gets Friday's recap, and the way back drops recaps only."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import text

from bot.domain import SHOWN_AS_CARD, ChannelRef, PaperShowing, Workspace
from storage.sql.engine import create_engine_for
from storage.sql.migrate import downgrade_database, upgrade_database
from storage.sql.store import open_store
from tests.storage.factories import make_paper, make_plan
from tests.storage.test_recaps_and_top import recap_plan

GENERAL = ChannelRef("slack", "T1", "C1")
DAY = date(2026, 11, 20)


async def write_at_0005(url: str) -> None:
    """A channel, a digest with three deliveries (two posted), its messages and a shared card, in plain SQL."""
    engine = create_engine_for(url)
    try:
        async with engine.begin() as conn:
            now: object = datetime(2026, 11, 20, 9, tzinfo=UTC)
            if conn.dialect.name == "sqlite":
                now = "2026-11-20 09:00:00"
            await conn.execute(
                text(
                    "INSERT INTO channel_settings (platform, workspace, channel, hour, minute, timezone, "
                    "weekdays_only, digest_size, lookback_days, paused, updated_at) "
                    "VALUES ('slack', 'T1', 'C1', 9, 0, 'UTC', true, 10, 3, false, :now)"
                ),
                {"now": now},
            )
            await conn.execute(
                text(
                    "INSERT INTO digests (id, platform, workspace, channel, local_date, topics, created_at) "
                    "VALUES (7, 'slack', 'T1', 'C1', :day, '[]', :now)"
                ),
                {"day": DAY, "now": now},
            )
            for position, arxiv_id, state, message in (
                (0, None, "posted", "ts0"),
                (1, "2611.00001", "posted", "ts1"),
                (2, "2611.00002", "pending", None),
            ):
                await conn.execute(
                    text(
                        "INSERT INTO deliveries (id, digest_id, platform, workspace, channel, position, "
                        "arxiv_id, state, message_id, attempts) VALUES (:id, 7, 'slack', 'T1', 'C1', "
                        ":position, :arxiv_id, :state, :message, 1)"
                    ),
                    {
                        "id": 40 + position,
                        "position": position,
                        "arxiv_id": arxiv_id,
                        "state": state,
                        "message": message,
                    },
                )
            for message, arxiv_id in (("ts1", "2611.00001"), ("card", "2611.00003")):
                await conn.execute(
                    text(
                        "INSERT INTO paper_messages (platform, workspace, channel, message_id, arxiv_id, "
                        "created_at) VALUES ('slack', 'T1', 'C1', :message, :arxiv_id, :now)"
                    ),
                    {"message": message, "arxiv_id": arxiv_id, "now": now},
                )
    finally:
        await engine.dispose()


async def test_upgrading_to_0006_keeps_every_delivery_and_tells_digest_messages_from_cards(
    database_url: str,
) -> None:
    await downgrade_database(database_url, "base")
    await upgrade_database(database_url, "0005")
    await write_at_0005(database_url)

    await upgrade_database(database_url)

    store = await open_store(database_url, migrate=False)
    try:
        deliveries = await store.deliveries_of(7)
        settings = await store.get_settings(GENERAL)
        shown = await store.showings_of(Workspace("slack", "T1"), ["2611.00001", "2611.00003"])
        # The old digest is a daily one: the same date cannot get a second, but it can get a recap.
        again = await store.create_digest(make_plan(GENERAL, DAY, "2611.00004"))
    finally:
        await store.close()
    assert [(d.id, d.position, d.state, d.message_id) for d in deliveries] == [
        (40, 0, "posted", "ts0"),
        (41, 1, "posted", "ts1"),
        (42, 2, "pending", None),
    ]
    assert settings is not None and settings.recap_day == 4
    assert shown == {
        "2611.00001": [PaperShowing("C1", "digest")],
        "2611.00003": [PaperShowing("C1", SHOWN_AS_CARD)],
    }
    assert again is None


async def test_downgrading_past_0006_drops_recaps_and_keeps_daily_digests(database_url: str) -> None:
    await upgrade_database(database_url)
    store = await open_store(database_url)
    try:
        await store.upsert_papers([make_paper("2611.00001"), make_paper("2611.00002")])
        daily = await store.create_digest(make_plan(GENERAL, DAY, "2611.00001", "2611.00002"))
        recap = await store.create_digest(recap_plan(GENERAL, DAY, ("2611.00001", 2), ("2611.00002", 1)))
    finally:
        await store.close()
    assert daily is not None and recap is not None

    await downgrade_database(database_url, "0005")
    engine = create_engine_for(database_url)
    try:
        async with engine.connect() as conn:
            digests = (await conn.execute(text("SELECT id FROM digests"))).scalars().all()
            deliveries = (
                (await conn.execute(text("SELECT digest_id FROM deliveries ORDER BY position")))
                .scalars()
                .all()
            )
    finally:
        await engine.dispose()
    await upgrade_database(database_url)

    assert list(digests) == [daily]
    assert list(deliveries) == [daily, daily, daily]
