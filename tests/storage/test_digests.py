"""Digests and deliveries on SQLite and PostgreSQL: one digest a channel and local date, parent first."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from sqlalchemy import update

from bot.domain import DELIVERY_FAILED, DELIVERY_PENDING, DELIVERY_POSTED, ChannelRef
from storage.sql.store import SqlStore, open_store
from storage.sql.tables import deliveries
from tests.storage.factories import fixed_clock, make_plan

GENERAL = ChannelRef("slack", "T1", "C1")
OTHER_TEAM_GENERAL = ChannelRef("slack", "T2", "C1")
MONDAY = date(2025, 3, 3)
TUESDAY = date(2025, 3, 4)


async def test_a_digest_has_a_pending_parent_and_one_delivery_per_paper(store: SqlStore) -> None:
    digest_id = await store.create_digest(
        make_plan(GENERAL, MONDAY, "2501.00001", "2501.00002", topics=("retrieval",))
    )

    assert digest_id is not None
    found = await store.deliveries_of(digest_id)
    assert [(d.position, d.arxiv_id, d.state) for d in found] == [
        (0, None, DELIVERY_PENDING),
        (1, "2501.00001", DELIVERY_PENDING),
        (2, "2501.00002", DELIVERY_PENDING),
    ]
    assert found[0].is_parent and not found[1].is_parent
    assert all(d.channel == GENERAL and d.local_date == MONDAY and d.digest_id == digest_id for d in found)
    assert all(d.message_id is None and d.attempts == 0 for d in found)


async def test_a_second_digest_for_the_same_date_is_refused_quietly(store: SqlStore) -> None:
    first = await store.create_digest(make_plan(GENERAL, MONDAY, "2501.00001"))

    second = await store.create_digest(make_plan(GENERAL, MONDAY, "2501.00002"))

    assert first is not None and second is None
    assert await store.posted_paper_ids(GENERAL) == {"2501.00001"}


async def test_other_dates_and_other_workspaces_get_their_own_digest(store: SqlStore) -> None:
    monday = await store.create_digest(make_plan(GENERAL, MONDAY, "2501.00001"))
    tuesday = await store.create_digest(make_plan(GENERAL, TUESDAY, "2501.00002"))
    elsewhere = await store.create_digest(make_plan(OTHER_TEAM_GENERAL, MONDAY, "2501.00003"))

    assert None not in (monday, tuesday, elsewhere)
    assert len({monday, tuesday, elsewhere}) == 3


async def test_racing_digests_for_one_date_make_exactly_one(store: SqlStore) -> None:
    results = await asyncio.gather(
        *(store.create_digest(make_plan(GENERAL, MONDAY, f"2501.0000{n}")) for n in range(6))
    )

    made = [digest_id for digest_id in results if digest_id is not None]
    assert len(made) == 1
    assert len(await store.deliveries_of(made[0])) == 2
    assert len(await store.posted_paper_ids(GENERAL)) == 1


async def test_an_empty_plan_still_records_the_day(store: SqlStore) -> None:
    digest_id = await store.create_digest(make_plan(GENERAL, MONDAY))

    assert digest_id is not None
    assert [d.position for d in await store.deliveries_of(digest_id)] == [0]
    assert await store.create_digest(make_plan(GENERAL, MONDAY, "2501.00001")) is None


async def test_posted_paper_ids_cover_every_digest_of_the_channel_only(store: SqlStore) -> None:
    await store.create_digest(make_plan(GENERAL, MONDAY, "2501.00001", "2501.00002"))
    await store.create_digest(make_plan(GENERAL, TUESDAY, "2501.00003"))
    await store.create_digest(make_plan(OTHER_TEAM_GENERAL, MONDAY, "2501.00004"))

    assert await store.posted_paper_ids(GENERAL) == {"2501.00001", "2501.00002", "2501.00003"}
    assert await store.posted_paper_ids(OTHER_TEAM_GENERAL) == {"2501.00004"}
    assert await store.posted_paper_ids(ChannelRef("discord", "T1", "C1")) == set()


async def test_failed_deliveries_do_not_count_as_posted(store: SqlStore) -> None:
    digest_id = await store.create_digest(make_plan(GENERAL, MONDAY, "2501.00001", "2501.00002"))
    assert digest_id is not None
    async with store.engine.begin() as conn:
        await conn.execute(
            update(deliveries).where(deliveries.c.arxiv_id == "2501.00002").values(state=DELIVERY_FAILED)
        )

    assert await store.posted_paper_ids(GENERAL) == {"2501.00001"}


async def test_marking_posted_records_the_message_and_links_it_to_its_paper(store: SqlStore) -> None:
    digest_id = await store.create_digest(make_plan(GENERAL, MONDAY, "2501.00001"))
    assert digest_id is not None
    parent, paper = await store.deliveries_of(digest_id)

    await store.mark_posted(parent.id, "1700000000.000100")
    await store.mark_posted(paper.id, "1700000000.000200")

    after = await store.deliveries_of(digest_id)
    assert [(d.state, d.message_id) for d in after] == [
        (DELIVERY_POSTED, "1700000000.000100"),
        (DELIVERY_POSTED, "1700000000.000200"),
    ]
    assert await store.paper_for_message(GENERAL, "1700000000.000200") == "2501.00001"
    assert await store.paper_for_message(GENERAL, "1700000000.000100") is None
    assert await store.paper_for_message(OTHER_TEAM_GENERAL, "1700000000.000200") is None


async def test_marking_an_unknown_delivery_changes_nothing(store: SqlStore) -> None:
    await store.mark_posted(987654, "M1")

    assert await store.paper_for_message(GENERAL, "M1") is None


async def test_remembering_a_message_twice_keeps_one_link(store: SqlStore) -> None:
    await store.remember_message(GENERAL, "M1", "2501.00001")
    await store.remember_message(GENERAL, "M1", "2501.00001")

    assert await store.paper_for_message(GENERAL, "M1") == "2501.00001"
    assert await store.paper_for_message(GENERAL, "M2") is None
    assert await store.paper_for_message(ChannelRef("slack", "T1", "C9"), "M1") is None


async def test_has_digest_names_the_channel_and_the_local_date(store: SqlStore) -> None:
    await store.create_digest(make_plan(GENERAL, MONDAY, "2501.00001"))

    assert await store.has_digest(GENERAL, MONDAY) is True
    assert await store.has_digest(GENERAL, TUESDAY) is False
    assert await store.has_digest(OTHER_TEAM_GENERAL, MONDAY) is False


async def test_last_posted_at_is_the_latest_posting_of_the_channel(database_url: str) -> None:
    clock = fixed_clock()
    store = await open_store(database_url, clock=clock)
    try:
        assert await store.last_posted_at(GENERAL) is None
        digest_id = await store.create_digest(make_plan(GENERAL, MONDAY, "2501.00001", "2501.00002"))
        assert digest_id is not None
        parent, first, _ = await store.deliveries_of(digest_id)
        await store.mark_posted(parent.id, "M0")
        clock.moment += timedelta(seconds=1)
        await store.mark_posted(first.id, "M1")

        assert await store.last_posted_at(GENERAL) == clock.moment
        assert await store.last_posted_at(OTHER_TEAM_GENERAL) is None
    finally:
        await store.close()
