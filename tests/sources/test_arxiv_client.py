"""The arXiv client adds categories, comment, journal ref and DOI, and keeps arXiv's pace process-wide."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from xml.sax.saxutils import escape

import httpx
import pytest

from adapters.sources.arxiv import ArxivClient, ArxivPacer, parse_feed
from adapters.sources.errors import PageInvalid, SourceError
from adapters.sources.http import RetryPolicy
from tests.clock import FixedClock

from .conftest import RecordedSleep, Script

ATOM_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<feed xmlns="http://www.w3.org/2005/Atom">\n'
    '  <link href="http://arxiv.org/api/query?id_list=x" rel="self" type="application/atom+xml"/>\n'
    '  <title type="html">ArXiv Query: id_list=x</title>\n'
    "  <id>http://arxiv.org/api/abc</id>\n"
    "  <updated>2025-09-01T00:00:00-04:00</updated>\n"
    '  <opensearch:totalResults xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">{total}'
    "</opensearch:totalResults>\n"
)


def entry(
    arxiv_id: str,
    title: str = "A paper",
    *,
    categories: tuple[str, ...] = ("cs.CL", "cs.LG"),
    comment: str | None = None,
    journal_ref: str | None = None,
    doi: str | None = None,
) -> str:
    """One Atom entry in the shape arXiv's API returns."""
    parts = [
        "<entry>",
        f"<id>http://arxiv.org/abs/{arxiv_id}v2</id>",
        "<updated>2024-02-08T20:00:00Z</updated>",
        "<published>2022-05-26T17:59:56Z</published>",
        f"<title>{escape(title)}</title>",
        "<summary>  Learned representations are a central\n  component in modern ML systems.\n</summary>",
        "<author><name>Aditya Kusupati</name></author>",
        "<author><name>Ali Farhadi</name></author>",
    ]
    ns = 'xmlns:arxiv="http://arxiv.org/schemas/atom"'
    if doi:
        parts.append(f"<arxiv:doi {ns}>{doi}</arxiv:doi>")
        parts.append(f'<link title="doi" href="http://dx.doi.org/{doi}" rel="related"/>')
    if comment:
        parts.append(f"<arxiv:comment {ns}>{escape(comment)}</arxiv:comment>")
    if journal_ref:
        parts.append(f"<arxiv:journal_ref {ns}>{escape(journal_ref)}</arxiv:journal_ref>")
    parts.append(f'<link href="http://arxiv.org/abs/{arxiv_id}v2" rel="alternate" type="text/html"/>')
    parts.append(
        f'<link title="pdf" href="http://arxiv.org/pdf/{arxiv_id}v2" rel="related" type="application/pdf"/>'
    )
    parts.append(
        f'<arxiv:primary_category {ns} term="{categories[0]}" scheme="http://arxiv.org/schemas/atom"/>'
    )
    # arXiv lists the primary category among the others, not always first.
    for term in sorted(categories):
        parts.append(f'<category term="{term}" scheme="http://arxiv.org/schemas/atom"/>')
    parts.append("</entry>")
    return "\n".join(parts)


def feed(*entries: str, total: int | None = None) -> httpx.Response:
    body = (
        ATOM_HEAD.format(total=len(entries) if total is None else total) + "\n".join(entries) + "\n</feed>\n"
    )
    return httpx.Response(200, text=body, headers={"Content-Type": "application/atom+xml; charset=utf-8"})


def arxiv(script: Script, pacer: ArxivPacer | None = None, sleep: RecordedSleep | None = None) -> ArxivClient:
    return ArxivClient(
        "http://arxiv.test/api/query",
        script.client("http://arxiv.test"),
        pacer=pacer or ArxivPacer(interval=0),
        policy=RetryPolicy(attempts=3),
        sleep=sleep or RecordedSleep(),
    )


async def test_lookup_by_id_adds_categories_primary_first_comment_journal_and_doi() -> None:
    script = Script(
        feed(
            entry(
                "2205.13147",
                "Matryoshka Representation\n   Learning",
                categories=("cs.LG", "cs.CV"),
                comment="Edited related work",
                journal_ref="NeurIPS 2022",
                doi="10.48550/arXiv.2205.13147",
            )
        )
    )
    result = await arxiv(script).fetch_by_ids(["2205.13147v3"])
    [paper] = result.papers
    assert paper.arxiv_id == "2205.13147"
    assert paper.title == "Matryoshka Representation Learning"
    assert paper.authors == ["Aditya Kusupati", "Ali Farhadi"]
    assert paper.abstract == "Learned representations are a central component in modern ML systems."
    assert paper.published == date(2022, 5, 26)
    assert paper.categories == ["cs.LG", "cs.CV"]
    assert paper.comment == "Edited related work"
    assert paper.journal_ref == "NeurIPS 2022"
    assert paper.doi == "10.48550/arXiv.2205.13147"
    assert script.requests[0].url.params["id_list"] == "2205.13147"


async def test_optional_arxiv_fields_may_be_missing() -> None:
    result = await arxiv(Script(feed(entry("1506.03134", "Pointer Networks")))).fetch_by_ids(["1506.03134"])
    [paper] = result.papers
    assert (paper.comment, paper.journal_ref, paper.doi) == (None, None, None)


async def test_ids_are_asked_for_at_most_100_a_request() -> None:
    ids = [f"2509.{n:05d}" for n in range(150)]

    def answer(request: httpx.Request) -> httpx.Response:
        asked = request.url.params["id_list"].split(",")
        return feed(*(entry(i) for i in asked))

    script = Script(answer)
    result = await arxiv(script).fetch_by_ids(ids)
    assert [len(r.url.params["id_list"].split(",")) for r in script.requests] == [100, 50]
    assert [r.url.params["max_results"] for r in script.requests] == ["100", "50"]
    assert [p.arxiv_id for p in result.papers] == ids


async def test_ids_arxiv_does_not_know_are_counted_as_skipped() -> None:
    result = await arxiv(Script(feed(entry("2205.13147")))).fetch_by_ids(["2205.13147", "2509.99999"])
    assert [p.arxiv_id for p in result.papers] == ["2205.13147"]
    assert result.skipped == 1


async def test_listing_a_category_asks_for_the_newest_submissions() -> None:
    script = Script(feed(entry("2509.00001"), entry("2509.00002"), total=5000))
    result = await arxiv(script).list_category("cs.CL", 2)
    params = script.requests[0].url.params
    assert params["search_query"] == "cat:cs.CL"
    assert params["sortBy"] == "submittedDate"
    assert params["sortOrder"] == "descending"
    assert params["max_results"] == "2"
    assert [p.arxiv_id for p in result.papers] == ["2509.00001", "2509.00002"]


async def test_a_category_listing_stops_when_arxiv_runs_out() -> None:
    script = Script(feed(entry("2509.00001")))
    result = await arxiv(script).list_category("cs.CL", 500)
    assert len(script.requests) == 1
    assert len(result.papers) == 1


async def test_a_malformed_category_is_refused_with_an_example() -> None:
    script = Script(feed())
    with pytest.raises(ValueError, match=r"write one like cs\.CL"):
        await arxiv(script).list_category("cs CL; drop")
    assert script.requests == []


async def test_user_agent_names_the_bot_and_the_contact_address() -> None:
    client = ArxivClient(contact="ops@example.org")
    agent = client.http.headers["User-Agent"]
    await client.aclose()
    assert agent.startswith("paperboy-bot/")
    assert agent.endswith("(mailto:ops@example.org)")


async def test_every_client_shares_one_pacer_for_the_process() -> None:
    async with ArxivClient() as first, ArxivClient() as second:
        assert first.pacer is second.pacer
        assert first.pacer.interval == 3.0


async def test_requests_are_spaced_three_seconds_apart() -> None:
    clock = FixedClock(datetime(2025, 9, 2, 10, 0, tzinfo=UTC))
    starts: list[float] = []
    ends: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        starts.append(clock.monotonic())
        clock.advance(seconds=0.5)  # the request itself takes half a second
        ends.append(clock.monotonic())
        return feed(entry("2205.13147"))

    client = arxiv(Script(answer), pacer=ArxivPacer(3.0, clock=clock.monotonic, sleep=clock.sleep))
    for _ in range(3):
        await client.fetch_by_ids(["2205.13147"])
    assert [start - end for start, end in zip(starts[1:], ends, strict=False)] == [3.0, 3.0]


async def test_concurrent_callers_get_one_connection_at_a_time() -> None:
    clock = FixedClock(datetime(2025, 9, 2, 10, 0, tzinfo=UTC))
    in_flight = 0
    most = 0

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        # Two turns of the event loop (yields, not waits): room for another caller to start a request now.
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        in_flight -= 1
        return feed(entry("2205.13147"))

    pacer = ArxivPacer(3.0, clock=clock.monotonic, sleep=clock.sleep)
    http = httpx.AsyncClient(base_url="http://arxiv.test", transport=httpx.MockTransport(answer))
    clients = [ArxivClient("http://arxiv.test/api/query", http, pacer=pacer) for _ in range(3)]
    await asyncio.gather(*(c.fetch_by_ids(["2205.13147"]) for c in clients))
    assert most == 1
    assert clock.slept == [3.0, 3.0]


async def test_retries_keep_the_pace_too() -> None:
    clock = FixedClock(datetime(2025, 9, 2, 10, 0, tzinfo=UTC))
    script = Script(httpx.Response(503), feed(entry("2205.13147")))
    client = arxiv(script, pacer=ArxivPacer(3.0, clock=clock.monotonic, sleep=clock.sleep))
    result = await client.fetch_by_ids(["2205.13147"])
    assert len(result.papers) == 1
    assert clock.slept == [3.0]


async def test_an_arxiv_error_entry_is_a_clear_source_error() -> None:
    error = (
        "<entry><id>http://arxiv.org/api/errors#incorrect_id_format_for_1234</id><title>Error</title>"
        "<summary>incorrect id format for 1234</summary><updated>2025-09-01T00:00:00-04:00</updated></entry>"
    )
    with pytest.raises(SourceError, match="arXiv refused the query: incorrect id format for 1234"):
        await arxiv(Script(feed(error))).fetch_by_ids(["2205.13147"])


def test_a_truncated_feed_is_a_clear_error() -> None:
    body = feed(entry("2205.13147")).content
    with pytest.raises(PageInvalid, match="truncated Atom feed"):
        parse_feed(body[: len(body) // 2])


def test_an_html_page_is_not_taken_for_a_feed() -> None:
    with pytest.raises(PageInvalid, match="HTML page"):
        parse_feed(b"<!DOCTYPE html><html><body>Service Unavailable</body></html>")


async def test_server_errors_from_arxiv_are_retried_then_reported() -> None:
    script = Script(httpx.Response(503, text="<html>down</html>"))
    with pytest.raises(SourceError, match="arXiv answered HTTP 503 3 times"):
        await arxiv(script).fetch_by_ids(["2205.13147"])
