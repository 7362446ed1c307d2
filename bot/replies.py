"""Neutral replies of the core; every adapter renders every one of them (Block Kit, embeds, plain text)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bot.domain import Bookmark, ChannelSettings, DigestPlan, ScoredPaper, Topic, VotedPaper


@dataclass(frozen=True, slots=True)
class Notice:
    """A short informative answer."""

    text: str


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """A request that could not be done, with one sentence that says what would work."""

    text: str


@dataclass(frozen=True, slots=True)
class HelpReply:
    """The command overview, optionally after a sentence about what was not understood."""

    text: str
    preface: str | None = None


@dataclass(frozen=True, slots=True)
class PaperCard:
    """One paper shown in full."""

    item: ScoredPaper


@dataclass(frozen=True, slots=True)
class PaperList:
    """Papers best first, under a heading (search results, trending)."""

    heading: str
    items: tuple[ScoredPaper, ...]
    empty_text: str
    query: str | None = None


@dataclass(frozen=True, slots=True)
class TopPapers:
    """The papers a workspace voted for most in a window ("week", "month" or "all"), best first.

    Each paper's `chat_votes` are the votes of the window; `shown` says where it was shown in the workspace.
    """

    window: str
    items: tuple[VotedPaper, ...]
    # Whose votes: the asker's workspace, or (the command line without --workspace) every one.
    scope: str = "this workspace"

    @property
    def heading(self) -> str:
        """What the list is, in a few words."""
        period = "of all time" if self.window == "all" else f"of the {self.window}"
        return f"Most voted papers {period} in {self.scope}"

    @property
    def empty_text(self) -> str:
        """What an empty list says."""
        period = "yet" if self.window == "all" else f"in the last {self.window}"
        return (
            f"Nobody here voted for a paper {period}; vote with 👍 on a paper's message, its Upvote button, "
            "or /papers vote <id>."
        )


@dataclass(frozen=True, slots=True)
class Citation:
    """A BibTeX entry for one paper."""

    arxiv_id: str
    title: str
    bibtex: str


@dataclass(frozen=True, slots=True)
class TopicList:
    """The topics of a channel, numbered from 1."""

    topics: tuple[Topic, ...]
    heading: str
    # A person's own topics (`/papers me topics`) rather than a channel's.
    personal: bool = False


@dataclass(frozen=True, slots=True)
class ScheduleStatus:
    """A channel's digest schedule, when it next runs, and why it is paused if it is."""

    settings: ChannelSettings
    next_run: datetime | None
    topic_count: int
    last_delivery: datetime | None
    heading: str
    # When the weekly recap comes next (None: off or paused).
    next_recap: datetime | None = None


@dataclass(frozen=True, slots=True)
class VoteReply:
    """The outcome of a vote or its retraction."""

    arxiv_id: str
    title: str
    voted: bool
    changed: bool
    votes_here: int


@dataclass(frozen=True, slots=True)
class SharedPaper:
    """A paper shared in a channel: posted by the bot (votes count), or for the adapter to answer with."""

    item: ScoredPaper
    posted: bool


@dataclass(frozen=True, slots=True)
class LinkCard:
    """One shared link and the paper it names, with this workspace's votes for it."""

    url: str
    item: ScoredPaper


@dataclass(frozen=True, slots=True)
class LinkCards:
    """Compact cards for the paper links of a message, in the order they were written.

    Links whose paper is neither stored nor found on arXiv just now are left out (no card rather than a broken
    one). `votes_count`: reactions on the message that carries the links count as votes for each paper.
    """

    cards: tuple[LinkCard, ...]
    votes_count: bool = False


@dataclass(frozen=True, slots=True)
class DigestReply:
    """A digest that was planned (and posted, unless it was a dry run)."""

    plan: DigestPlan
    posted: bool
    already_posted_on: date | None = None
    # Of a digest that exists already: its messages not posted yet (they follow, or wait for a resume).
    unsent: int = 0


@dataclass(frozen=True, slots=True)
class ReadingList:
    """The papers one person voted for in a window ("week", "month", "all"), newest vote first.

    `total` counts them all; `items` may hold fewer (the newest), and the rest are in `/papers me cite`.
    """

    window: str
    items: tuple[Bookmark, ...]
    total: int

    @property
    def heading(self) -> str:
        """What the list is, in a few words."""
        period = "" if self.window == "all" else f" in the last {self.window}"
        return f"Papers you voted for{period} ({self.total})"

    @property
    def empty_text(self) -> str:
        """What an empty list says."""
        period = "yet" if self.window == "all" else f"in the last {self.window}"
        return (
            f"You have not voted for a paper {period}. Every vote is a bookmark: press a paper's Upvote "
            "button, react with 👍, or write /papers vote <id>."
        )


@dataclass(frozen=True, slots=True)
class BibFile:
    """One BibTeX file of several papers (a person's votes), to attach as `filename`."""

    filename: str
    bibtex: str
    count: int
    heading: str


@dataclass(frozen=True, slots=True)
class Home:
    """A person's home (Slack's App Home): their own digest, their latest votes, the workspace's week.

    `settings` is None when the person never set up a digest of their own; `trending` carries this
    workspace's votes as `chat_votes`.
    """

    settings: ChannelSettings | None
    next_run: datetime | None
    topics: tuple[Topic, ...]
    votes: tuple[Bookmark, ...]
    trending: tuple[ScoredPaper, ...]


Reply = (
    Notice
    | ErrorReply
    | HelpReply
    | PaperCard
    | PaperList
    | TopPapers
    | Citation
    | TopicList
    | ScheduleStatus
    | VoteReply
    | SharedPaper
    | DigestReply
    | LinkCards
    | ReadingList
    | BibFile
    | Home
)
