"""Removing a workspace (app uninstalled, bot kicked) deletes all of it and nothing of any other."""

from __future__ import annotations

from datetime import date

from bot.domain import ChannelRef, ChannelSettings, Vote, Workspace
from storage.sql.store import SqlStore
from tests.storage.factories import make_paper, make_plan

GONE = Workspace("slack", "T1")
GONE_CHANNELS = (ChannelRef("slack", "T1", "C1"), ChannelRef("slack", "T1", "C2"))
KEPT_CHANNELS = (ChannelRef("slack", "T2", "C1"), ChannelRef("discord", "T1", "C1"))
DAY = date(2025, 3, 3)


async def _fill(store: SqlStore, channel: ChannelRef) -> int:
    """Give a channel settings, a topic, a vote, a posted digest and a remembered message."""
    await store.save_settings(ChannelSettings(channel=channel))
    await store.add_topic(channel, "retrieval")
    await store.cast_vote(Vote(channel.platform, channel.workspace, "U1", "2501.00001"))
    digest_id = await store.create_digest(make_plan(channel, DAY, "2501.00001"))
    assert digest_id is not None
    _, paper = await store.deliveries_of(digest_id)
    await store.mark_posted(paper.id, f"M-{channel.channel}")
    return digest_id


async def test_deleting_a_workspace_removes_all_of_it_and_nothing_else(store: SqlStore) -> None:
    await store.upsert_papers([make_paper("2501.00001")])
    kept_digests = {}
    for channel in GONE_CHANNELS:
        await _fill(store, channel)
    for channel in KEPT_CHANNELS:
        kept_digests[channel] = await _fill(store, channel)

    removed = await store.delete_workspace(GONE)

    assert removed == 2
    for channel in GONE_CHANNELS:
        assert await store.get_settings(channel) is None
        assert await store.list_topics(channel) == []
        assert await store.posted_paper_ids(channel) == set()
        assert await store.paper_for_message(channel, f"M-{channel.channel}") is None
    assert await store.has_vote(Vote("slack", "T1", "U1", "2501.00001")) is False
    # A digest for the same day can be made again, should the workspace come back.
    assert await store.create_digest(make_plan(GONE_CHANNELS[0], DAY, "2501.00001")) is not None

    for channel in KEPT_CHANNELS:
        assert await store.get_settings(channel) == ChannelSettings(channel=channel)
        assert [t.query for t in await store.list_topics(channel)] == ["retrieval"]
        assert await store.posted_paper_ids(channel) == {"2501.00001"}
        assert len(await store.deliveries_of(kept_digests[channel])) == 2
        assert await store.paper_for_message(channel, f"M-{channel.channel}") == "2501.00001"
        assert await store.has_vote(Vote(channel.platform, channel.workspace, "U1", "2501.00001"))
    assert await store.vote_counts(["2501.00001"], None) == {"2501.00001": 2}
    assert await store.count_papers() == 1


async def test_deleting_an_unknown_workspace_removes_nothing(store: SqlStore) -> None:
    await _fill(store, KEPT_CHANNELS[0])

    assert await store.delete_workspace(Workspace("slack", "T-never")) == 0
    assert len(await store.list_channels()) == 1
