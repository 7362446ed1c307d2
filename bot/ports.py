"""What the core needs from the outside world, as Protocols that storage and adapters implement."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, Protocol, TypedDict, runtime_checkable

from bot.domain import (
    Bookmark,
    ChannelRef,
    ChannelSettings,
    Delivery,
    DigestPlan,
    Paper,
    PaperShowing,
    Topic,
    UpsertCounts,
    Vote,
    WeekRecap,
    Workspace,
)
from bot.query import SearchQuery


class Clock(Protocol):
    """Tells the time; tests pass a clock they control."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class MessageBook(Protocol):
    """Remembers which platform message carries which paper, so that reactions on it count as votes."""

    async def remember_message(self, channel: ChannelRef, message_id: str, arxiv_id: str) -> None:
        """Note that a message in a channel shows a paper."""
        ...


class PaperSource(Protocol):
    """Papers from outside by arXiv id (arXiv's API), for a link to a paper the store does not have yet."""

    async def fetch_papers(self, arxiv_ids: Sequence[str]) -> list[Paper]:
        """The papers found among these ids; none, rather than an error, when the source is slow or down."""
        ...


class PaperRepository(Protocol):
    """Stores papers; the database is the only copy of them."""

    async def upsert_papers(self, papers: Sequence[Paper]) -> UpsertCounts:
        """Insert new papers and update known ones in one transaction; report what changed.

        A store that stamps its writes also says which stamp this write took, the newest one before it and
        the papers it stored (UpsertCounts.stamp, previous, stored), so that an index can follow its writes.
        """
        ...

    async def get_paper(self, arxiv_id: str) -> Paper | None:
        """One paper by its bare arXiv id (no version), or None."""
        ...

    async def get_papers(self, arxiv_ids: Collection[str]) -> dict[str, Paper]:
        """Papers by id; unknown ids are left out."""
        ...

    async def papers_featured_between(self, first: date, last: date) -> list[Paper]:
        """Papers featured on Daily Papers from `first` to `last` inclusive, withdrawn ones left out."""
        ...

    async def count_papers(self) -> int:
        """How many papers are stored."""
        ...

    def papers_changed_after(self, mark: datetime | None, batch: int) -> AsyncGenerator[list[Paper], None]:
        """Papers stamped after `mark` (all when None), oldest stamp first, in batches; for index catch-up.

        One snapshot of the store, whose writes are stamped in commit order: a paper committed after the read
        is stamped after the newest stamp the read returned.
        """
        ...


@dataclass(frozen=True, slots=True)
class PersonalData:
    """What deleting one person's data removed: their topics, whether they had a schedule, their votes."""

    topics: int = 0
    schedule: bool = False
    votes: int = 0


class SettingsChange(TypedDict, total=False):
    """The fields of a channel's settings that one change sets; the fields left out keep their stored value."""

    hour: int
    minute: int
    timezone: str
    weekdays_only: bool
    digest_size: int
    paused: bool
    pause_reason: str | None
    recap_day: int | None


@dataclass(frozen=True, slots=True)
class TopicSubscription:
    """What subscribing a channel to a topic did, decided in one transaction with the channel's list locked.

    `outcome` is "added", "already_followed" (perhaps written in another case; `query` is then the text
    stored before) or "list_full" (the channel follows as many topics as it may; nothing was added).
    """

    outcome: Literal["added", "already_followed", "list_full"]
    query: str


class ChannelRepository(Protocol):
    """Stores per-channel topics and schedules.

    Commands for one channel can run at the same moment, so every change writes only what it changes, in one
    transaction: nothing reads the whole settings row and writes it back.
    """

    async def get_settings(self, channel: ChannelRef) -> ChannelSettings | None:
        """The channel's settings, or None when the channel never set anything."""
        ...

    async def change_settings(self, channel: ChannelRef, change: SettingsChange) -> ChannelSettings:
        """Enrol the channel when new (default settings), set only the fields in `change`, in one transaction.

        Returns the settings as this change left them.
        """
        ...

    async def subscribe_topic(self, channel: ChannelRef, query: str, *, limit: int) -> TopicSubscription:
        """Enrol the channel when new and add a topic unless it is there already or `limit` are, atomically."""
        ...

    async def list_topics(self, channel: ChannelRef) -> list[Topic]:
        """The channel's topics in the order they were added, numbered from 1."""
        ...

    async def remove_topic(self, channel: ChannelRef, query: str) -> bool:
        """Remove a topic by its exact stored text; True when one was removed."""
        ...

    async def list_channels(self) -> list[ChannelSettings]:
        """Every channel with settings, for the scheduler."""
        ...

    async def delete_workspace(self, workspace: Workspace) -> int:
        """Delete every channel, topic, vote and delivery of a workspace; return the channels removed."""
        ...

    async def enrol(self, channel: ChannelRef, change: SettingsChange) -> bool:
        """Give a new target its default settings with `change` on top; True when it was new.

        A target that has settings keeps them untouched (insert, or nothing, in one statement).
        """
        ...

    async def delete_person(self, person: ChannelRef) -> PersonalData:
        """Delete everything one person left in one workspace, in one transaction; return what was deleted.

        `person` is their own target (`ChannelRef.person`): its settings, topics, digests and deliveries,
        the messages remembered there, and every vote they cast in the workspace.
        """
        ...


class AddressBook(Protocol):
    """Where a platform delivers a target that names no conversation of its own: a Slack person's D… id.

    The address of a person's own target (`ChannelRef.person`) is found with a call the platform rations
    (Slack's conversations.open: about 50 a minute per workspace), and it does not change: kept here, a
    restart or the next day's run does not ask for it again. It lives with the target's settings, so only a
    target that has settings keeps one, and it goes when they go.
    """

    async def address_of(self, target: ChannelRef) -> str | None:
        """Where the platform delivers this target, as remembered; None when unknown."""
        ...

    async def remember_address(self, target: ChannelRef, address: str) -> None:
        """Note where the platform delivers this target; nothing for a target without settings."""
        ...

    async def forget_address(self, target: ChannelRef, address: str) -> None:
        """Forget `address` (the platform no longer knows it), unless another address replaced it meanwhile."""
        ...


class VoteRepository(Protocol):
    """Stores chat votes, one per (platform, workspace, user, paper)."""

    async def cast_vote(self, vote: Vote) -> bool:
        """Record the vote; False when it was already there."""
        ...

    async def retract_vote(self, vote: Vote) -> bool:
        """Remove the vote; False when there was none."""
        ...

    async def has_vote(self, vote: Vote) -> bool:
        """True when this person has voted for this paper here."""
        ...

    async def vote_counts(self, arxiv_ids: Collection[str], workspace: Workspace | None) -> dict[str, int]:
        """Votes per paper, in one workspace or (None) everywhere; papers without votes are left out."""
        ...

    async def most_voted(
        self, workspace: Workspace | None, since: datetime | None, until: datetime | None, limit: int
    ) -> list[tuple[str, int]]:
        """The stored papers with the most votes cast from `since` until before `until` (None: no bound).

        (arxiv_id, votes) pairs, best first; ties go to more Hugging Face upvotes, then the newer arXiv id.
        """
        ...

    async def count_voted(self, workspace: Workspace, since: datetime, until: datetime) -> int:
        """How many papers got at least one vote from `since` until before `until` in a workspace."""
        ...

    async def votes_of(
        self, workspace: Workspace, user: str, since: datetime | None, limit: int | None
    ) -> list[Bookmark]:
        """The stored papers one person voted for in a workspace since `since` (None: ever), newest vote first."""
        ...

    async def count_votes_of(self, workspace: Workspace, user: str, since: datetime | None) -> int:
        """How many papers one person voted for in a workspace since `since` (None: ever)."""
        ...


class DigestRepository(Protocol):
    """Stores digests and their deliveries; the database is the truth of what was posted."""

    async def posted_paper_ids(self, channel: ChannelRef) -> set[str]:
        """Every paper a digest of this channel has carried or is about to carry."""
        ...

    async def create_digest(self, plan: DigestPlan) -> int | None:
        """Record a digest and one pending delivery per message; None when that date already has one."""
        ...

    async def deliveries_of(self, digest_id: int) -> list[Delivery]:
        """The deliveries of one digest, parent first."""
        ...

    async def mark_posted(self, delivery_id: int, message_id: str) -> None:
        """Record that a delivery was posted as the platform message `message_id`."""
        ...

    async def has_digest(self, channel: ChannelRef, local_date: date) -> bool:
        """True when the channel has a digest for that local date."""
        ...

    async def last_posted_at(self, channel: ChannelRef) -> datetime | None:
        """When a digest message was last posted to the channel, or None."""
        ...

    async def remember_message(
        self, channel: ChannelRef, message_id: str, arxiv_id: str, *, via: str | None = None
    ) -> None:
        """Remember that a message in a channel shows a paper, so reactions on it count as votes.

        `via` says how it came there (a SHOWN_… word of bot.domain); None: a link someone posted.
        """
        ...

    async def paper_for_message(self, channel: ChannelRef, message_id: str) -> str | None:
        """The paper a bot message shows, or None when the message is not one of ours."""
        ...

    async def papers_for_message(self, channel: ChannelRef, message_id: str) -> list[str]:
        """Every paper a message shows (a shared message may link several), oldest link first; [] for none."""
        ...

    async def showings_of(
        self, workspace: Workspace, arxiv_ids: Collection[str]
    ) -> dict[str, list[PaperShowing]]:
        """Where each paper was shown in a workspace (digests, cards, links; not recaps), first shown first."""
        ...

    async def shared_counts(
        self, channels: Collection[ChannelRef], since: datetime, until: datetime
    ) -> dict[ChannelRef, int]:
        """How many papers each channel was shown from `since` until before `until`, recaps aside."""
        ...

    async def recap_keys(
        self, first: date, last: date, *, channel: ChannelRef | None = None
    ) -> set[tuple[ChannelRef, date]]:
        """The (channel, local date) pairs of weekly recaps from `first` to `last` inclusive (of one channel)."""
        ...

    async def digest_recap(self, digest_id: int) -> WeekRecap | None:
        """What a weekly recap sums up, as it was planned; None for a daily digest or an unknown one."""
        ...


@dataclass(frozen=True, slots=True)
class HeldDigest:
    """A digest with deliveries given up (its channel was paused) in a channel that is not paused now."""

    digest_id: int
    channel: ChannelRef
    local_date: date
    timezone: str


class DeliveryQueue(Protocol):
    """Hands out deliveries to workers as leases, so that several replicas share them and post each once.

    A worker claims whole digests (every delivery of one that is pending, or claimed under a lease that ran
    out); it counts an attempt before each message, renews its leases while it works, and releases what it
    did not post when it stops.
    """

    async def claim_deliveries(
        self,
        worker: str,
        now: datetime,
        until: datetime,
        *,
        platforms: Collection[str],
        limit: int,
        digest_ids: Collection[int] | None = None,
    ) -> list[Delivery]:
        """Claim up to `limit` digests with work left, for `worker` until `until`; return all their deliveries.

        The result is ordered by digest, then position, and holds every delivery of each claimed digest
        (those posted before too, so the thread is known); the ones claimed now are in state "claimed".
        Digests another worker is claiming at the same moment are skipped, never waited for.
        """
        ...

    async def begin_attempt(
        self, delivery_id: int, digest_id: int, worker: str, until: datetime
    ) -> int | None:
        """Count one attempt at a delivery and renew the digest's lease; return the attempts made before.

        None when `worker` no longer holds the claim (its lease ran out and another worker took it).
        """
        ...

    async def renew_claims(self, worker: str, until: datetime) -> int:
        """Extend every lease `worker` holds to `until`; return how many deliveries."""
        ...

    async def release_claims(self, worker: str) -> int:
        """Hand back every delivery `worker` claimed but did not post (they become pending); return how many."""
        ...

    async def fail_claimed(self, digest_id: int, worker: str, reason: str) -> int:
        """Give up the deliveries of a digest that `worker` still holds, with the reason; return how many."""
        ...

    async def mark_failed(self, delivery_ids: Collection[int], reason: str) -> None:
        """Give up these deliveries for good, with the reason."""
        ...

    async def record_error(self, delivery_id: int, error: str) -> None:
        """Remember why the last attempt at a delivery failed (it stays claimed for the next attempt)."""
        ...

    async def claim_holders(self) -> set[str]:
        """The workers that hold claims now (live or not)."""
        ...

    async def digest_created_at(self, digest_id: int) -> datetime | None:
        """When a digest was created: none of its messages is older. None for an unknown digest."""
        ...

    async def held_digests(self, first: date, last: date) -> list[HeldDigest]:
        """Digests of local dates `first` to `last` with deliveries given up, in channels not paused now."""
        ...

    async def resume_digest(self, digest_id: int) -> int:
        """Make a digest's given-up deliveries pending again (attempts kept), unless its channel is paused
        or their paper is gone; return how many."""
        ...

    async def digest_topics(self, digest_id: int) -> tuple[str, ...]:
        """The topics a digest was planned for."""
        ...

    async def digest_keys(self, local_dates: Collection[date]) -> set[tuple[ChannelRef, date]]:
        """The (channel, local date) pairs that have a digest, among those dates."""
        ...

    async def create_digests(self, plans: Sequence[DigestPlan]) -> list[int | None]:
        """`create_digest` for many plans in one transaction; None for a date that already has one."""
        ...

    async def posted_paper_ids_of(
        self, channels: Collection[ChannelRef], among: Collection[str]
    ) -> dict[ChannelRef, set[str]]:
        """Which of the papers `among` each channel's digests carried (channels with none are left out)."""
        ...

    async def topics_of(self, channels: Collection[ChannelRef]) -> dict[ChannelRef, list[Topic]]:
        """`list_topics` of many channels at once (channels with none are left out)."""
        ...

    async def delivery_counts(self, channel: ChannelRef, local_date: date) -> dict[str, int]:
        """How many deliveries of the channel's digest for that date are in each state (empty: no digest)."""
        ...


class EventLog(Protocol):
    """Platform events already acted on, seen by every replica: a platform's retry of one is skipped anywhere."""

    async def record_event(self, key: str, seen_at: datetime, forget_before: datetime) -> bool:
        """Note that the event `key` is being acted on; False when it was already (at or after `forget_before`)."""
        ...

    async def forget_event(self, key: str) -> None:
        """Forget an event whose handling failed, so that the platform's retry of it is acted on."""
        ...


@runtime_checkable
class LeaseBook(Protocol):
    """Leases of jobs that one replica at a time runs, taken with one atomic conditional write."""

    async def take_lease(self, name: str, holder: str, now: datetime, until: datetime) -> bool:
        """Hold lease `name` until `until` when it is free, ran out by `now`, or is `holder`'s already."""
        ...

    async def release_lease(self, name: str, holder: str) -> bool:
        """Give lease `name` up when `holder` holds it; True when it did."""
        ...


class Store(
    PaperRepository,
    ChannelRepository,
    AddressBook,
    VoteRepository,
    DigestRepository,
    DeliveryQueue,
    EventLog,
    LeaseBook,
    Protocol,
):
    """Everything the core keeps, in one database."""

    async def close(self) -> None:
        """Release connections."""
        ...


class SearchIndex(Protocol):
    """A top-k retrieval index over papers; derived data, rebuilt from the store when needed."""

    async def search(
        self,
        query: SearchQuery,
        limit: int,
        *,
        restrict_to: Collection[str] | None = None,
        require_all_words: bool = False,
    ) -> list[tuple[str, float]]:
        """Best (arxiv_id, score) pairs for a query, optionally only among `restrict_to` ids."""
        ...

    async def acronym_meanings(self, words: Sequence[str]) -> dict[str, str]:
        """For each acronym among `words` (as written) that papers define, the long form they give most often."""
        ...

    async def full_match_score(self, query: SearchQuery) -> float:
        """About what a paper with each of the query's words in its title and abstract scores (0 for none).

        Scores of different queries are not comparable; this puts one query's scores on a scale, so that a
        paper matching one word of five does not look like a clear match because nothing matched better.
        """
        ...

    async def add_papers(self, papers: Sequence[Paper]) -> None:
        """Index (or re-index) papers; visible to the next search."""
        ...

    async def catch_up(self, store: PaperRepository) -> int:
        """Index what changed in the store since the index last looked; return how many papers."""
        ...

    async def similar(self, paper: Paper, limit: int) -> list[tuple[str, float]]:
        """Papers sharing the most telling words of `paper` (more like this), best first, itself left out."""
        ...

    async def close(self) -> None:
        """Release the index."""
        ...


class SemanticIndex(Protocol):
    """Papers by meaning (the optional `semantic` extra): an embedding of each paper, nearest ones first.

    Similarities are in [-1, 1]. `search` ranks and its scores serve ranking and fusion only (they may be
    adjusted to the collection); `cosines` are plain cosines, comparable with `topic_similarity`, the lowest
    cosine at which a paper counts as matching a channel's topic; it belongs to the model, so it travels with it.
    """

    topic_similarity: float

    async def search(
        self, text: str, limit: int, *, restrict_to: Collection[str] | None = None
    ) -> list[tuple[str, float]]:
        """The papers closest in meaning to `text` as (arxiv_id, similarity), best first."""
        ...

    async def cosines(self, text: str, arxiv_ids: Collection[str]) -> dict[str, float]:
        """The plain cosine between `text` and each of the papers that has an embedding."""
        ...

    async def similar(self, paper: Paper, limit: int) -> list[tuple[str, float]]:
        """The papers closest in meaning to `paper`, best first, itself left out."""
        ...

    async def add_papers(self, papers: Sequence[Paper]) -> int:
        """Embed the papers whose text is new or changed (in batches), store and search them; return how many."""
        ...

    async def catch_up(self) -> int:
        """Load the embeddings other processes stored since the last look; return how many."""
        ...

    async def close(self) -> None:
        """Release the model and the vectors."""
        ...


class Telemetry(Protocol):
    """Counts what the core does (commands, votes, digests, ingests) for metrics and logs; never raises."""

    def command_handled(self, channel: ChannelRef, command: str, outcome: str, seconds: float) -> None:
        """One `/papers` command answered: outcome is "ok", "user_error" or "error"."""
        ...

    def vote_changed(self, platform: str, cast: bool) -> None:
        """A chat vote was cast (True) or retracted (False); repeats that changed nothing are not reported."""
        ...

    def digest_delivered(self, channel: ChannelRef, outcome: str, messages: int, seconds: float) -> None:
        """A digest run ended ("posted", "empty", "already_posted" or "failed") after posting `messages`."""
        ...

    def delivery_finished(self, channel: ChannelRef, outcome: str) -> None:
        """One delivery (one message of a digest) ended: "posted", "failed", "released" or "skipped"."""
        ...

    def rate_limit_waited(self, platform: str, seconds: float) -> None:
        """A platform asked us to wait (HTTP 429 and Retry-After) and we did."""
        ...

    def ingest_ran(self, source: str, counts: UpsertCounts, seconds: float) -> None:
        """One ingest of papers from a source ("hf", "arxiv", "snapshot", "demo", …) was stored."""
        ...


class NullTelemetry:
    """Telemetry that records nothing: the default of the core and of tests."""

    def command_handled(self, channel: ChannelRef, command: str, outcome: str, seconds: float) -> None:
        """Ignore."""

    def vote_changed(self, platform: str, cast: bool) -> None:
        """Ignore."""

    def digest_delivered(self, channel: ChannelRef, outcome: str, messages: int, seconds: float) -> None:
        """Ignore."""

    def delivery_finished(self, channel: ChannelRef, outcome: str) -> None:
        """Ignore."""

    def rate_limit_waited(self, platform: str, seconds: float) -> None:
        """Ignore."""

    def ingest_ran(self, source: str, counts: UpsertCounts, seconds: float) -> None:
        """Ignore."""
