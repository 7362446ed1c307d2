"""/healthz (the process answers), /readyz (database and adapters usable) and /metrics (Prometheus text)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy import literal, select
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.ops.metrics import PrometheusTelemetry

log = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"

# A readiness probe is asked every few seconds; a database that needs longer than this is not ready.
READY_TIMEOUT_SECONDS = 2.0

# A check returns None when all is well, or a short sentence saying what is not; raising means not ready.
ReadinessCheck = Callable[[], Awaitable[str | None]]


class Readiness:
    """The named checks /readyz runs, concurrently and each within a short timeout."""

    def __init__(self, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        self.timeout = timeout
        self.stopping = False
        self._checks: dict[str, ReadinessCheck] = {}

    def add(self, name: str, check: ReadinessCheck) -> None:
        """Add (or replace) a check."""
        self._checks[name] = check

    async def _run(self, name: str, check: ReadinessCheck) -> str:
        try:
            async with asyncio.timeout(self.timeout):
                problem = await check()
        except TimeoutError:
            return f"no answer within {self.timeout:g} s"
        except Exception as error:
            # The exception's class says enough; its text may hold a URL or a token.
            log.warning("readiness check %s failed: %s", name, type(error).__name__)
            return f"failed ({type(error).__name__})"
        return problem or "ok"

    async def evaluate(self) -> tuple[bool, dict[str, str]]:
        """(ready, each check's "ok" or reason); never ready while the process is stopping."""
        names = list(self._checks)
        results = await asyncio.gather(*(self._run(name, self._checks[name]) for name in names))
        checks = dict(zip(names, results, strict=True))
        if self.stopping:
            checks["process"] = "shutting down"
        return all(result == "ok" for result in checks.values()), checks


def database_check(engine: AsyncEngine) -> ReadinessCheck:
    """Ready when one `SELECT 1` goes through a pooled connection."""

    async def check() -> str | None:
        async with engine.connect() as conn:
            await conn.execute(select(literal(1)))
        return None

    return check


def add_health_routes(
    app: web.Application, readiness: Readiness, metrics: PrometheusTelemetry, *, with_metrics: bool = True
) -> None:
    """Serve /healthz, /readyz and (unless `with_metrics` is False) /metrics on the application."""

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(request: web.Request) -> web.Response:
        ready, checks = await readiness.evaluate()
        return web.json_response(
            {"status": "ready" if ready else "not ready", "checks": checks}, status=200 if ready else 503
        )

    async def metrics_text(request: web.Request) -> web.Response:
        body, content_type = metrics.exposition(request.headers.get("Accept", ""))
        response = web.Response(body=body)
        # The Prometheus content type carries a version parameter that aiohttp's content_type cannot take.
        response.headers["Content-Type"] = content_type
        return response

    app.router.add_get(HEALTH_PATH, healthz)
    app.router.add_get(READY_PATH, readyz)
    if with_metrics:
        app.router.add_get(METRICS_PATH, metrics_text)
