"""`/papers top`, `/papers schedule recap` and the weekly recap on Slack, through the real Bolt app and the fake
Slack Web API."""

from __future__ import annotations

from datetime import timedelta

from bot.domain import MAX_TOPICS, ChannelRef, Vote, Workspace
from bot.services.delivery import DeliveryEngine
from bot.services.due_digests import DigestScheduler
from bot.services.pacing import DeliveryPolicy
from storage.sql import SqlStore
from tests.clock import FixedClock
from tests.slack.conftest import SlackHarness, block_text, buttons, eventually
from tests.slack.test_digests import blocks_of

MATRYOSHKA = "2205.13147"


async def votes(store: SqlStore, clock: FixedClock, arxiv_id: str, *users: str, team: str = "T1") -> None:
    """Votes cast two days before the harness's clock (the store itself dates votes by the real clock)."""
    voter = SqlStore(store.engine, clock=FixedClock(clock.now() - timedelta(days=2)))
    for user in users:
        await voter.cast_vote(Vote("slack", team, user, arxiv_id))


async def weekly_tick(slack: SlackHarness, clock: FixedClock) -> int:
    """One scheduler tick at the harness's clock and every delivery it queued, through the Slack adapter."""
    core = slack.paperboy
    engine = DeliveryEngine(core.store, policy=DeliveryPolicy(paces={}), clock=clock)
    scheduler = DigestScheduler(core.store, core.planner, engine, clock)
    return await engine.run(core.publishers, until_idle=True, producer=scheduler.tick({"slack"}))


async def test_top_lists_the_weeks_votes_in_the_channel_with_where_each_paper_was_shown(
    slack: SlackHarness, store: SqlStore, clock: FixedClock
) -> None:
    await slack.command("subscribe matryoshka")
    await slack.command("digest")
    papers = await store.papers_featured_between(clock.now().date() - timedelta(days=3), clock.now().date())
    other = next(p.arxiv_id for p in papers if p.arxiv_id != MATRYOSHKA)
    await votes(store, clock, MATRYOSHKA, "U1", "U2")
    await votes(store, clock, other, "U1")
    await votes(store, clock, other, *(f"V{n}" for n in range(5)), team="T2")

    answer = await slack.command("top")

    text = block_text(answer)
    assert answer["response_type"] == "in_channel"
    assert "Most voted papers of the week in this workspace" in text
    first, second = text.split("\n*2. ")
    assert "Matryoshka Representation Learning" in first and "*2 votes*" in first
    assert "Shared in <#C1> (digest)" in first
    assert "*1 vote*" in second  # the other workspace's five votes are not here
    assert [b["action_id"] for b in buttons(answer)][:2] == ["paperboy_upvote", "paperboy_similar"]


async def test_schedule_recap_is_announced_and_shown_with_the_schedule(slack: SlackHarness) -> None:
    saved = await slack.command("schedule recap monday")
    shown = await slack.command("schedule")
    off = await slack.command("schedule recap off")
    wrong = await slack.command("schedule recap someday")

    assert saved["response_type"] == "in_channel"
    assert "Weekly recap saved." in block_text(saved)
    assert "*Weekly recap*\nMondays, next Mon 30 Nov 2026 09:00 UTC" in block_text(shown)
    assert "*Weekly recap*\noff" in block_text(off)
    assert wrong["response_type"] == "ephemeral"
    assert "'someday' is not a day of the week" in block_text(wrong)


async def test_the_weekly_recap_is_one_parent_with_the_papers_in_its_thread(
    slack: SlackHarness, store: SqlStore, clock: FixedClock
) -> None:
    channel = ChannelRef("slack", "T1", "C7")
    await slack.command("schedule recap thursday", channel="C7")
    await store.subscribe_topic(channel, '"no paper says this"', limit=MAX_TOPICS)  # no daily digest
    papers = await store.papers_featured_between(clock.now().date() - timedelta(days=3), clock.now().date())
    for number, paper in enumerate(papers[:3], 1):
        await votes(store, clock, paper.arxiv_id, *(f"U{n}" for n in range(4 - number)))

    posted = await weekly_tick(slack, clock)
    again = await weekly_tick(slack, clock)

    parent, *replies = slack.fake.posted("C7")
    assert (posted, again, len(replies)) == (4, 0, 3)
    text = block_text({"blocks": blocks_of(parent.args)})
    assert "This week in <#C7>" in text and "(to Thursday 26 November 2026)" in text
    assert "*3 votes*" in text and "3 papers voted for in this workspace" in text
    assert parent.args["text"].startswith("This week in <#C7>: ")
    assert parent.args["metadata"]["event_type"] == "paperboy_digest"
    assert [r.args["thread_ts"] for r in replies] == [parent.args["_ts"]] * 3
    assert [r.args["metadata"]["event_payload"]["arxiv_id"] for r in replies] == [
        p.arxiv_id for p in papers[:3]
    ]
    assert slack.fake.violations == []


async def test_a_recap_of_one_paper_is_its_card_and_a_thumbs_up_on_it_votes(
    slack: SlackHarness, store: SqlStore, clock: FixedClock
) -> None:
    channel = ChannelRef("slack", "T1", "C8")
    await slack.command("schedule recap thursday", channel="C8")
    await store.subscribe_topic(channel, '"no paper says this"', limit=MAX_TOPICS)
    await votes(store, clock, MATRYOSHKA, "U1")

    await weekly_tick(slack, clock)
    [message] = slack.fake.posted("C8")
    await slack.react(message.args["_ts"], user="U5", channel="C8", event_id="Ev-recap-1")

    assert "thread_ts" not in message.args
    text = block_text({"blocks": blocks_of(message.args)})
    assert "This week in <#C8>" in text and "Matryoshka Representation Learning" in text
    assert buttons({"blocks": blocks_of(message.args)})[0]["action_id"] == "paperboy_upvote"

    async def counted() -> bool:
        return await slack.paperboy.votes.count(MATRYOSHKA, None) == 2

    assert await eventually(counted)


async def test_a_paper_shared_with_the_button_is_shown_as_a_card_in_top(
    slack: SlackHarness, store: SqlStore, clock: FixedClock
) -> None:
    await slack.click("paperboy_share", MATRYOSHKA, channel="C3")

    async def shared() -> bool:
        return bool(await store.showings_of(Workspace("slack", "T1"), [MATRYOSHKA]))

    await eventually(shared)
    await votes(store, clock, MATRYOSHKA, "U1")
    answer = await slack.command("top", channel="C3")

    assert "Shared in <#C3> (card)" in block_text(answer)
