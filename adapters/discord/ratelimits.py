"""discord.py's rate-limit waits (which it logs, and otherwise keeps to itself), reported to telemetry."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.ports import Telemetry

DISCORD_HTTP_LOGGER = "discord.http"


class _DiscordWaits(logging.Filter):
    """Sees discord.py's "… Retrying in N seconds." warnings of 429s; lets every record through."""

    def __init__(self, telemetry: Telemetry) -> None:
        super().__init__()
        self._telemetry = telemetry

    def filter(self, record: logging.LogRecord) -> bool:
        """Report the wait a rate-limit record announces."""
        message = str(record.msg)
        if "rate limit" in message and "Retrying in" in message and record.args:
            args: Any = record.args
            seconds = args[-1] if isinstance(args, tuple) else None
            if isinstance(seconds, int | float):
                self._telemetry.rate_limit_waited("discord", float(seconds))
        return True


def watch_discord_rate_limits(telemetry: Telemetry) -> Callable[[], None]:
    """Report every rate-limit wait discord.py makes in this process; returns the function that stops it."""
    logger = logging.getLogger(DISCORD_HTTP_LOGGER)
    watcher = _DiscordWaits(telemetry)
    logger.addFilter(watcher)
    return lambda: logger.removeFilter(watcher)
