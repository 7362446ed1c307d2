"""Prometheus metrics of one process: the core's telemetry counted into a registry that /metrics serves."""

from __future__ import annotations

import time
from importlib import metadata

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import choose_encoder

from bot.domain import ChannelRef, UpsertCounts

# Slash commands answer in milliseconds to a few seconds (Slack's 3-second ack is the line that matters).
COMMAND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)
DIGEST_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


def _version() -> str:
    try:
        return metadata.version("paperboy-bot")
    except metadata.PackageNotFoundError:
        return "unknown"


class PrometheusTelemetry:
    """The core's `Telemetry` as Prometheus metrics, in a registry of its own (one per process or test)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        Info("paperboy_build", "Version of Paperboy running.", registry=r).info({"version": _version()})
        self.commands = Counter(
            "paperboy_commands", "/papers commands answered.", ["platform", "command", "outcome"], registry=r
        )
        self.command_seconds = Histogram(
            "paperboy_command_seconds",
            "Time to answer a /papers command.",
            ["platform", "command"],
            buckets=COMMAND_BUCKETS,
            registry=r,
        )
        self.votes = Counter(
            "paperboy_votes", "Chat votes cast or retracted.", ["platform", "change"], registry=r
        )
        self.digests = Counter(
            "paperboy_digests", "Digest runs by outcome.", ["platform", "outcome"], registry=r
        )
        self.digest_seconds = Histogram(
            "paperboy_digest_seconds",
            "Time to plan and post one digest.",
            ["platform"],
            buckets=DIGEST_BUCKETS,
            registry=r,
        )
        self.digest_messages = Counter(
            "paperboy_digest_messages", "Messages posted by digests.", ["platform"], registry=r
        )
        self.deliveries = Counter(
            "paperboy_deliveries",
            "Digest deliveries (one message each) by outcome.",
            ["platform", "outcome"],
            registry=r,
        )
        self.rate_limit_waits = Counter(
            "paperboy_rate_limit_waits",
            "Times a platform answered 429 and we waited.",
            ["platform"],
            registry=r,
        )
        self.rate_limit_seconds = Counter(
            "paperboy_rate_limit_wait_seconds",
            "Seconds spent waiting out rate limits.",
            ["platform"],
            registry=r,
        )
        self.ingest_runs = Counter("paperboy_ingest_runs", "Ingest runs stored.", ["source"], registry=r)
        self.ingest_papers = Counter(
            "paperboy_ingest_papers",
            "Papers seen by ingest runs, by what happened to them.",
            ["source", "change"],
            registry=r,
        )
        self.last_ingest = Gauge(
            "paperboy_last_ingest_timestamp_seconds",
            "When a source was last ingested (Unix time).",
            ["source"],
            registry=r,
        )

    def command_handled(self, channel: ChannelRef, command: str, outcome: str, seconds: float) -> None:
        """Count the command and its latency."""
        self.commands.labels(channel.platform, command, outcome).inc()
        self.command_seconds.labels(channel.platform, command).observe(seconds)

    def vote_changed(self, platform: str, cast: bool) -> None:
        """Count a vote cast or retracted."""
        self.votes.labels(platform, "cast" if cast else "retract").inc()

    def digest_delivered(self, channel: ChannelRef, outcome: str, messages: int, seconds: float) -> None:
        """Count a digest run, its duration and its messages."""
        self.digests.labels(channel.platform, outcome).inc()
        self.digest_seconds.labels(channel.platform).observe(seconds)
        if messages:
            self.digest_messages.labels(channel.platform).inc(messages)

    def delivery_finished(self, channel: ChannelRef, outcome: str) -> None:
        """Count one delivery."""
        self.deliveries.labels(channel.platform, outcome).inc()

    def rate_limit_waited(self, platform: str, seconds: float) -> None:
        """Count a rate-limit wait and its length."""
        self.rate_limit_waits.labels(platform).inc()
        self.rate_limit_seconds.labels(platform).inc(max(0.0, seconds))

    def ingest_ran(self, source: str, counts: UpsertCounts, seconds: float) -> None:
        """Count an ingest run and its papers by change."""
        self.ingest_runs.labels(source).inc()
        for change in ("new", "updated", "unchanged", "skipped"):
            amount = getattr(counts, change)
            if amount:
                self.ingest_papers.labels(source, change).inc(amount)
        self.last_ingest.labels(source).set(time.time())

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """Every metric in the format the scraper accepts (Prometheus text by default), and its content type."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type
