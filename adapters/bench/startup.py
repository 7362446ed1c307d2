"""`paperboy bench startup`: how long `paperboy --help` and `paperboy search <word>` take, each in a new process.

A person waits for the whole process: the interpreter, every import, opening the store and the index, the
answer. So each run is a fresh subprocess of the installed `paperboy` script, timed from start to exit, on a
store of its own (the demo papers in a temporary SQLite file), with one untimed warm-up run of each command
first so that compiling the bytecode is not counted (also where PYTHONDONTWRITEBYTECODE is set).
"""

from __future__ import annotations

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


def time_commands(runs: int, word: str, *, semantic: bool = False) -> list[StartupTimes]:
    """Prepare a demo store, then time `paperboy --help` and `paperboy search <word>` `runs` times each."""
    paperboy = paperboy_command()
    with tempfile.TemporaryDirectory(prefix="paperboy-bench-startup-") as temporary:
        folder = Path(temporary)
        env = store_environment(folder, semantic=semantic)
        _run([*paperboy, "ingest", "demo"], env, folder)
        commands = {"paperboy --help": ["--help"], f"paperboy search {word}": ["search", word]}
        measured: list[StartupTimes] = []
        for label, args in commands.items():
            _run([*paperboy, *args], env, folder)  # warm-up, not counted
            seconds = tuple(_run([*paperboy, *args], env, folder) for _ in range(runs))
            measured.append(StartupTimes(label, seconds))
        return measured


def bench_startup(runs: int, word: str, *, semantic: bool = False) -> str:
    """The benchmark's report: one line per command with its median and slowest run."""
    measured = time_commands(runs, word, semantic=semantic)
    meaning = "on (the semantic extra's model)" if semantic else "off"
    width = max(len(times.command) for times in measured)
    lines = [
        f"paperboy bench startup: {runs} run(s) of each command after one warm-up, fresh processes, "
        f"demo papers in SQLite, search by meaning {meaning}"
    ]
    lines += [
        f"  {times.command:<{width}}  median {times.median:.3f} s  max {times.slowest:.3f} s"
        for times in measured
    ]
    return "\n".join(lines)
