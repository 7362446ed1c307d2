"""The console adapter: `/papers …` lines from a terminal or a pipe, answered as plain text."""

from __future__ import annotations

import asyncio
import itertools
import sys
import threading
from typing import TextIO

from bot.commands import CommandContext
from bot.core import Paperboy
from bot.domain import ChannelRef, Delivery, DigestPlan, ScoredPaper
from bot.render_text import digest_heading, paper_lines, render_text

PROMPT = "paperboy> "
BANNER = "Paperboy console: type /papers help, or /papers search <words>. Ctrl-D or 'quit' leaves."


class ConsolePublisher:
    """Posts digests to the terminal: the parent line, then each paper indented as its thread."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._ids = itertools.count(1)

    def _next_id(self) -> str:
        return f"console-{next(self._ids)}"

    async def post_parent(self, plan: DigestPlan, delivery: Delivery) -> str:
        """Print the digest heading; a person's own digest is printed as a direct message "to you"."""
        to_you = f"(to you, {plan.channel.user}) " if plan.channel.is_person else ""
        print(f"\n📰 {to_you}{digest_heading(plan)}", file=self._out)
        return f"digest-{delivery.digest_id}"

    async def post_paper(
        self, plan: DigestPlan, delivery: Delivery, item: ScoredPaper, thread_id: str
    ) -> str:
        """Print one paper of the digest."""
        for line in paper_lines(item, number=delivery.position):
            print(f"  │ {line}", file=self._out)
        return f"{thread_id}-{delivery.position}"


async def run_console(
    app: Paperboy,
    channel: ChannelRef,
    user: str,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
) -> int:
    """Answer `/papers …` lines until end of input; prompt only when talking to a terminal."""
    source = stdin or sys.stdin
    out = stdout or sys.stdout
    interactive = source.isatty()
    ctx = CommandContext(channel=channel, user=user, can_manage=True)
    if interactive:
        print(BANNER, file=out)
    lines = StdinLines(source)
    while True:
        if interactive:
            print(PROMPT, end="", file=out, flush=True)
        line = await lines.readline()
        if not line:
            break
        text = line.strip()
        if not text:
            continue
        if text.lower() in ("quit", "exit", "/quit", "/exit"):
            break
        reply = await app.handle_text(ctx, text)
        print(render_text(reply), file=out, flush=True)
    return 0


class StdinLines:
    """Reads lines on a daemon thread, one when asked, so that a blocked read never holds up the exit."""

    def __init__(self, source: TextIO) -> None:
        self._source = source
        self._loop = asyncio.get_running_loop()
        self._asked = threading.Semaphore(0)
        self._lines: asyncio.Queue[str] = asyncio.Queue()
        threading.Thread(target=self._read, name="console-stdin", daemon=True).start()

    def _read(self) -> None:
        while True:
            self._asked.acquire()
            line = self._source.readline()
            self._loop.call_soon_threadsafe(self._lines.put_nowait, line)
            if not line:
                return

    async def readline(self) -> str:
        """The next line, or "" at the end of input."""
        self._asked.release()
        return await self._lines.get()
