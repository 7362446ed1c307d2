"""arXiv's Atom API: papers by id (categories, comment, journal ref, DOI) and a category's newest papers.

arXiv's terms ask for at most one request every 3 seconds and one connection at a time, for the whole process:
every ArxivClient shares one ArxivPacer unless a test hands it its own.

Parsed with the standard library's ElementTree: it expands no external entities, and the expat it ships
with (2.4.1 or later in every supported Python) refuses entity-expansion bombs, so defusedxml adds nothing.
"""

from __future__ import annotations

import asyncio
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

import httpx

from adapters.sources.errors import PageInvalid, SourceError
from adapters.sources.http import (
    RetryPolicy,
    Sleep,
    SourceClient,
    get_with_retries,
    make_client,
    package_version,
)
from bot.domain import Paper
from bot.ids import InvalidPaperId, normalize_arxiv_id

ARXIV_DEFAULT_URL = "https://export.arxiv.org/api/query"
SOURCE_NAME = "arXiv"
ARXIV_INTERVAL = 3.0
MAX_IDS_PER_REQUEST = 100
LIST_PAGE_SIZE = 200
MAX_RESULTS_PER_CALL = 2000

_NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "arxiv": "http://arxiv.org/schemas/atom",
    "opensearch": "http://a9.com/-/spec/opensearch/1.1/",
}
_SPACES = re.compile(r"\s+")
_CATEGORY = re.compile(r"^[a-z\-]+(\.[A-Za-z\-]+)?$", re.IGNORECASE)


class ArxivPacer:
    """One request at a time, and `interval` seconds from the end of one to the start of the next."""

    def __init__(
        self,
        interval: float = ARXIV_INTERVAL,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self._last_done: float | None = None
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _current_lock(self) -> asyncio.Lock:
        # A Lock belongs to one event loop; a process running several loops in turn (tests) gets a new one.
        loop = asyncio.get_running_loop()
        if self._lock is None or self._loop is not loop:
            self._lock = asyncio.Lock()
            self._loop = loop
        return self._lock

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold the only arXiv slot of the process for one request, waiting out the interval first."""
        async with self._current_lock():
            if self._last_done is not None:
                remaining = self._last_done + self.interval - self.clock()
                if remaining > 0:
                    await self.sleep(remaining)
            try:
                yield
            finally:
                self._last_done = self.clock()


PROCESS_PACER = ArxivPacer()


@dataclass(slots=True)
class ArxivResult:
    """Papers read from arXiv and the entries that could not be used (unknown ids, broken entries)."""

    papers: list[Paper] = field(default_factory=list)
    skipped: int = 0
    total: int | None = None


def user_agent(contact: str) -> str:
    """The User-Agent arXiv asks for: the bot's name and version and a contact address."""
    return f"paperboy-bot/{package_version()} (mailto:{contact})"


def _text(element: ET.Element, path: str) -> str | None:
    found = element.find(path, _NS)
    if found is None or found.text is None:
        return None
    text = _SPACES.sub(" ", found.text).strip()
    return text or None


def _entry_paper(entry: ET.Element) -> Paper | None:
    raw_id = _text(entry, "atom:id")
    title = _text(entry, "atom:title")
    if raw_id is None or title is None:
        return None
    try:
        arxiv_id = normalize_arxiv_id(raw_id)
    except InvalidPaperId:
        return None
    published = _text(entry, "atom:published")
    primary = entry.find("arxiv:primary_category", _NS)
    categories: list[str] = []
    if primary is not None and primary.get("term"):
        categories.append(primary.get("term", ""))
    for category in entry.findall("atom:category", _NS):
        term = category.get("term")
        if term and term not in categories:
            categories.append(term)
    authors = [
        name
        for author in entry.findall("atom:author", _NS)
        if (name := _text(author, "atom:name")) is not None
    ]
    try:
        published_day = datetime.fromisoformat(published.replace("Z", "+00:00")).date() if published else None
    except ValueError:
        published_day = None
    return Paper(
        arxiv_id=arxiv_id,
        title=title,
        authors=authors,
        abstract=_text(entry, "atom:summary") or "",
        published=published_day,
        categories=categories,
        comment=_text(entry, "arxiv:comment"),
        journal_ref=_text(entry, "arxiv:journal_ref"),
        doi=_text(entry, "arxiv:doi"),
    )


def parse_feed(body: bytes) -> ArxivResult:
    """Parse an arXiv Atom feed into papers; raise PageInvalid (or SourceError for an API error entry)."""
    head = body.lstrip()[:512].lower()
    if not head.startswith(b"<") or b"<html" in head or b"<!doctype html" in head:
        raise PageInvalid(
            "arXiv answered with an HTML page or other text instead of an Atom feed; "
            "the service may be down or the address wrong."
        )
    try:
        root = ET.fromstring(body)
    except ET.ParseError as error:
        raise PageInvalid(
            f"arXiv sent a broken or truncated Atom feed ({error}); nothing from it was stored."
        ) from error
    if root.tag != f"{{{_NS['atom']}}}feed":
        raise PageInvalid("arXiv answered with an HTML or XML page that is not an Atom feed.")
    result = ArxivResult()
    total = _text(root, "opensearch:totalResults")
    result.total = int(total) if total and total.isdigit() else None
    for entry in root.findall("atom:entry", _NS):
        raw_id = _text(entry, "atom:id") or ""
        if "/api/errors" in raw_id:
            # arXiv reports a bad query as a single entry whose summary says what was wrong.
            reason = _text(entry, "atom:summary") or "no reason given"
            raise SourceError(f"arXiv refused the query: {reason.rstrip('.')}.")
        paper = _entry_paper(entry)
        if paper is None:
            result.skipped += 1
        else:
            result.papers.append(paper)
    return result


def parse_category(text: str) -> str:
    """Validate an arXiv category such as cs.CL or hep-th; raise ValueError with an example otherwise."""
    value = text.strip()
    if not _CATEGORY.match(value):
        raise ValueError(f"{text!r} is not an arXiv category; write one like cs.CL, stat.ML or hep-th.")
    return value


class ArxivClient(SourceClient):
    """Reads arXiv's Atom API, paced process-wide to arXiv's terms of use."""

    def __init__(
        self,
        base_url: str = ARXIV_DEFAULT_URL,
        http: httpx.AsyncClient | None = None,
        *,
        contact: str = "paperboy@example.invalid",
        pacer: ArxivPacer | None = None,
        policy: RetryPolicy | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.url = base_url
        self._owns_http = http is None
        # One connection at a time: the pacer serialises requests, and the pool cannot open a second one.
        self.http = http or make_client(
            "", policy=self.policy, user_agent=user_agent(contact), max_connections=1
        )
        self.pacer = pacer or PROCESS_PACER
        self.sleep = sleep

    async def _query(self, params: dict[str, str | int]) -> ArxivResult:
        response = await get_with_retries(
            self.http,
            self.url,
            params=params,
            source=SOURCE_NAME,
            policy=self.policy,
            sleep=self.sleep,
            pace=self.pacer.slot,
        )
        return parse_feed(response.content)

    async def fetch_by_ids(self, arxiv_ids: Sequence[str]) -> ArxivResult:
        """Papers by arXiv id (100 a request) with categories (primary first), comment, journal ref, DOI.

        `skipped` counts the ids arXiv did not return as a usable entry (unknown or broken).
        """
        ids = list(dict.fromkeys(normalize_arxiv_id(i) for i in arxiv_ids))
        found: dict[str, Paper] = {}
        for start in range(0, len(ids), MAX_IDS_PER_REQUEST):
            chunk = ids[start : start + MAX_IDS_PER_REQUEST]
            page = await self._query({"id_list": ",".join(chunk), "max_results": len(chunk)})
            wanted = set(chunk)
            for paper in page.papers:
                if paper.arxiv_id in wanted:
                    found.setdefault(paper.arxiv_id, paper)
        papers = [found[i] for i in ids if i in found]
        return ArxivResult(papers=papers, skipped=len(ids) - len(papers), total=len(papers))

    async def list_category(self, category: str, max_results: int = 100) -> ArxivResult:
        """The newest papers of a category (by submission date), at most `max_results` (capped at 2,000)."""
        category = parse_category(category)
        wanted = max(0, min(max_results, MAX_RESULTS_PER_CALL))
        result = ArxivResult()
        seen: set[str] = set()
        start = 0
        while start < wanted:
            size = min(LIST_PAGE_SIZE, wanted - start)
            page = await self._query(
                {
                    "search_query": f"cat:{category}",
                    "sortBy": "submittedDate",
                    "sortOrder": "descending",
                    "start": start,
                    "max_results": size,
                }
            )
            result.skipped += page.skipped
            result.total = page.total
            for paper in page.papers:
                if paper.arxiv_id not in seen:
                    seen.add(paper.arxiv_id)
                    result.papers.append(paper)
            start += size
            if len(page.papers) + page.skipped < size:
                break
        return result
