"""Block Kit rendering of every core reply, within Slack's limits and with all outside text escaped."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.domain import DigestPlan, Paper, ScoredPaper, VotedPaper
from bot.render_text import (
    authors_line,
    digest_heading,
    no_topics_text,
    plural,
    recap_counts,
    recap_day_text,
    render_text,
    shorten,
    shown_text,
)
from bot.replies import (
    BibFile,
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
    ReadingList,
    Reply,
    ScheduleStatus,
    SharedPaper,
    TopicList,
    TopPapers,
    VoteReply,
)

# Slack's documented limits (docs.slack.dev, Block Kit reference); the renderer never exceeds them.
MAX_BLOCKS = 50
# A view (the App Home) holds twice as many blocks as a message.
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ALT_TEXT = 2000
MAX_URL = 3000
# Slack cuts chat.postMessage `text` beyond 40,000 characters; as a notification fallback far less is useful.
MAX_FALLBACK_TEXT = 3000

UPVOTE_ACTION = "paperboy_upvote"
SHARE_ACTION = "paperboy_share"
SIMILAR_ACTION = "paperboy_similar"
# The App Home's buttons: remove a topic (value: its number), pause or resume ("off", "on"), send today's now.
HOME_UNSUBSCRIBE_ACTION = "paperboy_home_unsubscribe"
HOME_SCHEDULE_ACTION = "paperboy_home_schedule"
HOME_DIGEST_ACTION = "paperboy_home_digest"
DIGEST_EVENT_TYPE = "paperboy_digest"
DIGEST_ITEM_EVENT_TYPE = "paperboy_digest_item"

CARD_SUMMARY_CHARS = 900
LIST_SUMMARY_CHARS = 220

_URL_OK = re.compile(r"^https?://[^\s<>|\"]+$", re.IGNORECASE)
# Slack channel ids (C…, G…, D…): only these become a mention, which Slack shows as the channel's name.
_CHANNEL_ID = re.compile(r"^[A-Z0-9]{2,32}$")


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """What goes into chat.postMessage or a response_url: the fallback text and the blocks."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


def escape(text: str) -> str:
    """Escape the three characters Slack treats as markup, so outside text can never mention or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Undo Slack's escaping of text it sends us (slash command arguments)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def fit_escaped(raw: str, limit: int) -> str:
    """Escape `raw` and cut it (at a word boundary, before escaping) so the escaped text fits `limit`."""
    budget = limit
    text = escape(shorten(raw, budget))
    while len(text) > limit and budget > 1:
        # Escaping can grow the text up to five-fold; shrink the raw budget by the overflow and retry.
        budget = max(1, budget - (len(text) - limit))
        text = escape(shorten(raw, budget))
    return _cut(text, limit)


def safe_url(url: str | None) -> str | None:
    """An http(s) URL fit for `<url|label>` markup, or None when the text is not one."""
    if not url:
        return None
    url = url.strip()
    if not _URL_OK.match(url) or len(url) > MAX_URL:
        return None
    return escape(url)


def link(url: str | None, label: str) -> str:
    """`<url|label>` with an escaped label, or just the escaped label when the URL is unusable."""
    target = safe_url(url)
    return f"<{target}|{escape(label)}>" if target else escape(label)


def mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object that Slack renders as written (no auto-linking of names or channels)."""
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def plain(text: str, limit: int) -> dict[str, Any]:
    """A plain_text object, cut to `limit` (plain text needs no escaping)."""
    return {"type": "plain_text", "text": shorten(text, limit) or " ", "emoji": True}


def section(text: str, **extra: Any) -> dict[str, Any]:
    """A section block; `text` must already be escaped mrkdwn."""
    return {"type": "section", "text": mrkdwn(_cut(text, MAX_SECTION_TEXT)), **extra}


def context(*texts: str) -> dict[str, Any]:
    """A context block of escaped mrkdwn texts."""
    elements = [mrkdwn(_cut(t, MAX_SECTION_TEXT)) for t in texts if t][:MAX_CONTEXT_ELEMENTS]
    return {"type": "context", "elements": elements or [mrkdwn(" ")]}


def header(text: str) -> dict[str, Any]:
    """A header block (plain text, so no escaping is needed)."""
    return {"type": "header", "text": plain(text, MAX_HEADER_TEXT)}


def button(label: str, action_id: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    """An interactive button carrying a value back to us."""
    element: dict[str, Any] = {
        "type": "button",
        "text": plain(label, MAX_BUTTON_TEXT),
        "action_id": action_id,
        "value": value[:MAX_BUTTON_VALUE],
    }
    if style:
        element["style"] = style
    return element


def _cut(text: str, limit: int) -> str:
    """Cut already escaped text without splitting an entity like `&amp;`."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


# ----- papers -----


def counts_text(item: ScoredPaper) -> str:
    """Upvotes on Hugging Face, votes cast here, and GitHub stars when there is code."""
    paper = item.paper
    parts = [
        f"▲ {paper.hf_upvotes} on Hugging Face",
        f"{item.chat_votes} {_plural(item.chat_votes, 'vote')} here",
    ]
    if paper.github_repo and paper.github_stars is not None:
        parts.append(f"★ {paper.github_stars:,} on GitHub")
    return " · ".join(parts)


def links_text(paper: Paper) -> str:
    """Links to arXiv, the PDF, Hugging Face, the code (with stars) and the project page."""
    parts = [link(paper.abs_url, "arXiv"), link(paper.pdf_url, "PDF"), link(paper.hf_url, "Hugging Face")]
    if safe_url(paper.github_repo):
        stars = f" (★ {paper.github_stars:,})" if paper.github_stars is not None else ""
        parts.append(link(paper.github_repo, f"Code{stars}"))
    if safe_url(paper.project_page):
        parts.append(link(paper.project_page, "Project page"))
    return " · ".join(parts)


def _title_line(paper: Paper, number: int | None) -> str:
    prefix = f"{number}. " if number is not None else ""
    title = fit_escaped(paper.title or paper.arxiv_id, 400)
    target = safe_url(paper.hf_url)
    return f"*{prefix}<{target}|{title}>*" if target else f"*{prefix}{title}*"


def _summary(paper: Paper, limit: int) -> str:
    return fit_escaped(paper.ai_summary or paper.abstract or "", limit)


def _thumbnail(paper: Paper) -> dict[str, Any] | None:
    url = paper.thumbnail.strip() if paper.thumbnail else None
    if not url or not _URL_OK.match(url) or len(url) > MAX_URL:
        return None
    return {
        "type": "image",
        "image_url": url,
        "alt_text": shorten(paper.title or paper.arxiv_id, MAX_ALT_TEXT),
    }


def _paper_buttons(paper: Paper, *, share: bool) -> dict[str, Any]:
    elements = [
        button("▲ Upvote", UPVOTE_ACTION, paper.arxiv_id),
        button("More like this", SIMILAR_ACTION, paper.arxiv_id),
    ]
    if share:
        elements.append(button("Share in channel", SHARE_ACTION, paper.arxiv_id, style="primary"))
    return {"type": "actions", "elements": elements}


def paper_card_blocks(
    item: ScoredPaper, *, share: bool = False, number: int | None = None
) -> list[dict[str, Any]]:
    """One paper in full: title linked to its page, authors, counts, summary, links, thumbnail and buttons."""
    paper = item.paper
    head = section(
        f"{_title_line(paper, number)}\n{fit_escaped(authors_line(paper.authors), 500)}",
        **({"accessory": thumb} if (thumb := _thumbnail(paper)) else {}),
    )
    blocks: list[dict[str, Any]] = [head, context(escape(counts_text(item)), f"`{escape(paper.arxiv_id)}`")]
    summary = _summary(paper, CARD_SUMMARY_CHARS)
    if summary:
        blocks.append(section(summary))
    blocks.append(section(links_text(paper)))
    details = []
    if paper.published:
        details.append(f"published {paper.published.isoformat()}")
    if paper.featured_on:
        details.append(f"featured {paper.featured_on.isoformat()}")
    if paper.categories:
        details.append(" ".join(paper.categories[:6]))
    if paper.ai_keywords:
        details.append("keywords: " + ", ".join(paper.ai_keywords[:8]))
    if details:
        blocks.append(context(fit_escaped(" · ".join(details), 1000)))
    blocks.append(_paper_buttons(paper, share=share))
    return blocks


def paper_list_item_blocks(item: ScoredPaper, number: int, *, share: bool) -> list[dict[str, Any]]:
    """One paper of a list in two blocks: a compact section and its buttons."""
    paper = item.paper
    lines = [
        f"{_title_line(paper, number)}  `{escape(paper.arxiv_id)}`",
        fit_escaped(authors_line(paper.authors), 300),
        escape(counts_text(item)) + " · " + links_text(paper),
    ]
    summary = _summary(paper, LIST_SUMMARY_CHARS)
    if summary:
        lines.append(f">{summary}")
    return [section("\n".join(lines)), _paper_buttons(paper, share=share)]


def paper_message(item: ScoredPaper, *, share: bool = False, number: int | None = None) -> SlackMessage:
    """A message showing one paper as a card."""
    paper = item.paper
    prefix = f"{number}. " if number is not None else ""
    text = fit_escaped(f"{prefix}{paper.title} [{paper.arxiv_id}]", MAX_FALLBACK_TEXT)
    return SlackMessage(text, enforce_limits(paper_card_blocks(item, share=share, number=number)))


def paper_list_blocks(reply: PaperList, *, share: bool) -> list[dict[str, Any]]:
    """A heading, then each paper in two blocks; papers that would pass 50 blocks are summarised in a line."""
    if not reply.items:
        return [section(fit_escaped(reply.empty_text, MAX_SECTION_TEXT))]
    blocks: list[dict[str, Any]] = [section(f"*{fit_escaped(reply.heading, 500)}*")]
    per_item = 2
    room = (MAX_BLOCKS - len(blocks) - 1) // per_item
    for number, item in enumerate(reply.items[:room], 1):
        blocks += paper_list_item_blocks(item, number, share=share)
    hidden = len(reply.items) - room
    if hidden > 0:
        blocks.append(context(f"{hidden} more {_plural(hidden, 'paper')} not shown; narrow the query."))
    return blocks


# ----- shared links -----


def link_card_blocks(card: LinkCard) -> list[dict[str, Any]]:
    """One linked paper in three blocks: title and first authors, counts, and the vote and "more like this"
    buttons; compact, since it shows under someone else's message."""
    paper = card.item.paper
    head = f"{_title_line(paper, None)}\n{fit_escaped(authors_line(paper.authors), 300)}"
    return enforce_limits(
        [
            section(head),
            context(escape(counts_text(card.item)), f"`{escape(paper.arxiv_id)}`"),
            _paper_buttons(paper, share=False),
        ]
    )


def unfurl_map(reply: LinkCards) -> dict[str, dict[str, Any]]:
    """chat.unfurl's `unfurls`: each shared URL, exactly as Slack sent it, to its card's blocks."""
    return {card.url: {"blocks": link_card_blocks(card)} for card in reply.cards}


# ----- the leaderboard -----


def slack_channel(channel_id: str) -> str:
    """A channel as Slack shows it by name (`<#C123>`), or as escaped text when it is not a Slack id."""
    return f"<#{channel_id}>" if _CHANNEL_ID.match(channel_id) else escape(f"#{channel_id}")


def voted_paper_blocks(voted: VotedPaper, number: int) -> list[dict[str, Any]]:
    """One paper of the leaderboard: title, authors, its votes, where it was shown, and its buttons."""
    item = voted.item
    paper = item.paper
    lines = [
        f"{_title_line(paper, number)}  `{escape(paper.arxiv_id)}`",
        fit_escaped(authors_line(paper.authors), 300),
        f"*{plural(item.chat_votes, 'vote')}* · ▲ {paper.hf_upvotes} on Hugging Face · {links_text(paper)}",
    ]
    # Channel mentions are markup already; the rest of the line is our own words.
    where = shown_text(voted.shown, slack_channel)
    if where:
        lines.append(where[:1].upper() + where[1:])
    return [section("\n".join(lines)), _paper_buttons(paper, share=False)]


def top_blocks(reply: TopPapers) -> list[dict[str, Any]]:
    """The leaderboard: a heading, then each paper in two blocks, within Slack's 50 blocks."""
    if not reply.items:
        return [section(fit_escaped(reply.empty_text, MAX_SECTION_TEXT))]
    blocks: list[dict[str, Any]] = [section(f"*:trophy: {fit_escaped(reply.heading, 300)}*")]
    room = (MAX_BLOCKS - len(blocks)) // 2
    for number, voted in enumerate(reply.items[:room], 1):
        blocks += voted_paper_blocks(voted, number)
    return blocks


# ----- digests -----


def recap_parent_message(plan: DigestPlan, vote_emoji: str = "+1") -> SlackMessage:
    """A weekly recap: "This week in #channel", the most voted papers with their votes, the week's counts.

    With more than one paper it heads a thread (each paper follows as a reply, like a digest); a recap of one
    paper shows that paper's card in this one message.
    """
    channel = slack_channel(plan.channel.channel)
    head = section(f"*:trophy: This week in {channel}* (to {plan.local_date:%A %d %B %Y})")
    counts = escape(recap_counts(plan))
    blocks: list[dict[str, Any]] = [head]
    if plan.threaded:
        lines = [
            f"{number}. {link(item.paper.hf_url, shorten(item.paper.title or item.paper.arxiv_id, 300))}"
            f" · *{plural(item.chat_votes, 'vote')}*"
            for number, item in enumerate(plan.papers, 1)
        ]
        blocks += [
            section("\n".join(lines)),
            context(
                counts, f"The papers are in the thread; react with :{escape(vote_emoji)}: on one to vote."
            ),
        ]
    else:
        blocks += paper_card_blocks(plan.papers[0])
        blocks.append(context(counts, f"React with :{escape(vote_emoji)}: to vote for it."))
    titles = "; ".join(f"{item.paper.title} ({plural(item.chat_votes, 'vote')})" for item in plan.papers)
    text = f"This week in {channel}: " + fit_escaped(titles, MAX_FALLBACK_TEXT - 100)
    return SlackMessage(text, enforce_limits(blocks))


def digest_parent_message(plan: DigestPlan, vote_emoji: str = "+1") -> SlackMessage:
    """The parent message of a digest: date, how many papers, the channel's topics (or a weekly recap)."""
    if plan.recap is not None:
        return recap_parent_message(plan, vote_emoji)
    if plan.channel.is_person:
        return personal_parent_message(plan, vote_emoji)
    count = len(plan.papers)
    topics = ", ".join(plan.topics) if plan.topics else "all trending papers"
    blocks = [
        section(f"*:newspaper: Trending papers for {plan.local_date:%A %d %B %Y}*"),
        context(
            f"{count} {_plural(count, 'paper')} in this thread · topics: {fit_escaped(topics, 1500)}",
            f"React with :{escape(vote_emoji)}: on a paper to vote for it here.",
        ),
    ]
    return SlackMessage(fit_escaped(digest_heading(plan), MAX_FALLBACK_TEXT), enforce_limits(blocks))


def personal_parent_message(plan: DigestPlan, vote_emoji: str = "+1") -> SlackMessage:
    """The parent of a person's digest in their direct messages: the date, and every paper's title linked.

    A thread in direct messages shows as "N replies" under its parent: the titles let the person see at a
    glance what came, and the thread holds each paper's card with its buttons.
    """
    count = len(plan.papers)
    topics = ", ".join(plan.topics) if plan.topics else "all trending papers"
    titles = [
        f"{number}. {link(item.paper.hf_url, shorten(item.paper.title or item.paper.arxiv_id, 200))}"
        for number, item in enumerate(plan.papers, 1)
    ]
    blocks = [
        section(f"*:newspaper: Your papers for {plan.local_date:%A %d %B %Y}*"),
        *line_sections(titles),
        context(
            f"{count} {_plural(count, 'paper')} in this thread, each with its Upvote and More like this "
            f"buttons · your topics: {fit_escaped(topics, 1500)}",
            f"React with :{escape(vote_emoji)}: or press Upvote: your votes are your reading list "
            "(`/papers me votes`).",
        ),
    ]
    return SlackMessage(fit_escaped(digest_heading(plan), MAX_FALLBACK_TEXT), enforce_limits(blocks))


def line_sections(lines: list[str], limit: int = MAX_SECTION_TEXT - 100) -> list[dict[str, Any]]:
    """Escaped mrkdwn lines packed into as few sections as fit, never splitting a line's markup."""
    parts: list[str] = []
    current = ""
    for line in lines:
        line = line if len(line) <= limit else _cut(line, limit)
        if current and len(current) + len(line) + 1 > limit:
            parts.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        parts.append(current)
    return [section(part) for part in parts]


def digest_paper_message(item: ScoredPaper, position: int) -> SlackMessage:
    """One paper of a digest, as its own reply in the thread."""
    return paper_message(item, number=position)


# ----- every reply -----


def render_reply(reply: Reply, *, share: bool = False) -> SlackMessage:
    """Render any core reply as a Slack message; `share` adds "Share in channel" to papers shown privately."""
    text = fit_escaped(render_text(reply), MAX_FALLBACK_TEXT)
    blocks: list[dict[str, Any]]
    match reply:
        case Notice(text=body):
            blocks = [section(fit_escaped(body, MAX_SECTION_TEXT))]
        case ErrorReply(text=body):
            blocks = [section(":warning: " + fit_escaped(body, MAX_SECTION_TEXT - 12))]
        case HelpReply(text=body, preface=preface):
            blocks = []
            if preface:
                blocks.append(section(fit_escaped(preface, 500)))
            blocks.append(section("```" + fit_escaped(body, MAX_SECTION_TEXT - 6) + "```"))
        case PaperCard(item=item):
            return paper_message(item, share=share)
        case SharedPaper(item=item, posted=False):
            return paper_message(item)
        case LinkCards(cards=cards) if cards:
            blocks = [block for card in cards for block in link_card_blocks(card)]
        case PaperList():
            blocks = paper_list_blocks(reply, share=share)
        case TopPapers():
            blocks = top_blocks(reply)
        case Citation(title=title, bibtex=bibtex):
            blocks = [section(f"*BibTeX for {fit_escaped(title, 400)}*")]
            blocks += _code_sections(bibtex)
        case TopicList(topics=topics, heading=heading, personal=personal):
            if topics:
                body = "\n".join(f"{t.position}. `{fit_escaped(t.query, 200)}`" for t in topics)
            else:
                body = escape(no_topics_text(personal=personal))
            blocks = [section(f"*{fit_escaped(heading, 300)}*"), section(body)]
        case ScheduleStatus():
            blocks = _schedule_blocks(reply)
        case VoteReply():
            blocks = [section(fit_escaped(render_text(reply), MAX_SECTION_TEXT))]
        case DigestReply(plan=plan, posted=posted, already_posted_on=already):
            if posted or already or plan.is_empty:
                blocks = [section(fit_escaped(render_text(reply), MAX_SECTION_TEXT))]
            else:
                listing = PaperList(f"(dry run) {digest_heading(plan)}", plan.papers, "Nothing new to post.")
                blocks = paper_list_blocks(listing, share=False)
        case ReadingList():
            blocks = reading_list_blocks(reply)
        case BibFile():
            blocks = bib_file_blocks(reply)
        case Home():
            blocks = home_blocks(reply)
        case _:
            blocks = [section(text)]
    return SlackMessage(text, enforce_limits(blocks))


def _code_sections(code: str, max_parts: int | None = MAX_BLOCKS - 2) -> list[dict[str, Any]]:
    """Long code split into several code blocks, each within a section's limit (at most `max_parts`)."""
    chunk = MAX_SECTION_TEXT - 200
    lines = code.splitlines()
    parts: list[str] = []
    current = ""
    for line in lines:
        escaped = fit_escaped(line, chunk)
        if current and len(current) + len(escaped) + 1 > chunk:
            parts.append(current)
            current = ""
        current = f"{current}\n{escaped}" if current else escaped
    if current:
        parts.append(current)
    return [section(f"```{part}```") for part in parts[:max_parts]]


def _when(moment: datetime | None) -> str:
    return moment.strftime("%a %d %b %Y %H:%M %Z") if moment else "not scheduled"


def _schedule_blocks(status: ScheduleStatus) -> list[dict[str, Any]]:
    s = status.settings
    person = s.channel.is_person
    fields = [
        ("Time", f"{s.hour:02d}:{s.minute:02d} {s.timezone}"),
        ("Days", "weekdays" if s.weekdays_only else "every day"),
        ("Papers per digest", str(s.digest_size)),
        ("Topics", str(status.topic_count) if status.topic_count else "none (all trending papers)"),
        ("Next digest", "paused" if s.paused else _when(status.next_run)),
        ("Last delivery", _when(status.last_delivery) if status.last_delivery else "none yet"),
    ]
    if person:
        # A person's own digest comes by direct message; the weekly recap is the team's, not theirs.
        fields[0] = ("Time", f"{s.hour:02d}:{s.minute:02d} {s.timezone}, by direct message")
    else:
        recap = recap_day_text(s.recap_day) + (
            "" if s.recap_day is None or s.paused else f", next {_when(status.next_recap)}"
        )
        fields.append(("Weekly recap", recap))
    blocks: list[dict[str, Any]] = [
        section(f"*{fit_escaped(status.heading, 300)}*"),
        {
            "type": "section",
            "fields": [
                mrkdwn(f"*{name}*\n{fit_escaped(value, MAX_FIELD_TEXT - 40)}") for name, value in fields
            ],
        },
    ]
    if s.paused:
        resume = f"{'/papers me' if person else '/papers'} schedule on"
        reason = f": {s.pause_reason.rstrip('.')}" if s.pause_reason else ""
        # A platform's reason already ends with how to resume ("…, then write /papers me schedule on").
        tail = "" if s.pause_reason and resume in s.pause_reason else f" Resume with {resume}."
        blocks.append(section(":double_vertical_bar: " + fit_escaped(f"Paused{reason}.{tail}", 2900)))
    return blocks


def _plural(count: int, noun: str) -> str:
    return noun if count == 1 else noun + "s"


# ----- one person's own things: reading list, BibTeX file, App Home -----


def reading_list_blocks(reading: ReadingList) -> list[dict[str, Any]]:
    """The papers a person voted for, newest vote first: one section each, and how many more there are."""
    if not reading.items:
        return [section(fit_escaped(reading.empty_text, MAX_SECTION_TEXT))]
    blocks: list[dict[str, Any]] = [section(f"*:bookmark: {fit_escaped(reading.heading, 300)}*")]
    room = MAX_BLOCKS - 2
    for number, bookmark in enumerate(reading.items[:room], 1):
        paper = bookmark.paper
        lines = [
            f"{_title_line(paper, number)}  `{escape(paper.arxiv_id)}`",
            fit_escaped(authors_line(paper.authors), 300),
            f"voted {bookmark.voted_at:%d %b %Y} · {links_text(paper)}",
        ]
        blocks.append(section("\n".join(lines)))
    more = reading.total - min(len(reading.items), room)
    if more > 0:
        blocks.append(
            context(f"…and {more} more; `/papers me cite {escape(reading.window)}` has them all in one file.")
        )
    return blocks


def bib_file_blocks(bib: BibFile, *, preface: str | None = None) -> list[dict[str, Any]]:
    """A BibTeX file shown as text (when it could not be sent as a file): its heading and code blocks."""
    blocks: list[dict[str, Any]] = []
    if preface:
        blocks.append(section(fit_escaped(preface, 1000)))
    blocks.append(section(f"*{fit_escaped(bib.heading, 500)}* ({fit_escaped(bib.filename, 200)})"))
    code = _code_sections(bib.bibtex, max_parts=None)
    room = MAX_BLOCKS - len(blocks) - 1
    blocks += code[:room]
    if len(code) > room:
        blocks.append(
            context("The list is too long to show here; `/papers me cite week` gives a shorter one.")
        )
    return blocks


def bib_file_message(bib: BibFile, *, preface: str | None = None) -> SlackMessage:
    """A BibTeX file as a message of code blocks, after a line saying why it is not a file."""
    text = fit_escaped(f"{preface}\n{render_text(bib)}" if preface else render_text(bib), MAX_FALLBACK_TEXT)
    return SlackMessage(text, enforce_limits(bib_file_blocks(bib, preface=preface)))


def home_blocks(home: Home, *, notice: str | None = None) -> list[dict[str, Any]]:
    """A person's App Home: their digest with its buttons, their topics, their latest votes, the week here."""
    blocks: list[dict[str, Any]] = [header("Your papers")]
    if notice:
        blocks.append(context(":information_source: " + fit_escaped(notice, 2900)))
    blocks += _home_digest_blocks(home)
    blocks += [{"type": "divider"}, section("*Your latest votes*")]
    votes = [
        f"• {link(b.paper.hf_url, shorten(b.paper.title or b.paper.arxiv_id, 200))} "
        f"`{escape(b.paper.arxiv_id)}` · voted {b.voted_at:%d %b}"
        for b in home.votes
    ]
    blocks += line_sections(votes) or [
        section("None yet: every vote is a bookmark. Press ▲ Upvote on a paper or react with :+1: to it.")
    ]
    blocks += [{"type": "divider"}, section("*Trending this week here*")]
    for number, item in enumerate(home.trending, 1):
        paper = item.paper
        counts = f"*{plural(item.chat_votes, 'vote')}* here · ▲ {paper.hf_upvotes} on Hugging Face"
        blocks.append(
            section(
                f"{_title_line(paper, number)}  `{escape(paper.arxiv_id)}`\n{counts}",
                accessory=button("▲ Upvote", UPVOTE_ACTION, paper.arxiv_id),
            )
        )
    if not home.trending:
        blocks.append(section("No papers were featured this week."))
    blocks += [
        {"type": "divider"},
        context(
            "`/papers me subscribe &lt;query&gt;` adds a topic · `/papers me schedule 07:30 Europe/Paris` "
            "moves your digest · `/papers me votes` lists what you voted for · `/papers me cite` gives its "
            "BibTeX · `/papers me forget` deletes what Paperboy keeps about you here"
        ),
    ]
    return blocks


def _home_digest_blocks(home: Home) -> list[dict[str, Any]]:
    """The Home's digest part: when it comes (or why not), its buttons, and its topics with Remove buttons."""
    s = home.settings
    blocks: list[dict[str, Any]] = [section("*Your digest*")]
    if s is None:
        blocks.append(
            section(
                "You have no digest of your own yet: `/papers me subscribe &lt;query&gt;` starts one, sent to "
                "you by direct message every weekday at 08:00."
            )
        )
    else:
        days = "on weekdays" if s.weekdays_only else "every day"
        if s.paused:
            state = ":double_vertical_bar: Paused" + (f": {s.pause_reason}" if s.pause_reason else ".")
        else:
            state = f"Next: {_when(home.next_run)}."
        blocks.append(
            section(
                fit_escaped(
                    f"By direct message at {s.hour:02d}:{s.minute:02d} {s.timezone} {days}, up to "
                    f"{s.digest_size} papers.\n{state}",
                    MAX_SECTION_TEXT,
                )
            )
        )
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    button("Resume", HOME_SCHEDULE_ACTION, "on", style="primary")
                    if s.paused
                    else button("Pause", HOME_SCHEDULE_ACTION, "off"),
                    button("Send me today's now", HOME_DIGEST_ACTION, "now"),
                ],
            }
        )
    if s is not None or home.topics:
        blocks.append(section("*Your topics*"))
        for topic in home.topics:
            blocks.append(
                section(
                    f"{topic.position}. `{fit_escaped(topic.query, 500)}`",
                    accessory=button("Remove", HOME_UNSUBSCRIBE_ACTION, str(topic.position)),
                )
            )
        if not home.topics:
            blocks.append(section(escape(no_topics_text(personal=True))))
    return blocks


def home_view(home: Home | None, *, notice: str | None = None) -> dict[str, Any]:
    """The App Home view to publish (views.publish): the person's home, or only the notice when none."""
    blocks = (
        home_blocks(home, notice=notice)
        if home is not None
        else [
            header("Your papers"),
            section(
                fit_escaped(notice or "Paperboy could not read your home just now; open it again.", 2900)
            ),
        ]
    )
    return {"type": "home", "blocks": enforce_limits(blocks, MAX_VIEW_BLOCKS)}


# ----- the safety net -----


def enforce_limits(blocks: list[dict[str, Any]], max_blocks: int = MAX_BLOCKS) -> list[dict[str, Any]]:
    """Cut whatever still passes Slack's limits: 50 blocks (100 in a view), 3000 characters a text, 10 fields
    of 2000."""
    if len(blocks) > max_blocks:
        blocks = [*blocks[: max_blocks - 1], context("…more not shown.")]
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict) and isinstance(text.get("text"), str):
            limit = MAX_HEADER_TEXT if block.get("type") == "header" else MAX_SECTION_TEXT
            text["text"] = _cut(text["text"], limit) or " "
        if "fields" in block:
            block["fields"] = block["fields"][:MAX_FIELDS]
            for item in block["fields"]:
                item["text"] = _cut(item["text"], MAX_FIELD_TEXT) or " "
        if block.get("type") == "context":
            block["elements"] = block["elements"][:MAX_CONTEXT_ELEMENTS]
    return blocks
