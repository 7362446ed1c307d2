"""`paperboy ingest hf` and `paperboy ingest arxiv`: fetch papers from a source and store them.

The commands live in `ingest_app`, and `register_ingest_commands` adds them to any other typer group, so the
main command line can keep every `ingest …` command (demo, snapshot, hf, arxiv) in one group. The sources'
clients (httpx, tenacity) are imported when a command runs, not when the command line starts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import typer

from adapters.cli.collector import resume_collector
from adapters.cli.exits import fail
from adapters.cli.groups import command_group

if TYPE_CHECKING:
    from adapters.settings import Settings
    from adapters.sources.arxiv import ArxivClient
    from adapters.sources.hf import HuggingFaceClient
    from bot.domain import UpsertCounts

T = TypeVar("T")


def load_settings() -> Settings:
    """Settings from the environment and `.env` (the cast keeps mypy from asking for every field)."""
    from adapters.settings import Settings

    settings: Settings = cast("Any", Settings)()
    return settings


def open_app(settings: Settings) -> AbstractAsyncContextManager[Any]:
    """The wired core for one command; tests replace this."""
    # Imported here so the sources package loads without the store (and its drivers) being importable.
    from adapters.app.compose import paperboy_app

    return paperboy_app(settings)


def hf_client(settings: Settings) -> HuggingFaceClient:
    """The Hugging Face client for HF_API_URL."""
    from adapters.sources.hf import HuggingFaceClient
    from adapters.sources.http import RetryPolicy

    return HuggingFaceClient(settings.hf_api_url, policy=RetryPolicy.from_settings(settings))


def arxiv_client(settings: Settings) -> ArxivClient:
    """The arXiv client for ARXIV_API_URL, with the configured contact address in its User-Agent."""
    from adapters.sources.arxiv import ArxivClient
    from adapters.sources.http import RetryPolicy

    return ArxivClient(
        settings.arxiv_api_url, contact=settings.contact_email, policy=RetryPolicy.from_settings(settings)
    )


def format_counts(counts: UpsertCounts, skipped: int = 0) -> str:
    """The one-line summary every ingest command prints: `N new, N updated, N skipped`."""
    text = f"{counts.new} new, {counts.updated} updated, {counts.skipped + skipped} skipped"
    if counts.unchanged:
        text += f" ({counts.unchanged} unchanged)"
    return text


def _run(factory: Callable[[], Awaitable[T]]) -> T:
    """Run the command's coroutine; a source or store that cannot be read becomes one sentence and exit 1."""
    import asyncio

    from adapters.sources.errors import SourceError
    from storage.sql import StoreError

    resume_collector()
    try:
        return asyncio.run(_as_coroutine(factory))
    except (SourceError, StoreError) as error:
        # Both are one sentence for the operator (an unreachable source, an unwritable database…).
        raise fail(str(error)) from None


async def _as_coroutine(factory: Callable[[], Awaitable[T]]) -> T:
    return await factory()


def _parse_day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise fail(f"{option} takes a date like 2025-09-01, not {text!r}.", 2) from None


def _utc_today() -> date:
    # Hugging Face dates its Daily Papers in UTC.
    return datetime.now(UTC).date()


def ingest_hf(
    on_date: Annotated[
        str | None, typer.Option("--date", help="One day, YYYY-MM-DD (default: today, UTC).")
    ] = None,
    week: Annotated[str | None, typer.Option("--week", help="An ISO week, YYYY-Www (e.g. 2025-W36).")] = None,
    month: Annotated[str | None, typer.Option("--month", help="A month, YYYY-MM.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Every day from YYYY-MM-DD to today.")] = None,
    enrich: Annotated[
        bool,
        typer.Option("--enrich/--no-enrich", help="Add categories, comment, journal ref and DOI from arXiv."),
    ] = False,
) -> None:
    """Fetch Hugging Face Daily Papers (a day, week, month, or every day since a date) and store them."""
    from adapters.sources.hf import MAX_SINCE_DAYS, InvalidPeriod, parse_month, parse_week

    given = [
        name
        for name, value in (("--date", on_date), ("--week", week), ("--month", month), ("--since", since))
        if value
    ]
    if len(given) > 1:
        raise fail(f"Give only one of --date, --week, --month or --since, not {' and '.join(given)}.", 2)
    try:
        if week:
            week = parse_week(week)
        if month:
            month = parse_month(month)
    except InvalidPeriod as error:
        raise fail(str(error), 2) from None
    day = _parse_day(on_date, "--date") if on_date else None
    first = _parse_day(since, "--since") if since else None
    if first is not None:
        today = _utc_today()
        if first > today:
            raise fail(f"--since {first.isoformat()} is in the future; give a day up to today.", 2)
        if (today - first).days >= MAX_SINCE_DAYS:
            raise fail(
                f"--since reaches back more than {MAX_SINCE_DAYS} days; use --month for older papers.", 2
            )
    if not given:
        day = _utc_today()
    settings = load_settings()

    async def main() -> str:
        async with hf_client(settings) as hf:
            if first is not None:
                fetched = await hf.fetch_since(first, _utc_today())
            else:
                fetched = await hf.fetch(date=day, week=week, month=month)
            for warning in fetched.warnings:
                typer.echo(f"warning: {warning}", err=True)
            async with open_app(settings) as app:
                if enrich:
                    from adapters.sources.refresh import enrich_and_ingest

                    async with arxiv_client(settings) as arxiv:
                        counts, _ = await enrich_and_ingest(app, fetched.papers, arxiv)
                else:
                    counts = await app.ingest(fetched.papers, source="hf")
            return format_counts(counts, fetched.skipped)

    typer.echo(_run(main))


def ingest_arxiv(
    ids: Annotated[
        list[str] | None,
        typer.Option("--ids", help="arXiv ids or links (repeat, or separate with commas or spaces)."),
    ] = None,
    more_ids: Annotated[
        list[str] | None, typer.Argument(help="More arXiv ids, after --ids.", show_default=False)
    ] = None,
    category: Annotated[str | None, typer.Option("--category", help="An arXiv category, e.g. cs.CL.")] = None,
    max_results: Annotated[
        int, typer.Option("--max", min=1, max=2000, help="How many of the category's newest papers.")
    ] = 100,
) -> None:
    """Fetch papers from arXiv by id, or the newest of a category, and store them."""
    from adapters.sources.arxiv import parse_category
    from bot.ids import InvalidPaperId, normalize_arxiv_id

    raw = [part for value in [*(ids or []), *(more_ids or [])] for part in value.replace(",", " ").split()]
    if bool(raw) == bool(category):
        raise fail("Give either --ids ID… or --category C (e.g. --ids 2205.13147 or --category cs.CL).", 2)
    if more_ids and not ids:
        raise fail("Put the ids after --ids, e.g. paperboy ingest arxiv --ids 2205.13147 1506.03134.", 2)
    try:
        wanted = [normalize_arxiv_id(value) for value in raw]
        chosen = parse_category(category) if category else None
    except (InvalidPaperId, ValueError) as error:
        raise fail(str(error), 2) from None
    settings = load_settings()

    async def main() -> str:
        async with arxiv_client(settings) as arxiv:
            if chosen is not None:
                result = await arxiv.list_category(chosen, max_results)
            else:
                result = await arxiv.fetch_by_ids(wanted)
            async with open_app(settings) as app:
                counts = await app.ingest(result.papers, source="arxiv")
            return format_counts(counts, result.skipped)

    typer.echo(_run(main))


def register_ingest_commands(group: typer.Typer) -> None:
    """Add `hf` and `arxiv` to a typer group (the main CLI's `ingest`)."""
    group.command("hf")(ingest_hf)
    group.command("arxiv")(ingest_arxiv)


ingest_app = command_group("Load papers into the store.")
register_ingest_commands(ingest_app)
