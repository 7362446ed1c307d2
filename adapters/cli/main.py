"""The `paperboy` command line (typer): run the bot, query the store, ingest papers, run benchmarks.

`paperboy --help` must answer at once, so this module and the groups it mounts import typer and the standard
library only: each command imports the store, the index, a platform SDK or the semantic extra when it runs.
`tests/cli/test_startup.py` keeps it so.
"""

from __future__ import annotations

import gc
import json
import sys
from datetime import UTC, date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from adapters.cli.bench import bench_app
from adapters.cli.collector import pause_collector, resume_collector
from adapters.cli.discord import discord_app
from adapters.cli.exits import fail, run_async
from adapters.cli.groups import command_group
from adapters.cli.index import index_app
from adapters.cli.ingest import register_ingest_commands

if TYPE_CHECKING:
    from bot.domain import Bookmark, ChannelRef, Paper, ScoredPaper, VotedPaper, Workspace

__all__ = ["app", "fail", "list_json", "main", "paper_json", "run_async", "top_json", "votes_json"]

app = command_group(
    "Paperboy: the day's trending research papers in Slack, Discord and your terminal.", add_completion=False
)
ingest_app = command_group("Load papers into the store.")
db_app = command_group("Database maintenance.")
app.add_typer(ingest_app, name="ingest")
app.add_typer(db_app, name="db")
app.add_typer(bench_app, name="bench")
# Sources add `ingest hf` and `ingest arxiv` to the ingest group; Discord brings `discord sync|invite-url`;
# `index embeddings` computes the vectors of search by meaning (the semantic extra).
register_ingest_commands(ingest_app)
app.add_typer(discord_app, name="discord")
app.add_typer(index_app, name="index")


def paper_json(item: ScoredPaper) -> dict[str, Any]:
    """The stable JSON of one paper (`paperboy paper --json`)."""
    paper: Paper = item.paper
    return {
        "arxiv_id": paper.arxiv_id,
        "title": paper.title,
        "authors": paper.authors,
        "abstract": paper.abstract,
        "published": paper.published.isoformat() if paper.published else None,
        "featured_on": paper.featured_on.isoformat() if paper.featured_on else None,
        "hf_upvotes": paper.hf_upvotes,
        "chat_votes": item.chat_votes,
        "num_comments": paper.num_comments,
        "ai_summary": paper.ai_summary,
        "ai_keywords": paper.ai_keywords,
        "github_repo": paper.github_repo,
        "github_stars": paper.github_stars,
        "project_page": paper.project_page,
        "organization": paper.organization,
        "thumbnail": paper.thumbnail,
        "categories": paper.categories,
        "comment": paper.comment,
        "journal_ref": paper.journal_ref,
        "doi": paper.doi,
        "withdrawn": paper.withdrawn,
        "url": paper.abs_url,
    }


def list_json(items: list[ScoredPaper]) -> str:
    """The stable JSON of a result list (`search --json`, `trending --json`): best first."""
    return json.dumps(
        [
            {
                "arxiv_id": i.paper.arxiv_id,
                "title": i.paper.title,
                "authors": i.paper.authors,
                "score": round(i.score, 6),
                "hf_upvotes": i.paper.hf_upvotes,
                "chat_votes": i.chat_votes,
                "featured_on": i.paper.featured_on.isoformat() if i.paper.featured_on else None,
                "url": i.paper.abs_url,
            }
            for i in items
        ],
        ensure_ascii=False,
        indent=2,
    )


@app.command()
def run(
    console: Annotated[
        bool, typer.Option("--console", help="Serve the console even when chat platforms are configured.")
    ] = False,
) -> None:
    """Serve every configured adapter (the console when no chat platform is configured)."""
    from adapters.app.runner import configure_logging, serve, wants_console
    from adapters.settings import Settings

    settings = Settings()
    with_console = wants_console(settings, console)
    configure_logging(
        console_only=with_console and not (settings.has_slack or settings.has_discord), settings=settings
    )
    if with_console and sys.stdin.isatty() and sys.stdout.isatty():
        from adapters.console.repl import PROMPT
        from adapters.ops.logs import redraw_prompt_after_logs

        # The console's prompt waits on the terminal the log lines go to: a line must not land after it.
        redraw_prompt_after_logs(PROMPT)
    raise typer.Exit(run_async(lambda: serve(settings, force_console=console)))


@app.command()
def search(
    query: Annotated[str, typer.Argument(help='Words, "phrases", -excluded, author:, cat:, org:, since:')],
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array, best first.")] = False,
) -> None:
    """Search the stored papers."""
    from adapters.app.compose import paperboy_app
    from adapters.settings import Settings
    from bot.render_text import render_text
    from bot.replies import PaperList

    async def main() -> list[ScoredPaper]:
        async with paperboy_app(Settings()) as paperboy:
            return await paperboy.search(query, limit)

    items = run_async(main)
    if as_json:
        typer.echo(list_json(items))
    else:
        typer.echo(
            render_text(PaperList(f"Papers for “{query}”", tuple(items), "No paper matches that query."))
        )


@app.command()
def trending(
    window: Annotated[str, typer.Option(help="day, week or month")] = "day",
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array, best first.")] = False,
) -> None:
    """The trending papers of a window."""
    if window not in ("day", "week", "month"):
        raise fail(f"--window takes day, week or month, not {window!r}.")
    from adapters.app.compose import paperboy_app
    from adapters.settings import Settings
    from bot.render_text import render_text
    from bot.replies import PaperList

    async def main() -> list[ScoredPaper]:
        async with paperboy_app(Settings()) as paperboy:
            return await paperboy.trending(window, limit=limit)

    items = run_async(main)
    if as_json:
        typer.echo(list_json(items))
    else:
        typer.echo(
            render_text(
                PaperList(
                    f"Trending papers of the {window}",
                    tuple(items),
                    f"No papers featured in the last {window}.",
                )
            )
        )


def top_json(items: list[VotedPaper]) -> str:
    """The stable JSON of the leaderboard (`top --json`): best first, each paper's votes and where it was shown."""
    return json.dumps(
        [
            {
                "arxiv_id": v.item.paper.arxiv_id,
                "title": v.item.paper.title,
                "authors": v.item.paper.authors,
                "votes": v.item.chat_votes,
                "hf_upvotes": v.item.paper.hf_upvotes,
                "url": v.item.paper.abs_url,
                "shown": [{"channel": s.channel, "via": s.via} for s in v.shown],
            }
            for v in items
        ],
        ensure_ascii=False,
        indent=2,
    )


def workspace_ref(text: str) -> Workspace:
    """`platform:workspace` (or a channel reference, whose workspace is taken); fail with one sentence."""
    from bot.domain import PLATFORMS, Workspace

    parts = text.strip().split(":")
    if len(parts) not in (2, 3) or not all(parts) or parts[0].lower() not in PLATFORMS:
        raise fail(
            f"--workspace takes platform:workspace, e.g. slack:T123, discord:G1 or console:local; not {text!r}."
        )
    return Workspace(parts[0].lower(), parts[1])


@app.command()
def top(
    window: Annotated[str, typer.Option(help="week, month or all")] = "week",
    workspace: Annotated[
        str | None,
        typer.Option(help="platform:workspace, e.g. slack:T123 (default: every workspace, votes added up)"),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array, best first.")] = False,
) -> None:
    """The papers a workspace voted for most in a window, and where each was shown."""
    if window not in ("week", "month", "all"):
        raise fail(f"--window takes week, month or all, not {window!r}.")
    where = workspace_ref(workspace) if workspace is not None else None
    from adapters.app.compose import paperboy_app
    from adapters.settings import Settings
    from bot.render_text import render_text
    from bot.replies import TopPapers

    async def main() -> list[VotedPaper]:
        async with paperboy_app(Settings()) as paperboy:
            return await paperboy.top(window, workspace=where, limit=limit)

    items = run_async(main)
    if as_json:
        typer.echo(top_json(items))
        return
    scope = f"{where.platform}:{where.workspace}" if where is not None else "every workspace"
    typer.echo(render_text(TopPapers(window, tuple(items), scope)))


def person_ref(text: str) -> ChannelRef:
    """`platform:workspace:user` as that person's own target; fail with one sentence when malformed."""
    from bot.domain import ChannelRef, InvalidChannelRef

    try:
        ref = ChannelRef.parse(text)
    except InvalidChannelRef:
        raise fail(
            "--user takes platform:workspace:user, e.g. slack:T123:U456, discord:G1:U2 or console:local:ada; "
            f"not {text.strip()[:80]!r}."
        ) from None
    # The user part may be written as the person's own target shows it (`@U456`).
    user = ref.channel.removeprefix("@")
    if not user:
        raise fail(f"--user names no user after the workspace in {text.strip()[:80]!r}.")
    return ChannelRef.person(ref.platform, ref.workspace, user)


def votes_json(bookmarks: list[Bookmark], votes: dict[str, int]) -> str:
    """The stable JSON of one person's reading list (`votes --json`): newest vote first, each paper as
    `paper --json` shows it (`chat_votes` counted in the person's workspace) plus `voted_at`."""
    from bot.domain import ScoredPaper

    return json.dumps(
        [
            {
                **paper_json(ScoredPaper(b.paper, 0.0, votes.get(b.paper.arxiv_id, 0))),
                "voted_at": b.voted_at.astimezone(UTC).isoformat(timespec="seconds"),
            }
            for b in bookmarks
        ],
        ensure_ascii=False,
        indent=2,
    )


@app.command()
def votes(
    user: Annotated[
        str, typer.Option("--user", help="platform:workspace:user, e.g. slack:T123:U456 or console:local:ada")
    ],
    window: Annotated[str, typer.Option(help="week, month or all")] = "all",
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array, newest vote first.")] = False,
) -> None:
    """One person's reading list: the papers they voted for in their workspace, newest vote first."""
    if window not in ("week", "month", "all"):
        raise fail(f"--window takes week, month or all, not {window!r}.")
    person = person_ref(user)
    from adapters.app.compose import paperboy_app
    from adapters.settings import Settings
    from bot.domain import Workspace

    async def main() -> tuple[list[Bookmark], dict[str, int]]:
        async with paperboy_app(Settings()) as paperboy:
            bookmarks = await paperboy.people.votes(person, window, None)
            workspace = Workspace(person.platform, person.workspace)
            counts = await paperboy.store.vote_counts([b.paper.arxiv_id for b in bookmarks], workspace)
            return bookmarks, counts

    bookmarks, counts = run_async(main)
    if as_json:
        typer.echo(votes_json(bookmarks, counts))
        return
    who = f"{person.user} in {person.platform}:{person.workspace}"
    period = "" if window == "all" else f" in the last {window}"
    if not bookmarks:
        typer.echo(f"{who} has not voted for a paper{period}.")
        return
    typer.echo(f"Papers {who} voted for{period} ({len(bookmarks)}), newest first")
    for number, b in enumerate(bookmarks, 1):
        typer.echo(
            f"{number}. {b.paper.title} [{b.paper.arxiv_id}] — voted {b.voted_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        )


@app.command()
def paper(
    paper_id: Annotated[str, typer.Argument(metavar="ID", help="arXiv id or URL")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Show one paper."""
    from adapters.app.compose import paperboy_app
    from adapters.settings import Settings
    from bot.render_text import render_text
    from bot.replies import PaperCard

    async def main() -> ScoredPaper:
        async with paperboy_app(Settings()) as paperboy:
            return await paperboy.paper(paper_id)

    item = run_async(main)
    typer.echo(
        json.dumps(paper_json(item), ensure_ascii=False, indent=2)
        if as_json
        else render_text(PaperCard(item))
    )


@app.command()
def cite(paper_id: Annotated[str, typer.Argument(metavar="ID", help="arXiv id or URL")]) -> None:
    """Print a BibTeX entry."""
    from adapters.app.compose import paperboy_app
    from adapters.settings import Settings

    async def main() -> str:
        async with paperboy_app(Settings()) as paperboy:
            return (await paperboy.cite(paper_id)).bibtex

    typer.echo(run_async(main))


@app.command()
def digest(
    channel: Annotated[
        str | None, typer.Option(help="platform:workspace:channel, e.g. console:local:general")
    ] = None,
    on_date: Annotated[
        str | None, typer.Option("--date", help="local date YYYY-MM-DD (default: today there)")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan; post and record nothing.")
    ] = False,
    due: Annotated[
        bool, typer.Option("--due", help="Post every digest that is due (one scheduler tick), then exit.")
    ] = False,
    status: Annotated[
        bool, typer.Option("--status", help="Each channel's next run, last delivery and pause reason.")
    ] = False,
) -> None:
    """Plan one channel's digest and post it (--channel), post every due digest (--due), or show --status."""
    from adapters.settings import Settings
    from bot.domain import ChannelRef, InvalidChannelRef

    if due or status:
        from adapters.app.jobs import format_due, format_status, read_status, run_due

        if (due and status) or channel or on_date or dry_run:
            raise fail("--due and --status stand alone: use one, without --channel, --date or --dry-run.")
        settings = Settings()
        if status:
            typer.echo(format_status(run_async(lambda: read_status(settings))))
            return
        report = run_async(lambda: run_due(settings))
        typer.echo(format_due(report))
        raise typer.Exit(0 if report.ok else 1)
    if channel is None:
        raise fail("Name a channel with --channel platform:workspace:channel, or use --due or --status.")
    try:
        ref = ChannelRef.parse(channel)
    except InvalidChannelRef as error:
        raise fail(str(error)) from None
    try:
        day = date.fromisoformat(on_date) if on_date else None
    except ValueError:
        raise fail(f"--date takes a date like 2025-09-01, not {on_date!r}.") from None
    from adapters.app.compose import paperboy_app
    from bot.render_text import render_text

    async def main() -> str:
        async with paperboy_app(Settings(), console=sys.stdout) as paperboy:
            return render_text(await paperboy.post_digest(ref, day, dry_run=dry_run))

    typer.echo(run_async(main))


@ingest_app.command("demo")
def ingest_demo(
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Only when the store holds no paper.")] = False,
) -> None:
    """Load the bundled demo papers (featured today, so that trending shows them)."""
    from adapters.app.compose import paperboy_app
    from adapters.settings import Settings

    async def main() -> str:
        from adapters.sources.demo import load_demo_papers

        async with paperboy_app(Settings()) as paperboy:
            if if_empty and await paperboy.store.count_papers() > 0:
                return "The store already holds papers; demo data not loaded."
            counts = await paperboy.ingest(load_demo_papers(paperboy.clock.now().date()), source="demo")
            return f"Demo papers: {counts.new} new, {counts.updated} updated, {counts.skipped} skipped."

    typer.echo(run_async(main))


@ingest_app.command("snapshot")
def ingest_snapshot_command(
    file: Annotated[Path, typer.Argument(help="arXiv metadata snapshot, one JSON object a line")],
    batch_size: Annotated[int, typer.Option(min=100, max=100_000)] = 5000,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Stream the arXiv metadata snapshot into the store and index."""
    if not file.is_file():
        raise fail(f"No snapshot file at {file}.")
    from adapters.app.compose import paperboy_app
    from adapters.settings import Settings

    async def main() -> str:
        from adapters.sources.snapshot import ingest_snapshot

        async with paperboy_app(Settings()) as paperboy:
            counts = await ingest_snapshot(
                file, paperboy.store, paperboy.index, batch_size=batch_size, progress=progress
            )
            return f"Snapshot: {counts.new} new, {counts.updated} updated, {counts.unchanged} unchanged, {counts.skipped} skipped."

    typer.echo(run_async(main))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations."""
    from adapters.settings import Settings
    from storage.sql import upgrade_database

    settings = Settings()
    run_async(lambda: upgrade_database(settings.database_url))
    typer.echo("Database is up to date.")


@db_app.command("copy")
def db_copy(
    to: Annotated[
        str, typer.Option("--to", help="The new database, e.g. postgresql://user:pw@host:5432/paperboy")
    ],
    batch_size: Annotated[int, typer.Option(min=1, max=100_000, help="Rows per insert.")] = 1000,
) -> None:
    """Copy every table from DATABASE_URL into an empty database (migrated first); verify the counts."""
    from adapters.ops.dbcopy import CopyError, copy_database
    from adapters.ops.doctor import display_url
    from adapters.settings import Settings

    settings = Settings()
    typer.echo(f"Copying {display_url(settings.database_url)} to {display_url(to)}…")
    try:
        tables = run_async(lambda: copy_database(settings.database_url, to, batch_size=batch_size))
    except CopyError as error:
        raise fail(str(error)) from None
    for table in tables:
        typer.echo(f"✓ {table.name}: {table.target_rows} rows")
    rows = sum(table.target_rows for table in tables)
    typer.echo(
        f"Copied {len(tables)} tables, {rows} rows; every count matches. "
        "Point DATABASE_URL at the new database and start Paperboy."
    )


@app.command()
def doctor(
    timeout: Annotated[float, typer.Option(min=0.5, max=60, help="Seconds each check may take.")] = 5.0,
) -> None:
    """Check the configuration, database, platforms and paper sources; exit 1 when something is wrong."""
    import asyncio

    from adapters.ops.doctor import doctor_report

    resume_collector()
    report, healthy = asyncio.run(doctor_report(time_limit=timeout))
    typer.echo(report)
    raise typer.Exit(0 if healthy else 1)


def main() -> None:
    """Entry point of the `paperboy` console script."""
    pause_collector()  # until the command's work starts (adapters/cli/collector.py)
    try:
        app()
    finally:
        # At exit the interpreter's garbage collector would walk every object the imports made (SQLAlchemy,
        # pydantic, typer) to find cycles that die with the process anyway: about a fifth of `paperboy search`.
        # Frozen objects are skipped; files and logs are still flushed (by their close, atexit and the
        # interpreter), only finalizers of objects in reference cycles do not run, as Python never promised.
        gc.freeze()
