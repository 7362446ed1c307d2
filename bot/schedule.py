"""Digest schedule arithmetic: parsing `/papers schedule …`, local due dates and the next run, DST included."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from bot.domain import MAX_DIGEST_SIZE, ChannelSettings

_TIME = re.compile(r"^(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ampm>am|pm)?$", re.IGNORECASE)
_SIZE = re.compile(r"^(?:papers|size)[=:]?(?P<n>\d+)?$", re.IGNORECASE)
SCHEDULE_HELP = (
    "Write /papers schedule HH:MM Area/City, e.g. /papers schedule 09:00 Europe/Berlin; add weekdays or daily, "
    "and papers N (1-25); or /papers schedule off / on."
)


class ScheduleError(ValueError):
    """A schedule that cannot be set, with a sentence that says what would work."""


class ZoneUnavailable(ScheduleError):
    """A stored time zone this machine cannot load (its zone data lacks it, or the name is not a zone name)."""


def channel_zone(settings: ChannelSettings) -> ZoneInfo:
    """The channel's zone; ZoneUnavailable, with a sentence for the channel, when it cannot be loaded.

    A zone was valid when it was set, but a store copied to a machine with older zone data, or edited by hand,
    can hold one that no longer loads here.
    """
    try:
        return ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError too: a name that is a folder of the zone data ("America") or far too long fails as a file.
        raise ZoneUnavailable(
            f"The time zone {settings.timezone[:40]!r} cannot be loaded on this server, so digests are paused; "
            "set the schedule again with a zone, e.g. /papers schedule 09:00 Europe/Berlin."
        ) from None


@dataclass(frozen=True, slots=True)
class ScheduleChange:
    """What a `/papers schedule …` line asks to change; None leaves a setting as it is."""

    hour: int | None = None
    minute: int | None = None
    timezone: str | None = None
    weekdays_only: bool | None = None
    digest_size: int | None = None
    paused: bool | None = None

    @property
    def is_empty(self) -> bool:
        """True when the line only asks to see the schedule."""
        return all(
            v is None for v in (self.hour, self.timezone, self.weekdays_only, self.digest_size, self.paused)
        )


@cache
def _zone_names() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def resolve_timezone(name: str) -> str:
    """Return the canonical IANA name of a zone; raise ScheduleError with close examples when unknown."""
    canonical = _zone_names().get(name.strip().lower())
    if canonical is not None:
        try:
            ZoneInfo(canonical)
        except (ZoneInfoNotFoundError, ValueError):
            canonical = None
    if canonical is None:
        close = difflib.get_close_matches(name.strip().lower(), list(_zone_names()), n=3, cutoff=0.6)
        examples = [_zone_names()[c] for c in close] or ["Europe/Berlin", "America/New_York", "Asia/Tokyo"]
        raise ScheduleError(
            f"I don't know the time zone {name.strip()[:40]!r}; use an IANA name such as {', '.join(examples)}."
        )
    return canonical


def parse_schedule_args(text: str) -> ScheduleChange:
    """Parse the words after `/papers schedule`; raise ScheduleError with an example when one is wrong."""
    tokens = text.split()
    if not tokens:
        return ScheduleChange()
    lowered = [t.lower() for t in tokens]
    if lowered in (["off"], ["pause"]):
        return ScheduleChange(paused=True)
    if lowered in (["on"], ["resume"]):
        return ScheduleChange(paused=False)
    hour = minute = size = None
    zone = None
    weekdays_only = None
    index = 0
    while index < len(tokens):
        token, low = tokens[index], lowered[index]
        index += 1
        time_match = _TIME.match(token)
        size_match = _SIZE.match(token)
        if time_match and hour is None:
            hour, minute = _parse_time(time_match)
        elif low in ("weekdays", "weekday", "workdays"):
            weekdays_only = True
        elif low in ("daily", "everyday", "every-day", "all", "weekends"):
            weekdays_only = False
        elif size_match:
            number = size_match.group("n")
            if number is None and index < len(tokens) and tokens[index].isdigit():
                number = tokens[index]
                index += 1
            size = _parse_size(number)
        elif token.isdigit() and index < len(tokens) and lowered[index] == "papers":
            size = _parse_size(token)
            index += 1
        elif "/" in token or low in ("utc", "gmt") or low in _zone_names():
            zone = resolve_timezone(token)
        else:
            raise ScheduleError(f"I don't understand {token[:40]!r}. {SCHEDULE_HELP}")
    return ScheduleChange(
        hour=hour, minute=minute, timezone=zone, weekdays_only=weekdays_only, digest_size=size
    )


def _parse_time(match: re.Match[str]) -> tuple[int, int]:
    hour, minute = int(match.group("h")), int(match.group("m") or 0)
    ampm = (match.group("ampm") or "").lower()
    if ampm:
        if not 1 <= hour <= 12:
            raise ScheduleError(f"{hour}{ampm} is not a time; write e.g. 9am or 09:00.")
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ScheduleError(
            f"{match.group(0)} is not a time of day; write HH:MM from 00:00 to 23:59, e.g. 09:00."
        )
    return hour, minute


def _parse_size(number: str | None) -> int:
    if number is None or not number.isdigit() or not 1 <= int(number) <= MAX_DIGEST_SIZE:
        raise ScheduleError(f"A digest carries 1 to {MAX_DIGEST_SIZE} papers; write e.g. papers 10.")
    return int(number)


def apply_change(settings: ChannelSettings, change: ScheduleChange) -> ChannelSettings:
    """Return the settings with the change applied; resuming clears the pause reason."""
    if change.hour is not None:
        settings.hour = change.hour
        settings.minute = change.minute or 0
    if change.timezone is not None:
        settings.timezone = change.timezone
    if change.weekdays_only is not None:
        settings.weekdays_only = change.weekdays_only
    if change.digest_size is not None:
        settings.digest_size = change.digest_size
    if change.paused is not None:
        settings.paused = change.paused
        if not change.paused:
            settings.pause_reason = None
    return settings


def _runs_on(settings: ChannelSettings, day: date) -> bool:
    return not settings.weekdays_only or day.weekday() < 5


def local_run_time(settings: ChannelSettings, day: date) -> datetime:
    """The moment of the channel's digest on a local date (a time skipped by DST moves forward, per zoneinfo)."""
    zone = channel_zone(settings)
    naive = datetime.combine(day, time(settings.hour, settings.minute))
    # Round-trip through UTC so that a wall time that does not exist (spring forward) lands after the gap.
    return naive.replace(tzinfo=zone).astimezone(ZoneInfo("UTC")).astimezone(zone)


def due_local_date(settings: ChannelSettings, now: datetime) -> date | None:
    """The local date whose digest is due at `now` (its hour has come today), or None."""
    if settings.paused:
        return None
    local_now = now.astimezone(channel_zone(settings))
    today = local_now.date()
    if not _runs_on(settings, today):
        return None
    return today if local_now >= local_run_time(settings, today) else None


def next_run(settings: ChannelSettings, now: datetime, *, done_today: bool = False) -> datetime | None:
    """When the channel's next digest is due after `now` (None when paused)."""
    if settings.paused:
        return None
    local_now = now.astimezone(channel_zone(settings))
    for offset in range(8):
        day = local_now.date() + timedelta(days=offset)
        if not _runs_on(settings, day):
            continue
        moment = local_run_time(settings, day)
        if offset == 0 and (done_today or moment <= local_now):
            if not done_today and moment <= local_now:
                return moment  # due now: the scheduler picks it up at its next tick
            continue
        return moment
    return None
