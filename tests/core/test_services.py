"""The core's behaviour as users see it, on SQLite and on PostgreSQL."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, timedelta

import pytest

from bot.commands import CommandContext, ReactionVote
from bot.core import Paperboy
from bot.domain import ChannelRef, Delivery, DigestPlan, ScoredPaper, Vote, Workspace
from bot.render_text import render_text
from bot.replies import (
    Citation,
    DigestReply,
    ErrorReply,
    Notice,
    PaperCard,
    PaperList,
    Reply,
    ScheduleStatus,
    TopicList,
    VoteReply,
)
from bot.services.delivery import DeliveryEngine
from bot.services.digests import DigestPublisher
from bot.services.pacing import DeliveryPolicy
from storage.sql import SqlStore
from tests.clock import FixedClock

from .conftest import DEMO_DAY

GENERAL = ChannelRef("console", "local", "general")
TEAM_A = ChannelRef("slack", "TA", "C1")
TEAM_B = ChannelRef("slack", "TB", "C1")
MATRYOSHKA = "2205.13147"


def ctx(channel: ChannelRef = GENERAL, user: str = "ada", can_manage: bool = True) -> CommandContext:
    return CommandContext(channel=channel, user=user, can_manage=can_manage)


def posting_to(app: Paperboy, **publishers: DigestPublisher) -> Paperboy:
    """A core on the same store and index that posts through these publishers (retrying without waiting)."""
    engine = DeliveryEngine(app.store, policy=DeliveryPolicy(paces={}, first_backoff=0.0), clock=app.clock)
    return Paperboy(
        app.store, app.index, app.clock, app.telemetry, app.semantic, publishers=publishers, engine=engine
    )


async def ask(app: Paperboy, text: str, *, channel: ChannelRef = GENERAL, can_manage: bool = True) -> Reply:
    return await app.handle_text(ctx(channel, can_manage=can_manage), text)


async def test_search_finds_matryoshka_first(paperboy: Paperboy) -> None:
    reply = await ask(paperboy, "/papers search matryoshka")
    assert isinstance(reply, PaperList)
    assert reply.items[0].paper.title == "Matryoshka Representation Learning"


async def test_title_match_ranks_above_abstract_only_match(paperboy: Paperboy) -> None:
    items = await paperboy.search("gaussian", 10)
    assert items and "Gaussian" in items[0].paper.title


async def test_search_does_not_require_every_word(paperboy: Paperboy) -> None:
    items = await paperboy.search("matryoshka zzzunknownword", 5)
    assert items[0].paper.arxiv_id == MATRYOSHKA


async def test_hostile_queries_get_answers_not_crashes(
    paperboy: Paperboy, caplog: pytest.LogCaptureFixture
) -> None:
    # The dispatcher turns any crash into an apology, so "some answer came" proves nothing: a search that
    # raised shows as the apology and as the error the dispatcher logs, and either fails the test.
    with caplog.at_level(logging.ERROR):
        for text in ['"', '"open quote', "NEAR(a OR b)", "*", "title:", "((", "-", "🙂", "x" * 501, ":"]:
            reply = await ask(paperboy, f"/papers search {text}")
            assert isinstance(reply, PaperList | ErrorReply), text
            if isinstance(reply, ErrorReply):
                assert "went wrong on my side" not in reply.text, f"search crashed on {text!r}"
    assert [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR] == []


async def test_phrase_exclusion_and_author_filters(paperboy: Paperboy) -> None:
    splatting = await paperboy.search('"gaussian splatting"', 10)
    assert splatting and all("splatting" in (p.paper.title + p.paper.abstract).lower() for p in splatting)
    without = await paperboy.search('"gaussian splatting" -dynamic', 10)
    assert all("dynamic" not in (p.paper.title + p.paper.abstract).lower() for p in without)
    by_author = await paperboy.search("author:Kusupati", 10)
    assert [p.paper.arxiv_id for p in by_author] == [MATRYOSHKA]


async def test_a_later_record_that_knows_less_leaves_what_search_finds(paperboy: Paperboy) -> None:
    # Hugging Face said who published it; arXiv's record of the same paper (a pasted link) does not know.
    known = await paperboy.paper(MATRYOSHKA)
    await paperboy.ingest([replace(known.paper, organization="Paperboy Lab", updated_at=None)], source="hf")
    from_arxiv = replace(known.paper, organization=None, featured_on=None, comment="v2", updated_at=None)

    counts = await paperboy.ingest([from_arxiv], source="arxiv")

    assert counts.updated == 1
    assert [p.paper.arxiv_id for p in await paperboy.search('org:"Paperboy Lab"', 10)] == [MATRYOSHKA]


async def test_trending_ranks_by_upvotes_and_a_chat_vote_moves_a_paper_up(paperboy: Paperboy) -> None:
    before = await paperboy.trending("day", workspace=Workspace("console", "local"), limit=50)
    assert len(before) == 50
    upvotes = [i.paper.hf_upvotes for i in before]
    assert upvotes == sorted(upvotes, reverse=True)
    last = before[-1].paper.arxiv_id
    for user in ("u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u9", "u10"):
        await paperboy.votes.cast(Vote("console", "local", user, last))
    after = await paperboy.trending("day", workspace=Workspace("console", "local"), limit=50)
    assert [i.paper.arxiv_id for i in after].index(last) < 49
    # Votes of one workspace are not visible from another.
    elsewhere = await paperboy.trending("day", workspace=Workspace("slack", "TX"), limit=50)
    assert [i.paper.arxiv_id for i in elsewhere][-1] == last


async def test_trending_window_leaves_older_papers_out(paperboy: Paperboy, clock: FixedClock) -> None:
    clock.moment = clock.moment + timedelta(days=10)
    assert await paperboy.trending("day") == []
    assert len(await paperboy.trending("month", limit=50)) == 50


async def test_paper_by_url_and_clear_errors(paperboy: Paperboy) -> None:
    reply = await ask(paperboy, "/papers paper https://arxiv.org/pdf/2205.13147v2.pdf")
    assert isinstance(reply, PaperCard) and reply.item.paper.arxiv_id == MATRYOSHKA
    missing = await ask(paperboy, "/papers paper 2101.00001")
    assert isinstance(missing, ErrorReply) and "2101.00001" in missing.text
    invalid = await ask(paperboy, "/papers paper not-an-id")
    assert isinstance(invalid, ErrorReply) and "2205.13147" in invalid.text


async def test_cite_returns_bibtex(paperboy: Paperboy) -> None:
    reply = await ask(paperboy, "/papers cite huggingface.co/papers/2205.13147")
    assert isinstance(reply, Citation)
    assert reply.bibtex.startswith("@misc{kusupati2022matryoshka,")
    assert "eprint        = {2205.13147}" in reply.bibtex


async def test_topics_subscribe_list_duplicate_limit_and_unsubscribe(paperboy: Paperboy) -> None:
    first = await ask(paperboy, '/papers subscribe "gaussian splatting"')
    assert isinstance(first, TopicList) and [t.query for t in first.topics] == ['"gaussian splatting"']
    duplicate = await ask(paperboy, '/papers subscribe "Gaussian Splatting"')
    assert isinstance(duplicate, ErrorReply) and "already" in duplicate.text
    for n in range(2, 26):
        assert isinstance(await ask(paperboy, f"/papers subscribe topic{n}"), TopicList)
    too_many = await ask(paperboy, "/papers subscribe one more")
    assert isinstance(too_many, ErrorReply) and "25" in too_many.text
    by_number = await ask(paperboy, "/papers unsubscribe 1")
    assert isinstance(by_number, TopicList) and len(by_number.topics) == 24
    by_text = await ask(paperboy, "/papers unsubscribe topic2")
    assert isinstance(by_text, TopicList) and "topic2" not in [t.query for t in by_text.topics]
    wrong = await ask(paperboy, "/papers unsubscribe 99")
    assert isinstance(wrong, ErrorReply) and "1 to 23" in wrong.text


async def test_topics_of_one_workspace_are_invisible_from_another(paperboy: Paperboy) -> None:
    await ask(paperboy, "/papers subscribe diffusion", channel=TEAM_A)
    other = await ask(paperboy, "/papers topics", channel=TEAM_B)
    assert isinstance(other, TopicList) and other.topics == ()


async def test_changing_topics_needs_permission(paperboy: Paperboy) -> None:
    reply = await ask(paperboy, "/papers subscribe diffusion", can_manage=False)
    assert isinstance(reply, ErrorReply) and "manage" in reply.text


async def test_schedule_set_show_and_bad_zone(paperboy: Paperboy) -> None:
    saved = await ask(paperboy, "/papers schedule 08:30 Europe/Berlin daily papers 5")
    assert isinstance(saved, ScheduleStatus)
    assert (saved.settings.hour, saved.settings.minute, saved.settings.timezone) == (8, 30, "Europe/Berlin")
    shown = await ask(paperboy, "/papers schedule")
    assert (
        isinstance(shown, ScheduleStatus)
        and shown.settings.digest_size == 5
        and not shown.settings.weekdays_only
    )
    assert "08:30 Europe/Berlin every day" in render_text(shown)
    bad = await ask(paperboy, "/papers schedule 09:00 Mars/Olympus")
    assert isinstance(bad, ErrorReply) and ("Europe/Berlin" in bad.text or "IANA" in bad.text)
    paused = await ask(paperboy, "/papers schedule off")
    assert isinstance(paused, ScheduleStatus) and paused.settings.paused and paused.next_run is None


async def test_votes_are_idempotent_and_counted_per_workspace(paperboy: Paperboy) -> None:
    vote = Vote("slack", "TA", "U1", MATRYOSHKA)
    assert await paperboy.votes.cast(vote) is True
    assert await paperboy.votes.cast(vote) is False
    assert await paperboy.votes.count(MATRYOSHKA, Workspace("slack", "TA")) == 1
    assert await paperboy.votes.count(MATRYOSHKA, Workspace("slack", "TB")) == 0
    assert await paperboy.votes.retract(vote) is True
    assert await paperboy.votes.retract(vote) is False
    assert await paperboy.votes.count(MATRYOSHKA, None) == 0


async def test_digest_plan_follows_topics_and_never_repeats_a_paper(paperboy: Paperboy) -> None:
    everything = await paperboy.planner.plan(GENERAL, DEMO_DAY)
    assert len(everything.papers) == 10  # the default size; no topics means all papers
    await ask(paperboy, '/papers subscribe "gaussian splatting"')
    plan = await paperboy.planner.plan(GENERAL, DEMO_DAY)
    assert plan.papers and all("splatting" in (i.paper.title + i.paper.abstract).lower() for i in plan.papers)
    assert plan.topics == ('"gaussian splatting"',)
    digest_id = await paperboy.store.create_digest(plan)
    assert digest_id is not None
    assert await paperboy.store.create_digest(plan) is None  # one digest per channel and local date
    again = await paperboy.planner.plan(GENERAL, DEMO_DAY + timedelta(days=1))
    assert again.is_empty  # the same papers are never posted twice


async def test_digest_looks_back_a_few_days_only(paperboy: Paperboy) -> None:
    assert not (await paperboy.planner.plan(GENERAL, DEMO_DAY + timedelta(days=3))).is_empty
    assert (await paperboy.planner.plan(GENERAL, DEMO_DAY + timedelta(days=4))).is_empty


async def test_withdrawn_papers_stay_out_of_digests(paperboy: Paperboy) -> None:
    best = (await paperboy.planner.plan(GENERAL, DEMO_DAY)).papers[0].paper
    await paperboy.ingest([replace(best, withdrawn=True)])
    plan = await paperboy.planner.plan(GENERAL, DEMO_DAY)
    assert best.arxiv_id not in [i.paper.arxiv_id for i in plan.papers]
    assert len(plan.papers) == 10


async def test_digest_command_posts_through_the_publisher_once(paperboy: Paperboy) -> None:
    posted: list[str] = []

    class Recorder:
        async def post_parent(self, plan: DigestPlan, delivery: Delivery) -> str:
            posted.append("parent")
            return "m0"

        async def post_paper(
            self, plan: DigestPlan, delivery: Delivery, item: ScoredPaper, thread_id: str
        ) -> str:
            posted.append(item.paper.arxiv_id)
            return f"m{delivery.position}"

    app = posting_to(paperboy, console=Recorder())
    await ask(app, "/papers schedule 09:00 UTC daily papers 3")
    reply = await ask(app, "/papers digest")
    assert isinstance(reply, DigestReply) and reply.posted
    assert len(posted) == 4 and posted[0] == "parent"
    again = await ask(app, "/papers digest")
    assert isinstance(again, DigestReply) and again.already_posted_on == date(2026, 11, 26)
    assert len(posted) == 4
    # A reaction on a posted paper message counts as a vote for that paper; elsewhere it is no vote.
    bob = CommandContext(channel=GENERAL, user="bob")
    counted = await app.execute(bob, ReactionVote("m1", cast=True))
    assert isinstance(counted, VoteReply) and counted.changed and counted.votes_here == 1
    assert await app.votes.count(posted[1], Workspace("console", "local")) == 1
    ignored = await app.execute(bob, ReactionVote("not-ours", cast=True))
    assert isinstance(ignored, Notice) and "not a vote" in ignored.text


async def test_a_channel_the_platform_refuses_gets_the_reason_and_a_failing_platform_a_pause_it_can_undo(
    paperboy: Paperboy,
) -> None:
    from bot.services.publishing import ChannelUnavailable, PublishError

    class Refusing:
        def __init__(self, error: Exception) -> None:
            self.error = error

        async def post_parent(self, plan: DigestPlan, delivery: Delivery) -> str:
            raise self.error

        async def post_paper(
            self, plan: DigestPlan, delivery: Delivery, item: ScoredPaper, thread_id: str
        ) -> str:
            raise self.error

    reason = "Paperboy was removed from this channel; invite it back with /invite @Paperboy."
    paperboy = posting_to(
        paperboy,
        console=Refusing(ChannelUnavailable(reason)),
        slack=Refusing(PublishError("HTTP 503 from chat.postMessage")),
    )
    refused = await ask(paperboy, "/papers digest")
    assert isinstance(refused, ErrorReply) and refused.text == reason
    # The core paused the channel with the platform's reason; /papers schedule shows it.
    assert (await paperboy.schedules.get(GENERAL)).pause_reason == reason

    await ask(paperboy, "/papers schedule on", channel=TEAM_A)
    flaky = await ask(paperboy, "/papers digest", channel=TEAM_A)
    # Four failed attempts in a row pause the channel, and the answer says so and how to resume.
    assert (
        isinstance(flaky, ErrorReply)
        and "failed 4 times" in flaky.text
        and "/papers schedule on" in flaky.text
    )


async def test_a_stored_zone_this_machine_cannot_load_gets_a_sentence_not_an_apology(
    paperboy: Paperboy, store: SqlStore
) -> None:
    from bot.domain import ChannelSettings

    await store.save_settings(
        ChannelSettings(GENERAL, hour=9, minute=0, timezone="Mars/Olympus_Mons", weekdays_only=False)
    )
    for line in ("/papers digest", "/papers schedule"):
        reply = await ask(paperboy, line)
        assert isinstance(reply, ErrorReply), line
        assert "'Mars/Olympus_Mons' is unknown here" in reply.text and "/papers schedule" in reply.text
