"""Structured logs: JSON lines off a terminal, one event per command, digest and ingest; no content, no secrets."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from adapters.app.runner import configure_logging
from adapters.app.settings import Settings
from adapters.ops.logs import LogTelemetry, setup_logging
from adapters.ops.telemetry import Observability
from bot.commands import CommandContext
from bot.domain import ChannelRef, UpsertCounts
from tests.observability.conftest import Served

SLACK = ChannelRef("slack", "T0123", "C0456")
TOKEN = "xoxb-1111-2222-very-secret-token"


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        """Yes."""
        return True


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the root logger back as it was after a test reconfigures it."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    """Every line written, parsed as JSON (fails on any line that is not)."""
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


@pytest.mark.usefixtures("restore_logging")
async def test_a_command_is_one_json_event_with_ids_outcome_and_time_but_not_its_text(served: Served) -> None:
    stream = io.StringIO()
    setup_logging(level="INFO", log_format="auto", stream=stream)

    await served.paperboy.handle_text(
        CommandContext(SLACK, "U777"), "/papers search matryoshka nesting dolls"
    )

    events = [e for e in json_lines(stream) if e.get("event") == "command"]
    assert len(events) == 1
    event = events[0]
    assert {k: event[k] for k in ("level", "platform", "workspace", "channel", "command", "outcome")} == {
        "level": "info",
        "platform": "slack",
        "workspace": "T0123",
        "channel": "C0456",
        "command": "search",
        "outcome": "ok",
    }
    assert isinstance(event["ms"], float) and event["ts"].endswith("Z")
    assert "matryoshka" not in stream.getvalue() and "U777" not in stream.getvalue()


@pytest.mark.usefixtures("restore_logging")
async def test_digest_and_ingest_runs_are_events_too(served: Served) -> None:
    stream = io.StringIO()
    setup_logging(level="INFO", log_format="json", stream=stream)

    await served.paperboy.handle_text(
        CommandContext(ChannelRef("console", "local", "general"), "ada"), "digest"
    )
    await served.paperboy.ingest([], source="hf")

    events = {e["event"]: e for e in json_lines(stream) if "event" in e}
    assert events["digest"]["outcome"] == "posted" and events["digest"]["messages"] >= 2
    assert events["digest"]["channel"] == "general"
    assert {k: events["ingest"][k] for k in ("source", "new", "updated", "unchanged", "skipped")} == {
        "source": "hf",
        "new": 0,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
    }


@pytest.mark.usefixtures("restore_logging")
def test_a_terminal_gets_readable_text_instead_of_json() -> None:
    stream = Terminal()
    setup_logging(level="INFO", log_format="auto", stream=stream)

    LogTelemetry().command_handled(SLACK, "trending", "ok", 0.0123)

    line = stream.getvalue().strip()
    assert not line.startswith("{")
    assert "command trending ok in 12.3 ms (slack:T0123:C0456)" in line


@pytest.mark.usefixtures("restore_logging")
def test_secrets_are_scrubbed_from_every_line_and_traceback() -> None:
    stream = io.StringIO()
    setup_logging(level="INFO", log_format="json", secrets=[TOKEN, "p4ssw0rd!"], stream=stream)
    log = logging.getLogger("paperboy.test")

    log.warning("calling Slack with %s", TOKEN)
    try:
        raise RuntimeError(f"connect failed for postgresql://bot:p4ssw0rd!@db/paperboy with {TOKEN}")
    except RuntimeError:
        log.exception("database down")

    text = stream.getvalue()
    assert TOKEN not in text and "p4ssw0rd!" not in text
    lines = json_lines(stream)
    assert lines[0]["msg"] == "calling Slack with ***"
    assert "postgresql://bot:***@db/paperboy" in lines[1]["error"]


@pytest.mark.usefixtures("restore_logging")
def test_paperboy_run_logging_takes_its_secrets_and_format_from_the_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        SLACK_BOT_TOKEN=TOKEN,
        DATABASE_URL="postgresql://bot:hunter2hunter2@db:5432/paperboy",
        PAPERBOY_LOG_FORMAT="json",
    )
    configure_logging(console_only=False, settings=settings)
    logging.getLogger("paperboy.test").info("token %s, url %s", TOKEN, settings.database_url)

    err = capsys.readouterr().err
    event = json.loads(err.strip().splitlines()[-1])
    assert event["msg"] == "token ***, url postgresql://bot:***@db:5432/paperboy"
    assert logging.getLogger().level == logging.INFO


def test_telemetry_that_fails_never_breaks_the_core(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(LogTelemetry):
        def ingest_ran(self, source: str, counts: UpsertCounts, seconds: float) -> None:
            raise ValueError("disk full")

    telemetry = Observability(events=Broken())

    telemetry.ingest_ran("hf", UpsertCounts(new=3), 0.1)

    assert telemetry.metrics.ingest_runs.labels("hf")._value.get() == 1
    assert "telemetry ingest_ran failed in Broken" in caplog.text
