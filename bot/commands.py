"""The `/papers` grammar: text from any platform parsed into neutral commands."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import ChannelRef

WINDOWS = ("day", "week", "month")
DEFAULT_SEARCH_LIMIT = 5
MAX_SEARCH_LIMIT = 20

HELP_TEXT = """\
/papers search <query>             find papers (words, "phrase", -word, author:Name, cat:cs.CL, org:Name, since:2024-01-01)
/papers trending [day|week|month]  the most upvoted papers of the period
/papers paper <arXiv id or URL>    one paper in full
/papers cite <arXiv id>            a BibTeX entry
/papers similar <arXiv id>         papers like this one
/papers subscribe <query>          add a topic to this channel's daily digest
/papers unsubscribe <query or number>
/papers topics                     this channel's topics
/papers schedule [HH:MM [Area/City]] [weekdays|daily] [papers N] | off | on
/papers digest                     post today's digest now
/papers vote <id> | unvote <id>    vote where there are no reactions (console)
/papers help                       this text"""


@dataclass(frozen=True, slots=True)
class CommandContext:
    """Who asked, and where: the channel, the user, and whether they may change the channel's settings."""

    channel: ChannelRef
    user: str
    can_manage: bool = True


@dataclass(frozen=True, slots=True)
class Search:
    """Search papers."""

    query: str
    limit: int = DEFAULT_SEARCH_LIMIT


@dataclass(frozen=True, slots=True)
class Trending:
    """Trending papers of a window."""

    window: str = "day"


@dataclass(frozen=True, slots=True)
class ShowPaper:
    """One paper in full."""

    ref: str


@dataclass(frozen=True, slots=True)
class Cite:
    """A BibTeX entry."""

    ref: str


@dataclass(frozen=True, slots=True)
class Similar:
    """Papers like one paper ("more like this")."""

    ref: str


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Add a topic."""

    query: str


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """Remove a topic by text or number."""

    query: str


@dataclass(frozen=True, slots=True)
class ListTopics:
    """List the channel's topics."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """Show or change the channel's schedule; `args` is the text after the word."""

    args: str = ""


@dataclass(frozen=True, slots=True)
class PostDigest:
    """Post today's digest now."""


@dataclass(frozen=True, slots=True)
class CastVote:
    """Vote for a paper (console, where there are no reactions)."""

    ref: str


@dataclass(frozen=True, slots=True)
class RetractVote:
    """Take a vote back."""

    ref: str


@dataclass(frozen=True, slots=True)
class ShowHelp:
    """Show help, perhaps after saying what was not understood."""

    preface: str | None = None


Command = (
    Search
    | Trending
    | ShowPaper
    | Cite
    | Similar
    | Subscribe
    | Unsubscribe
    | ListTopics
    | Schedule
    | PostDigest
    | CastVote
    | RetractVote
    | ShowHelp
)

_NEEDS_ARGUMENT = {
    "search": "Tell me what to search for, e.g. /papers search matryoshka embeddings.",
    "paper": "Tell me which paper, e.g. /papers paper 2205.13147.",
    "cite": "Tell me which paper to cite, e.g. /papers cite 2205.13147.",
    "similar": "Tell me which paper, e.g. /papers similar 2205.13147.",
    "subscribe": 'Tell me the topic, e.g. /papers subscribe "gaussian splatting" or /papers subscribe cat:cs.CL.',
    "unsubscribe": "Tell me which topic, by its text or its number in /papers topics, e.g. /papers unsubscribe 2.",
    "vote": "Tell me which paper, e.g. /papers vote 2205.13147.",
    "unvote": "Tell me which paper, e.g. /papers unvote 2205.13147.",
}


class CommandError(ValueError):
    """A command line that cannot be understood, with a sentence that says what would work."""


def parse_command(text: str) -> Command:
    """Parse `/papers …` (the prefix is optional) into a command; raise CommandError for a missing argument."""
    stripped = text.strip()
    for prefix in ("/papers", "papers"):
        if stripped.lower() == prefix or stripped.lower().startswith(prefix + " "):
            stripped = stripped[len(prefix) :].strip()
            break
    if not stripped:
        return ShowHelp()
    word, _, rest = stripped.partition(" ")
    verb = word.lower()
    rest = rest.strip()
    if verb in _NEEDS_ARGUMENT and not rest:
        raise CommandError(_NEEDS_ARGUMENT[verb])
    match verb:
        case "search":
            return Search(rest)
        case "trending":
            window = rest.lower() or "day"
            if window not in WINDOWS:
                raise CommandError(
                    f"Trending takes day, week or month, e.g. /papers trending week; not {rest!r}."
                )
            return Trending(window)
        case "paper":
            return ShowPaper(rest)
        case "cite":
            return Cite(rest)
        case "similar":
            return Similar(rest)
        case "subscribe":
            return Subscribe(rest)
        case "unsubscribe":
            return Unsubscribe(rest)
        case "topics":
            return ListTopics()
        case "schedule":
            return Schedule(rest)
        case "digest":
            return PostDigest()
        case "vote" | "upvote":
            return CastVote(rest)
        case "unvote":
            return RetractVote(rest)
        case "help":
            return ShowHelp()
        case _:
            shown = word if len(word) <= 30 else word[:27] + "..."
            return ShowHelp(preface=f"I don't know {shown!r}. Here is what I can do:")
