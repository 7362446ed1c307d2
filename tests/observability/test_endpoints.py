"""/healthz, /readyz and /metrics over real HTTP, counting what the core really did."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.ops.health import Readiness, add_health_routes, database_check
from adapters.ops.metrics import PrometheusTelemetry
from adapters.web import WebServer, build_web_app
from bot.commands import CommandContext
from bot.domain import ChannelRef, Vote
from bot.replies import ErrorReply
from storage.sql import create_engine_for
from tests.observability.conftest import Served

CONSOLE = ChannelRef("console", "local", "general")
SLACK = ChannelRef("slack", "T1", "C1")


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a Prometheus text exposition, by (name, labels)."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """One sample's value; 0 when it was never recorded."""
    return found.get((name, frozenset(labels.items())), 0.0)


async def metrics(served: Served) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await served.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


async def test_healthz_answers_ok_while_the_process_runs(served: Served) -> None:
    response = await served.http.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_is_ready_when_the_database_answers(served: Served) -> None:
    response = await served.http.get("/readyz")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok"}}


async def test_readyz_is_not_ready_when_the_database_refuses_connections(served: Served) -> None:
    engine = create_engine_for("postgresql://postgres@127.0.0.1:1/nowhere")
    served.readiness.add("database", database_check(engine))
    try:
        response = await served.http.get("/readyz")
    finally:
        await engine.dispose()

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["database"].startswith("failed")


async def test_readyz_gives_up_on_a_check_that_does_not_answer(served: Served) -> None:
    served.readiness.timeout = 0.2
    never = asyncio.Event()

    async def hanging() -> str | None:
        await never.wait()
        return None

    served.readiness.add("discord", hanging)
    response = await served.http.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "discord": "no answer within 0.2 s"}


async def test_readyz_turns_not_ready_as_soon_as_the_process_is_stopping(served: Served) -> None:
    served.readiness.stopping = True

    response = await served.http.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["process"] == "shutting down"


async def test_metrics_count_commands_by_platform_command_and_outcome(served: Served) -> None:
    ctx = CommandContext(CONSOLE, "ada")
    await served.paperboy.handle_text(ctx, "/papers search matryoshka")
    await served.paperboy.handle_text(ctx, "/papers search matryoshka")
    await served.paperboy.handle_text(ctx, "/papers paper 9999.99999")
    await served.paperboy.handle_text(ctx, "/papers trending")
    await served.paperboy.handle_text(CommandContext(SLACK, "U1"), "/papers search")

    found = await metrics(served)

    assert value(found, "paperboy_commands_total", platform="console", command="search", outcome="ok") == 2
    assert value(found, "paperboy_commands_total", platform="console", command="trending", outcome="ok") == 1
    assert (
        value(
            found, "paperboy_commands_total", platform="console", command="show_paper", outcome="user_error"
        )
        == 1
    )
    assert (
        value(found, "paperboy_commands_total", platform="slack", command="unparsed", outcome="user_error")
        == 1
    )
    assert value(found, "paperboy_command_seconds_count", platform="console", command="search") == 2
    assert (
        value(found, "paperboy_command_seconds_bucket", platform="console", command="search", le="+Inf") == 2
    )


async def test_metrics_count_an_unexpected_failure_as_an_error(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the index fell over")

    monkeypatch.setattr(served.paperboy.searcher, "search", broken)

    reply = await served.paperboy.handle_text(CommandContext(CONSOLE, "ada"), "/papers search anything")

    assert isinstance(reply, ErrorReply) and "went wrong" in reply.text
    found = await metrics(served)
    assert value(found, "paperboy_commands_total", platform="console", command="search", outcome="error") == 1


async def test_metrics_count_votes_that_changed_something_from_every_path(served: Served) -> None:
    ctx = CommandContext(CONSOLE, "ada")
    await served.paperboy.handle_text(ctx, "/papers vote 2205.13147")
    await served.paperboy.handle_text(ctx, "/papers vote 2205.13147")  # already counted: no change
    await served.paperboy.votes.toggle(Vote("slack", "T1", "U1", "2205.13147"))
    await served.paperboy.votes.toggle(Vote("slack", "T1", "U1", "2205.13147"))
    await served.paperboy.handle_text(ctx, "/papers unvote 2205.13147")

    found = await metrics(served)

    assert value(found, "paperboy_votes_total", platform="console", change="cast") == 1
    assert value(found, "paperboy_votes_total", platform="console", change="retract") == 1
    assert value(found, "paperboy_votes_total", platform="slack", change="cast") == 1
    assert value(found, "paperboy_votes_total", platform="slack", change="retract") == 1


async def test_metrics_count_digests_and_their_messages(served: Served) -> None:
    ctx = CommandContext(CONSOLE, "ada")
    await served.paperboy.handle_text(ctx, "/papers digest")
    await served.paperboy.handle_text(ctx, "/papers digest")

    found = await metrics(served)

    assert value(found, "paperboy_digests_total", platform="console", outcome="posted") == 1
    # The second asks for a day already posted: counted as such, or as empty once every paper went out.
    second = value(found, "paperboy_digests_total", platform="console", outcome="already_posted") + value(
        found, "paperboy_digests_total", platform="console", outcome="empty"
    )
    assert second == 1
    assert value(found, "paperboy_digest_messages_total", platform="console") >= 2


async def test_metrics_count_ingest_runs_papers_and_rate_limit_waits(served: Served) -> None:
    served.telemetry.rate_limit_waited("slack", 1.5)
    served.telemetry.rate_limit_waited("slack", 0.5)
    served.telemetry.delivery_finished(SLACK, "released")

    found = await metrics(served)

    assert value(found, "paperboy_ingest_runs_total", source="demo") == 1
    assert value(found, "paperboy_ingest_papers_total", source="demo", change="new") == 50
    assert value(found, "paperboy_last_ingest_timestamp_seconds", source="demo") > 0
    assert value(found, "paperboy_rate_limit_waits_total", platform="slack") == 2
    assert value(found, "paperboy_rate_limit_wait_seconds_total", platform="slack") == 2.0
    assert value(found, "paperboy_deliveries_total", platform="slack", outcome="released") == 1


async def test_each_process_has_its_own_registry_with_process_metrics() -> None:
    first, second = PrometheusTelemetry(), PrometheusTelemetry()
    first.vote_changed("discord", True)
    app = build_web_app()
    add_health_routes(app, Readiness(), second)
    server = WebServer(app, "127.0.0.1", 0)
    await server.start()
    try:
        async with httpx.AsyncClient() as http:
            text = (await http.get(f"http://127.0.0.1:{server.port}/metrics")).text
    finally:
        await server.stop()

    found = samples(text)
    assert value(found, "paperboy_votes_total", platform="discord", change="cast") == 0
    assert value(found, "process_resident_memory_bytes") > 0
    assert any(name == "paperboy_build_info" for name, _ in found)
