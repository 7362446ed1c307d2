"""Per-channel topics and schedules."""

from __future__ import annotations

from bot.domain import MAX_TOPICS, ChannelRef, ChannelSettings, Topic
from bot.ports import Store
from bot.query import QUERY_HELP, parse_query, validate_query
from bot.schedule import ScheduleChange, apply_change


class TopicError(ValueError):
    """A topic change that cannot be done, with a sentence that says what would work."""


class ChannelTopics:
    """Subscribes channels to topics written in the search language."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def of_channel(self, channel: ChannelRef) -> list[Topic]:
        """The channel's topics, numbered from 1 in the order they were added."""
        return await self._store.list_topics(channel)

    async def subscribe(self, channel: ChannelRef, text: str) -> tuple[str, list[Topic]]:
        """Add a topic (normalized); refuse duplicates and a 26th topic with a sentence."""
        query = parse_query(text)
        try:
            validate_query(query)
        except ValueError as error:
            raise TopicError(
                f"{error} {QUERY_HELP}" if QUERY_HELP not in str(error) else str(error)
            ) from None
        normalized = query.describe()
        topics = await self._store.list_topics(channel)
        if any(t.query.casefold() == normalized.casefold() for t in topics):
            raise TopicError(f"This channel already follows {normalized!r}; see /papers topics.")
        if len(topics) >= MAX_TOPICS:
            raise TopicError(
                f"A channel can follow at most {MAX_TOPICS} topics; remove one first with /papers unsubscribe <number>."
            )
        if await self._store.get_settings(channel) is None:
            # The first topic also enrols the channel for the daily digest, with the default schedule.
            await self._store.save_settings(ChannelSettings(channel))
        await self._store.add_topic(channel, normalized)
        return normalized, await self._store.list_topics(channel)

    async def unsubscribe(self, channel: ChannelRef, text: str) -> tuple[str, list[Topic]]:
        """Remove a topic given by its number in the list or by its text."""
        topics = await self._store.list_topics(channel)
        if not topics:
            raise TopicError("This channel follows no topics yet; add one with /papers subscribe <query>.")
        wanted = text.strip().lstrip("#")
        target: Topic | None = None
        if wanted.isdigit():
            number = int(wanted)
            if not 1 <= number <= len(topics):
                raise TopicError(f"Pick a number from 1 to {len(topics)}; /papers topics shows them.")
            target = topics[number - 1]
        else:
            normalized = parse_query(text).describe().casefold()
            target = next(
                (t for t in topics if t.query.casefold() in (normalized, text.strip().casefold())), None
            )
            if target is None:
                raise TopicError(
                    f"This channel does not follow {text.strip()[:80]!r}; "
                    "use the text or number shown by /papers topics."
                )
        await self._store.remove_topic(channel, target.query)
        return target.query, await self._store.list_topics(channel)


class ChannelSchedules:
    """Keeps each channel's digest hour, zone, days, size and pause state."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, channel: ChannelRef) -> ChannelSettings:
        """The channel's settings, or the defaults when it never set any."""
        return await self._store.get_settings(channel) or ChannelSettings(channel)

    async def change(self, channel: ChannelRef, change: ScheduleChange) -> ChannelSettings:
        """Apply a change and store it."""
        settings = apply_change(await self.get(channel), change)
        await self._store.save_settings(settings)
        return settings

    async def pause(self, channel: ChannelRef, reason: str) -> None:
        """Pause a channel's digests with a reason the channel can read (e.g. the bot lost access)."""
        settings = await self.get(channel)
        settings.paused = True
        settings.pause_reason = reason[:500]
        await self._store.save_settings(settings)
