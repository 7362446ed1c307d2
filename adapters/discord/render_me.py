"""A person's own answers on Discord (`/papers me …`): their topics, reading list, BibTeX file and help."""

from __future__ import annotations

import discord

from adapters.discord.limits import (
    DESCRIPTION_LIMIT,
    FOOTER_LIMIT,
    HF_YELLOW,
    LIST_TITLE_STEPS,
    TITLE_LIMIT,
    clip,
    link,
    md,
    one_line,
    text_units,
)
from adapters.discord.message import DiscordMessage
from bot.replies import BibFile, ReadingList, TopicList

ME_HELP_LINES = (
    ("/papers me subscribe topic:", "Add a topic to your own daily digest, sent to you by direct message."),
    ("/papers me unsubscribe topic:", "Remove one of your topics (its text, or its number)."),
    ("/papers me topics", "Your topics, and when your next digest comes."),
    (
        "/papers me schedule [time:] [timezone:] [days:] [papers:] [state:]",
        "See or change when your digest comes (08:00 UTC on weekdays at first); state: off pauses it.",
    ),
    ("/papers me digest", "Send me today's digest now."),
    (
        "/papers me votes [window:]",
        "The papers you voted for in this server, newest first: your reading list.",
    ),
    ("/papers me cite [window:]", "One .bib file of the papers you voted for."),
    (
        "/papers me forget [confirm:]",
        "What Paperboy keeps about you in this server; with confirm: True, delete it all.",
    ),
)
ME_HELP_FOOTER = (
    "Everything under /papers me is yours alone and private. Your digest comes by direct message: "
    "allow direct messages from this server's members (its Privacy Settings) to get it."
)
# A title in a reading list: long enough to know the paper, short enough for 20 of them in one description.
READING_TITLE_CHARS = 200


def me_help_embed(preface: str | None) -> discord.Embed:
    """What a person can do for themselves."""
    embed = discord.Embed(title="Your own Paperboy", colour=HF_YELLOW, description=preface or None)
    for name, value in ME_HELP_LINES:
        embed.add_field(name=name, value=value, inline=False)
    embed.set_footer(text=clip(ME_HELP_FOOTER, FOOTER_LIMIT))
    return embed


def personal_topics_embed(reply: TopicList) -> discord.Embed:
    """A person's topics: what just happened and when their digest comes (or why not), then the topics.

    The heading may carry a pause reason of a few sentences, so it goes in the description, never the title.
    """
    lines = [md(reply.heading), ""]
    if reply.topics:
        lines += [f"**{t.position}.** {md(one_line(t.query))}" for t in reply.topics]
    else:
        lines.append(
            "No topics yet: without one, your digest carries all trending papers. "
            "Add one with /papers me subscribe."
        )
    return discord.Embed(
        title="Your topics", colour=HF_YELLOW, description=clip("\n".join(lines), DESCRIPTION_LIMIT)
    )


def _reading_lines(reply: ReadingList, title_chars: int) -> str:
    lines = []
    for number, bookmark in enumerate(reply.items, 1):
        paper = bookmark.paper
        title = md(clip(one_line(paper.title or paper.arxiv_id), title_chars))
        shown = link(title, paper.abs_url) or title
        lines.append(f"{number}. {shown} · voted {bookmark.voted_at:%d %b %Y}")
    return "\n".join(lines)


def reading_list_message(reply: ReadingList) -> DiscordMessage:
    """A person's votes, newest first, as one embed: titles shortened until every line fits."""
    if not reply.items:
        return DiscordMessage(content=reply.empty_text)
    for title_chars in (READING_TITLE_CHARS, *LIST_TITLE_STEPS[1:]):
        text = _reading_lines(reply, title_chars)
        if text_units(text) <= DESCRIPTION_LIMIT:
            break
    embed = discord.Embed(
        title=clip(reply.heading, TITLE_LIMIT), colour=HF_YELLOW, description=clip(text, DESCRIPTION_LIMIT)
    )
    left_out = reply.total - len(reply.items)
    if left_out > 0:
        embed.set_footer(text=f"…and {left_out} more; /papers me cite window:{reply.window} has them all.")
    return DiscordMessage(embeds=[embed])


def bib_file_message(reply: BibFile) -> DiscordMessage:
    """The BibTeX of a person's votes as a `.bib` attachment, whatever its length."""
    embed = discord.Embed(
        title=clip(reply.heading, TITLE_LIMIT),
        colour=HF_YELLOW,
        description=f"Attached: {md(reply.filename)}, ready for a reference manager or LaTeX.",
    )
    return DiscordMessage(embeds=[embed], file_name=reply.filename, file_text=reply.bibtex)
