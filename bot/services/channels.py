"""Per-channel topics and schedules."""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain import MAX_TOPICS, ChannelRef, ChannelSettings, Topic, default_settings
from bot.ports import SettingsChange, Store
from bot.query import QUERY_HELP, parse_query, validate_query
from bot.schedule import ScheduleChange

# A pause reason is shown to the channel; the platform's error text can be long.
MAX_PAUSE_REASON = 500


class TopicError(ValueError):
    """A topic change that cannot be done, with a sentence that says what would work."""


@dataclass(frozen=True, slots=True)
class _Words:
    """How answers about a target's topics speak: of "this channel", or to the person whose digest it is."""

    subject: str
    anyone: str
    follow: str
    does: str
    papers: str

    @staticmethod
    def of(channel: ChannelRef) -> _Words:
        """The words for a channel or for a person's own digest."""
        if channel.is_person:
            return _Words("You", "You", "follow", "do", "/papers me")
        return _Words("This channel", "A channel", "follows", "does", "/papers")


def topic_query(text: str) -> str:
    """A topic's text as it is stored (normalized); TopicError with a sentence when it is no query."""
    query = parse_query(text)
    try:
        validate_query(query)
    except ValueError as error:
        raise TopicError(f"{error} {QUERY_HELP}" if QUERY_HELP not in str(error) else str(error)) from None
    return query.describe()


class ChannelTopics:
    """Subscribes channels to topics written in the search language."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def of_channel(self, channel: ChannelRef) -> list[Topic]:
        """The channel's topics, numbered from 1 in the order they were added."""
        return await self._store.list_topics(channel)

    async def subscribe(self, channel: ChannelRef, text: str) -> tuple[str, list[Topic]]:
        """Add a topic (normalized); refuse duplicates and a 26th topic with a sentence."""
        normalized = topic_query(text)
        # The duplicate check, the limit and the enrolment of a new channel happen in the store, in one
        # transaction: commands for one channel run at the same time, and a check made here would be stale.
        subscription = await self._store.subscribe_topic(channel, normalized, limit=MAX_TOPICS)
        words = _Words.of(channel)
        if subscription.outcome == "already_followed":
            raise TopicError(
                f"{words.subject} already {words.follow} {subscription.query!r}; see {words.papers} topics."
            )
        if subscription.outcome == "list_full":
            raise TopicError(
                f"{words.anyone} can follow at most {MAX_TOPICS} topics; "
                f"remove one first with {words.papers} unsubscribe <number>."
            )
        return normalized, await self._store.list_topics(channel)

    async def unsubscribe(self, channel: ChannelRef, text: str) -> tuple[str, list[Topic]]:
        """Remove a topic given by its number in the list or by its text."""
        topics = await self._store.list_topics(channel)
        words = _Words.of(channel)
        if not topics:
            raise TopicError(
                f"{words.subject} {words.follow} no topics yet; add one with {words.papers} subscribe <query>."
            )
        wanted = text.strip().lstrip("#")
        target: Topic | None = None
        if wanted.isdigit():
            number = int(wanted)
            if not 1 <= number <= len(topics):
                raise TopicError(f"Pick a number from 1 to {len(topics)}; {words.papers} topics shows them.")
            target = topics[number - 1]
        else:
            normalized = parse_query(text).describe().casefold()
            target = next(
                (t for t in topics if t.query.casefold() in (normalized, text.strip().casefold())), None
            )
            if target is None:
                raise TopicError(
                    f"{words.subject} {words.does} not follow {text.strip()[:80]!r}; "
                    f"use the text or number shown by {words.papers} topics."
                )
        await self._store.remove_topic(channel, target.query)
        return target.query, await self._store.list_topics(channel)


class ChannelSchedules:
    """Keeps each channel's digest hour, zone, days, size and pause state."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, channel: ChannelRef) -> ChannelSettings:
        """The channel's settings, or the defaults when it never set any."""
        return await self._store.get_settings(channel) or default_settings(channel)

    async def change(self, channel: ChannelRef, change: ScheduleChange) -> ChannelSettings:
        """Store what a `/papers schedule …` line changes, and only that; return the settings it leaves."""
        return await self._store.change_settings(channel, settings_change(change))

    async def pause(self, channel: ChannelRef, reason: str) -> None:
        """Pause a channel's digests with a reason the channel can read (e.g. the bot lost access)."""
        await self._store.change_settings(
            channel, SettingsChange(paused=True, pause_reason=reason[:MAX_PAUSE_REASON])
        )


def settings_change(change: ScheduleChange) -> SettingsChange:
    """The fields a schedule line sets (as `bot.schedule.apply_change` applies them), and no other."""
    fields = SettingsChange()
    if change.hour is not None:
        # A time names its minute, or means the full hour: "schedule 9" after 08:30 is 09:00.
        fields["hour"], fields["minute"] = change.hour, change.minute or 0
    if change.timezone is not None:
        fields["timezone"] = change.timezone
    if change.weekdays_only is not None:
        fields["weekdays_only"] = change.weekdays_only
    if change.digest_size is not None:
        fields["digest_size"] = change.digest_size
    if change.paused is not None:
        fields["paused"] = change.paused
        if not change.paused:
            fields["pause_reason"] = None  # resuming forgets why it was paused
    return fields
