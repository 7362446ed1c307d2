"""`/papers me …` through the core, as a person reads the answers, on SQLite and PostgreSQL: their own digest
delivered to their direct messages (never a paper twice, never two in a day), their votes as a reading list,
forgetting them, bad input, and workspaces that never see or change each other's people."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from adapters.sources.demo import load_demo_papers
from bot.commands import CommandContext, PersonGone, ShowHome
from bot.core import Paperboy
from bot.domain import ChannelRef, Delivery, DigestPlan, Paper, ScoredPaper, Workspace
from bot.render_text import render_text
from bot.replies import BibFile, DigestReply, ErrorReply, Home, Notice, ReadingList, Reply
from bot.services.delivery import DeliveryEngine
from bot.services.due_digests import DigestScheduler
from bot.services.pacing import DeliveryPolicy
from bot.services.publishing import ChannelUnavailable, PublishError
from storage.search.index import open_index
from storage.sql import open_store
from tests.clock import FixedClock

from .conftest import DEMO_DAY

LAB = ChannelRef("slack", "TA", "C1")
OTHER_LAB = ChannelRef("slack", "TB", "C1")
# Discord user ids are global: the same person in two guilds has one id, and two separate lives here.
ADA = "U-ada"
BOB = "U-bob"
MATRYOSHKA = "2205.13147"
SPLATTING = ("2408.03822", "2311.13681")  # the demo papers a "gaussian splatting" topic matches


@dataclass
class DirectMessages:
    """A platform that records what it posts where, tells a person's zone, or refuses as the test says."""

    zones: dict[str, str] = field(default_factory=dict)
    zone_error: Exception | None = None
    refuse: Exception | None = None
    posted: list[tuple[ChannelRef, str]] = field(default_factory=list)

    async def post_parent(self, plan: DigestPlan, delivery: Delivery) -> str:
        return self._post(plan, "parent", delivery)

    async def post_paper(
        self, plan: DigestPlan, delivery: Delivery, item: ScoredPaper, thread_id: str
    ) -> str:
        return self._post(plan, item.paper.arxiv_id, delivery)

    def _post(self, plan: DigestPlan, what: str, delivery: Delivery) -> str:
        if self.refuse is not None:
            raise self.refuse
        self.posted.append((plan.channel, what))
        return f"m{delivery.id}"

    async def person_timezone(self, person: ChannelRef) -> str | None:
        if self.zone_error is not None:
            raise self.zone_error
        return self.zones.get(person.user or "")

    def papers_to(self, target: ChannelRef) -> list[str]:
        """The papers sent to one target, in order (parents left out)."""
        return [what for channel, what in self.posted if channel == target and what != "parent"]

    def parents_to(self, target: ChannelRef) -> int:
        return sum(1 for channel, what in self.posted if channel == target and what == "parent")


@dataclass
class World:
    """The core on the demo store, posting to `dms` for Slack, with a scheduler on the test's clock."""

    app: Paperboy
    dms: DirectMessages
    scheduler: DigestScheduler
    clock: FixedClock

    async def say(self, text: str, *, user: str = ADA, channel: ChannelRef = LAB) -> Reply:
        """What `user` is answered when they type `text` in `channel`."""
        return await self.app.handle_text(CommandContext(channel, user), text)

    async def read(self, text: str, *, user: str = ADA, channel: ChannelRef = LAB) -> str:
        """The answer as the person reads it."""
        return render_text(await self.say(text, user=user, channel=channel))

    async def tick(self) -> int:
        """One scheduler tick and the deliveries it queued; the messages posted."""
        engine = self.app.delivery.engine

        async def produce() -> None:
            await self.scheduler.tick({"slack"})

        return await engine.run({"slack": self.dms}, until_idle=True, producer=produce())


@pytest.fixture
def dms() -> DirectMessages:
    return DirectMessages()


@pytest.fixture
async def world(
    database_url: str, tmp_path: Path, dms: DirectMessages, clock: FixedClock
) -> AsyncIterator[World]:
    """The core on the demo papers, posting to `dms` for Slack (retries without waiting); the store dates
    votes and deliveries by the test's clock, so windows and days are the ones the test sets."""
    store = await open_store(database_url, clock=clock)
    index = await open_index(tmp_path / "index")
    engine = DeliveryEngine(
        store, policy=DeliveryPolicy(paces={}, first_backoff=0.0, max_backoff=0.0), clock=clock
    )
    app = Paperboy(store, index, clock, publishers={"slack": dms}, engine=engine)
    await app.ingest(load_demo_papers(DEMO_DAY))
    try:
        yield World(app, dms, DigestScheduler(store, app.planner, engine, clock), clock)
    finally:
        await index.close()
        await store.close()


def me(user: str = ADA, channel: ChannelRef = LAB) -> ChannelRef:
    return ChannelRef.person(channel.platform, channel.workspace, user)


def featured(day: date, *numbers: int) -> list[Paper]:
    """New papers featured on `day` that a "gaussian splatting" topic matches."""
    return [
        Paper(
            arxiv_id=f"2612.{n:05d}",
            title=f"Gaussian splatting, part {n}",
            abstract="We study gaussian splatting again.",
            featured_on=day,
            hf_upvotes=100 - n,
        )
        for n in numbers
    ]


# ----- every command, as a person reads it -----


async def test_help_and_an_unknown_word_say_what_a_person_can_do(world: World) -> None:
    for text in ("/papers me", "/papers me help", "/papers my"):
        said = await world.read(text)
        assert "/papers me subscribe <query>" in said and "/papers me forget" in said, text
    unknown = await world.read("/papers me frobnicate")
    assert unknown.startswith("I don't know /papers me 'frobnicate'. Here is what you can do:")
    assert "/papers me help" in await world.read("/papers help")


async def test_a_person_sets_up_their_own_digest_and_reads_every_answer(world: World) -> None:
    world.clock.set(datetime(2026, 11, 26, 6, 0, tzinfo=UTC))  # a Thursday morning
    nothing_yet = await world.read("/papers me topics")
    assert nothing_yet.startswith("Your topics.")
    assert "no digest of your own yet" in nothing_yet and "weekday at 08:00" in nothing_yet
    assert await world.app.store.get_settings(me()) is None  # looking enrols nobody

    subscribed = await world.read('/papers me subscribe "gaussian splatting"')
    assert subscribed == (
        'Subscribed to "gaussian splatting". Your next digest comes by direct message on Thu 26 Nov at 08:00 '
        '(UTC).\n1. "gaussian splatting"'
    )
    twice = await world.read('/papers me subscribe "Gaussian Splatting"')
    assert twice.startswith("Sorry: You already follow") and "see /papers me topics" in twice
    await world.say("/papers me subscribe author:Kusupati")
    assert await world.read("/papers me topics") == (
        "Your topics. Your next digest comes by direct message on Thu 26 Nov at 08:00 (UTC).\n"
        '1. "gaussian splatting"\n2. author:Kusupati'
    )

    status = await world.read("/papers me schedule")
    assert status.splitlines() == [
        "Your own digest, sent to you by direct message",
        "Digest at 08:00 UTC on weekdays, up to 10 papers, 2 topic(s).",
        "Next digest: Thu 26 Nov 2026 08:00 UTC.",
        "Last delivery: none yet.",
    ]
    saved = await world.read("/papers me schedule 07:30 Europe/Berlin daily papers 3")
    assert saved.splitlines()[:3] == [
        "Schedule saved.",
        "Digest at 07:30 Europe/Berlin every day, up to 3 papers, 2 topic(s).",
        "Next digest: Thu 26 Nov 2026 07:30 CET.",
    ]
    assert "recap" not in saved.lower()  # the weekly recap is the team's

    removed = await world.read("/papers me unsubscribe 2")
    assert removed.startswith("Unsubscribed from “author:Kusupati”. Your next digest comes by direct message")
    assert (
        await world.read("/papers me unsubscribe 5")
    ) == "Sorry: Pick a number from 1 to 1; /papers me topics shows them."
    assert (await world.read("/papers me unsubscribe diffusion")).startswith(
        "Sorry: You do not follow 'diffusion'"
    )

    paused = await world.read("/papers me schedule off")
    assert "Paused. Resume with /papers me schedule on." in paused
    topics = await world.read("/papers me topics")
    assert "Your digest is paused; /papers me schedule on resumes it." in topics
    resumed = await world.read("/papers me schedule on")
    assert "Paused" not in resumed and "Next digest: Thu 26 Nov 2026 07:30 CET." in resumed

    # Once the hour has passed without a digest, today's is on its way.
    world.clock.set(datetime(2026, 11, 26, 12, 0, tzinfo=UTC))
    assert (await world.read("/papers me topics")).splitlines()[0] == (
        "Your topics. Today's digest is due: it comes by direct message shortly."
    )
    # Nothing of it touched the channel the commands were typed in.
    assert await world.app.store.get_settings(LAB) is None
    assert await world.app.store.list_topics(LAB) == []


async def test_a_persons_digest_goes_to_their_direct_messages_once(world: World) -> None:
    await world.say('/papers me subscribe "gaussian splatting"')

    sent = await world.say("/papers me digest")

    assert isinstance(sent, DigestReply) and sent.plan.channel == me()
    assert render_text(sent) == "Sent your digest to your direct messages for 2026-11-26: 2 paper(s)."
    assert world.dms.parents_to(me()) == 1 and sorted(world.dms.papers_to(me())) == sorted(SPLATTING)
    assert {channel for channel, _ in world.dms.posted} == {me()}
    # The parent a platform posts is headed for the person.
    assert "Your papers for Thursday 26 November 2026: 2 papers" in render_text(
        DigestReply(sent.plan, posted=False)
    )
    nothing_new = await world.read("/papers me digest")
    assert nothing_new == (
        "Nothing new for you: no paper featured lately matches your topics that you were not sent already."
    )
    # New papers the same day: still one digest a day.
    await world.app.ingest(featured(DEMO_DAY, 1))
    assert await world.read("/papers me digest") == "Your digest for 2026-11-26 was already sent to you."
    assert world.dms.parents_to(me()) == 1


async def test_the_schedule_sends_each_paper_once_and_one_digest_a_day(world: World) -> None:
    await world.say('/papers me subscribe "gaussian splatting"')
    await world.say("/papers me schedule 08:00 UTC daily papers 2")
    world.clock.set(datetime(2026, 11, 26, 8, 0, tzinfo=UTC))

    assert await world.tick() == 3
    world.clock.advance(hours=3)
    await world.app.ingest(featured(DEMO_DAY, 1, 2))
    assert await world.tick() == 0  # today's came; the new papers wait for tomorrow
    assert await world.read("/papers me digest") == "Your digest for 2026-11-26 was already sent to you."

    world.clock.set(datetime(2026, 11, 27, 8, 0, tzinfo=UTC))
    await world.app.ingest(featured(DEMO_DAY + timedelta(days=1), 3))
    assert await world.tick() == 3
    world.clock.set(datetime(2026, 11, 28, 8, 0, tzinfo=UTC))
    assert await world.tick() == 2  # what is left: one paper
    world.clock.set(datetime(2026, 11, 29, 8, 0, tzinfo=UTC))
    assert await world.tick() == 0  # nothing new, nothing sent

    papers = world.dms.papers_to(me())
    assert len(papers) == len(set(papers)) == 5
    assert set(papers) == {*SPLATTING, "2612.00001", "2612.00002", "2612.00003"}
    assert world.dms.parents_to(me()) == 3
    for day in (26, 27, 28):
        assert await world.app.store.delivery_counts(me(), date(2026, 11, day)) != {}


async def test_the_zone_comes_from_the_platform_when_it_tells_one(world: World) -> None:
    world.clock.set(datetime(2026, 11, 26, 14, 0, tzinfo=UTC))  # 06:00 in Los Angeles
    world.dms.zones = {ADA: "America/Los_Angeles", BOB: "Mars/Olympus_Mons"}

    ada = await world.read("/papers me subscribe diffusion")
    bob = await world.read("/papers me subscribe diffusion", user=BOB)
    world.dms.zone_error = ConnectionError("users.info timed out")
    eve = await world.read("/papers me subscribe diffusion", user="U-eve")

    assert "on Thu 26 Nov at 08:00 (America/Los_Angeles)" in ada
    settings = await world.app.store.get_settings(me())
    assert settings is not None and settings.timezone == "America/Los_Angeles"
    # A zone this machine does not know, or a platform that could not tell: UTC, and the digest still comes.
    for user, said in ((BOB, bob), ("U-eve", eve)):
        assert said.startswith("Subscribed to “diffusion”."), said
        settings = await world.app.store.get_settings(me(user))
        assert settings is not None and (settings.hour, settings.timezone) == (8, "UTC")
    world.dms.zones[ADA] = "Asia/Tokyo"
    await world.say("/papers me subscribe matryoshka")
    settings = await world.app.store.get_settings(me())
    assert settings is not None and settings.timezone == "America/Los_Angeles"  # only a new person is asked


async def test_votes_make_a_reading_list_and_a_bibtex_file(world: World) -> None:
    assert await world.read("/papers me votes") == (
        "You have not voted for a paper yet. Every vote is a bookmark: press a paper's Upvote button, "
        "react with 👍, or write /papers vote <id>."
    )
    assert isinstance(await world.say("/papers me cite"), ErrorReply)
    await world.say(f"/papers vote {MATRYOSHKA}")
    world.clock.advance(days=10)
    await world.say(f"/papers vote {SPLATTING[0]}")

    listed = await world.read("/papers me votes")
    assert listed.splitlines() == [
        "Papers you voted for (2)",
        "1. Compact 3D Gaussian Splatting for Static and Dynamic Radiance Fields [2408.03822] — voted 06 Dec 2026",
        "2. Matryoshka Representation Learning [2205.13147] — voted 26 Nov 2026",
    ]
    week = await world.read("/papers me votes week")
    assert week.splitlines()[0] == "Papers you voted for in the last week (1)" and MATRYOSHKA not in week
    bib = await world.say("/papers me cite month")
    assert isinstance(bib, BibFile) and bib.count == 2
    assert bib.filename == "paperboy-votes-month-2026-12-06.bib"
    assert bib.bibtex.count("@misc{") == 2 and "eprint        = {2205.13147}" in bib.bibtex
    assert render_text(bib).startswith("BibTeX for the 2 paper(s) you voted for, of the last month.")
    nothing = await world.read("/papers me cite week", user=BOB)
    assert (
        nothing == "Sorry: You have no votes to cite in that period; try /papers me cite all, or vote first."
    )


async def test_a_long_reading_list_shows_the_newest_and_says_where_the_rest_are(world: World) -> None:
    everything = await world.app.trending("month", limit=30)
    for item in everything[:23]:
        await world.say(f"/papers vote {item.paper.arxiv_id}")
        world.clock.advance(minutes=1)

    reading = await world.say("/papers me votes")

    assert isinstance(reading, ReadingList) and (len(reading.items), reading.total) == (20, 23)
    said = render_text(reading)
    assert said.splitlines()[0] == "Papers you voted for (23)"
    assert f"[{everything[22].paper.arxiv_id}]" in said.splitlines()[1]  # the newest first
    assert said.splitlines()[-1] == "…and 3 more; /papers me cite all has them all."


async def test_forgetting_asks_first_then_deletes_everything_of_the_person_here(world: World) -> None:
    assert await world.read("/papers me forget") == "Paperboy keeps nothing about you in this workspace."
    await world.say("/papers me subscribe diffusion")
    await world.say("/papers me subscribe matryoshka")
    await world.say(f"/papers vote {MATRYOSHKA}")
    await world.say(f"/papers vote {MATRYOSHKA}", user=BOB)
    await world.say("/papers me digest")

    asked = await world.read("/papers me forget")
    assert asked == (
        "This deletes your 2 topic(s), your digest schedule and your 1 vote(s) in this workspace; your votes "
        "leave the team's counts too. Write /papers me forget confirm to go on."
    )
    assert len(await world.app.store.list_topics(me())) == 2  # nothing went yet
    wrong = await world.read("/papers me forget please")
    assert wrong == (
        "Sorry: Write /papers me forget to see what would be deleted, then /papers me forget confirm."
    )
    done = await world.read("/papers me forget confirm")
    assert done == (
        "Done: deleted your 2 topic(s), your digest schedule and your 1 vote(s) in this workspace."
    )

    assert await world.app.store.get_settings(me()) is None
    assert await world.app.store.posted_paper_ids(me()) == set()
    assert await world.app.votes.count(MATRYOSHKA, Workspace("slack", "TA")) == 1  # Bob's
    assert await world.read("/papers me forget confirm") == (
        "Paperboy kept nothing about you in this workspace; nothing to delete."
    )


async def test_a_person_who_leaves_is_forgotten(world: World) -> None:
    await world.say("/papers me subscribe diffusion")
    await world.say(f"/papers vote {MATRYOSHKA}")

    gone = await world.app.execute(CommandContext(LAB, ADA), PersonGone())

    assert isinstance(gone, Notice)
    assert gone.text == "Forgot a person who left: your 1 topic(s), your digest schedule and your 1 vote(s)."
    assert await world.app.store.get_settings(me()) is None
    assert await world.app.votes.count(MATRYOSHKA, Workspace("slack", "TA")) == 0


# ----- bad input -----


async def test_bad_input_is_answered_with_a_sentence(world: World, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        time = await world.read("/papers me schedule 25:99")
        window = await world.read("/papers me votes year")
        cite = await world.read("/papers me cite yesterday")
        recap = await world.read("/papers me schedule recap friday")
        empty = await world.read("/papers me subscribe")
        unsubscribe = await world.read("/papers me unsubscribe")
        zone = await world.read("/papers me schedule 09:00 Mars/Olympus_Mons")
        size = await world.read("/papers me schedule papers 99")
    assert time == "Sorry: 25:99 is not a time of day; write HH:MM from 00:00 to 23:59, e.g. 09:00."
    assert window == "Sorry: Write /papers me votes week, month or all (the default); not 'year'."
    assert cite == "Sorry: Write /papers me cite week, month or all (the default); not 'yesterday'."
    assert recap == (
        "Sorry: The weekly recap is the team's, for a channel: write /papers schedule recap <day> there."
    )
    assert empty.startswith("Sorry: Tell me the topic, e.g. /papers me subscribe")
    assert unsubscribe.startswith("Sorry: Tell me which topic")
    for said in (zone, size):
        assert said.startswith("Sorry: ") and said.endswith("."), said
        assert "/papers schedule" not in said, said  # the examples name the person's own command
    assert "Something went wrong" not in "".join((time, window, cite, recap, empty, unsubscribe, zone, size))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert await world.app.store.get_settings(me()) is None  # no bad line enrolled anyone


async def test_hostile_topic_text_is_stored_and_echoed_without_mentions(world: World) -> None:
    hostile = [
        "@here <!channel> diffusion",
        "<!everyone> <@U999> splatting",
        "@everyone `code` *bold* transformers",
        '"unclosed <!subteam^S1> phrase',
    ]
    answers = [await world.read(f"/papers me subscribe {text}") for text in hostile]
    answers.append(await world.read("/papers me topics"))

    for said in answers:
        for mention in ("<!", "<@", "@here", "@everyone", "@channel"):
            assert mention not in said, said
    stored = [t.query for t in await world.app.store.list_topics(me())]
    assert len(stored) == len(hostile)
    assert not any(mark in q for q in stored for mark in ("<", ">", "@"))
    # Text that is no topic is answered with a sentence (platforms escape what they echo of it).
    unknown = await world.read("/papers me unsubscribe <!channel>")
    assert unknown.startswith("Sorry: You do not follow") and unknown.endswith("/papers me topics.")


# ----- a platform that cannot reach the person -----


async def test_a_dm_the_platform_refuses_pauses_the_persons_digest_and_says_why(world: World) -> None:
    reason = (
        "Slack does not let Paperboy send you direct messages (your account is deactivated); "
        "once it can, then write /papers me schedule on"
    )
    await world.say("/papers me subscribe splatting")
    world.dms.refuse = ChannelUnavailable(reason)

    refused = await world.read("/papers me digest")

    assert refused == f"Sorry: {reason}"
    settings = await world.app.store.get_settings(me())
    assert settings is not None and settings.paused and settings.pause_reason == reason
    assert await world.read("/papers me topics") == f"Your topics. {reason}\n1. splatting"
    status = await world.read("/papers me schedule")
    assert status.splitlines()[-1] == f"Paused: {reason}."
    world.dms.refuse = None
    assert "Paused" not in await world.read("/papers me schedule on")
    # Asked again before the engine's next round, the person learns the digest is on its way, not "sent".
    assert await world.read("/papers me digest") == (
        f"Your digest for {world.clock.now().date().isoformat()} is on its way: 3 message(s) still to send. "
        "They follow within a few minutes once the digest is not paused."
    )
    # Resumed the same day, the engine finishes today's digest where it stopped.
    assert await world.tick() == 3
    assert world.dms.parents_to(me()) == 1 and sorted(world.dms.papers_to(me())) == sorted(SPLATTING)


async def test_a_dm_that_keeps_failing_pauses_with_the_persons_own_command(world: World) -> None:
    await world.say("/papers me subscribe splatting")
    world.dms.refuse = PublishError("HTTP 503 from chat.postMessage")

    failed = await world.read("/papers me digest")

    settings = await world.app.store.get_settings(me())
    assert settings is not None and settings.paused
    assert failed == f"Sorry: {settings.pause_reason}"
    assert "failed 4 times in a row" in failed and "/papers me schedule on" in failed
    assert "/papers me schedule on" in await world.read("/papers me topics")


# ----- workspaces never see or change each other's people -----


async def test_a_person_in_one_workspace_never_sees_or_changes_their_life_in_another(world: World) -> None:
    # The same user id in two workspaces (a Discord user in two guilds, a Slack Enterprise Grid member).
    await world.say('/papers me subscribe "gaussian splatting"', channel=LAB)
    await world.say(f"/papers vote {MATRYOSHKA}", channel=LAB)
    await world.say("/papers me subscribe diffusion", channel=OTHER_LAB)
    await world.say(f"/papers vote {SPLATTING[0]}", channel=OTHER_LAB)
    await world.say("/papers me schedule 06:00 Asia/Tokyo papers 25", channel=OTHER_LAB)

    # Votes: each workspace's reading list, BibTeX and home hold only its own.
    here = await world.read("/papers me votes", channel=LAB)
    there = await world.read("/papers me votes", channel=OTHER_LAB)
    assert MATRYOSHKA in here and SPLATTING[0] not in here
    assert SPLATTING[0] in there and MATRYOSHKA not in there
    bib = await world.say("/papers me cite", channel=OTHER_LAB)
    assert isinstance(bib, BibFile) and bib.count == 1 and MATRYOSHKA not in bib.bibtex
    home = await world.app.execute(CommandContext(LAB, ADA), ShowHome())
    assert isinstance(home, Home)
    assert [b.paper.arxiv_id for b in home.votes] == [MATRYOSHKA]
    assert [t.query for t in home.topics] == ['"gaussian splatting"']
    assert home.settings is not None and home.settings.timezone == "UTC"
    voted = {i.paper.arxiv_id: i.chat_votes for i in home.trending}
    assert voted.get(SPLATTING[0], 0) == 0  # the other workspace's vote is not counted here

    # Topics and schedules: each workspace's own.
    assert '"gaussian splatting"' in await world.read("/papers me topics", channel=LAB)
    assert "diffusion" not in await world.read("/papers me topics", channel=LAB)
    assert "08:00 UTC" in await world.read("/papers me schedule", channel=LAB)
    unsubscribe = await world.read("/papers me unsubscribe diffusion", channel=LAB)
    assert unsubscribe.startswith("Sorry: You do not follow 'diffusion'")
    assert [t.query for t in await world.app.store.list_topics(me(channel=OTHER_LAB))] == ["diffusion"]

    # Digests: sent papers are remembered per workspace, so each gets its own.
    await world.say("/papers me digest", channel=LAB)
    assert world.dms.papers_to(me(channel=OTHER_LAB)) == []
    await world.say('/papers me subscribe "gaussian splatting"', channel=OTHER_LAB)
    await world.say("/papers me digest", channel=OTHER_LAB)
    assert set(SPLATTING) <= set(world.dms.papers_to(me(channel=OTHER_LAB)))

    # Forgetting in one workspace leaves the other whole.
    await world.say("/papers me forget confirm", channel=LAB)
    assert await world.app.store.get_settings(me(channel=LAB)) is None
    assert await world.read("/papers me votes", channel=LAB) == (
        "You have not voted for a paper yet. Every vote is a bookmark: press a paper's Upvote button, "
        "react with 👍, or write /papers vote <id>."
    )
    kept = await world.app.store.get_settings(me(channel=OTHER_LAB))
    assert kept is not None and kept.timezone == "Asia/Tokyo"
    assert len(await world.app.store.list_topics(me(channel=OTHER_LAB))) == 2
    assert SPLATTING[0] in await world.read("/papers me votes", channel=OTHER_LAB)
    assert set(SPLATTING) <= await world.app.store.posted_paper_ids(me(channel=OTHER_LAB))
    # And a person gone from one workspace is still there in the other.
    await world.app.execute(CommandContext(OTHER_LAB, BOB), PersonGone())
    assert await world.app.store.get_settings(me(channel=OTHER_LAB)) is not None


async def test_one_persons_commands_never_touch_another_persons_digest(world: World) -> None:
    await world.say("/papers me subscribe diffusion", user=BOB)
    await world.say(f"/papers vote {MATRYOSHKA}", user=BOB)

    assert "diffusion" not in await world.read("/papers me topics")
    assert (await world.read("/papers me unsubscribe 1")).startswith("Sorry: You follow no topics yet")
    assert await world.read("/papers me forget") == "Paperboy keeps nothing about you in this workspace."
    await world.say("/papers me forget confirm")
    await world.say("/papers me schedule off")

    bob = await world.app.store.get_settings(me(BOB))
    assert bob is not None and not bob.paused
    assert [t.query for t in await world.app.store.list_topics(me(BOB))] == ["diffusion"]
    assert MATRYOSHKA in await world.read("/papers me votes", user=BOB)
