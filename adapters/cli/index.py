"""`paperboy index embeddings`: embed every stored paper for search by meaning, resumably, with a progress bar.

Nothing of the semantic extra (numpy, torch) is imported unless it is installed: without it the command says
in one sentence what to install.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from adapters.cli.exits import INSTALL_SEMANTIC, fail, require_semantic_extra, run_async
from adapters.cli.groups import command_group

if TYPE_CHECKING:
    from rich.progress import Progress

    from adapters.settings import Settings
    from storage.vectors.index import EmbedProgress

index_app = command_group("Derived data kept beside the database: paper embeddings.")

TURNED_OFF = "Semantic search is turned off (PAPERBOY_SEMANTIC_MODEL=off); nothing to embed."


def _progress(enabled: bool) -> Progress:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]embed papers"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[read]:,}/{task.fields[stored]:,} read, {task.fields[embedded]:,} embedded"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
    )


async def embed_all(settings: Settings, *, progress: bool = True) -> str:
    """Embed the stored papers that have no vector for their current text; return a one-line summary."""
    from storage.sql import open_store
    from storage.vectors.semantic import choose_model, missing_extra, open_semantic

    if choose_model(settings.semantic_model) is None:
        raise ValueError(TURNED_OFF)
    missing = missing_extra()
    if missing is not None:
        raise ValueError(f"Embeddings need the semantic extra (no {missing} here): {INSTALL_SEMANTIC}.")
    store = await open_store(settings.database_url)
    try:
        semantic = open_semantic(store, settings.semantic_model, topic_similarity=settings.topic_similarity)
        assert semantic is not None  # checked above
        began = time.perf_counter()
        with _progress(progress) as bar:
            task = bar.add_task("embed", total=None, read=0, stored=0, embedded=0, rate="")

            def show(step: EmbedProgress) -> None:
                seconds = time.perf_counter() - began
                rate = f"{step.embedded / seconds:,.1f} papers/s" if step.embedded and seconds > 0 else ""
                bar.update(
                    task,
                    total=step.total,
                    completed=step.read,
                    read=step.read,
                    stored=step.total,
                    embedded=step.embedded,
                    rate=rate,
                )

            result = await semantic.embed_store(show)
        seconds = time.perf_counter() - began
        rate = f" ({result.embedded / seconds:,.1f} papers/s)" if result.embedded and seconds > 0 else ""
        return (
            f"Embeddings of {semantic.model}: {result.embedded:,} papers embedded in {seconds:,.0f} s{rate}, "
            f"{result.current:,} already current, {result.total:,} papers stored."
        )
    finally:
        await store.close()


@index_app.command("embeddings")
def index_embeddings(
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Embed every paper that has no vector for its current text; stop it any time and run it again to resume."""
    from adapters.settings import Settings
    from storage.vectors.semantic import choose_model

    settings = Settings()
    # Checked before the store opens: without the extra the answer is one sentence, whatever the database.
    if choose_model(settings.semantic_model) is None:
        raise fail(TURNED_OFF)
    require_semantic_extra("index embeddings")
    typer.echo(run_async(lambda: embed_all(settings, progress=progress)))
