"""How this process delivers digests: pacing and leases from the settings, and who this worker is."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

from adapters.settings import Settings
from bot.services.delivery import DEFAULT_PACES, DeliveryPolicy, PlatformPace


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """How the digest scheduler and the delivery engine run; read from `Settings` (one source of truth)."""

    tick_seconds: float
    lease_seconds: float
    slack_rate: float
    discord_rate: float
    discord_post_interval: float
    attempts: int
    backoff_seconds: float
    max_digests: int

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliverySettings:
        """The delivery part of the process settings."""
        return cls(
            tick_seconds=settings.digest_tick_seconds,
            lease_seconds=settings.delivery_lease_seconds,
            slack_rate=settings.slack_rate,
            discord_rate=settings.discord_rate,
            discord_post_interval=settings.discord_post_interval,
            attempts=settings.delivery_attempts,
            backoff_seconds=settings.delivery_backoff_seconds,
            max_digests=settings.delivery_concurrency,
        )

    def policy(self) -> DeliveryPolicy:
        """The delivery engine's policy for these settings."""
        paces = dict(DEFAULT_PACES)
        paces["slack"] = PlatformPace(
            channel_interval=0.0, rate=self.slack_rate or None, burst=DEFAULT_PACES["slack"].burst
        )
        paces["discord"] = PlatformPace(
            channel_interval=self.discord_post_interval,
            rate=self.discord_rate or None,
            burst=DEFAULT_PACES["discord"].burst,
        )
        return DeliveryPolicy(
            lease_seconds=self.lease_seconds,
            max_attempts=self.attempts,
            first_backoff=self.backoff_seconds,
            max_digests=self.max_digests,
            poll_seconds=min(5.0, max(0.5, self.lease_seconds / 4)),
            paces=paces,
        )


def worker_id() -> str:
    """This process's worker id: host, process id and a random part (a reused pid is never mistaken)."""
    host = socket.gethostname()[:80] or "host"
    return f"{host}:{os.getpid()}:{os.urandom(4).hex()}"


def local_worker_alive(worker: str) -> bool:
    """False only for a worker of this host whose process is gone; True whenever that cannot be told."""
    parts = worker.split(":")
    if len(parts) < 3:
        return True
    host, pid_text = ":".join(parts[:-2]), parts[-2]
    if host != socket.gethostname()[:80] or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A process that died but was not waited for still has its pid; Linux says so in /proc."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return False
