"""What operators see of a running Paperboy: Prometheus metrics, structured logs, health and readiness."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from adapters.ops.logs import LogTelemetry
from bot.domain import ChannelRef, UpsertCounts

if TYPE_CHECKING:
    from adapters.ops.metrics import PrometheusTelemetry

log = logging.getLogger(__name__)


class Observability:
    """The core's `Telemetry`: each report goes to the metrics and to the event log, and never raises.

    The core calls telemetry inside commands and deliveries, so a failure here is logged, not passed on.
    The Prometheus registry is made when first counted into or served: a one-shot command such as `paperboy
    search` reports nothing and nobody scrapes it, so it need not import prometheus_client (a few dozen
    milliseconds of its start).
    """

    def __init__(
        self, metrics: PrometheusTelemetry | None = None, events: LogTelemetry | None = None
    ) -> None:
        self._metrics = metrics
        self._making_metrics = threading.Lock()
        self.events = events or LogTelemetry()

    @property
    def metrics(self) -> PrometheusTelemetry:
        """The Prometheus sink (what /metrics serves), made on first use."""
        if self._metrics is None:
            # One registry per process even if two threads report first at once.
            with self._making_metrics:
                if self._metrics is None:
                    from adapters.ops.metrics import PrometheusTelemetry

                    self._metrics = PrometheusTelemetry()
        return self._metrics

    def _report(self, name: str, *args: object) -> None:
        for sink in (self.metrics, self.events):
            try:
                getattr(sink, name)(*args)
            except Exception:
                log.exception("telemetry %s failed in %s", name, type(sink).__name__)

    def command_handled(self, channel: ChannelRef, command: str, outcome: str, seconds: float) -> None:
        """Count and log one command."""
        self._report("command_handled", channel, command, outcome, seconds)

    def vote_changed(self, platform: str, cast: bool) -> None:
        """Count one vote."""
        self._report("vote_changed", platform, cast)

    def digest_delivered(self, channel: ChannelRef, outcome: str, messages: int, seconds: float) -> None:
        """Count and log one digest run."""
        self._report("digest_delivered", channel, outcome, messages, seconds)

    def delivery_finished(self, channel: ChannelRef, outcome: str) -> None:
        """Count and log one delivery."""
        self._report("delivery_finished", channel, outcome)

    def rate_limit_waited(self, platform: str, seconds: float) -> None:
        """Count and log one rate-limit wait."""
        self._report("rate_limit_waited", platform, seconds)

    def ingest_ran(self, source: str, counts: UpsertCounts, seconds: float) -> None:
        """Count and log one ingest run."""
        self._report("ingest_ran", source, counts, seconds)


__all__ = ["LogTelemetry", "Observability"]
