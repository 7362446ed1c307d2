"""Logs: JSON lines off a terminal, short lines on one; one event per command, digest and ingest; no content, no
secrets; an offline refresh is one line beside the console's prompt."""

from __future__ import annotations

import io
import json
import logging
import socket
import sys
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

import httpx
import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from adapters.app.runner import configure_logging
from adapters.ops.logs import LogTelemetry, redraw_prompt_after_logs, setup_logging
from adapters.ops.telemetry import Observability
from adapters.settings import Settings
from adapters.sources.hf import HuggingFaceClient
from adapters.sources.http import RetryPolicy
from adapters.sources.refresh import schedule_refresh
from bot.commands import CommandContext
from bot.domain import ChannelRef, Paper, UpsertCounts
from bot.ports import PaperRepository
from tests.clock import FixedClock
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


@pytest.mark.parametrize("log_format", ["json", "text", "auto"])
@pytest.mark.usefixtures("restore_logging")
def test_tokens_and_url_passwords_nobody_configured_are_scrubbed_by_their_shape(log_format: str) -> None:
    stream = Terminal() if log_format == "auto" else io.StringIO()
    setup_logging(level="DEBUG", log_format=log_format, stream=stream)
    log = logging.getLogger("slack_sdk.web.async_base_client")
    unknown = {
        "bot": "xoxb-9876543210-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "user": "xoxp-1-2-3-abcdef",
        "refresh": "xoxe-1-My0xLTEyMzQ1Njc4OQ",
        "rotating": "xoxe.xoxb-1-MS0yLTEyMzQ1Njc4OTAxMi0xMjM0",
        "app": "xapp-1-A0PAPERBOY-123-abcdef",
        "discord": "MTIzNDU2Nzg5MDEyMzQ1Njc4OQ.GhIjKl.abcdefghijklmnopqrstuvwxyz012345",
        "password": "Tr0ub4dor&3",
    }

    log.debug("Received the following response - body: {'access_token': '%s', 'ok': True}", unknown["bot"])
    log.debug("tokens %s %s %s %s", unknown["user"], unknown["refresh"], unknown["rotating"], unknown["app"])
    log.info("discord said %s", unknown["discord"])
    log.warning("cannot reach postgresql://paperboy:%s@db.internal:5432/paperboy", unknown["password"])

    text = stream.getvalue()
    assert not [name for name, secret in unknown.items() if secret in text], text
    assert "xoxb-" not in text and "xoxp-" not in text
    assert "postgresql://paperboy:***@db.internal:5432/paperboy" in text
    assert "'ok': True" in text  # the rest of each line is kept


@pytest.mark.usefixtures("restore_logging")
def test_paperboy_run_logging_takes_its_secrets_and_format_from_the_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(
        _env_file=None,
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


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize(
    ("log_format", "stream", "expected"),
    [
        ("auto", Terminal(), "terminal"),
        ("auto", io.StringIO(), "json"),
        ("json", Terminal(), "json"),
        ("text", io.StringIO(), "text"),
    ],
    ids=["auto-on-a-terminal", "auto-in-a-pipe", "json-on-a-terminal", "text-in-a-pipe"],
)
def test_the_log_format_follows_the_setting_and_whether_stderr_is_a_terminal(
    log_format: str, stream: io.StringIO, expected: str
) -> None:
    setup_logging(level="INFO", log_format=log_format, stream=stream)

    logging.getLogger("paperboy.test").warning("disk %d%% full", 91)

    line = stream.getvalue()
    if expected == "terminal":
        assert line == "warning: disk 91% full\n"
    elif expected == "json":
        assert json.loads(line) | {"ts": "-"} == {
            "ts": "-",
            "level": "warning",
            "logger": "paperboy.test",
            "msg": "disk 91% full",
        }
    else:
        assert line.endswith(" WARNING paperboy.test: disk 91% full\n") and line[:4].isdigit()


@pytest.mark.usefixtures("restore_logging")
def test_paperboy_run_on_a_terminal_logs_short_lines_unless_json_is_asked_for(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)

    configure_logging(console_only=True, settings=Settings(_env_file=None))
    logging.getLogger("paperboy.test").warning("short")
    configure_logging(console_only=True, settings=Settings(_env_file=None, PAPERBOY_LOG_FORMAT="json"))
    logging.getLogger("paperboy.test").warning("structured")

    first, second = terminal.getvalue().splitlines()
    assert first == "warning: short"
    assert json.loads(second)["msg"] == "structured"


@pytest.mark.usefixtures("restore_logging")
def test_a_terminal_gets_an_error_in_one_line_and_the_traceback_only_at_debug_level() -> None:
    for level in ("WARNING", "DEBUG"):
        stream = Terminal()
        setup_logging(level=level, log_format="auto", secrets=[TOKEN], stream=stream)
        try:
            raise ConnectionError(f"refused with {TOKEN}")
        except ConnectionError:
            logging.getLogger("paperboy.test").exception("database down")

        if level == "WARNING":
            assert stream.getvalue() == "error: database down (ConnectionError: refused with ***)\n"
        else:
            assert stream.getvalue().startswith("error: database down\nTraceback (most recent call last):")
            assert TOKEN not in stream.getvalue()


@pytest.mark.usefixtures("restore_logging")
def test_a_line_logged_beside_the_console_prompt_takes_the_prompts_place_and_draws_it_again() -> None:
    stream = Terminal()
    setup_logging(level="WARNING", log_format="auto", stream=stream)
    redraw_prompt_after_logs("paperboy> ")

    logging.getLogger("paperboy.test").warning("Hugging Face is unreachable")

    # Return to the line's start, erase the prompt, write the line, then the prompt where the person types.
    assert stream.getvalue() == "\r\x1b[Kwarning: Hugging Face is unreachable\npaperboy> "


class NothingToStore:
    """The refresh's target when no paper can be fetched: it must not be asked for anything."""

    @property
    def store(self) -> PaperRepository:
        raise AssertionError("nothing was fetched, so nothing is looked up")

    async def ingest(self, papers: Sequence[Paper], *, source: str = "other") -> UpsertCounts:
        raise AssertionError("nothing was fetched, so nothing is stored")


def unused_loopback_port() -> int:
    """A port on 127.0.0.1 where nothing listens (bound once by the system's choice, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


QUICK = RetryPolicy(attempts=3, backoff_initial=0.5, jitter=0.0, connect_timeout=2.0)


@pytest.mark.usefixtures("restore_logging")
async def test_an_offline_refresh_says_once_in_one_line_that_it_will_retry() -> None:
    clock = FixedClock.noon(date(2026, 11, 25))
    url = f"http://127.0.0.1:{unused_loopback_port()}"
    terminal = Terminal()
    setup_logging(level="WARNING", log_format="auto", stream=terminal)  # as beside the console's prompt
    async with HuggingFaceClient(url, policy=QUICK, sleep=clock.sleep) as hf:
        job = schedule_refresh(
            AsyncIOScheduler(timezone="UTC"), NothingToStore(), hf, None, clock, minutes=30, run_now=False
        )

        await job.func()  # both days fail, each after its retries
        await job.func()  # the next tick, still offline

    assert clock.slept == [0.5, 1.0] * 4  # the retries did happen: two a day, two days a run, two runs
    assert terminal.getvalue() == (
        "warning: Daily Papers not refreshed, retrying every 30 min: Could not connect to Hugging Face at "
        f"{url}/api/daily_papers (All connection attempts failed, tried 3 times); check the address and the "
        "network.\n"
    )


@pytest.mark.usefixtures("restore_logging")
async def test_a_refresh_failing_again_after_it_recovered_is_said_again() -> None:
    clock = FixedClock.noon(date(2026, 11, 28))  # a Saturday: an empty day is no surprise
    online = False

    def hugging_face(request: httpx.Request) -> httpx.Response:
        if not online:
            raise httpx.ConnectError("offline", request=request)
        return httpx.Response(200, json=[])

    stream = Terminal()
    setup_logging(level="WARNING", log_format="auto", stream=stream)
    http = httpx.AsyncClient(base_url="http://hf.test", transport=httpx.MockTransport(hugging_face))
    async with HuggingFaceClient("http://hf.test", http, policy=QUICK, sleep=clock.sleep) as hf:
        job = schedule_refresh(
            AsyncIOScheduler(timezone="UTC"), NothingToStore(), hf, None, clock, minutes=30, run_now=False
        )
        await job.func()
        online = True
        await job.func()
        online = False
        await job.func()
    await http.aclose()

    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert all(
        line.startswith("warning: Daily Papers not refreshed, retrying every 30 min: ") for line in lines
    )
