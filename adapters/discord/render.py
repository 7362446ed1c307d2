"""Every neutral reply rendered for Discord: embeds inside Discord's limits for any paper, buttons, text."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import discord

from adapters.discord.limits import (
    AUTHOR_LIMIT,
    BUTTON_URL_LIMIT,
    CARD_SUMMARY_CHARS,
    DESCRIPTION_LIMIT,
    DIGEST_SUMMARY_CHARS,
    EMBEDS_PER_MESSAGE,
    FIELD_COUNT_LIMIT,
    FIELD_NAME_LIMIT,
    FIELD_VALUE_LIMIT,
    FOOTER_LIMIT,
    HF_YELLOW,
    LIST_SUMMARY_STEPS,
    LIST_TITLE_STEPS,
    MAX_LIST_BUTTONS,
    NEUTRAL_GREY,
    PAUSED_ORANGE,
    THREAD_NAME_LIMIT,
    TITLE_LIMIT,
    TOTAL_BUDGET,
    clip,
    code_repo_url,
    embed_units,
    link,
    md,
    one_line,
    paper_links,
    safe_url,
    summary_text,
    text_units,
)
from adapters.discord.message import DiscordMessage
from adapters.discord.render_me import (
    bib_file_message,
    me_help_embed,
    personal_topics_embed,
    reading_list_message,
)
from adapters.discord.views import SimilarButton, UpvoteButton
from bot.commands import ME_HELP_TEXT
from bot.domain import DigestPlan, Paper, ScoredPaper, VotedPaper
from bot.render_text import (
    authors_line,
    plural,
    recap_counts,
    recap_day_text,
    render_text,
    shown_text,
)
from bot.replies import (
    BibFile,
    Citation,
    DigestReply,
    ErrorReply,
    HelpReply,
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

HELP_LINES = (
    (
        "/papers search query: [limit:]",
        'Find papers: words, "a phrase", -word, author:Name, cat:cs.CL, org:Name, since:2024-01-01.',
    ),
    ("/papers trending [window:]", "The most upvoted papers of the day, week or month."),
    ("/papers top [window:]", "The papers this server voted for most (week, month or all), and where."),
    ("/papers paper id:", "One paper in full, by arXiv id or URL."),
    ("/papers cite id:", "A BibTeX entry."),
    ("/papers similar id:", "Papers like this one (also the More like this button on a paper)."),
    ("/papers subscribe topic:", "Add a topic to this channel's daily digest (Manage Channels)."),
    ("/papers unsubscribe topic:", "Remove a topic (Manage Channels)."),
    ("/papers topics", "This channel's topics."),
    (
        "/papers schedule [time:] [timezone:] [days:] [papers:] [state:]",
        "See or change when the digest comes (changing needs Manage Channels); state: off pauses it.",
    ),
    (
        "/papers schedule recap:",
        "The day of the weekly recap of this server's votes (Fridays unless changed), or off (Manage Channels).",
    ),
    ("/papers digest", "Post today's digest now, in a thread (Manage Channels)."),
    (
        "/papers me …",
        "Your own digest by direct message, your votes as a reading list and a .bib file: /papers me help.",
    ),
    ("/papers help", "This overview."),
)


def paper_embed(
    item: ScoredPaper,
    *,
    number: int | None = None,
    summary_chars: int = CARD_SUMMARY_CHARS,
    full: bool = True,
    votes_label: str = "Votes here",
) -> discord.Embed:
    """A paper as an embed: title link, authors, upvotes and votes here, summary, links, thumbnail."""
    paper = item.paper
    prefix = f"{number}. " if number is not None else ""
    embed = discord.Embed(
        title=clip(prefix + one_line(paper.title or paper.arxiv_id), TITLE_LIMIT),
        url=safe_url(paper.abs_url),
        colour=HF_YELLOW,
    )
    embed.set_author(name=clip(one_line(authors_line(paper.authors, 6 if full else 3)), AUTHOR_LIMIT))
    summary = summary_text(paper)
    if summary:
        label = "AI summary: " if paper.ai_summary else ""
        embed.description = clip(md(label + summary), min(summary_chars, DESCRIPTION_LIMIT))
    embed.add_field(name="Hugging Face", value=f"▲ {paper.hf_upvotes}", inline=True)
    embed.add_field(name=votes_label, value=str(item.chat_votes), inline=True)
    if paper.github_stars is not None and code_repo_url(paper):
        embed.add_field(name="GitHub", value=f"★ {paper.github_stars}", inline=True)
    if full:
        dates = []
        if paper.published:
            dates.append(f"published {paper.published.isoformat()}")
        if paper.featured_on:
            dates.append(f"featured {paper.featured_on.isoformat()}")
        if dates:
            embed.add_field(name="Dates", value=" · ".join(dates), inline=True)
        if paper.categories:
            embed.add_field(
                name="Categories",
                value=clip(md(" ".join(paper.categories[:12])), FIELD_VALUE_LIMIT),
                inline=True,
            )
        if paper.ai_keywords:
            embed.add_field(
                name="Keywords",
                value=clip(md(", ".join(paper.ai_keywords[:12])), FIELD_VALUE_LIMIT),
                inline=False,
            )
    embed.add_field(name="Links", value=paper_links(paper) or "—", inline=False)
    thumbnail = safe_url(paper.thumbnail)
    if thumbnail:
        embed.set_thumbnail(url=thumbnail)
    footer = f"arXiv:{paper.arxiv_id}"
    if paper.organization:
        footer += f" · {one_line(paper.organization)}"
    embed.set_footer(text=clip(footer, FOOTER_LIMIT))
    # Whatever the paper, stay under the 6000 total by giving up description first.
    while embed_units(embed) > TOTAL_BUDGET and embed.description:
        over = embed_units(embed) - TOTAL_BUDGET
        keep = max(text_units(embed.description) - over - 10, 0)
        embed.description = clip(embed.description, keep) if keep > 20 else None
    return embed


def paper_buttons(paper: Paper, *, guild: str | None = None) -> list[discord.ui.Item[Any]]:
    """The Upvote and More like this buttons, and link buttons, for one paper (`guild`: sent in a DM)."""
    items: list[discord.ui.Item[Any]] = [UpvoteButton(paper.arxiv_id, guild=guild)]
    for label, url in (
        ("arXiv", paper.abs_url),
        ("PDF", paper.pdf_url),
        ("Hugging Face", paper.hf_url),
        ("Code", code_repo_url(paper)),
    ):
        good = safe_url(url, BUTTON_URL_LIMIT)
        if good:
            items.append(discord.ui.Button(label=label, url=good))
    items.append(SimilarButton(paper.arxiv_id, guild=guild))
    return items


def _list_field(number: int, item: ScoredPaper, title_chars: int, summary_chars: int) -> tuple[str, str]:
    paper = item.paper
    name = clip(f"{number}. {one_line(paper.title or paper.arxiv_id)}", min(title_chars, FIELD_NAME_LIMIT))
    lines = [
        clip(md(one_line(authors_line(paper.authors))), 200),
        f"▲ {paper.hf_upvotes} on Hugging Face · {item.chat_votes} here",
    ]
    summary = summary_text(paper)
    if summary and summary_chars:
        lines.append(clip(md(summary), summary_chars))
    links = " · ".join(
        p for p in (link(f"arXiv:{paper.arxiv_id}", paper.abs_url), link("Hugging Face", paper.hf_url)) if p
    )
    lines.append(links)
    return name, clip("\n".join(lines), FIELD_VALUE_LIMIT)


def paper_list_embed(heading: str, items: Sequence[ScoredPaper], *, colour: int = HF_YELLOW) -> discord.Embed:
    """Papers best first as one embed with a field each, shortened until the whole fits Discord's total."""
    shown = list(items[:FIELD_COUNT_LIMIT])
    while True:
        for title_chars in LIST_TITLE_STEPS:
            for summary_chars in LIST_SUMMARY_STEPS:
                embed = discord.Embed(title=clip(one_line(heading), TITLE_LIMIT), colour=colour)
                for number, item in enumerate(shown, 1):
                    name, value = _list_field(number, item, title_chars, summary_chars)
                    embed.add_field(name=name, value=value, inline=False)
                left_out = len(items) - len(shown)
                if left_out:
                    embed.set_footer(text=f"…and {left_out} more; narrow the query to see them.")
                if embed_units(embed) <= TOTAL_BUDGET:
                    return embed
        # Even the shortest form is too long (huge author names): show fewer papers.
        shown = shown[:-1]


def discord_channel(channel_id: str) -> str:
    """A channel mention Discord shows by name (`<#123>`), or `#id` when the id is not a Discord one."""
    return f"<#{channel_id}>" if channel_id.isdigit() else f"#{md(channel_id)}"


def _top_field(number: int, voted: VotedPaper, title_chars: int) -> tuple[str, str]:
    paper = voted.item.paper
    name = clip(f"{number}. {one_line(paper.title or paper.arxiv_id)}", min(title_chars, FIELD_NAME_LIMIT))
    lines = [
        f"**{plural(voted.item.chat_votes, 'vote')}** · ▲ {paper.hf_upvotes} on Hugging Face",
        clip(md(one_line(authors_line(paper.authors))), 200),
    ]
    where = shown_text(voted.shown, discord_channel)
    if where:
        lines.append(where[:1].upper() + where[1:])
    lines.append(link(f"arXiv:{paper.arxiv_id}", paper.abs_url) or paper.arxiv_id)
    return name, clip("\n".join(lines), FIELD_VALUE_LIMIT)


def top_embed(reply: TopPapers) -> discord.Embed:
    """The leaderboard as one embed, a field a paper, shortened until it fits Discord's total."""
    shown = list(reply.items[:FIELD_COUNT_LIMIT])
    while True:
        for title_chars in LIST_TITLE_STEPS:
            embed = discord.Embed(title=clip(reply.heading, TITLE_LIMIT), colour=HF_YELLOW)
            for number, voted in enumerate(shown, 1):
                name, value = _top_field(number, voted, title_chars)
                embed.add_field(name=name, value=value, inline=False)
            if embed_units(embed) <= TOTAL_BUDGET:
                return embed
        shown = shown[:-1]


def help_embed(preface: str | None) -> discord.Embed:
    """The command overview."""
    embed = discord.Embed(title="Paperboy commands", colour=HF_YELLOW, description=preface or None)
    for name, value in HELP_LINES:
        embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(text="React with 👍 or press Upvote on a paper to vote for it in this server.")
    return embed


def _timestamp(moment: datetime | None) -> str:
    if moment is None:
        return "not scheduled"
    unix = int(moment.timestamp())
    # Discord shows these in each reader's own time zone.
    return f"<t:{unix}:F> (<t:{unix}:R>)"


def schedule_embed(status: ScheduleStatus) -> discord.Embed:
    """A channel's (or a person's own) schedule, when it next runs, and the pause reason if any."""
    s = status.settings
    personal = s.channel.is_person
    embed = discord.Embed(
        title=clip(status.heading, TITLE_LIMIT), colour=PAUSED_ORANGE if s.paused else HF_YELLOW
    )
    embed.add_field(name="Time", value=f"{s.hour:02d}:{s.minute:02d} {s.timezone}", inline=True)
    embed.add_field(name="Days", value="weekdays" if s.weekdays_only else "every day", inline=True)
    embed.add_field(name="Papers", value=f"up to {s.digest_size}", inline=True)
    embed.add_field(
        name="Topics",
        value=str(status.topic_count) if status.topic_count else "none: all papers",
        inline=True,
    )
    embed.add_field(name="Next digest", value=_timestamp(status.next_run), inline=False)
    embed.add_field(
        name="Last delivery",
        value=_timestamp(status.last_delivery) if status.last_delivery else "never",
        inline=False,
    )
    if not personal:
        # The weekly recap is the team's, a channel's; a person's digest has none.
        recap = recap_day_text(s.recap_day)
        if s.recap_day is not None and not s.paused:
            recap += f", next {_timestamp(status.next_recap)}"
        embed.add_field(name="Weekly recap", value=recap, inline=False)
    if s.paused:
        reason = md(s.pause_reason) if s.pause_reason else "paused"
        papers = "/papers me" if personal else "/papers"
        # A platform's reason may already end with how to resume ("…, then write /papers me schedule on").
        told = s.pause_reason and any(
            f"{papers} schedule {on}" in s.pause_reason for on in ("on", "state:on")
        )
        tail = "" if told else f"\nResume with {papers} schedule state:on."
        embed.add_field(name="Paused", value=clip(reason + tail, FIELD_VALUE_LIMIT), inline=False)
    return embed


def topics_embed(reply: TopicList) -> discord.Embed:
    """The channel's (or a person's own) topics, numbered."""
    if reply.personal:
        return personal_topics_embed(reply)
    embed = discord.Embed(title=clip(reply.heading, TITLE_LIMIT), colour=HF_YELLOW)
    if not reply.topics:
        embed.description = (
            "No topics yet: this channel's digest carries all trending papers. "
            "Add one with /papers subscribe."
        )
    else:
        lines = [f"**{t.position}.** {md(one_line(t.query))}" for t in reply.topics]
        embed.description = clip("\n".join(lines), DESCRIPTION_LIMIT)
    return embed


def citation_message(reply: Citation) -> DiscordMessage:
    """BibTeX in a code block, or as a .bib file when it is too long for one."""
    fence_safe = reply.bibtex.replace("```", "`\u200b``")
    block = f"```bibtex\n{fence_safe}\n```"
    title = clip(f"BibTeX: {one_line(reply.title)}", TITLE_LIMIT)
    if text_units(block) <= DESCRIPTION_LIMIT:
        return DiscordMessage(embeds=[discord.Embed(title=title, description=block, colour=HF_YELLOW)])
    safe_name = "".join(ch if ch.isalnum() or ch in ".-" else "_" for ch in reply.arxiv_id)
    embed = discord.Embed(
        title=title,
        colour=HF_YELLOW,
        description="The entry is too long for a message; it is attached as a .bib file.",
    )
    return DiscordMessage(embeds=[embed], file_name=f"{safe_name}.bib", file_text=reply.bibtex)


def render(reply: Reply) -> DiscordMessage:
    """Render any reply as a Discord message."""
    match reply:
        case Notice(text=text):
            return DiscordMessage(
                embeds=[discord.Embed(description=clip(text, DESCRIPTION_LIMIT), colour=NEUTRAL_GREY)]
            )
        case ErrorReply():
            return DiscordMessage(content=render_text(reply), ephemeral=True)
        case HelpReply(text=text, preface=preface):
            embed = me_help_embed(preface) if text == ME_HELP_TEXT else help_embed(preface)
            return DiscordMessage(embeds=[embed], ephemeral=True)
        case PaperCard(item=item):
            return paper_card_message(item)
        case SharedPaper(item=item, posted=posted):
            if posted:
                return DiscordMessage(content="Shared in this channel; reactions on it count as votes.")
            return paper_card_message(item)
        case PaperList(heading=heading, items=items, empty_text=empty):
            if not items:
                return DiscordMessage(content=empty, ephemeral=True)
            buttons: list[discord.ui.Item[Any]] = [
                UpvoteButton(i.paper.arxiv_id, label=f"{n}")
                for n, i in enumerate(items[:MAX_LIST_BUTTONS], 1)
            ]
            return DiscordMessage(embeds=[paper_list_embed(heading, items)], items=buttons)
        case TopPapers(items=voted_items):
            if not voted_items:
                return DiscordMessage(content=reply.empty_text)
            votes: list[discord.ui.Item[Any]] = [
                UpvoteButton(v.item.paper.arxiv_id, label=f"{n}")
                for n, v in enumerate(voted_items[:MAX_LIST_BUTTONS], 1)
            ]
            return DiscordMessage(embeds=[top_embed(reply)], items=votes)
        case Citation():
            return citation_message(reply)
        case TopicList():
            return DiscordMessage(embeds=[topics_embed(reply)])
        case ScheduleStatus():
            return DiscordMessage(embeds=[schedule_embed(reply)])
        case VoteReply():
            return DiscordMessage(content=render_text(reply), ephemeral=True)
        case DigestReply(plan=plan, posted=posted):
            if not posted and plan.papers and reply.already_posted_on is None:
                return DiscordMessage(
                    content="(dry run) nothing was posted.", embeds=[digest_parent_embed(plan)]
                )
            return DiscordMessage(content=render_text(reply))
        case LinkCards():
            return link_cards_message(reply)
        case ReadingList():
            return reading_list_message(reply)
        case BibFile():
            return bib_file_message(reply)
    raise TypeError(f"no Discord rendering for {type(reply).__name__}")


def digest_title(plan: DigestPlan) -> str:
    """The digest's headline: date and number of papers (a recap: the week it closes)."""
    if plan.recap is not None:
        return f"This week's most voted papers (to {plan.local_date:%A %d %B %Y})"
    count = len(plan.papers)
    noun = "paper" if count == 1 else "papers"
    whose = "Your papers" if plan.channel.is_person else "Trending papers"
    return f"{whose} for {plan.local_date:%A %d %B %Y}: {count} {noun}"


def digest_thread_name(plan: DigestPlan) -> str:
    """The digest thread's (or forum post's) name, 1 to 100 characters."""
    if plan.recap is not None:
        return clip(f"This week · {plan.local_date.isoformat()}", THREAD_NAME_LIMIT)
    topics = ", ".join(one_line(t) for t in plan.topics) if plan.topics else "all papers"
    return clip(f"Papers {plan.local_date.isoformat()} · {topics}", THREAD_NAME_LIMIT)


def digest_parent_embed(plan: DigestPlan, *, server: str | None = None) -> discord.Embed:
    """The parent message of a digest: headline, topics and the papers' titles (or a weekly recap).

    A person's own digest (in their DMs) names the server it comes from (`server`), where its votes count.
    """
    if plan.recap is not None:
        return recap_parent_embed(plan)
    embed = discord.Embed(title=clip(digest_title(plan), TITLE_LIMIT), colour=HF_YELLOW)
    topics = ", ".join(md(one_line(t)) for t in plan.topics) if plan.topics else "all trending papers"
    lines = [f"Topics: {topics}", ""]
    lines += [f"{n}. {md(one_line(i.paper.title))}" for n, i in enumerate(plan.papers, 1)]
    embed.description = clip("\n".join(lines), 3000)
    if plan.channel.is_person:
        where = f"from {one_line(server)}" if server else "from your server"
        embed.set_footer(
            text=clip(
                f"Your own digest {where}: papers below, best first; Upvote counts your vote there. "
                "Change it with /papers me schedule in that server.",
                FOOTER_LIMIT,
            )
        )
        return embed
    embed.set_footer(text="Papers are in the thread, best first. React with 👍 or press Upvote to vote.")
    return embed


def recap_parent_embed(plan: DigestPlan) -> discord.Embed:
    """A weekly recap: "This week in #channel", the most voted papers with their votes, the week's counts.

    The title stays the same for one recap whatever happens (a restarted worker finds its message by it).
    """
    embed = discord.Embed(title=clip(digest_title(plan), TITLE_LIMIT), colour=HF_YELLOW)
    lines = [
        f"This week in {discord_channel(plan.channel.channel)}: the papers this server voted for most.",
        "",
    ]
    for number, item in enumerate(plan.papers, 1):
        title = md(clip(one_line(item.paper.title or item.paper.arxiv_id), 200))
        linked = link(title, item.paper.abs_url) or title
        lines.append(f"{number}. {linked} · **{plural(item.chat_votes, 'vote')}**")
    lines += ["", recap_counts(plan) + "."]
    embed.description = clip("\n".join(lines), 3000)
    if plan.threaded:
        embed.set_footer(text="The papers are in the thread. React with 👍 or press Upvote to vote.")
    return embed


def paper_card_message(item: ScoredPaper) -> DiscordMessage:
    """One paper in full, with its buttons."""
    return DiscordMessage(embeds=[paper_embed(item)], items=paper_buttons(item.paper))


def digest_paper_message(item: ScoredPaper, number: int, *, guild: str | None = None) -> DiscordMessage:
    """One paper of a digest, posted in its thread (or, with `guild`, in a person's DMs: its buttons name
    the server whose digest it is, and its vote count is that server's)."""
    label = "Votes in the server" if guild else "Votes here"
    return DiscordMessage(
        embeds=[paper_embed(item, number=number, summary_chars=DIGEST_SUMMARY_CHARS, votes_label=label)],
        items=paper_buttons(item.paper, guild=guild),
    )


# ----- cards for shared links ("Paper card") -----

LINK_CARD_SUMMARY_CHARS = 300


def link_card_embed(item: ScoredPaper, number: int | None, *, summary: bool = True) -> discord.Embed:
    """One linked paper, compact: title linked to arXiv, first authors, a short summary, upvotes and votes here."""
    paper = item.paper
    prefix = f"{number}. " if number is not None else ""
    embed = discord.Embed(
        title=clip(prefix + one_line(paper.title or paper.arxiv_id), TITLE_LIMIT),
        url=safe_url(paper.abs_url),
        colour=HF_YELLOW,
    )
    embed.set_author(name=clip(one_line(authors_line(paper.authors)), AUTHOR_LIMIT))
    text = summary_text(paper)
    if summary and text:
        embed.description = clip(md(text), LINK_CARD_SUMMARY_CHARS)
    embed.add_field(name="Hugging Face", value=f"▲ {paper.hf_upvotes}", inline=True)
    embed.add_field(name="Votes here", value=str(item.chat_votes), inline=True)
    embed.set_footer(text=f"arXiv:{paper.arxiv_id} · react with 👍 to vote")
    return embed


def link_cards_message(reply: LinkCards) -> DiscordMessage:
    """The cards of a message's paper links: an embed each (one per paper) and, on its own row, its Upvote and
    More like this buttons; the summaries go first should the embeds pass Discord's 6000 characters."""
    if not reply.cards:
        return DiscordMessage(content=render_text(reply), ephemeral=True)
    papers = list({card.item.paper.arxiv_id: card.item for card in reply.cards}.values())[:EMBEDS_PER_MESSAGE]
    several = len(papers) > 1
    embeds = [link_card_embed(item, n if several else None) for n, item in enumerate(papers, 1)]
    if sum(embed_units(e) for e in embeds) > TOTAL_BUDGET:
        embeds = [
            link_card_embed(item, n if several else None, summary=False) for n, item in enumerate(papers, 1)
        ]
    items: list[discord.ui.Item[Any]] = []
    # Five rows of buttons at most: one row a paper.
    for row, item in enumerate(papers[:5]):
        upvote = UpvoteButton(item.paper.arxiv_id, label=f"Upvote {row + 1}" if several else "Upvote")
        similar = SimilarButton(item.paper.arxiv_id)
        upvote.row = similar.row = row
        items += [upvote, similar]
    return DiscordMessage(embeds=embeds, items=items)
