"""How fast digests go out: each platform's pace (per channel and in all), and the policy of leases and retries."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class PlatformPace:
    """How fast one platform takes digest messages."""

    channel_interval: float = 1.0
    """Seconds between two messages in one channel; 0 when the publisher spaces them itself."""
    rate: float | None = None
    """Messages a second over the whole platform (None: no cap of ours)."""
    burst: int = 1
    """Messages that may go at once before `rate` applies."""


# Slack's publisher spaces each channel itself (its ChannelPacer) and slack_sdk waits out every Retry-After;
# what neither does is keep the whole app under a global rate. discord.py waits out 429s and follows the
# per-route buckets but does not pace ahead of them, and each digest message costs up to two requests
# (message and reaction, message and thread, or opening a DM and the heading) of Discord's 50 requests a
# second. A bucket lets `burst + rate` messages through in any one second, so Discord's burst is 1:
# 2 x (1 + 20) = 42 requests in the busiest second leaves 8, 0.2 s of requests, for the way to Discord (a burst
# of 5 made it 2 x 25 = 50, the limit itself, and any request held up on the way tipped a second over).
UNPACED = PlatformPace(channel_interval=0.0)
DEFAULT_PACES: dict[str, PlatformPace] = {
    "slack": PlatformPace(channel_interval=0.0, rate=50.0, burst=5),
    "discord": PlatformPace(channel_interval=1.0, rate=20.0, burst=1),
    "console": PlatformPace(channel_interval=0.0),
}


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """Leases, retries, batch sizes and paces of the delivery engine."""

    lease_seconds: float = 60.0
    max_attempts: int = 4
    first_backoff: float = 2.0
    max_backoff: float = 60.0
    claim_batch: int = 200
    max_digests: int = 2000
    poll_seconds: float = 5.0
    paces: Mapping[str, PlatformPace] = field(default_factory=lambda: dict(DEFAULT_PACES))
    heartbeat_seconds: float | None = None
    """How often held leases are renewed; a third of the lease when None."""

    def pace(self, platform: str) -> PlatformPace:
        """The pace of a platform; unpaced (as fast as its publisher allows) when the policy names none."""
        return self.paces.get(platform, UNPACED)


class RateGate:
    """Lets callers through at most `rate` a second, `burst` at once at most, in the order they asked.

    A token bucket: a caller that was held up (a busy event loop) finds at most `burst` tokens waiting,
    so a stall is never followed by a catch-up burst the platform would answer with 429s.
    """

    def __init__(self, rate: float, burst: int = 1) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._tokens = float(self.burst)
        self._refilled = time.monotonic()
        self._turn = asyncio.Lock()

    async def wait(self) -> None:
        """Wait for this caller's turn and a token."""
        async with self._turn:
            while True:
                now = time.monotonic()
                self._tokens = min(float(self.burst), self._tokens + (now - self._refilled) * self.rate)
                self._refilled = now
                if self._tokens >= 1.0:
                    self._tokens -= 1.0
                    return
                await asyncio.sleep((1.0 - self._tokens) / self.rate)
