"""The Hugging Face client reads every page of a day, week or month, and reports broken answers clearly."""

from __future__ import annotations

from datetime import date

import httpx
import pytest

from adapters.sources.errors import PageInvalid, SourceError
from adapters.sources.hf import HuggingFaceClient, InvalidPeriod
from adapters.sources.http import RetryPolicy
from tests.fakes.hf import demo_items, serve

from .conftest import RecordedSleep, Script, json_response, make_item

MONDAY = date(2025, 9, 1)
SATURDAY = date(2025, 9, 6)


def paged(items: list[dict[str, object]]) -> Script:
    """A script that pages `items` by the request's `p` and `limit`, like the real API."""

    def answer(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["p"])
        limit = int(request.url.params["limit"])
        return json_response(items[page * limit : (page + 1) * limit])

    return Script(answer)


def client(script: Script, sleep: RecordedSleep, page_size: int = 50) -> HuggingFaceClient:
    return HuggingFaceClient(
        "http://hf.test", script.client(), policy=RetryPolicy(attempts=3), page_size=page_size, sleep=sleep
    )


async def test_pages_are_followed_until_a_short_one(sleep: RecordedSleep) -> None:
    items = [make_item(f"2509.{n:05d}") for n in range(120)]
    script = paged(items)
    result = await client(script, sleep).fetch(date=MONDAY)
    assert len(result.papers) == 120
    assert result.pages == 3
    assert [r.url.params["p"] for r in script.requests] == ["0", "1", "2"]
    assert all(r.url.params["date"] == "2025-09-01" for r in script.requests)
    assert all(r.url.path == "/api/daily_papers" for r in script.requests)


async def test_a_full_last_page_is_followed_by_one_empty_request(sleep: RecordedSleep) -> None:
    script = paged([make_item(f"2509.{n:05d}") for n in range(100)])
    result = await client(script, sleep).fetch(date=MONDAY)
    assert len(result.papers) == 100
    assert len(script.requests) == 3


async def test_a_server_that_ignores_the_page_number_does_not_loop_forever(sleep: RecordedSleep) -> None:
    script = Script(json_response([make_item(f"2509.{n:05d}") for n in range(10)]))
    result = await client(script, sleep, page_size=10).fetch(date=MONDAY)
    assert len(result.papers) == 10
    assert len(script.requests) == 2


async def test_week_and_month_are_sent_as_hugging_face_expects(sleep: RecordedSleep) -> None:
    script = Script(json_response([]))
    hf = client(script, sleep)
    await hf.fetch(week="2025-W36")
    await hf.fetch(month="2025-09")
    assert script.requests[0].url.params["week"] == "2025-W36"
    assert script.requests[1].url.params["month"] == "2025-09"


@pytest.mark.parametrize("week", ["2025-36", "2025-W60", "W36"])
async def test_a_malformed_week_is_refused_with_an_example(week: str, sleep: RecordedSleep) -> None:
    with pytest.raises(InvalidPeriod, match="2025-W36"):
        await client(Script(json_response([])), sleep).fetch(week=week)


async def test_an_html_error_page_is_a_clear_source_error(sleep: RecordedSleep) -> None:
    html = "<!DOCTYPE html><html><body><h1>We had a problem</h1></body></html>"
    script = Script(httpx.Response(200, text=html, headers={"Content-Type": "text/html"}))
    with pytest.raises(PageInvalid, match="HTML page instead of JSON"):
        await client(script, sleep).fetch(date=MONDAY)


async def test_an_html_page_with_a_server_error_is_retried_then_reported(sleep: RecordedSleep) -> None:
    script = Script(
        httpx.Response(502, text="<html>Bad gateway</html>", headers={"Content-Type": "text/html"})
    )
    with pytest.raises(SourceError, match="HTTP 502"):
        await client(script, sleep).fetch(date=MONDAY)
    assert len(script.requests) == 3


async def test_truncated_json_is_a_clear_source_error(sleep: RecordedSleep) -> None:
    body = httpx.Response(200, json=[make_item("2509.00001")]).content
    script = Script(
        httpx.Response(200, content=body[: len(body) // 2], headers={"Content-Type": "application/json"})
    )
    with pytest.raises(PageInvalid, match="truncated JSON"):
        await client(script, sleep).fetch(date=MONDAY)


async def test_an_object_instead_of_a_list_is_a_clear_source_error(sleep: RecordedSleep) -> None:
    script = Script(json_response({"error": "Invalid date"}))
    with pytest.raises(PageInvalid, match="list of papers"):
        await client(script, sleep).fetch(date=MONDAY)


async def test_a_wrong_type_in_a_field_skips_that_item_and_keeps_the_rest(sleep: RecordedSleep) -> None:
    items = [make_item("2509.00001"), make_item("2509.00002", upvotes="lots"), make_item("2509.00003")]
    result = await client(Script(json_response(items)), sleep).fetch(date=MONDAY)
    assert [p.arxiv_id for p in result.papers] == ["2509.00001", "2509.00003"]
    assert result.skipped == 1


async def test_an_empty_weekday_is_a_warning(sleep: RecordedSleep) -> None:
    result = await client(Script(json_response([])), sleep).fetch(date=MONDAY)
    assert result.papers == []
    assert result.warnings == [
        "Hugging Face listed no papers for Monday 2025-09-01; it may not have published that day yet."
    ]


async def test_an_empty_weekend_day_is_normal(sleep: RecordedSleep) -> None:
    result = await client(Script(json_response([])), sleep).fetch(date=SATURDAY)
    assert result.papers == []
    assert result.warnings == []


async def test_the_same_paper_twice_on_a_page_or_across_pages_is_kept_once(sleep: RecordedSleep) -> None:
    items = [
        make_item("2509.00001"),
        make_item("2509.00001"),
        make_item("2509.00002"),
        make_item("2509.00001"),
    ]
    script = paged(items)
    result = await client(script, sleep, page_size=3).fetch(date=MONDAY)
    assert [p.arxiv_id for p in result.papers] == ["2509.00001", "2509.00002"]
    assert result.skipped == 0


async def test_a_failing_later_page_fails_the_whole_fetch(sleep: RecordedSleep) -> None:
    first = json_response([make_item(f"2509.{n:05d}") for n in range(2)])
    script = Script(first, httpx.Response(500))
    with pytest.raises(SourceError, match="HTTP 500"):
        await client(script, sleep, page_size=2).fetch(date=MONDAY)


async def test_since_reads_every_day_up_to_the_last(sleep: RecordedSleep) -> None:
    script = Script(json_response([]))
    result = await client(script, sleep).fetch_since(date(2025, 9, 5), date(2025, 9, 8))
    assert [r.url.params["date"] for r in script.requests] == [
        "2025-09-05",
        "2025-09-06",
        "2025-09-07",
        "2025-09-08",
    ]
    assert len(result.warnings) == 2  # Friday and Monday were empty; the weekend is expected to be


async def test_the_loopback_fake_serves_the_demo_day_in_the_real_shape() -> None:
    with serve(demo_items()) as (url, fake):
        async with HuggingFaceClient(url, page_size=20) as hf:
            result = await hf.fetch(date=MONDAY)
    assert len(result.papers) == 50
    assert result.pages == 3
    assert [r["p"] for r in fake.requests] == ["0", "1", "2"]
    matryoshka = next(p for p in result.papers if p.arxiv_id == "2205.13147")
    assert matryoshka.title == "Matryoshka Representation Learning"
    assert matryoshka.featured_on == MONDAY
