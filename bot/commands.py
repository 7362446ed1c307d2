"""The `/papers` grammar: text from any platform parsed into neutral commands."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import ChannelRef
from bot.links import PaperLink

WINDOWS = ("day", "week", "month")
TOP_WINDOWS = ("week", "month", "all")
# The days a weekly recap can come on, Monday first (datetime.weekday numbers them from 0).
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DEFAULT_SEARCH_LIMIT = 5
MAX_SEARCH_LIMIT = 20

HELP_TEXT = """\
/papers search <query>             find papers (words, "phrase", -word, author:Name, cat:cs.CL, org:Name, since:2024-01-01)
/papers trending [day|week|month]  the most upvoted papers of the period
/papers top [week|month|all]       the papers this workspace voted for most, and where they were shared
/papers paper <arXiv id or URL>    one paper in full
/papers cite <arXiv id>            a BibTeX entry
/papers similar <arXiv id>         papers like this one
/papers subscribe <query>          add a topic to this channel's daily digest
/papers unsubscribe <query or number>
/papers topics                     this channel's topics
/papers schedule [HH:MM [Area/City]] [weekdays|daily] [papers N] | off | on
/papers schedule recap <day> | recap off   the weekly recap of the team's votes (Fridays unless changed)
/papers digest                     post today's digest now
/papers vote <id> | unvote <id>    vote where there are no reactions (console)
/papers me help                    your own digest by direct message, your votes as a reading list
/papers help                       this text"""

ME_HELP_TEXT = """\
/papers me subscribe <query>       add a topic to your own daily digest (sent to you by direct message)
/papers me unsubscribe <query or number>
/papers me topics                  your topics
/papers me schedule [HH:MM [Area/City]] [weekdays|daily] [papers N] | off | on
/papers me digest                  send me today's digest now
/papers me votes [week|month|all]  the papers you voted for, newest first (your reading list)
/papers me cite [week|month|all]   one BibTeX file of them
/papers me forget                  delete everything Paperboy keeps about you in this workspace"""


MANAGE_RULE = "Only people who may manage this channel can change its topics, schedule or digest."


@dataclass(frozen=True, slots=True)
class CommandContext:
    """Who asked, and where: the channel, the user, and whether they may change the channel's settings.

    `manage_rule` is the platform's own sentence for who may change a channel (Discord's permission name,
    Slack's admins-only setting); the core says it when it refuses a change.
    """

    channel: ChannelRef
    user: str
    can_manage: bool = True
    manage_rule: str = MANAGE_RULE


class CommandTraits:
    """What every command knows about itself, so that each adapter decides the same way.

    `changes_channel`: the core asks for a channel manager first. `private`: the answer goes to the asker
    only (errors always do). `shareable`: a private answer that gets a "Share in channel" button.
    One rule for every platform: what a person looks up for themselves is private, changes to the channel
    are announced to it, and the team's trending list is posted for everyone.
    """

    __slots__ = ()

    @property
    def changes_channel(self) -> bool:
        """True when the command changes the channel's topics, schedule or digest."""
        return False

    @property
    def private(self) -> bool:
        """True when only the asker should see the answer."""
        return not self.changes_channel

    @property
    def shareable(self) -> bool:
        """True when the private answer offers a "Share in channel" button."""
        return False


@dataclass(frozen=True, slots=True)
class Search(CommandTraits):
    """Search papers."""

    query: str
    limit: int = DEFAULT_SEARCH_LIMIT

    @property
    def shareable(self) -> bool:
        """A paper found for oneself can be shown to the channel."""
        return True


@dataclass(frozen=True, slots=True)
class Trending(CommandTraits):
    """Trending papers of a window."""

    window: str = "day"

    @property
    def private(self) -> bool:
        """The team's trending list is for the channel."""
        return False


@dataclass(frozen=True, slots=True)
class Top(CommandTraits):
    """The papers the workspace voted for most in a window ("week", "month" or "all")."""

    window: str = "week"

    @property
    def private(self) -> bool:
        """The team's leaderboard is for the channel, like trending."""
        return False


@dataclass(frozen=True, slots=True)
class ShowPaper(CommandTraits):
    """One paper in full."""

    ref: str

    @property
    def shareable(self) -> bool:
        """A paper found for oneself can be shown to the channel."""
        return True


@dataclass(frozen=True, slots=True)
class Cite(CommandTraits):
    """A BibTeX entry."""

    ref: str


@dataclass(frozen=True, slots=True)
class Similar(CommandTraits):
    """Papers like one paper ("more like this")."""

    ref: str

    @property
    def shareable(self) -> bool:
        """A paper found for oneself can be shown to the channel."""
        return True


@dataclass(frozen=True, slots=True)
class Subscribe(CommandTraits):
    """Add a topic."""

    query: str

    @property
    def changes_channel(self) -> bool:
        """This changes the channel."""
        return True


@dataclass(frozen=True, slots=True)
class Unsubscribe(CommandTraits):
    """Remove a topic by text or number."""

    query: str

    @property
    def changes_channel(self) -> bool:
        """This changes the channel."""
        return True


@dataclass(frozen=True, slots=True)
class ListTopics(CommandTraits):
    """List the channel's topics."""


@dataclass(frozen=True, slots=True)
class Schedule(CommandTraits):
    """Show or change the channel's schedule; `args` is the text after the word."""

    args: str = ""

    @property
    def changes_channel(self) -> bool:
        """Looking at the schedule changes nothing; any argument changes it."""
        return bool(self.args.strip())


@dataclass(frozen=True, slots=True)
class ScheduleRecap(CommandTraits):
    """Set the day of the channel's weekly recap (0 is Monday), or turn it off (None)."""

    day: int | None

    @property
    def changes_channel(self) -> bool:
        """This changes the channel."""
        return True


@dataclass(frozen=True, slots=True)
class PostDigest(CommandTraits):
    """Post today's digest now."""

    @property
    def changes_channel(self) -> bool:
        """This changes the channel."""
        return True

    @property
    def private(self) -> bool:
        """The digest itself goes to the channel; the confirmation to the asker."""
        return True


@dataclass(frozen=True, slots=True)
class CastVote(CommandTraits):
    """Vote for a paper (console, where there are no reactions)."""

    ref: str


@dataclass(frozen=True, slots=True)
class RetractVote(CommandTraits):
    """Take a vote back."""

    ref: str


@dataclass(frozen=True, slots=True)
class ShowHelp(CommandTraits):
    """Show help, perhaps after saying what was not understood."""

    preface: str | None = None


# ----- one person's own digest, reading list and data (`/papers me …`) -----

# The channel commands a person can use on their own digest: the same grammar, answered privately.
PersonalCommand = Subscribe | Unsubscribe | ListTopics | Schedule | PostDigest


@dataclass(frozen=True, slots=True)
class ForMe(CommandTraits):
    """`/papers me subscribe|unsubscribe|topics|schedule|digest`: a digest command on the asker's own digest.

    The asker's direct messages are their digest's target, so the command runs as it would for a channel,
    on `ChannelRef.person`: nobody but the person manages it, and every answer is private.
    """

    command: PersonalCommand


@dataclass(frozen=True, slots=True)
class MyVotes(CommandTraits):
    """`/papers me votes`: the papers the asker voted for in a window ("week", "month", "all"), newest first."""

    window: str = "all"


@dataclass(frozen=True, slots=True)
class MyCitations(CommandTraits):
    """`/papers me cite`: one BibTeX file of the papers the asker voted for in a window."""

    window: str = "all"


@dataclass(frozen=True, slots=True)
class ForgetMe(CommandTraits):
    """`/papers me forget`: say what would be deleted; with `confirmed`, delete the asker's data here."""

    confirmed: bool = False


@dataclass(frozen=True, slots=True)
class PersonGone(CommandTraits):
    """The platform says a person left the workspace (deactivated, left the guild): forget their data there."""


@dataclass(frozen=True, slots=True)
class ShowHome(CommandTraits):
    """The asker opened the bot's home (Slack's App Home): their digest, their votes, the week's trending."""


@dataclass(frozen=True, slots=True)
class ShowMyHelp(CommandTraits):
    """`/papers me` or `/papers me help`: what a person can do for themselves."""

    preface: str | None = None


# ----- actions that come from buttons and platform events rather than typed text -----


@dataclass(frozen=True, slots=True)
class ToggleVote(CommandTraits):
    """The Upvote button: cast the presser's vote, or take it back when it stands."""

    ref: str


@dataclass(frozen=True, slots=True)
class ReactionVote(CommandTraits):
    """A vote emoji added to (or removed from) a message that carries a paper.

    `event_key` is the platform's id of this very event (Slack's `event_id`), when it has one: the core acts
    on each key once, whichever replica a retry of the event reaches.
    """

    message_id: str
    cast: bool
    event_key: str | None = None


@dataclass(frozen=True, slots=True)
class SharePaper(CommandTraits):
    """The "Share in channel" button: post a paper's card for everyone, where reactions count as votes."""

    ref: str


@dataclass(frozen=True, slots=True)
class ForgetWorkspace(CommandTraits):
    """The platform says the bot left a workspace (uninstalled, tokens revoked, removed from a guild)."""


@dataclass(frozen=True, slots=True)
class ChannelGone(CommandTraits):
    """The platform says the channel was deleted: its digest pauses with this reason."""

    reason: str


@dataclass(frozen=True, slots=True)
class CardsForLinks(CommandTraits):
    """Paper links shared in a message (a Slack unfurl, Discord's "Paper card"): a compact card for each.

    `message_id` is the posted message that carries the links, when the platform names it: reactions on it
    then count as votes for each of its papers. A paper not stored yet is fetched from arXiv first.
    """

    links: tuple[PaperLink, ...]
    message_id: str | None = None

    @property
    def private(self) -> bool:
        """The cards show under the shared message, for everyone."""
        return False


@dataclass(frozen=True, slots=True)
class CardsShown(CommandTraits):
    """The adapter posted the cards itself (Discord's "Paper card" answer): reactions on it vote for each paper."""

    message_id: str
    arxiv_ids: tuple[str, ...]


Command = (
    Search
    | Trending
    | Top
    | ShowPaper
    | Cite
    | Similar
    | Subscribe
    | Unsubscribe
    | ListTopics
    | Schedule
    | ScheduleRecap
    | PostDigest
    | CastVote
    | RetractVote
    | ShowHelp
    | ToggleVote
    | ReactionVote
    | SharePaper
    | ForgetWorkspace
    | ChannelGone
    | CardsForLinks
    | CardsShown
    | ForMe
    | MyVotes
    | MyCitations
    | ForgetMe
    | PersonGone
    | ShowHome
    | ShowMyHelp
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
        case "top":
            window = rest.lower() or "week"
            if window not in TOP_WINDOWS:
                raise CommandError(
                    f"Top takes week, month or all, e.g. /papers top month; not {rest[:40]!r}."
                )
            return Top(window)
        case "schedule":
            words = rest.split(maxsplit=1)
            if words and words[0].lower() == "recap":
                return parse_recap(words[1] if len(words) > 1 else "")
            return Schedule(rest)
        case "digest":
            return PostDigest()
        case "vote" | "upvote":
            return CastVote(rest)
        case "unvote":
            return RetractVote(rest)
        case "help":
            return ShowHelp()
        case "me" | "my":
            return parse_personal(rest)
        case _:
            shown = word if len(word) <= 30 else word[:27] + "..."
            return ShowHelp(preface=f"I don't know {shown!r}. Here is what I can do:")


RECAP_HELP = "Write /papers schedule recap friday (any day of the week), or /papers schedule recap off."


def parse_recap(text: str) -> ScheduleRecap:
    """Parse the words after `/papers schedule recap`: a day of the week (or its first three letters), or off."""
    word = text.strip().lower()
    if word in ("off", "none", "never"):
        return ScheduleRecap(None)
    for number, day in enumerate(WEEKDAYS):
        if word in (day, day[:3], day + "s"):
            return ScheduleRecap(number)
    if not word:
        raise CommandError(f"Tell me the day of the weekly recap. {RECAP_HELP}")
    raise CommandError(f"{text.strip()[:40]!r} is not a day of the week. {RECAP_HELP}")


_ME_NEEDS_ARGUMENT = {
    "subscribe": 'Tell me the topic, e.g. /papers me subscribe "video diffusion" or /papers me subscribe cat:cs.CV.',
    "unsubscribe": "Tell me which topic, by its text or its number in /papers me topics, e.g. /papers me unsubscribe 1.",
}
FORGET_CONFIRM_WORDS = ("confirm", "yes")


def parse_personal(text: str) -> Command:
    """Parse the words after `/papers me`: the asker's own digest, reading list and data."""
    word, _, rest = text.strip().partition(" ")
    verb = word.lower()
    rest = rest.strip()
    if verb in _ME_NEEDS_ARGUMENT and not rest:
        raise CommandError(_ME_NEEDS_ARGUMENT[verb])
    match verb:
        case "" | "help":
            return ShowMyHelp()
        case "subscribe":
            return ForMe(Subscribe(rest))
        case "unsubscribe":
            return ForMe(Unsubscribe(rest))
        case "topics":
            return ForMe(ListTopics())
        case "schedule":
            if rest.split(maxsplit=1)[:1] == ["recap"]:
                raise CommandError(
                    "The weekly recap is the team's, for a channel: write /papers schedule recap <day> there."
                )
            return ForMe(Schedule(rest))
        case "digest":
            return ForMe(PostDigest())
        case "votes" | "cite":
            window = rest.lower() or "all"
            if window not in TOP_WINDOWS:
                raise CommandError(
                    f"Write /papers me {verb} week, month or all (the default); not {rest[:40]!r}."
                )
            return MyVotes(window) if verb == "votes" else MyCitations(window)
        case "forget":
            if not rest:
                return ForgetMe()
            if rest.lower() in FORGET_CONFIRM_WORDS:
                return ForgetMe(confirmed=True)
            raise CommandError(
                "Write /papers me forget to see what would be deleted, then /papers me forget confirm."
            )
        case _:
            shown = word if len(word) <= 30 else word[:27] + "..."
            return ShowMyHelp(preface=f"I don't know /papers me {shown!r}. Here is what you can do:")
