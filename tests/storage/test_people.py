"""A person's own things in the store, on SQLite and PostgreSQL: their digest target's enrolment, forgetting
them, their votes as a reading list, and their 25-topic cap under concurrent commands."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.commands import CommandContext, ForMe, Subscribe
from bot.core import Paperboy
from bot.domain import (
    MAX_TOPICS,
    PERSON_DEFAULT_HOUR,
    ChannelRef,
    ChannelSettings,
    Vote,
    Workspace,
    default_settings,
)
from bot.ports import PersonalData, SettingsChange
from bot.replies import ErrorReply, TopicList
from storage.search.index import open_index
from storage.sql.store import SqlStore, open_store
from tests.clock import FixedClock
from tests.storage.factories import make_paper, make_plan

ADA = ChannelRef.person("slack", "T1", "U-ada")
BOB = ChannelRef.person("slack", "T1", "U-bob")
ADA_ELSEWHERE = ChannelRef.person("slack", "T2", "U-ada")
ADA_ON_DISCORD = ChannelRef.person("discord", "T1", "U-ada")
GENERAL = ChannelRef("slack", "T1", "C1")
LAB = Workspace("slack", "T1")
DAY = date(2025, 3, 3)
NOON = datetime(2025, 3, 3, 12, 0, tzinfo=UTC)
PAPERS = [f"2503.0000{n}" for n in range(1, 8)]


# ----- enrol -----


async def test_enrol_gives_a_new_person_the_personal_defaults_and_the_change_on_top(store: SqlStore) -> None:
    assert await store.enrol(ADA, SettingsChange(timezone="Europe/Berlin")) is True

    settings = await store.get_settings(ADA)
    assert settings == ChannelSettings(
        ADA, hour=PERSON_DEFAULT_HOUR, timezone="Europe/Berlin", recap_day=None
    )
    # A person's digest comes at 08:00 on weekdays, with no weekly recap (that is the team's).
    assert (settings.hour, settings.minute, settings.weekdays_only, settings.recap_day) == (8, 0, True, None)


async def test_enrol_leaves_a_known_target_untouched(store: SqlStore) -> None:
    await store.enrol(ADA, SettingsChange())
    await store.change_settings(ADA, SettingsChange(hour=6, minute=45, paused=True, pause_reason="why"))
    before = await store.get_settings(ADA)

    assert await store.enrol(ADA, SettingsChange(timezone="Asia/Tokyo", hour=8)) is False

    assert await store.get_settings(ADA) == before


async def test_enrol_of_a_channel_gives_the_channels_defaults(store: SqlStore) -> None:
    assert await store.enrol(GENERAL, SettingsChange()) is True

    assert await store.get_settings(GENERAL) == default_settings(GENERAL) == ChannelSettings(GENERAL)


async def test_concurrent_first_enrolments_make_one_row_with_the_defaults(store: SqlStore) -> None:
    results = await asyncio.gather(
        *(store.enrol(ADA, SettingsChange(timezone="America/Chicago")) for _ in range(12))
    )

    assert sorted(results) == [False] * 11 + [True]
    assert [s.channel for s in await store.list_channels()] == [ADA]
    assert await store.get_settings(ADA) == ChannelSettings(
        ADA, hour=PERSON_DEFAULT_HOUR, timezone="America/Chicago", recap_day=None
    )


# ----- delete_person -----


async def _fill_target(store: SqlStore, target: ChannelRef, *, topic: str = "retrieval") -> int:
    """Settings, a topic, a posted digest and a remembered message for a person's or a channel's target."""
    await store.enrol(target, SettingsChange())
    await store.add_topic(target, topic)
    digest_id = await store.create_digest(make_plan(target, DAY, PAPERS[0], PAPERS[1]))
    assert digest_id is not None
    parent, first, _second = await store.deliveries_of(digest_id)
    await store.mark_posted(parent.id, f"P-{target}")
    await store.mark_posted(first.id, f"M-{target}")
    return digest_id


async def _cast(store: SqlStore, workspace: Workspace, user: str, *arxiv_ids: str) -> None:
    for arxiv_id in arxiv_ids:
        assert await store.cast_vote(Vote(workspace.platform, workspace.workspace, user, arxiv_id))


async def test_delete_person_removes_exactly_their_data_in_that_workspace(store: SqlStore) -> None:
    await store.upsert_papers([make_paper(i) for i in PAPERS])
    for target in (ADA, BOB, ADA_ELSEWHERE, ADA_ON_DISCORD, GENERAL):
        await _fill_target(store, target)
    await store.add_topic(ADA, "diffusion")
    # Ada votes in her workspace (papers shown anywhere count); so do Bob, and Ada in other workspaces.
    await _cast(store, LAB, "U-ada", PAPERS[0], PAPERS[2], PAPERS[3])
    await _cast(store, LAB, "U-bob", PAPERS[0], PAPERS[2])
    await _cast(store, Workspace("slack", "T2"), "U-ada", PAPERS[0])
    await _cast(store, Workspace("discord", "T1"), "U-ada", PAPERS[0])
    # A channel whose id happens to be Ada's user id is not Ada's own target.
    namesake = ChannelRef("slack", "T1", "U-ada")
    await store.add_topic(namesake, "kept")

    removed = await store.delete_person(ADA)

    assert removed == PersonalData(topics=2, schedule=True, votes=3)
    assert await store.get_settings(ADA) is None
    assert await store.list_topics(ADA) == []
    assert await store.posted_paper_ids(ADA) == set()
    assert await store.delivery_counts(ADA, DAY) == {}
    assert await store.paper_for_message(ADA, f"M-{ADA}") is None
    assert await store.votes_of(LAB, "U-ada", None, None) == []
    # Her digest for that day can be made again, should she come back.
    assert await store.create_digest(make_plan(ADA, DAY, PAPERS[0])) is not None

    for kept in (BOB, ADA_ELSEWHERE, ADA_ON_DISCORD, GENERAL):
        assert await store.get_settings(kept) is not None, kept
        assert [t.query for t in await store.list_topics(kept)] == ["retrieval"], kept
        assert await store.posted_paper_ids(kept) == {PAPERS[0], PAPERS[1]}, kept
        assert await store.delivery_counts(kept, DAY) == {"posted": 2, "pending": 1}, kept
        assert await store.paper_for_message(kept, f"M-{kept}") == PAPERS[0], kept
    assert [t.query for t in await store.list_topics(namesake)] == ["kept"]
    assert [b.paper.arxiv_id for b in await store.votes_of(LAB, "U-bob", None, None)] == [
        PAPERS[2],
        PAPERS[0],
    ]
    assert await store.count_votes_of(Workspace("slack", "T2"), "U-ada", None) == 1
    assert await store.count_votes_of(Workspace("discord", "T1"), "U-ada", None) == 1
    assert await store.vote_counts(PAPERS, LAB) == {PAPERS[0]: 1, PAPERS[2]: 1}


async def test_delete_person_twice_or_of_a_stranger_deletes_nothing(store: SqlStore) -> None:
    await store.upsert_papers([make_paper(PAPERS[0])])
    await _fill_target(store, BOB)
    await _cast(store, LAB, "U-bob", PAPERS[0])

    assert await store.delete_person(ADA) == PersonalData()
    assert await store.delete_person(BOB) == PersonalData(topics=1, schedule=True, votes=1)
    assert await store.delete_person(BOB) == PersonalData()
    assert await store.list_channels() == []


# ----- votes_of and count_votes_of -----


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOON)


@pytest.fixture
async def clocked(database_url: str, clock: FixedClock) -> AsyncIterator[SqlStore]:
    """A store whose votes are dated by the test's clock, holding every paper of PAPERS but the last."""
    opened = await open_store(database_url, clock=clock)
    try:
        await opened.upsert_papers([make_paper(i, hf_upvotes=n) for n, i in enumerate(PAPERS[:-1])])
        yield opened
    finally:
        await opened.close()


async def test_votes_of_are_newest_first_within_the_window_of_one_person_and_workspace(
    clocked: SqlStore, clock: FixedClock
) -> None:
    clock.set(NOON - timedelta(days=40))
    await _cast(clocked, LAB, "U-ada", PAPERS[0])
    clock.set(NOON - timedelta(days=10))
    await _cast(clocked, LAB, "U-ada", PAPERS[1])
    clock.set(NOON - timedelta(days=2))
    await _cast(clocked, LAB, "U-ada", PAPERS[2])
    clock.set(NOON - timedelta(hours=1))
    # Two votes in the same instant: the newer arXiv id first, so the order is stable.
    await _cast(clocked, LAB, "U-ada", PAPERS[3], PAPERS[4])
    # A vote for a paper the store does not hold (any more) is no entry of the list and not counted.
    await _cast(clocked, LAB, "U-ada", PAPERS[6])
    # Other people, other workspaces and other platforms.
    await _cast(clocked, LAB, "U-bob", PAPERS[5])
    await _cast(clocked, Workspace("slack", "T2"), "U-ada", PAPERS[5])
    await _cast(clocked, Workspace("discord", "T1"), "U-ada", PAPERS[5])
    clock.set(NOON)

    everything = await clocked.votes_of(LAB, "U-ada", None, None)
    assert [b.paper.arxiv_id for b in everything] == [PAPERS[4], PAPERS[3], PAPERS[2], PAPERS[1], PAPERS[0]]
    assert [b.voted_at.astimezone(UTC) for b in everything] == [
        NOON - timedelta(hours=1),
        NOON - timedelta(hours=1),
        NOON - timedelta(days=2),
        NOON - timedelta(days=10),
        NOON - timedelta(days=40),
    ]
    # The whole paper comes back, not just its id.
    assert everything[0].paper == await clocked.get_paper(PAPERS[4])
    week = NOON - timedelta(days=7)
    assert [b.paper.arxiv_id for b in await clocked.votes_of(LAB, "U-ada", week, None)] == PAPERS[4:1:-1]
    assert [b.paper.arxiv_id for b in await clocked.votes_of(LAB, "U-ada", None, 2)] == [PAPERS[4], PAPERS[3]]
    assert await clocked.count_votes_of(LAB, "U-ada", None) == 5
    assert await clocked.count_votes_of(LAB, "U-ada", week) == 3
    assert await clocked.count_votes_of(LAB, "U-ada", NOON) == 0
    # A window starts at its first moment, inclusive.
    assert await clocked.count_votes_of(LAB, "U-ada", NOON - timedelta(days=2)) == 3

    assert [b.paper.arxiv_id for b in await clocked.votes_of(LAB, "U-bob", None, None)] == [PAPERS[5]]
    assert [
        b.paper.arxiv_id for b in await clocked.votes_of(Workspace("slack", "T2"), "U-ada", None, None)
    ] == [PAPERS[5]]
    assert await clocked.votes_of(LAB, "U-nobody", None, None) == []
    assert await clocked.count_votes_of(Workspace("slack", "T3"), "U-ada", None) == 0


async def test_a_retracted_vote_leaves_the_reading_list(clocked: SqlStore) -> None:
    await _cast(clocked, LAB, "U-ada", PAPERS[0], PAPERS[1])

    assert await clocked.retract_vote(Vote("slack", "T1", "U-ada", PAPERS[0]))

    assert [b.paper.arxiv_id for b in await clocked.votes_of(LAB, "U-ada", None, None)] == [PAPERS[1]]
    assert await clocked.count_votes_of(LAB, "U-ada", None) == 1


# ----- a person's 25-topic cap under concurrent commands -----


@pytest.fixture
async def paperboy(store: SqlStore, tmp_path: Path) -> AsyncIterator[Paperboy]:
    """The core on the store under test; subscribing never searches, so the index stays empty."""
    index = await open_index(tmp_path / "index")
    try:
        yield Paperboy(store=store, index=index, clock=FixedClock(datetime(2026, 11, 26, 12, tzinfo=UTC)))
    finally:
        await index.close()


async def test_thirty_six_personal_subscribes_at_once_store_exactly_the_cap_none_twice(
    paperboy: Paperboy,
) -> None:
    wanted = [f"topic{n:02d}" for n in range(36)]
    # Typed in a channel, about Ada's own digest: her first command enrols her, 36 of them race for it.
    asked = CommandContext(GENERAL, "U-ada")

    replies = await asyncio.gather(*(paperboy.execute(asked, ForMe(Subscribe(t))) for t in wanted))

    topics = [t.query for t in await paperboy.store.list_topics(ADA)]
    assert (len(topics), len(set(topics))) == (MAX_TOPICS, MAX_TOPICS)
    assert set(topics) <= set(wanted)
    full = (
        f"You can follow at most {MAX_TOPICS} topics; remove one first with /papers me unsubscribe <number>."
    )
    answers = Counter(
        "subscribed"
        if isinstance(r, TopicList) and r.personal and r.heading.startswith("Subscribed to")
        else r.text
        if isinstance(r, ErrorReply)
        else repr(r)
        for r in replies
    )
    assert answers == {"subscribed": MAX_TOPICS, full: len(wanted) - MAX_TOPICS}
    # One target was enrolled, with a person's defaults; the channel the commands were typed in got nothing.
    assert [s.channel for s in await paperboy.store.list_channels()] == [ADA]
    assert await paperboy.store.list_topics(GENERAL) == []
    settings = await paperboy.store.get_settings(ADA)
    assert settings is not None and (settings.hour, settings.recap_day) == (PERSON_DEFAULT_HOUR, None)
