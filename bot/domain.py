"""Plain domain objects of Paperboy: papers, channels, topics, schedules, votes and digests."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

PLATFORMS = ("slack", "discord", "console")

# What starts the channel part of a person's own target: no platform's channel id starts with it.
PERSON_MARK = "@"

# A channel reference part: anything but the separator and white space, so ids from any platform fit.
_REF_PART = re.compile(r"^[^:\s]{1,128}$")


class InvalidChannelRef(ValueError):
    """Raised when a text is not a `platform:workspace:channel` reference."""


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """A channel named by platform, workspace and channel id, e.g. `slack:T123:C456`."""

    platform: str
    workspace: str
    channel: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.workspace}:{self.channel}"

    @classmethod
    def person(cls, platform: str, workspace: str, user: str) -> ChannelRef:
        """A person's own digest target, their direct messages with the bot: `slack:T123:@U456`.

        A person is one more delivery target, so their topics, schedule and digests reuse every rule of a
        channel's (the unique daily digest, claims, attempts, the crash look-up).
        """
        return cls(platform, workspace, PERSON_MARK + user)

    @property
    def is_person(self) -> bool:
        """True for a person's direct messages rather than a channel."""
        return self.channel.startswith(PERSON_MARK)

    @property
    def user(self) -> str | None:
        """The person a direct-message target belongs to; None for a channel."""
        return self.channel[len(PERSON_MARK) :] if self.is_person else None

    @classmethod
    def parse(cls, text: str) -> ChannelRef:
        """Parse `platform:workspace:channel`; raise InvalidChannelRef with a sentence when malformed."""
        parts = text.strip().split(":")
        if len(parts) != 3 or not all(_REF_PART.match(p) for p in parts):
            raise InvalidChannelRef(
                f"{text!r} is not a channel reference; write platform:workspace:channel, "
                "e.g. slack:T123:C456, discord:G1:C2 or console:local:general."
            )
        platform = parts[0].lower()
        if platform not in PLATFORMS:
            raise InvalidChannelRef(
                f"Unknown platform {parts[0]!r}; use one of {', '.join(PLATFORMS)} (e.g. console:local:general)."
            )
        return cls(platform, parts[1], parts[2])


@dataclass(frozen=True, slots=True)
class Workspace:
    """A workspace (Slack team, Discord guild, the local console) on one platform."""

    platform: str
    workspace: str


@dataclass(slots=True)
class Paper:
    """One research paper as the bot knows it, whatever the source."""

    arxiv_id: str
    title: str
    authors: list[str] = field(default_factory=list)
    abstract: str = ""
    published: date | None = None
    featured_on: date | None = None
    hf_upvotes: int = 0
    num_comments: int = 0
    ai_summary: str | None = None
    ai_keywords: list[str] = field(default_factory=list)
    github_repo: str | None = None
    github_stars: int | None = None
    project_page: str | None = None
    organization: str | None = None
    thumbnail: str | None = None
    categories: list[str] = field(default_factory=list)
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    withdrawn: bool = False
    updated_at: datetime | None = None

    @property
    def primary_category(self) -> str | None:
        """The first (primary) arXiv category, when known."""
        return self.categories[0] if self.categories else None

    @property
    def abs_url(self) -> str:
        """The paper's arXiv abstract page."""
        return f"https://arxiv.org/abs/{self.arxiv_id}"

    @property
    def pdf_url(self) -> str:
        """The paper's PDF on arXiv."""
        return f"https://arxiv.org/pdf/{self.arxiv_id}"

    @property
    def hf_url(self) -> str:
        """The paper's Hugging Face page."""
        return f"https://huggingface.co/papers/{self.arxiv_id}"


@dataclass(frozen=True, slots=True)
class ScoredPaper:
    """A paper with the score that ranked it and the votes cast in the asking workspace."""

    paper: Paper
    score: float
    chat_votes: int = 0


@dataclass(frozen=True, slots=True)
class Topic:
    """One topic a channel subscribed to: a query in the search language."""

    channel: ChannelRef
    query: str
    position: int


DEFAULT_HOUR = 9
# A person's own digest comes earlier, before the working day (Hugging Face's email comes in the morning too).
PERSON_DEFAULT_HOUR = 8
DEFAULT_MINUTE = 0
DEFAULT_TIMEZONE = "UTC"
DEFAULT_DIGEST_SIZE = 10
MAX_DIGEST_SIZE = 25
DEFAULT_LOOKBACK_DAYS = 3
MAX_TOPICS = 25
# The weekly recap's day (Monday is 0): Friday, at the digest's hour in the digest's zone. None turns it off.
DEFAULT_RECAP_DAY = 4


@dataclass(slots=True)
class ChannelSettings:
    """A channel's digest schedule and state."""

    channel: ChannelRef
    hour: int = DEFAULT_HOUR
    minute: int = DEFAULT_MINUTE
    timezone: str = DEFAULT_TIMEZONE
    weekdays_only: bool = True
    digest_size: int = DEFAULT_DIGEST_SIZE
    lookback_days: int = DEFAULT_LOOKBACK_DAYS
    paused: bool = False
    pause_reason: str | None = None
    recap_day: int | None = DEFAULT_RECAP_DAY


def default_settings(channel: ChannelRef) -> ChannelSettings:
    """The settings a target starts with: a person's digest at 08:00 and no weekly recap (that is the team's)."""
    if channel.is_person:
        return ChannelSettings(channel, hour=PERSON_DEFAULT_HOUR, recap_day=None)
    return ChannelSettings(channel)


@dataclass(frozen=True, slots=True)
class Vote:
    """One person's vote for one paper, on one platform and workspace."""

    platform: str
    workspace: str
    user: str
    arxiv_id: str


@dataclass(frozen=True, slots=True)
class Bookmark:
    """A paper one person voted for, and when: an entry of their reading list."""

    paper: Paper
    voted_at: datetime


# How a paper came to be shown in a channel (paper_messages.via): in a daily digest, in a weekly recap, as a
# card someone shared with the button, or as a link someone posted (the bot unfurled it or showed its card).
SHOWN_IN_DIGEST = "digest"
SHOWN_IN_RECAP = "recap"
SHOWN_AS_CARD = "card"
SHOWN_AS_LINK = "link"


@dataclass(frozen=True, slots=True)
class WeekRecap:
    """What a weekly recap sums up: the votes cast from `since` until `until` (the recap's moment).

    `ranking` is the week's most voted papers with their votes, best first; `shared` counts the papers shown
    in the channel that week (digests, cards, links) and `voted` the papers the workspace voted for.
    """

    since: datetime
    until: datetime
    ranking: tuple[tuple[str, int], ...]
    shared: int
    voted: int


@dataclass(frozen=True, slots=True)
class DigestPlan:
    """The papers one channel's digest for one local date would carry, best first.

    A weekly recap is a digest too (`recap` says what it sums up), so that it is delivered exactly once by
    the same engine; its papers carry the week's votes as their `chat_votes`.
    """

    channel: ChannelRef
    local_date: date
    topics: tuple[str, ...]
    papers: tuple[ScoredPaper, ...]
    recap: WeekRecap | None = None

    @property
    def is_empty(self) -> bool:
        """True when there is nothing new to post."""
        return not self.papers

    @property
    def threaded(self) -> bool:
        """True when the papers go in a thread under the parent; a recap of one paper is a single message."""
        return self.recap is None or len(self.papers) > 1


@dataclass(frozen=True, slots=True)
class PaperShowing:
    """Where a paper was shown in a workspace: a channel (its id) and how (a SHOWN_… word)."""

    channel: str
    via: str


@dataclass(frozen=True, slots=True)
class VotedPaper:
    """A paper with the votes a workspace cast for it in a period, and where it was shown there."""

    item: ScoredPaper
    shown: tuple[PaperShowing, ...] = ()


@dataclass(frozen=True, slots=True)
class UpsertCounts:
    """How many papers a write added, changed, or left as they were; and what one write of a store stored.

    `stamp`, `previous` and `stored` describe a single write, for whoever indexes what it stored: the stamp
    (`updated_at`) the write took for the papers it stored, the newest stamp in the store before it (None
    when the store was empty), and the new and changed papers as stored (but for their `updated_at`).
    Everything stamped up to `stamp` is then what was stamped up to `previous`, and `stored`. A store that
    does not say leaves `stamp` None. They are not compared, and a sum of counts drops them.
    """

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    stamp: datetime | None = field(default=None, compare=False)
    previous: datetime | None = field(default=None, compare=False)
    stored: tuple[Paper, ...] = field(default=(), compare=False, repr=False)

    def __add__(self, other: UpsertCounts) -> UpsertCounts:
        return UpsertCounts(
            self.new + other.new,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
            self.skipped + other.skipped,
        )


DELIVERY_PENDING = "pending"
DELIVERY_CLAIMED = "claimed"
DELIVERY_POSTED = "posted"
DELIVERY_FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message a digest must post: the parent (position 0, no paper) or one paper in its thread."""

    id: int
    digest_id: int
    channel: ChannelRef
    local_date: date
    position: int
    arxiv_id: str | None
    state: str
    message_id: str | None = None
    attempts: int = 0
    last_error: str | None = None

    @property
    def is_parent(self) -> bool:
        """True for the digest's parent message."""
        return self.arxiv_id is None
