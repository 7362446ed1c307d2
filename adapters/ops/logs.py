"""Logs: short lines for a person at a terminal, JSON lines for services; secrets scrubbed; one event per unit of work.

`PAPERBOY_LOG_FORMAT=auto` (the default) picks by where stderr goes: a terminal gets `TerminalFormatter`'s
one-line messages, anything else (a container, systemd, a pipe) gets `JsonFormatter`. `json` and `text`
(timestamped lines for a file a person reads later) force one.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TextIO

from bot.domain import ChannelRef, UpsertCounts

EVENTS = "paperboy.events"
REDACTED = "***"
# Shorter "secrets" would scrub ordinary words out of log lines; real tokens are far longer.
MIN_SECRET_LENGTH = 6
# Libraries that log every routine step (each request, each job run) at INFO; their warnings still show.
QUIET_LOGGERS = ("apscheduler", "aiosqlite", "httpx", "httpcore")

_STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys() | {"message", "asctime", "taskName"}
)

log = logging.getLogger(EVENTS)


# Secrets recognised by their shape, whoever's they are: a token that came back from Slack's OAuth exchange or
# sits in a library's debug line was never in this process's settings.
SECRET_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # Slack tokens: bot, user, app-level, refresh, rotating (xoxe.xoxb-…) and legacy.
    (re.compile(r"(?<![A-Za-z0-9])(?:xox[abpre](?:\.xox[abp])?|xapp)-[A-Za-z0-9.-]+"), REDACTED),
    # Discord bot tokens: the bot's id in base64, a timestamp and an HMAC, dot-separated.
    (
        re.compile(
            r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{23,28}\.[A-Za-z0-9_-]{6,7}\.[A-Za-z0-9_-]{27,40}(?![A-Za-z0-9_-])"
        ),
        REDACTED,
    ),
    # The password of a URL (`postgresql://user:password@host`), up to the last @ before a space or quote.
    (re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@\"']*):[^\s\"']*@"), rf"\1:{REDACTED}@"),
)


class Redactor:
    """Replaces every known secret value, and everything shaped like a token or a URL's password, by ***."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret that contains another is scrubbed whole.
        self._secrets = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        """The text with secrets replaced."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        for shape, replacement in SECRET_SHAPES:
            text = shape.sub(replacement, text)
        return text


def record_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The extra fields a log call attached (`extra={...}`), without LogRecord's own attributes."""
    return {
        k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRIBUTES and not k.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, msg, the extra fields, and error when there is one."""

    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__()
        self._redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON, secrets scrubbed."""
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record_fields(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["error"] = record.exc_text
        return self._redact(json.dumps(entry, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """Timestamped lines with level and logger (`PAPERBOY_LOG_FORMAT=text`), secrets scrubbed."""

    def __init__(self, redact: Redactor | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._redact = redact or Redactor()

    def format(self, record: logging.LogRecord) -> str:
        """The record as text, secrets scrubbed."""
        return self._redact(super().format(record))


class TerminalFormatter(logging.Formatter):
    """One short line a record for a person at a terminal: the message, `warning: ` or `error: ` before it.

    No timestamp or logger name (the person sees it happen), and no traceback: an error adds its one-line
    summary. `PAPERBOY_LOG_LEVEL=DEBUG` brings the tracebacks back, for whoever is debugging.
    """

    def __init__(self, redact: Redactor | None = None, *, tracebacks: bool = False) -> None:
        super().__init__()
        self._redact = redact or Redactor()
        self._tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        """The record as one short line, secrets scrubbed."""
        text = record.getMessage()
        if record.levelno >= logging.WARNING:
            text = f"{logging.getLevelName(record.levelno).lower()}: {text}"
        if record.exc_info and record.exc_info[1] is not None:
            if self._tracebacks:
                text = f"{text}\n{self.formatException(record.exc_info)}"
            else:
                error = record.exc_info[1]
                summary = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
                text = f"{text} ({summary})"
        return self._redact(text)


class TerminalHandler(logging.StreamHandler[TextIO]):
    """Writes a terminal's log lines; beside the console's prompt, on their own line with the prompt drawn again.

    Without that, a line logged while `paperboy> ` waits for input would be printed after the prompt, and the
    prompt would be gone from where the person types.
    """

    # Carriage return, then erase the line: the prompt (and what was typed after it) makes room for the log.
    CLEAR_LINE = "\r\x1b[K"

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self.prompt: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record's line; clear and redraw the prompt around it when one is showing."""
        if self.prompt is None:
            super().emit(record)
            return
        try:
            line = self.format(record)
            with_prompt = f"{self.CLEAR_LINE}{line}{self.terminator}{self.prompt}"
            self.stream.write(with_prompt)
            self.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def is_terminal(stream: TextIO) -> bool:
    """Whether the stream is an interactive terminal."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def wants_json(log_format: str, stream: TextIO) -> bool:
    """JSON when asked, or (`auto`) when the stream is not a terminal (a container, systemd, a pipe)."""
    if log_format == "auto":
        return not is_terminal(stream)
    return log_format == "json"


def choose_formatter(log_format: str, stream: TextIO, redact: Redactor, *, level: str) -> logging.Formatter:
    """JSON for services, timestamped text when asked, short lines on a terminal (see the module docstring)."""
    if wants_json(log_format, stream):
        return JsonFormatter(redact)
    if log_format == "text":
        return TextFormatter(redact)
    return TerminalFormatter(redact, tracebacks=logging.getLevelName(level) == logging.DEBUG)


def setup_logging(
    *, level: str, log_format: str = "auto", secrets: Iterable[str] = (), stream: TextIO | None = None
) -> logging.Handler:
    """Send every log record to `stream` (stderr) in the chosen format; return the handler installed."""
    stream = stream or sys.stderr
    formatter = choose_formatter(log_format, stream, Redactor(secrets), level=level)
    handler: logging.Handler = (
        TerminalHandler(stream) if isinstance(formatter, TerminalFormatter) else logging.StreamHandler(stream)
    )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    logging.captureWarnings(True)
    return handler


def redraw_prompt_after_logs(prompt: str) -> None:
    """From now on, terminal log lines clear the console's `prompt` and draw it again after themselves."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler, TerminalHandler):
            handler.prompt = prompt


def _channel_fields(channel: ChannelRef) -> dict[str, str]:
    return {"platform": channel.platform, "workspace": channel.workspace, "channel": channel.channel}


class LogTelemetry:
    """The core's `Telemetry` as log events: ids, names, outcomes and times, never message content."""

    def command_handled(self, channel: ChannelRef, command: str, outcome: str, seconds: float) -> None:
        """One event per command."""
        ms = round(seconds * 1000, 1)
        log.info(
            "command %s %s in %.1f ms (%s)",
            command,
            outcome,
            ms,
            channel,
            extra={
                "event": "command",
                **_channel_fields(channel),
                "command": command,
                "outcome": outcome,
                "ms": ms,
            },
        )

    def vote_changed(self, platform: str, cast: bool) -> None:
        """Votes are counted in metrics only: they are many, and say nothing an operator acts on."""

    def digest_delivered(self, channel: ChannelRef, outcome: str, messages: int, seconds: float) -> None:
        """One event per digest run."""
        ms = round(seconds * 1000, 1)
        level = logging.WARNING if outcome == "failed" else logging.INFO
        log.log(
            level,
            "digest %s: %d messages in %.1f ms (%s)",
            outcome,
            messages,
            ms,
            channel,
            extra={
                "event": "digest",
                **_channel_fields(channel),
                "outcome": outcome,
                "messages": messages,
                "ms": ms,
            },
        )

    def delivery_finished(self, channel: ChannelRef, outcome: str) -> None:
        """One event per delivery (one message of a digest)."""
        log.info(
            "delivery %s (%s)",
            outcome,
            channel,
            extra={"event": "delivery", **_channel_fields(channel), "outcome": outcome},
        )

    def rate_limit_waited(self, platform: str, seconds: float) -> None:
        """One event per rate-limit wait."""
        log.info(
            "%s asked to wait %.2f s (rate limit)",
            platform,
            seconds,
            extra={"event": "rate_limit", "platform": platform, "seconds": round(seconds, 3)},
        )

    def ingest_ran(self, source: str, counts: UpsertCounts, seconds: float) -> None:
        """One event per ingest run."""
        ms = round(seconds * 1000, 1)
        log.info(
            "ingest %s: %d new, %d updated, %d unchanged, %d skipped in %.1f ms",
            source,
            counts.new,
            counts.updated,
            counts.unchanged,
            counts.skipped,
            ms,
            extra={
                "event": "ingest",
                "source": source,
                "new": counts.new,
                "updated": counts.updated,
                "unchanged": counts.unchanged,
                "skipped": counts.skipped,
                "ms": ms,
            },
        )
