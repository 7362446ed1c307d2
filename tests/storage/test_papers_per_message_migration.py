"""Migration 0007 on SQLite and PostgreSQL: a message may show several papers (a posted message with several
links votes for each), the messages stored before come through with their paper and `via`, and the way back
keeps each message's first paper."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import inspect, text

from bot.domain import SHOWN_AS_LINK, SHOWN_IN_DIGEST, ChannelRef, Workspace
from storage.sql.engine import create_engine_for
from storage.sql.migrate import downgrade_database, upgrade_database
from storage.sql.store import open_store
from tests.clock import FixedClock
from tests.storage.factories import make_paper

GENERAL = ChannelRef("slack", "T1", "C1")


async def write_at_0006(url: str) -> None:
    """A digest reply's message and a shared message, one paper each, as 0006 stores them (plain SQL)."""
    engine = create_engine_for(url)
    try:
        async with engine.begin() as conn:
            now: object = datetime(2026, 11, 20, 9, tzinfo=UTC)
            if conn.dialect.name == "sqlite":
                now = "2026-11-20 09:00:00"
            for message, arxiv_id, via in (("ts1", "2611.00001", "digest"), ("ts2", "2611.00002", "link")):
                await conn.execute(
                    text(
                        "INSERT INTO paper_messages (platform, workspace, channel, message_id, arxiv_id, "
                        "created_at, via) VALUES ('slack', 'T1', 'C1', :message, :arxiv_id, :now, :via)"
                    ),
                    {"message": message, "arxiv_id": arxiv_id, "now": now, "via": via},
                )
    finally:
        await engine.dispose()


async def primary_key(url: str) -> list[str]:
    """The columns of paper_messages' primary key."""
    engine = create_engine_for(url)
    try:
        async with engine.connect() as conn:
            found = await conn.run_sync(lambda sync: inspect(sync).get_pk_constraint("paper_messages"))
        return list(found["constrained_columns"])
    finally:
        await engine.dispose()


async def test_after_0007_a_message_shows_several_papers_and_older_rows_keep_theirs(
    database_url: str,
) -> None:
    await downgrade_database(database_url, "base")
    await upgrade_database(database_url, "0006")
    await write_at_0006(database_url)

    await upgrade_database(database_url)

    assert await primary_key(database_url) == ["platform", "workspace", "channel", "message_id", "arxiv_id"]
    store = await open_store(database_url, migrate=False)
    try:
        await store.upsert_papers(
            [make_paper("2611.00001"), make_paper("2611.00002"), make_paper("2611.00003")]
        )
        assert await store.papers_for_message(GENERAL, "ts1") == ["2611.00001"]
        await store.remember_message(GENERAL, "ts2", "2611.00003")
        await store.remember_message(GENERAL, "ts2", "2611.00003")  # told twice: one row
        assert await store.papers_for_message(GENERAL, "ts2") == ["2611.00002", "2611.00003"]
        shown = await store.showings_of(Workspace("slack", "T1"), ["2611.00001", "2611.00003"])
        assert [s.via for s in shown["2611.00001"]] == [SHOWN_IN_DIGEST]
        assert [s.via for s in shown["2611.00003"]] == [SHOWN_AS_LINK]  # the column's default came through
    finally:
        await store.close()


async def test_going_back_to_0006_keeps_each_messages_first_paper_and_up_again_works(
    database_url: str,
) -> None:
    await upgrade_database(database_url)
    clock = FixedClock(datetime(2026, 11, 20, 9, tzinfo=UTC))
    store = await open_store(database_url, migrate=False, clock=clock)
    try:
        await store.remember_message(GENERAL, "ts9", "2611.00005")
        await store.remember_message(GENERAL, "ts9", "2611.00004")  # the same moment: the lower id stays
        await store.remember_message(GENERAL, "ts8", "2611.00007")
        clock.advance(seconds=1)
        await store.remember_message(GENERAL, "ts8", "2611.00006")  # a second later: the older row stays
    finally:
        await store.close()

    await downgrade_database(database_url, "0006")

    assert await primary_key(database_url) == ["platform", "workspace", "channel", "message_id"]
    engine = create_engine_for(database_url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text("SELECT message_id, arxiv_id FROM paper_messages ORDER BY message_id")
                )
            ).all()
    finally:
        await engine.dispose()
    assert [tuple(row) for row in rows] == [("ts8", "2611.00007"), ("ts9", "2611.00004")]
    await upgrade_database(database_url)
    assert await primary_key(database_url) == ["platform", "workspace", "channel", "message_id", "arxiv_id"]
