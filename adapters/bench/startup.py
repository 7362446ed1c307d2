"""`paperboy bench startup`: how long `paperboy --help` and `paperboy search <word>` take, each in a new process.

A person waits for the whole process: the interpreter, every import, opening the store and the index, the
answer. So each run is a fresh subprocess of the installed `paperboy` script, timed from start to exit, on a
store of its own (the demo papers in a temporary SQLite file), with one untimed warm-up run of each command
first so that compiling the bytecode is not counted (also where PYTHONDONTWRITEBYTECODE is set).

`--papers N` adds N synthetic papers (those of `paperboy bench search`) to the demo ones, through `paperboy
ingest snapshot`, so that a search reads an index and, with search by meaning, loads vectors of a store that size.
Those papers' vectors are random unit vectors stored under the model's name (embedding 20,000 papers would take
ten minutes and change no timing: loading and scanning a vector costs the same whatever it holds); the demo
papers' vectors are the model's own, made by `paperboy ingest demo`.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class StartupTimes:
    """The wall times of one command's runs, in seconds."""

    command: str
    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        """The median run."""
        return statistics.median(self.seconds)

    @property
    def slowest(self) -> float:
        """The slowest run."""
        return max(self.seconds)


class StartupBenchError(RuntimeError):
    """A command of the benchmark failed, so its time means nothing."""


def paperboy_command() -> list[str]:
    """The installed `paperboy` script beside this interpreter, or the same entry point through `python -c`."""
    script = Path(sys.executable).with_name("paperboy")
    if script.is_file():
        return [str(script)]
    return [sys.executable, "-c", "from adapters.cli.main import main; main()"]


def store_environment(folder: Path, *, semantic: bool) -> dict[str, str]:
    """The environment of every run: a store and index of the benchmark's own; search by meaning off unless asked."""
    env = dict(os.environ)
    env["DATABASE_URL"] = f"sqlite:///{folder / 'paperboy.db'}"
    env["PAPERBOY_INDEX_DIR"] = str(folder / "index")
    if not semantic:
        env["PAPERBOY_SEMANTIC_MODEL"] = "off"
    if env.pop("PYTHONDONTWRITEBYTECODE", None):
        # An installed or once-run Paperboy reads compiled bytecode; where writing it is turned off (containers
        # and some shells set this), every run would compile the project's modules again, which the warm-up is
        # there to leave out. The warm-up writes it to the benchmark's own folder instead, not beside the code.
        env["PYTHONPYCACHEPREFIX"] = str(folder / "bytecode")
    return env


def _run(args: list[str], env: dict[str, str], folder: Path) -> float:
    """Run one command to its end; its wall time in seconds."""
    began = time.perf_counter()
    # The folder as working directory: a developer's `.env` must not point the runs at another store.
    done = subprocess.run(args, env=env, cwd=folder, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise StartupBenchError(f"`{' '.join(args[-3:])}` exited {done.returncode}: {said}")
    return seconds


def add_synthetic_papers(paperboy: list[str], env: dict[str, str], folder: Path, papers: int) -> Path:
    """Ingest `papers` synthetic papers into the benchmark's store (index included); return their snapshot."""
    from adapters.bench.search import load_vocabulary, write_synthetic_snapshot

    snapshot = folder / "synthetic.jsonl"
    write_synthetic_snapshot(snapshot, papers, load_vocabulary())
    _run([*paperboy, "ingest", "snapshot", "--no-progress", str(snapshot)], env, folder)
    return snapshot


async def store_synthetic_vectors(database_url: str, snapshot: Path, model: str | None) -> int:
    """Store a random unit vector for each paper of `snapshot` under the configured model; the count."""
    from adapters.bench.search import store_random_vectors
    from storage.sql import open_store
    from storage.vectors.index import paper_text, text_hash
    from storage.vectors.model import choose_model

    choice = choose_model(model)
    if choice is None:
        raise StartupBenchError("Search by meaning is off (PAPERBOY_SEMANTIC_MODEL); --semantic needs it on.")
    text = await asyncio.to_thread(snapshot.read_text, encoding="utf-8")
    records = [json.loads(line) for line in text.splitlines()]
    # Each under the digest of its text, as if the model had embedded it: nothing is embedded again.
    papers = [(r["id"], text_hash(paper_text(r["title"], r["abstract"]))) for r in records]
    store = await open_store(database_url)
    try:
        # The model's own size of vector: that of a demo paper's, which `paperboy ingest demo` embedded.
        sample = await store.embeddings_since(choice.key, None, "", 1)
        if not sample:
            raise StartupBenchError("The demo papers have no vectors; is the semantic extra installed?")
        dimension = len(sample[0].vector) // 2  # float16
        return await store_random_vectors(store, choice.key, dimension, papers, seed=7)
    finally:
        await store.close()


def time_commands(runs: int, word: str, *, semantic: bool = False, papers: int = 0) -> list[StartupTimes]:
    """Time `paperboy --help` and `paperboy search <word>` `runs` times each on the demo papers (and `papers` more)."""
    paperboy = paperboy_command()
    with tempfile.TemporaryDirectory(prefix="paperboy-bench-startup-") as temporary:
        folder = Path(temporary)
        env = store_environment(folder, semantic=semantic)
        _run([*paperboy, "ingest", "demo"], env, folder)
        if papers:
            snapshot = add_synthetic_papers(paperboy, env, folder, papers)
            if semantic:
                model = env.get("PAPERBOY_SEMANTIC_MODEL")
                asyncio.run(store_synthetic_vectors(env["DATABASE_URL"], snapshot, model))
        commands = {"paperboy --help": ["--help"], f"paperboy search {word}": ["search", word]}
        measured: list[StartupTimes] = []
        for label, args in commands.items():
            _run([*paperboy, *args], env, folder)  # warm-up, not counted
            seconds = tuple(_run([*paperboy, *args], env, folder) for _ in range(runs))
            measured.append(StartupTimes(label, seconds))
        return measured


def bench_startup(runs: int, word: str, *, semantic: bool = False, papers: int = 0) -> str:
    """The benchmark's report: one line per command with its median and slowest run."""
    measured = time_commands(runs, word, semantic=semantic, papers=papers)
    meaning = "on (the semantic extra's model)" if semantic else "off"
    stored = "demo papers" if not papers else f"demo papers and {papers:,} synthetic ones"
    if papers and semantic:
        stored += " (random vectors)"
    width = max(len(times.command) for times in measured)
    lines = [
        f"paperboy bench startup: {runs} run(s) of each command after one warm-up, fresh processes, "
        f"{stored} in SQLite, search by meaning {meaning}"
    ]
    lines += [
        f"  {times.command:<{width}}  median {times.median:.3f} s  max {times.slowest:.3f} s"
        for times in measured
    ]
    return "\n".join(lines)
