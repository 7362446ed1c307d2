"""A fake arXiv API on 127.0.0.1 for the link-card tests: `GET /api/query?id_list=…` answers an Atom feed of the
papers it knows (entries written by the arXiv client tests' `entry`), or fails as arXiv can: an HTTP error, or
an answer that never comes."""

from __future__ import annotations

import asyncio

from aiohttp import web

from adapters.sources.arxiv import ArxivClient, ArxivPacer
from adapters.sources.http import RetryPolicy
from adapters.sources.lookup import ArxivPaperSource
from tests.sources.test_arxiv_client import ATOM_HEAD, entry


class FakeArxiv:
    """arXiv's query API on a free loopback port; `papers` maps an id to its title."""

    def __init__(self) -> None:
        self.papers: dict[str, str] = {}
        self.asked: list[str] = []
        # 200 answers the feed; anything else is answered as that HTTP status (503: arXiv is down).
        self.status = 200
        # True: the request is held until the fake stops (arXiv is slow past any deadline).
        self.stall = False
        # Set to an Event: each request waits until the test sets it (arXiv is slow, then answers).
        self.gate: asyncio.Event | None = None
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()

    @property
    def url(self) -> str:
        """What ARXIV_API_URL says."""
        return f"http://127.0.0.1:{self.port}/api/query"

    async def start(self) -> None:
        """Listen."""
        app = web.Application()
        app.router.add_get("/api/query", self._query)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Release stalled and gated requests and stop listening."""
        self._stopping.set()
        if self.gate is not None:
            self.gate.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def source(self, *, deadline: float = 5.0) -> ArxivPaperSource:
        """The core's PaperSource reading this fake: unpaced, two tries, the given deadline."""
        policy = RetryPolicy(
            attempts=2, backoff_initial=0.01, backoff_max=0.02, jitter=0.0, deadline=deadline
        )
        return ArxivPaperSource(ArxivClient(self.url, pacer=ArxivPacer(0), policy=policy))

    async def _query(self, request: web.Request) -> web.Response:
        ids = [i for i in request.query.get("id_list", "").split(",") if i]
        self.asked += ids
        if self.stall:
            await self._stopping.wait()
        if self.gate is not None:
            await self.gate.wait()
        if self.status != 200:
            return web.Response(status=self.status, text="Service Unavailable")
        entries = [entry(i, self.papers[i]) for i in ids if i in self.papers]
        body = ATOM_HEAD.format(total=len(entries)) + "\n".join(entries) + "\n</feed>\n"
        return web.Response(text=body, content_type="application/atom+xml")
