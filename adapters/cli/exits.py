"""How a command ends when something is wrong: one sentence on stderr and exit 1, never a traceback.

Importing this module costs nothing beyond typer: the error types it catches (the store's, the core's) are
imported only once an error has happened, by which time the command has loaded them anyway.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer

from adapters.cli.collector import resume_collector

T = TypeVar("T")

INSTALL_SEMANTIC = "pip install 'paperboy-bot[semantic]'"


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one sentence on stderr and return the exit to raise."""
    typer.echo(message, err=True)
    return typer.Exit(code)


def user_errors() -> tuple[type[Exception], ...]:
    """The errors a user can cause and fix (a bad id, a bad query, an unreachable database)."""
    from bot.core import PaperNotFound
    from bot.domain import InvalidChannelRef
    from bot.ids import InvalidPaperId
    from bot.query import QueryError
    from storage.sql import StoreError

    return (
        StoreError,
        QueryError,
        InvalidPaperId,
        PaperNotFound,
        InvalidChannelRef,
        ValueError,
        LookupError,
        OSError,
    )


def run_async(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine; user-facing errors (a bad id, an unreachable database) become one sentence and exit 1."""
    import asyncio

    resume_collector()
    try:
        return asyncio.run(_awaited(factory))
    except Exception as error:
        if isinstance(error, user_errors()):
            raise fail(str(error)) from None
        raise


async def _awaited(factory: Callable[[], Awaitable[T]]) -> T:
    return await factory()


def require_semantic_extra(command: str) -> None:
    """Exit 1 with what to install when the semantic extra (numpy, torch, sentence-transformers) is missing."""
    from storage.vectors.semantic import missing_extra

    missing = missing_extra()
    if missing is not None:
        raise fail(f"`paperboy {command}` needs the semantic extra (no {missing} here): {INSTALL_SEMANTIC}.")
