"""The one clock of the tests: it stands still until the test moves it, so no test waits for real time to pass."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta


class FixedClock:
    """The core's `Clock` in tests; also a monotonic clock and a sleep for the parts that pace in seconds.

    Whatever takes it (the core, the delivery engine and its leases, the digest scheduler, the arXiv pacer) sees
    time move only when the test calls `set`, `advance` or `sleep`, so a lease runs out or a schedule comes due
    at an exact moment instead of after a real wait.
    """

    def __init__(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("a FixedClock needs a timezone-aware moment")
        self.moment = moment.astimezone(UTC)
        self.slept: list[float] = []

    @classmethod
    def noon(cls, day: date) -> FixedClock:
        """A clock standing at noon UTC of `day`."""
        return cls(datetime(day.year, day.month, day.day, 12, 0, tzinfo=UTC))

    def now(self) -> datetime:
        """The moment the test set."""
        return self.moment

    def set(self, moment: datetime) -> None:
        """Jump to a moment (forwards, or backwards to replay a restart)."""
        self.moment = moment.astimezone(UTC)

    def advance(self, delta: timedelta | None = None, /, **parts: float) -> datetime:
        """Move forward by `delta` or by timedelta's keywords (`advance(seconds=31)`); return the new moment."""
        self.moment += (delta or timedelta()) + timedelta(**parts)
        return self.moment

    def monotonic(self) -> float:
        """Seconds on a monotonic scale (for pacers that take a `clock() -> float`)."""
        return self.moment.timestamp()

    async def sleep(self, seconds: float) -> None:
        """An injected sleep: note the wait, move the clock by it, and let other tasks run; nothing waits."""
        self.slept.append(seconds)
        self.advance(seconds=seconds)
        await asyncio.sleep(0)  # a real sleep yields to the event loop; so must this one
