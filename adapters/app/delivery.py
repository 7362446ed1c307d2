"""How this process delivers digests: pacing and leases from the settings, and who this worker is."""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
from dataclasses import dataclass

from adapters.settings import Settings
from bot.services.pacing import DEFAULT_PACES, DeliveryPolicy, PlatformPace


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


def _namespace_tag() -> str | None:
    """A short tag naming this kernel boot and PID namespace; None where Linux's /proc cannot tell them.

    Process ids mean something only inside one PID namespace of one running kernel. The boot id tells two
    machines (or two boots) apart, the namespace's inode two containers of one machine; the hostname alone
    does neither (containers often share it, and the first PID namespace has the same inode on every kernel).
    """
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as boot:
            boot_id = boot.read().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    if not boot_id or not namespace:
        return None
    return hashlib.sha256(f"{boot_id}|{namespace}".encode()).hexdigest()[:12]


# Computed once: a process never leaves its PID namespace, and the boot id changes only with a reboot.
_NAMESPACE = _namespace_tag()


def worker_id() -> str:
    """A new worker id: host and pid for the people reading it, the PID namespace's tag, a random part.

    The random part alone makes it unique; leases decide who holds what. The rest lets `local_worker_alive`
    tell that a worker was a process of this very PID namespace, the one case where its pid can be checked.
    """
    host = socket.gethostname()[:40].replace(":", "-") or "host"
    return f"{host}:{os.getpid()}:{_NAMESPACE or 'unknown'}:{secrets.token_hex(8)}"


def local_worker_alive(worker: str) -> bool:
    """False only for a worker of this PID namespace whose process is gone; True whenever that cannot be told.

    Any other worker (another host, another container with the same hostname, an id of another format) is
    taken to be alive: its claims are freed when its leases run out, never sooner.
    """
    parts = worker.split(":")
    if _NAMESPACE is None or len(parts) != 4:
        return True
    _host, pid_text, tag, _random = parts
    if tag != _NAMESPACE or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return True  # another engine of this very process: alive as long as we are
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
