"""Paperboy's core: every capability behind one object, and the `/papers` dispatcher every adapter calls."""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.citation import bibtex_entry
from bot.commands import (
    HELP_TEXT,
    MAX_SEARCH_LIMIT,
    ME_HELP_TEXT,
    CardsForLinks,
    CardsShown,
    CastVote,
    ChannelGone,
    Cite,
    Command,
    CommandContext,
    CommandError,
    ForgetMe,
    ForgetWorkspace,
    ForMe,
    ListTopics,
    MyCitations,
    MyVotes,
    PersonalCommand,
    PersonGone,
    PostDigest,
    ReactionVote,
    RetractVote,
    Schedule,
    ScheduleRecap,
    Search,
    SharePaper,
    ShowHelp,
    ShowHome,
    ShowMyHelp,
    ShowPaper,
    Similar,
    Subscribe,
    ToggleVote,
    Top,
    Trending,
    Unsubscribe,
    parse_command,
)
from bot.domain import (
    DELIVERY_POSTED,
    SHOWN_AS_CARD,
    ChannelRef,
    ChannelSettings,
    Paper,
    ScoredPaper,
    UpsertCounts,
    Vote,
    VotedPaper,
    Workspace,
)
from bot.ids import InvalidPaperId, normalize_arxiv_id
from bot.links import PaperLink, linked_papers
from bot.ports import (
    Clock,
    NullTelemetry,
    PaperSource,
    SearchIndex,
    SemanticIndex,
    SettingsChange,
    Store,
    Telemetry,
)
from bot.query import QueryError
from bot.replies import (
    Citation,
    DigestReply,
    ErrorReply,
    HelpReply,
    Home,
    LinkCard,
    LinkCards,
    Notice,
    PaperCard,
    PaperList,
    Reply,
    ScheduleStatus,
    SharedPaper,
    TopicList,
    TopPapers,
    VoteReply,
)
from bot.schedule import ScheduleError, next_run, parse_schedule_args
from bot.services.channels import ChannelSchedules, ChannelTopics, TopicError, topic_query
from bot.services.delivery import DeliveryEngine
from bot.services.digests import DigestDelivery, DigestPlanner, DigestPublisher
from bot.services.people import People, describe
from bot.services.publishing import CardPublisher, ChannelUnavailable, PublishError
from bot.services.ranking import rank_trending
from bot.services.recaps import TOP_LIMIT, Leaderboard, next_recap, top_since
from bot.services.search import PaperSearch
from bot.services.votes import VoteBook

log = logging.getLogger(__name__)

TRENDING_WINDOW_DAYS = {"day": 1, "week": 6, "month": 29}
TRENDING_LIMIT = 10
SIMILAR_LIMIT = 5
# The App Home's week: a few papers, so the view stays well inside Block Kit's 100 blocks.
HOME_TRENDING = 5
# How long an event's key is remembered: platforms retry an event within minutes (Slack: three times, within
# about five), so a retry never finds its key forgotten.
EVENT_MEMORY = timedelta(hours=1)


class PaperNotFound(LookupError):
    """The store has no paper with that id."""


def quoted(text: str) -> str:
    """A topic in curly quotes, or as it is when it holds quotes of its own (no “"gaussian splatting"”).

    A topic's own quotes mean "this exact phrase", so they are shown rather than replaced.
    """
    stripped = text.strip()
    return stripped if '"' in stripped else f"“{stripped}”"


def person_of(ctx: CommandContext) -> ChannelRef:
    """The asker's own digest target in the asker's workspace: nobody reaches another workspace's person."""
    return ChannelRef.person(ctx.channel.platform, ctx.channel.workspace, ctx.user)


def command_name(command: Command) -> str:
    """The name a command is counted under in metrics and logs: `ShowPaper` -> "show_paper"."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(command).__name__).lower()


class CountedVoteBook(VoteBook):
    """The vote book, reporting each vote that changed (from commands, reactions and buttons) to telemetry."""

    def __init__(self, store: Store, telemetry: Telemetry) -> None:
        super().__init__(store)
        self._telemetry = telemetry

    async def cast(self, vote: Vote) -> bool:
        """Count a vote; False when this person had already voted for the paper here."""
        changed = await super().cast(vote)
        if changed:
            self._telemetry.vote_changed(vote.platform, True)
        return changed

    async def retract(self, vote: Vote) -> bool:
        """Take a vote back; False when there was none."""
        changed = await super().retract(vote)
        if changed:
            self._telemetry.vote_changed(vote.platform, False)
        return changed

    async def toggle(self, vote: Vote) -> bool:
        """Cast the vote, or retract it when it exists (buttons); return whether it now stands."""
        stands = await super().toggle(vote)
        self._telemetry.vote_changed(vote.platform, stands)
        return stands


class Paperboy:
    """The platform-neutral core: papers, search, trending, topics, schedules, votes and digests.

    Everything it needs is given at construction by the composition root (adapters/app/compose.py):
    `publishers` posts to each platform this process reaches, `engine` delivers digests (claims, leases,
    pacing) and is shared with the scheduler, `source` fetches a linked paper the store does not have yet.
    Every user action reaches it through `execute`.
    """

    def __init__(
        self,
        store: Store,
        index: SearchIndex,
        clock: Clock,
        telemetry: Telemetry | None = None,
        semantic: SemanticIndex | None = None,
        *,
        publishers: Mapping[str, DigestPublisher] | None = None,
        engine: DeliveryEngine | None = None,
        source: PaperSource | None = None,
    ) -> None:
        self.store = store
        self.index = index
        self.clock = clock
        self.telemetry: Telemetry = telemetry or NullTelemetry()
        # Search by meaning (the semantic extra), or None: then search, topics and "similar" use words only.
        self.semantic = semantic
        self.searcher = PaperSearch(store, index, semantic)
        self.topics = ChannelTopics(store)
        self.schedules = ChannelSchedules(store)
        self.votes: VoteBook = CountedVoteBook(store, self.telemetry)
        self.leaderboard = Leaderboard(store)
        self.planner = DigestPlanner(store, index, semantic)
        self.delivery = DigestDelivery(store, engine)
        # Read-only: the platforms a process posts to are decided once, where it is composed.
        self.publishers: Mapping[str, DigestPublisher] = MappingProxyType(dict(publishers or {}))
        # None: a link to a paper the store lacks gets no card (one-shot commands, tests).
        self.source = source
        self.people = People(store, clock, self.publishers)

    # ----- capabilities used by every adapter and the command line -----

    async def ingest(self, papers: Sequence[Paper], *, source: str = "other") -> UpsertCounts:
        """Store papers (new or updated) and bring the index up to date with them."""
        started = time.perf_counter()
        counts = await self.store.upsert_papers(papers)
        if counts.new or counts.updated:
            # The papers as stored: a store merges what each source knows (an arXiv record never blanks
            # Hugging Face's organization or featured day), and the index must search that, not the record.
            changed = counts.stored or tuple(papers)
            await self.index.add_papers(changed)
            await self._embed(changed)
        self.telemetry.ingest_ran(source, counts, time.perf_counter() - started)
        return counts

    async def search(
        self, text: str, limit: int = 10, *, workspace: Workspace | None = None
    ) -> list[ScoredPaper]:
        """Best papers for a query in the query language; QueryError says what would work."""
        return await self.searcher.search(text, limit, workspace=workspace)

    async def _embed(self, papers: Sequence[Paper]) -> None:
        """Embed new and changed papers for search by meaning; a failure leaves them to `index embeddings`."""
        if self.semantic is None:
            return
        try:
            await self.semantic.add_papers(papers)
        except Exception:
            log.exception(
                "embedding %d papers failed; `paperboy index embeddings` will catch up", len(papers)
            )

    async def similar(
        self, ref: str, limit: int = SIMILAR_LIMIT, *, workspace: Workspace | None = None
    ) -> tuple[Paper, list[ScoredPaper]]:
        """A stored paper and the papers most like it (by meaning when that is on, else by its words)."""
        item = await self.paper(ref, workspace=workspace)
        return item.paper, await self.searcher.similar(item.paper, limit, workspace=workspace)

    async def trending(
        self, window: str = "day", *, workspace: Workspace | None = None, limit: int = TRENDING_LIMIT
    ) -> list[ScoredPaper]:
        """Papers featured in the window, ranked by the trending formula."""
        today = self.clock.now().date()
        first = today - timedelta(days=TRENDING_WINDOW_DAYS[window])
        papers = await self.store.papers_featured_between(first, today)
        votes = await self.store.vote_counts([p.arxiv_id for p in papers], workspace)
        return rank_trending(papers, votes, today)[:limit]

    async def top(
        self, window: str = "week", *, workspace: Workspace | None = None, limit: int = TOP_LIMIT
    ) -> list[VotedPaper]:
        """The papers a workspace (None: every one) voted for most in the window, with where they were shown."""
        return await self.leaderboard.top(workspace, top_since(window, self.clock.now()), limit=limit)

    async def paper(self, ref: str, *, workspace: Workspace | None = None) -> ScoredPaper:
        """One paper by arXiv id or URL; InvalidPaperId or PaperNotFound say what went wrong."""
        arxiv_id = normalize_arxiv_id(ref)
        paper = await self.store.get_paper(arxiv_id)
        if paper is None:
            raise PaperNotFound(f"I don't have {arxiv_id} yet; try /papers search with words from its title.")
        votes = await self.votes.count(arxiv_id, workspace)
        return ScoredPaper(paper, 0.0, votes)

    async def cite(self, ref: str) -> Citation:
        """A BibTeX entry for a stored paper."""
        item = await self.paper(ref)
        return Citation(item.paper.arxiv_id, item.paper.title, bibtex_entry(item.paper))

    def local_today(self, timezone: str) -> date:
        """Today's date in a time zone; ScheduleError when this machine cannot load the zone."""
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(
                f"This channel's time zone {timezone[:64]!r} is unknown here; "
                "set another with /papers schedule HH:MM Area/City."
            ) from None
        return self.clock.now().astimezone(zone).date()

    async def post_digest(
        self, channel: ChannelRef, local_date: date | None = None, *, dry_run: bool = False
    ) -> DigestReply:
        """Plan a channel's digest for a local date and, unless dry, record and post it through its platform."""
        started = time.perf_counter()
        settings = await self.schedules.get(channel)
        day = local_date or self.local_today(settings.timezone)
        plan = await self.planner.plan(channel, day, settings)
        if dry_run or plan.is_empty:
            if not dry_run:
                self.telemetry.digest_delivered(channel, "empty", 0, time.perf_counter() - started)
            return DigestReply(plan, posted=False)
        publisher = self.publishers.get(channel.platform)
        if publisher is None:
            raise LookupError(f"No {channel.platform} adapter is running to post to {channel}.")
        digest_id = await self.store.create_digest(plan)
        if digest_id is None:
            self.telemetry.digest_delivered(channel, "already_posted", 0, time.perf_counter() - started)
            # Today's digest exists; some of it may still be on its way (a crash, a paused target resumed).
            counts = await self.store.delivery_counts(channel, day)
            unsent = sum(count for state, count in counts.items() if state != DELIVERY_POSTED)
            return DigestReply(plan, posted=False, already_posted_on=day, unsent=unsent)
        try:
            posted = await self.delivery.deliver(digest_id, plan, publisher)
        except Exception:
            self.telemetry.digest_delivered(channel, "failed", 0, time.perf_counter() - started)
            raise
        self.telemetry.digest_delivered(channel, "posted", posted, time.perf_counter() - started)
        return DigestReply(plan, posted=True)

    # ----- the /papers dispatcher -----

    async def handle_text(self, ctx: CommandContext, text: str) -> Reply:
        """Parse a `/papers …` line and answer it; never raises."""
        try:
            command = parse_command(text)
        except CommandError as error:
            self.telemetry.command_handled(ctx.channel, "unparsed", "user_error", 0.0)
            return ErrorReply(str(error))
        return await self.execute(ctx, command)

    async def execute(self, ctx: CommandContext, command: Command) -> Reply:
        """Answer one command; user mistakes become ErrorReply, unexpected failures a short apology."""
        started = time.perf_counter()
        outcome = "error"  # also what a cancelled command counts as
        try:
            if command.changes_channel and not ctx.can_manage:
                raise CommandError(ctx.manage_rule)
            reply = await self._execute(ctx, command)
            outcome = "ok"
            return reply
        except (QueryError, InvalidPaperId, PaperNotFound, TopicError, ScheduleError, CommandError) as error:
            outcome = "user_error"
            return ErrorReply(str(error))
        except PublishError as error:
            # A person's own digest failed on their target, not on the channel they typed in.
            target = person_of(ctx) if isinstance(command, ForMe) else ctx.channel
            log.warning("posting to %s failed: %s", target, error)
            return await self._explain_publish_error(target, error)
        except Exception:
            log.exception(
                "command failed", extra={"channel": str(ctx.channel), "command": type(command).__name__}
            )
            return ErrorReply("Something went wrong on my side; please try again in a minute.")
        finally:
            self.telemetry.command_handled(
                ctx.channel, command_name(command), outcome, time.perf_counter() - started
            )

    async def _explain_publish_error(self, channel: ChannelRef, error: PublishError) -> ErrorReply:
        # A channel the platform refuses, or that failed again and again, is paused: its managers can act on
        # the reason (invite the bot, unarchive, /papers schedule on). Anything else is worth a retry.
        settings = await self.schedules.get(channel)
        if settings.paused and settings.pause_reason:
            return ErrorReply(settings.pause_reason)
        if isinstance(error, ChannelUnavailable):
            return ErrorReply(str(error))
        return ErrorReply("The platform did not take the digest just now; please try again in a few minutes.")

    async def _execute(self, ctx: CommandContext, command: Command) -> Reply:
        workspace = Workspace(ctx.channel.platform, ctx.channel.workspace)
        match command:
            case Search(query=text, limit=limit):
                items = await self.search(text, min(limit, MAX_SEARCH_LIMIT), workspace=workspace)
                return PaperList(
                    heading=f"Papers for “{text.strip()[:200]}”",
                    items=tuple(items),
                    empty_text="No paper matches that query; try fewer or other words.",
                    query=text,
                )
            case Trending(window=window):
                items = await self.trending(window, workspace=workspace)
                return PaperList(
                    heading=f"Trending papers of the {window}",
                    items=tuple(items),
                    empty_text=f"No papers were featured in the last {window}; try /papers trending month.",
                )
            case Top(window=window):
                return TopPapers(window, tuple(await self.top(window, workspace=workspace)))
            case ShowPaper(ref=ref):
                return PaperCard(await self.paper(ref, workspace=workspace))
            case Cite(ref=ref):
                return await self.cite(ref)
            case Similar(ref=ref):
                paper, items = await self.similar(ref, workspace=workspace)
                return PaperList(
                    heading=f"Papers like “{paper.title[:200]}”",
                    items=tuple(items),
                    empty_text="I know no paper like that one yet.",
                )
            case Subscribe(query=text):
                topic, topics = await self.topics.subscribe(ctx.channel, text)
                return TopicList(tuple(topics), heading=f"Subscribed to {quoted(topic)}.")
            case Unsubscribe(query=text):
                topic, topics = await self.topics.unsubscribe(ctx.channel, text)
                return TopicList(tuple(topics), heading=f"Unsubscribed from {quoted(topic)}.")
            case ListTopics():
                return TopicList(
                    tuple(await self.topics.of_channel(ctx.channel)),
                    heading="Your topics" if ctx.channel.is_person else "Topics of this channel",
                )
            case Schedule(args=args):
                return await self._schedule(ctx, args)
            case ScheduleRecap(day=day):
                settings = await self.store.change_settings(ctx.channel, SettingsChange(recap_day=day))
                heading = "Weekly recap turned off." if day is None else "Weekly recap saved."
                return await self._schedule_status(ctx, settings, heading)
            case PostDigest():
                return await self.post_digest(ctx.channel)
            case CastVote(ref=ref) | RetractVote(ref=ref):
                return await self._vote(ctx, ref, cast=isinstance(command, CastVote))
            case ToggleVote(ref=ref):
                return await self._vote(ctx, ref, cast=None)
            case ReactionVote(message_id=message_id, cast=cast, event_key=event_key):
                return await self._reaction_vote(ctx, message_id, cast=cast, event_key=event_key)
            case SharePaper(ref=ref):
                return await self._share(ctx, ref)
            case ForgetWorkspace():
                removed = await self.store.delete_workspace(workspace)
                log.info("forgot %s:%s (%d channels)", workspace.platform, workspace.workspace, removed)
                return Notice(f"Forgot this workspace's {removed} channel(s).")
            case ChannelGone(reason=reason):
                if await self.store.get_settings(ctx.channel) is not None:
                    await self.schedules.pause(ctx.channel, reason)
                return Notice(reason)
            case CardsForLinks(links=links, message_id=message_id):
                return await self._link_cards(ctx, links, message_id)
            case CardsShown(message_id=message_id, arxiv_ids=arxiv_ids):
                return await self._cards_shown(ctx, message_id, arxiv_ids)
            case ForMe(command=inner):
                return await self._for_me(ctx, inner)
            case MyVotes(window=window):
                return await self.people.reading_list(person_of(ctx), window)
            case MyCitations(window=window):
                bib = await self.people.bib_file(person_of(ctx), window)
                if bib is None:
                    raise CommandError(
                        "You have no votes to cite in that period; try /papers me cite all, or vote first."
                    )
                return bib
            case ForgetMe(confirmed=confirmed):
                return await self.people.forget_me(person_of(ctx), confirmed=confirmed)
            case PersonGone():
                gone = await self.people.forget(person_of(ctx))
                return Notice(f"Forgot a person who left: {describe(gone) or 'nothing was kept'}.")
            case ShowHome():
                return await self.home(person_of(ctx))
            case ShowMyHelp(preface=preface):
                return HelpReply(ME_HELP_TEXT, preface)
            case ShowHelp(preface=preface):
                return HelpReply(HELP_TEXT, preface)
        return HelpReply(HELP_TEXT)

    # ----- one person's own digest (`/papers me …`), reading list and home -----

    async def _for_me(self, ctx: CommandContext, command: PersonalCommand) -> Reply:
        """Run a digest command on the asker's own digest: their DMs are its target, and they manage it."""
        person = person_of(ctx)
        writes = not isinstance(command, ListTopics | Unsubscribe) and not (
            isinstance(command, Schedule) and not command.args.strip()
        )
        try:
            if writes:
                # A line that is refused enrols nobody: enrolling starts a daily digest of all trending papers.
                if isinstance(command, Schedule):
                    parse_schedule_args(command.args)
                elif isinstance(command, Subscribe):
                    topic_query(command.query)
                await self.people.enrol(person)
            reply = await self._execute(CommandContext(person, ctx.user), command)
        except ScheduleError as error:
            # The schedule's grammar is the channel's; its examples name the person's own command.
            raise ScheduleError(str(error).replace("/papers schedule", "/papers me schedule")) from None
        if isinstance(reply, TopicList):
            line = await self.people.next_digest_line(person)
            heading = reply.heading if reply.heading.endswith((".", "!", "?")) else reply.heading + "."
            return TopicList(reply.topics, f"{heading} {line}".strip(), personal=True)
        return reply

    async def home(self, person: ChannelRef) -> Home:
        """A person's home: their digest and topics, their latest votes, the workspace's trending week."""
        workspace = Workspace(person.platform, person.workspace)
        trending = await self.trending("week", workspace=workspace, limit=HOME_TRENDING)
        return await self.people.home(person, tuple(trending))

    async def _schedule(self, ctx: CommandContext, args: str) -> Reply:
        change = parse_schedule_args(args)
        if change.is_empty:
            settings = await self.schedules.get(ctx.channel)
            heading = (
                "Your own digest, sent to you by direct message"
                if ctx.channel.is_person
                else "Digest schedule of this channel"
            )
        else:
            settings = await self.schedules.change(ctx.channel, change)
            heading = "Schedule saved."
        return await self._schedule_status(ctx, settings, heading)

    async def _schedule_status(self, ctx: CommandContext, settings: ChannelSettings, heading: str) -> Reply:
        """A channel's schedule as it stands: the next digest and the next weekly recap."""
        topics = await self.topics.of_channel(ctx.channel)
        now = self.clock.now()
        today = self.local_today(settings.timezone)
        done_today = await self.store.has_digest(ctx.channel, today)
        recapped_today = bool(await self.store.recap_keys(today, today, channel=ctx.channel))
        return ScheduleStatus(
            settings,
            next_run(settings, now, done_today=done_today),
            len(topics),
            await self.store.last_posted_at(ctx.channel),
            heading,
            next_recap(settings, now, done_today=recapped_today),
        )

    async def _vote(self, ctx: CommandContext, ref: str, *, cast: bool | None) -> Reply:
        """Cast or retract the asker's vote, or (None: the Upvote button) toggle it; say where the paper stands."""
        item = await self.paper(ref)
        workspace = Workspace(ctx.channel.platform, ctx.channel.workspace)
        vote = Vote(workspace.platform, workspace.workspace, ctx.user, item.paper.arxiv_id)
        if cast is None:
            cast, changed = await self.votes.toggle(vote), True
        else:
            changed = await (self.votes.cast(vote) if cast else self.votes.retract(vote))
        count = await self.votes.count(item.paper.arxiv_id, workspace)
        return VoteReply(item.paper.arxiv_id, item.paper.title, cast, changed, count)

    async def _reaction_vote(
        self, ctx: CommandContext, message_id: str, *, cast: bool, event_key: str | None = None
    ) -> Reply:
        """A reaction counts only on a message that carries a paper (a digest, a shared card), once per event.

        Votes are idempotent per person, but their order is not: a retry of an earlier "add" that reaches
        another replica after the "remove" would cast the vote again. The event's key is recorded first, in
        the database every replica shares, and a replay is skipped.
        """
        if event_key is None:
            return await self._count_reaction(ctx, message_id, cast=cast)
        key = f"{ctx.channel.platform}:{event_key}"
        now = self.clock.now()
        if not await self.store.record_event(key, now, now - EVENT_MEMORY):
            return Notice("That reaction was counted already.")
        try:
            return await self._count_reaction(ctx, message_id, cast=cast)
        except Exception:
            # Not acted on: the platform's retry of the event may do it. (The database that just failed may
            # fail this too; the first error is the one worth raising.)
            with contextlib.suppress(Exception):
                await self.store.forget_event(key)
            raise

    async def _count_reaction(self, ctx: CommandContext, message_id: str, *, cast: bool) -> Reply:
        """Cast or retract the vote a reaction on a paper's message stands for: one per paper it shows."""
        arxiv_ids = await self.store.papers_for_message(ctx.channel, message_id)
        if not arxiv_ids:
            return Notice("That message carries no paper; the reaction is not a vote.")
        workspace = Workspace(ctx.channel.platform, ctx.channel.workspace)
        changed = False
        for arxiv_id in arxiv_ids:
            vote = Vote(workspace.platform, workspace.workspace, ctx.user, arxiv_id)
            changed = await (self.votes.cast(vote) if cast else self.votes.retract(vote)) or changed
        if len(arxiv_ids) > 1:
            verb = "Counted your vote" if cast else "Took back your vote"
            return Notice(f"{verb} for each of the {len(arxiv_ids)} papers in that message.")
        count = await self.votes.count(arxiv_ids[0], workspace)
        return VoteReply(arxiv_ids[0], "", cast, changed, count)

    async def _link_cards(
        self, ctx: CommandContext, links: Sequence[PaperLink], message_id: str | None
    ) -> LinkCards:
        """Cards for the papers a message links to, in its order; remember the message for reaction votes.

        A paper the store lacks is fetched from arXiv and stored; when arXiv is slow or down, its link gets
        no card (the source answers with nothing), never a broken one.
        """
        workspace = Workspace(ctx.channel.platform, ctx.channel.workspace)
        wanted = linked_papers(links)
        papers = await self.store.get_papers(wanted)
        missing = [arxiv_id for arxiv_id in wanted if arxiv_id not in papers]
        if missing and self.source is not None:
            fetched = [p for p in await self.source.fetch_papers(missing) if p.arxiv_id in missing]
            if fetched:
                await self.ingest(fetched, source="arxiv")
                papers.update((p.arxiv_id, p) for p in fetched)
        shown = [arxiv_id for arxiv_id in wanted if arxiv_id in papers]
        if message_id is not None:
            for arxiv_id in shown:
                await self.store.remember_message(ctx.channel, message_id, arxiv_id)
        votes = await self.store.vote_counts(shown, workspace) if shown else {}
        cards: dict[str, LinkCard] = {}
        for link in links:
            if link.arxiv_id in shown and link.url not in cards:
                item = ScoredPaper(papers[link.arxiv_id], 0.0, votes.get(link.arxiv_id, 0))
                cards[link.url] = LinkCard(link.url, item)
        return LinkCards(tuple(cards.values()), votes_count=message_id is not None and bool(shown))

    async def _cards_shown(self, ctx: CommandContext, message_id: str, arxiv_ids: Sequence[str]) -> Reply:
        """Remember a message of cards an adapter posted, so that reactions on it vote for each paper."""
        known = await self.store.get_papers(arxiv_ids)
        shown = [arxiv_id for arxiv_id in dict.fromkeys(arxiv_ids) if arxiv_id in known]
        for arxiv_id in shown:
            await self.store.remember_message(ctx.channel, message_id, arxiv_id)
        return Notice(f"Reactions on those cards count as votes for {len(shown)} paper(s).")

    async def _share(self, ctx: CommandContext, ref: str) -> Reply:
        """Post a paper's card for the channel; reactions on it count once the message is remembered."""
        item = await self.paper(ref, workspace=Workspace(ctx.channel.platform, ctx.channel.workspace))
        publisher = self.publishers.get(ctx.channel.platform)
        if not isinstance(publisher, CardPublisher):
            return SharedPaper(item, posted=False)
        try:
            message_id = await publisher.post_card(ctx.channel, item)
        except ChannelUnavailable:
            # The bot is not in the channel: the adapter can still answer there, though votes cannot count.
            return SharedPaper(item, posted=False)
        await self.store.remember_message(ctx.channel, message_id, item.paper.arxiv_id, via=SHOWN_AS_CARD)
        return SharedPaper(item, posted=True)
