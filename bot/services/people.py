"""One person's own things: their digest target's enrolment, their votes as a reading list, forgetting them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.citation import bibtex_entry
from bot.domain import Bookmark, ChannelRef, ChannelSettings, ScoredPaper, Workspace
from bot.ports import Clock, PersonalData, SettingsChange, Store
from bot.replies import BibFile, Home, Notice, ReadingList
from bot.schedule import channel_zone, next_run
from bot.services.publishing import DigestPublisher, PersonDirectory
from bot.services.recaps import top_since

log = logging.getLogger(__name__)

# A reading list in chat shows the newest votes; the BibTeX file (`/papers me cite`) carries them all.
READING_LIST_LIMIT = 20
# The Home tab shows the latest few.
HOME_VOTES = 10
WINDOW_WORDS = {"week": "of the last week", "month": "of the last month", "all": "of all time"}


def voter_of(person: ChannelRef) -> tuple[Workspace, str]:
    """The workspace and the user whose votes a person's own target stands for."""
    return Workspace(person.platform, person.workspace), person.user or person.channel


class People:
    """Enrols a person's own digest with their zone, lists and cites their votes, and forgets them."""

    def __init__(self, store: Store, clock: Clock, publishers: Mapping[str, DigestPublisher]) -> None:
        self._store = store
        self._clock = clock
        self._publishers = publishers

    async def enrol(self, person: ChannelRef) -> None:
        """Give a new person's digest its defaults: 08:00 in the zone their platform tells, else UTC."""
        if await self._store.get_settings(person) is not None:
            return
        zone = await self._zone_of(person)
        # Insert-or-nothing: two first commands at once both try, one row results, with the same defaults.
        await self._store.enrol(person, SettingsChange(timezone=zone) if zone else SettingsChange())

    async def _zone_of(self, person: ChannelRef) -> str | None:
        """The person's zone from their platform, when it tells one this machine knows; None otherwise."""
        directory = self._publishers.get(person.platform)
        if not isinstance(directory, PersonDirectory):
            return None
        try:
            zone = await directory.person_timezone(person)
        except Exception:
            # The zone is a nicety: the digest still comes, at 08:00 UTC, and the person can set it.
            log.warning("could not read the time zone of %s", person, exc_info=True)
            return None
        if not zone:
            return None
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            return None
        return zone

    def _since(self, window: str) -> datetime | None:
        return top_since(window, self._clock.now())

    async def votes(self, person: ChannelRef, window: str, limit: int | None) -> list[Bookmark]:
        """The papers the person voted for in the window, newest vote first (at most `limit`)."""
        return await self._store.votes_of(*voter_of(person), self._since(window), limit)

    async def reading_list(self, person: ChannelRef, window: str) -> ReadingList:
        """The person's votes in a window as a reading list: the newest, and how many there are in all."""
        items = await self.votes(person, window, READING_LIST_LIMIT)
        total = len(items)
        if total >= READING_LIST_LIMIT:
            total = await self._store.count_votes_of(*voter_of(person), self._since(window))
        return ReadingList(window, tuple(items), total)

    async def bib_file(self, person: ChannelRef, window: str) -> BibFile | None:
        """One BibTeX file of every paper the person voted for in the window; None when there is none."""
        items = await self.votes(person, window, None)
        if not items:
            return None
        entries = "\n\n".join(bibtex_entry(item.paper) for item in items)
        day = self._clock.now().date().isoformat()
        return BibFile(
            filename=f"paperboy-votes-{window}-{day}.bib",
            bibtex=entries + "\n",
            count=len(items),
            heading=f"BibTeX for the {len(items)} paper(s) you voted for, {WINDOW_WORDS[window]}.",
        )

    async def held(self, person: ChannelRef) -> PersonalData:
        """What Paperboy keeps about a person in their workspace, without changing it."""
        return PersonalData(
            topics=len(await self._store.list_topics(person)),
            schedule=await self._store.get_settings(person) is not None,
            votes=await self._store.count_votes_of(*voter_of(person), None),
        )

    async def next_digest_line(self, person: ChannelRef) -> str:
        """When the person's digest comes next, or why it does not: shown after every change."""
        settings = await self._store.get_settings(person)
        if settings is None:
            return (
                "You have no digest of your own yet: your first topic (or /papers me schedule on) starts one, "
                "by direct message every weekday at 08:00."
            )
        if settings.paused:
            return settings.pause_reason or "Your digest is paused; /papers me schedule on resumes it."
        due = await self._next_run(settings)
        if due is None:
            return ""
        if due <= self._clock.now():
            # Today's hour passed without a digest: the scheduler's next tick sends it (the same local day).
            return "Today's digest is due: it comes by direct message shortly."
        local = due.astimezone(channel_zone(settings))
        return f"Your next digest comes by direct message on {local:%a %d %b at %H:%M} ({settings.timezone})."

    async def _next_run(self, settings: ChannelSettings) -> datetime | None:
        """When a target's next digest is due, counting one already posted today."""
        now = self._clock.now()
        today = now.astimezone(channel_zone(settings)).date()
        return next_run(settings, now, done_today=await self._store.has_digest(settings.channel, today))

    async def home(self, person: ChannelRef, trending: tuple[ScoredPaper, ...]) -> Home:
        """A person's home: their digest and topics, their latest votes, and the workspace's `trending`."""
        settings = await self._store.get_settings(person)
        due = await self._next_run(settings) if settings is not None else None
        return Home(
            settings,
            due,
            tuple(await self._store.list_topics(person)),
            tuple(await self.votes(person, "all", HOME_VOTES)),
            trending,
        )

    async def forget_me(self, person: ChannelRef, *, confirmed: bool) -> Notice:
        """Say what would be deleted, or (confirmed) delete it: nothing goes without a second word."""
        if not confirmed:
            held = describe(await self.held(person))
            if not held:
                return Notice("Paperboy keeps nothing about you in this workspace.")
            return Notice(
                f"This deletes {held} in this workspace; your votes leave the team's counts too. "
                "Write /papers me forget confirm to go on."
            )
        removed = describe(await self.forget(person))
        if not removed:
            return Notice("Paperboy kept nothing about you in this workspace; nothing to delete.")
        return Notice(f"Done: deleted {removed} in this workspace.")

    async def forget(self, person: ChannelRef) -> PersonalData:
        """Delete everything about a person in their workspace, in one transaction."""
        removed = await self._store.delete_person(person)
        log.info("forgot a person of %s:%s", person.platform, person.workspace)
        return removed


def describe(data: PersonalData) -> str:
    """What a person's data is, in words: "your 3 topics, your digest schedule and your 12 votes"."""
    parts = []
    if data.topics:
        parts.append(f"your {data.topics} topic(s)")
    if data.schedule:
        parts.append("your digest schedule")
    if data.votes:
        parts.append(f"your {data.votes} vote(s)")
    if not parts:
        return ""
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
