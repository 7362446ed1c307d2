"""Plain-text rendering of every reply: the console adapter's output and the chat platforms' fallback text."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from datetime import datetime

from bot.domain import SHOWN_AS_CARD, SHOWN_AS_LINK, DigestPlan, Paper, PaperShowing, ScoredPaper
from bot.replies import (
    BibFile,
    Citation,
    DigestReply,
    ErrorReply,
    HelpReply,
    Home,
    LinkCards,
    Notice,
    PaperCard,
    PaperList,
    ReadingList,
    Reply,
    ScheduleStatus,
    SharedPaper,
    TopicList,
    TopPapers,
    VoteReply,
)

AUTHORS_SHOWN = 3
SUMMARY_CHARS = 300
PLACES_SHOWN = 4
_HOW_SHOWN = {SHOWN_AS_CARD: "card", SHOWN_AS_LINK: "link"}


def authors_line(authors: list[str], shown: int = AUTHORS_SHOWN) -> str:
    """The first few authors, then "et al."."""
    if not authors:
        return "Unknown authors"
    if len(authors) <= shown:
        return ", ".join(authors)
    return ", ".join(authors[:shown]) + " et al."


def shorten(text: str, limit: int) -> str:
    """Cut text at a word boundary so it fits `limit` characters, marking the cut with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return (cut or text[: limit - 1]) + "…"


def summary_of(paper: Paper, limit: int = SUMMARY_CHARS) -> str:
    """The AI summary, or the start of the abstract."""
    return shorten(paper.ai_summary or paper.abstract or "", limit)


def counts_line(item: ScoredPaper) -> str:
    """Upvotes on Hugging Face and votes cast here."""
    parts = [f"▲ {item.paper.hf_upvotes} on Hugging Face", f"{item.chat_votes} here"]
    if item.paper.github_stars is not None and item.paper.github_repo:
        parts.append(f"★ {item.paper.github_stars} on GitHub")
    return " · ".join(parts)


def paper_lines(item: ScoredPaper, *, number: int | None = None, full: bool = False) -> list[str]:
    """A paper as a few lines of text."""
    paper = item.paper
    prefix = f"{number}. " if number is not None else ""
    lines = [
        f"{prefix}{paper.title} [{paper.arxiv_id}]",
        f"   {authors_line(paper.authors)}",
        f"   {counts_line(item)}",
    ]
    if full:
        text = paper.ai_summary or paper.abstract
        lines += [
            "",
            *textwrap.wrap(" ".join(text.split()), 100, initial_indent="   ", subsequent_indent="   "),
        ]
        lines.append("")
        dates = []
        if paper.published:
            dates.append(f"published {paper.published.isoformat()}")
        if paper.featured_on:
            dates.append(f"featured {paper.featured_on.isoformat()}")
        if paper.categories:
            dates.append(" ".join(paper.categories))
        if dates:
            lines.append("   " + " · ".join(dates))
        if paper.ai_keywords:
            lines.append("   keywords: " + ", ".join(paper.ai_keywords[:10]))
        lines += [
            f"   arXiv: {paper.abs_url}",
            f"   PDF: {paper.pdf_url}",
            f"   Hugging Face: {paper.hf_url}",
        ]
        if paper.github_repo:
            lines.append(f"   Code: {paper.github_repo}")
        if paper.project_page:
            lines.append(f"   Project: {paper.project_page}")
    else:
        summary = summary_of(paper, 200)
        if summary:
            lines.append(f"   {summary}")
    return lines


def plural(count: int, noun: str) -> str:
    """`1 vote`, `2 votes`."""
    return f"{count} {noun if count == 1 else noun + 's'}"


def hash_channel(channel: str) -> str:
    """A channel as plain text names it: `#general`."""
    return f"#{channel}"


def shown_text(shown: Sequence[PaperShowing], channel: Callable[[str], str] = hash_channel) -> str:
    """Where a paper was shown: `shared in #general (digest), #reading (link) and 2 more`; "" for nowhere.

    `channel` writes a channel id the platform's way (a Slack or Discord mention, `#name` in text).
    """
    if not shown:
        return ""
    places = [f"{channel(s.channel)} ({_HOW_SHOWN.get(s.via, s.via)})" for s in shown[:PLACES_SHOWN]]
    more = len(shown) - PLACES_SHOWN
    if more > 0:
        return f"shared in {', '.join(places)} and {more} more"
    if len(places) == 1:
        return f"shared in {places[0]}"
    return f"shared in {', '.join(places[:-1])} and {places[-1]}"


def recap_headline(plan: DigestPlan, channel: Callable[[str], str] = hash_channel) -> str:
    """A weekly recap's first line: `This week in #general` and the day it closes."""
    return f"This week in {channel(plan.channel.channel)} (to {plan.local_date:%A %d %B %Y})"


def recap_counts(plan: DigestPlan) -> str:
    """How many papers the channel was shown and the workspace voted for, that week."""
    recap = plan.recap
    if recap is None:
        return ""
    return (
        f"{plural(recap.shared, 'paper')} shared in this channel, "
        f"{plural(recap.voted, 'paper')} voted for in this workspace"
    )


def recap_lines(plan: DigestPlan) -> list[str]:
    """A weekly recap as text: the headline, the most voted papers with their votes, and the week's counts."""
    lines = [f"{recap_headline(plan)}: the papers this workspace voted for most"]
    for number, item in enumerate(plan.papers, 1):
        lines.append(
            f"{number}. {item.paper.title} [{item.paper.arxiv_id}] — {plural(item.chat_votes, 'vote')}"
        )
    lines.append(recap_counts(plan) + ".")
    return lines


def digest_heading(plan: DigestPlan) -> str:
    """The parent message of a digest: date, how many papers, the channel's topics (a recap: all of it)."""
    if plan.recap is not None:
        return "\n".join(recap_lines(plan))
    count = len(plan.papers)
    noun = "paper" if count == 1 else "papers"
    topics = ", ".join(plan.topics) if plan.topics else "all papers"
    whose = "Your papers" if plan.channel.is_person else "Trending papers"
    return f"{whose} for {plan.local_date:%A %d %B %Y}: {count} {noun} ({topics})"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%a %d %b %Y %H:%M %Z") if moment else "not scheduled"


RECAP_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def recap_day_text(recap_day: int | None) -> str:
    """`Fridays`, or `off`."""
    return "off" if recap_day is None else RECAP_DAY_NAMES[recap_day % 7] + "s"


def recap_status(status: ScheduleStatus) -> str:
    """The weekly recap's line of a schedule: its day and when it next comes."""
    s = status.settings
    if s.recap_day is None:
        return "Weekly recap: off (turn it on with /papers schedule recap friday)."
    return f"Weekly recap: {recap_day_text(s.recap_day)} at {s.hour:02d}:{s.minute:02d}; next {_when(status.next_recap)}."


def no_topics_text(*, personal: bool) -> str:
    """What an empty topic list means: every trending paper comes, until a topic narrows it."""
    if personal:
        return "No topics yet: without one, your digest carries all trending papers. Add one with /papers me subscribe <query>."
    return "No topics yet: this channel gets all trending papers. Add one with /papers subscribe <query>."


def home_lines(home: Home) -> list[str]:
    """A person's home as text: their digest, topics, latest votes, and the workspace's week."""
    lines = ["Your digest"]
    if home.settings is None:
        lines.append("You have no digest of your own yet: /papers me subscribe <query> starts one.")
    else:
        s = home.settings
        days = "weekdays" if s.weekdays_only else "every day"
        state = (
            f"paused: {s.pause_reason or 'resume with /papers me schedule on'}"
            if s.paused
            else f"next {_when(home.next_run)}"
        )
        lines.append(
            f"By direct message at {s.hour:02d}:{s.minute:02d} {s.timezone}, {days}, up to {s.digest_size} papers; {state}."
        )
        lines += [f"{t.position}. {t.query}" for t in home.topics] or [no_topics_text(personal=True)]
    lines.append("Your latest votes")
    lines += [f"- {b.paper.title} [{b.paper.arxiv_id}]" for b in home.votes] or [
        "None yet: every vote is a bookmark."
    ]
    lines.append("Trending this week here")
    lines += [
        f"- {item.paper.title} [{item.paper.arxiv_id}] — {plural(item.chat_votes, 'vote')}"
        for item in home.trending
    ] or ["No papers were featured this week."]
    return lines


def render_text(reply: Reply) -> str:
    """Render any reply as plain text."""
    match reply:
        case Notice(text=text):
            return text
        case ErrorReply(text=text):
            return f"Sorry: {text}"
        case HelpReply(text=text, preface=preface):
            return f"{preface}\n{text}" if preface else text
        case PaperCard(item=item):
            return "\n".join(paper_lines(item, full=True))
        case SharedPaper(item=item, posted=posted):
            if posted:
                return "Shared in this channel; reactions on it count as votes."
            return "\n".join(paper_lines(item, full=True))
        case PaperList(heading=heading, items=items, empty_text=empty):
            if not items:
                return empty
            lines = [heading]
            for number, item in enumerate(items, 1):
                lines += paper_lines(item, number=number)
            return "\n".join(lines)
        case TopPapers(items=items) as top:
            if not items:
                return top.empty_text
            lines = [top.heading]
            for number, voted in enumerate(items, 1):
                paper = voted.item.paper
                lines.append(
                    f"{number}. {paper.title} [{paper.arxiv_id}] — {plural(voted.item.chat_votes, 'vote')}"
                )
                lines.append(f"   {authors_line(paper.authors)}")
                where = shown_text(voted.shown)
                if where:
                    lines.append(f"   {where}")
            return "\n".join(lines)
        case Citation(bibtex=bibtex):
            return bibtex
        case TopicList(topics=topics, heading=heading, personal=personal):
            if not topics:
                return f"{heading}\n{no_topics_text(personal=personal)}"
            return "\n".join([heading, *(f"{t.position}. {t.query}" for t in topics)])
        case ScheduleStatus() as status:
            s = status.settings
            days = "on weekdays" if s.weekdays_only else "every day"
            lines = [
                status.heading,
                f"Digest at {s.hour:02d}:{s.minute:02d} {s.timezone} {days}, up to {s.digest_size} papers, "
                f"{status.topic_count} topic(s).",
                f"Next digest: {_when(status.next_run)}.",
                f"Last delivery: {_when(status.last_delivery) if status.last_delivery else 'none yet'}.",
                recap_status(status),
            ]
            if s.channel.is_person:
                lines = lines[:4]  # the weekly recap is the team's, not a person's
            if s.paused:
                papers = "/papers me" if s.channel.is_person else "/papers"
                resume = f"{papers} schedule on"
                # A platform's reason already ends with how to resume ("…, then run /papers schedule on").
                tail = "" if s.pause_reason and resume in s.pause_reason else f" Resume with {resume}."
                lines.append(f"Paused{': ' + s.pause_reason.rstrip('.') if s.pause_reason else ''}.{tail}")
            return "\n".join(lines)
        case VoteReply() as vote:
            if vote.voted:
                verb = "Counted your vote for" if vote.changed else "You had already voted for"
            else:
                verb = "Took back your vote for" if vote.changed else "You had not voted for"
            return f"{verb} {vote.title} [{vote.arxiv_id}]; {vote.votes_here} vote(s) here."
        case DigestReply(plan=plan, posted=posted, already_posted_on=already, unsent=unsent):
            if already and unsent:
                whose = "Your" if plan.channel.is_person else "This channel's"
                return (
                    f"{whose} digest for {already.isoformat()} is on its way: {unsent} message(s) still to "
                    "send. They follow within a few minutes once the digest is not paused."
                )
            if already:
                if plan.channel.is_person:
                    return f"Your digest for {already.isoformat()} was already sent to you."
                return f"This channel's digest for {already.isoformat()} was already posted."
            if plan.is_empty:
                if plan.channel.is_person:
                    return "Nothing new for you: no paper featured lately matches your topics that you were not sent already."
                return "Nothing new to post: no paper featured lately matches this channel's topics that was not posted here already."
            if posted:
                verb = (
                    "Sent your digest to your direct messages"
                    if plan.channel.is_person
                    else "Posted the digest"
                )
                return f"{verb} for {plan.local_date.isoformat()}: {len(plan.papers)} paper(s)."
            lines = [f"(dry run) {digest_heading(plan)}"]
            for number, item in enumerate(plan.papers, 1):
                lines += paper_lines(item, number=number)
            return "\n".join(lines)
        case LinkCards(cards=cards):
            if not cards:
                return "I could not find the papers behind those links just now."
            return "\n".join(line for card in cards for line in paper_lines(card.item))
        case ReadingList(items=items) as reading:
            if not items:
                return reading.empty_text
            lines = [reading.heading]
            for number, bookmark in enumerate(items, 1):
                paper = bookmark.paper
                lines.append(
                    f"{number}. {paper.title} [{paper.arxiv_id}] — voted {bookmark.voted_at:%d %b %Y}"
                )
            if reading.total > len(items):
                lines.append(
                    f"…and {reading.total - len(items)} more; /papers me cite {reading.window} has them all."
                )
            return "\n".join(lines)
        case BibFile(filename=filename, bibtex=bibtex, heading=heading):
            return f"{heading} ({filename})\n\n{bibtex}"
        case Home() as home:
            return "\n".join(home_lines(home))
    raise TypeError(f"no text rendering for {type(reply).__name__}")
