"""`paperboy bench memory` reads a real `paperboy run`'s memory at three moments and says what it is made of."""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from adapters.bench import traced_run
from adapters.bench.limits import LimitUnavailable, MemoryLimit, evict_from_page_cache
from adapters.bench.memory import MemorySample, read_memory, traced_command
from adapters.bench.traced_run import TRACE_FILE_VARIABLE, holder
from adapters.cli.main import app
from bot.domain import Paper
from bot.query import parse_query
from storage.search.index import open_index


def _megabytes(line: str, name: str) -> float:
    found = re.search(rf"{name}\s+([\d.]+)", line)
    assert found is not None, line
    return float(found.group(1))


def _bench_memory(workdir: Path, *, searches: int) -> Result:
    """`paperboy bench memory` on 300 papers and 3 channels' digests, in `workdir`."""
    args = ["--papers", "300", "--searches", str(searches), "--channels", "3", "--workdir", str(workdir)]
    return CliRunner().invoke(app, ["bench", "memory", *args])


def test_bench_memory_reports_rss_after_start_searches_and_a_digest_tick_planned_anew_each_run(
    tmp_path: Path,
) -> None:
    shown = _bench_memory(tmp_path, searches=5)

    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0].startswith(
        "paperboy bench memory: 300 papers (SQLite), paperboy run with Slack, words only;"
    )
    moments = [line.strip() for line in lines if line.strip().startswith("after ") and " RSS " in line]
    assert [m.split(" RSS ")[0].strip() for m in moments] == [
        "after start",
        "after 5 searches",
        "after a digest tick (3 channels)",
    ]
    for moment in moments:
        rss = _megabytes(moment, "RSS")
        parts = [_megabytes(moment, name) for name in ("anonymous", "index files", "other files")]
        # /proc's RSS is the anonymous and file pages together; smaps rounds each mapping to whole kB.
        assert 30 < rss < 2000 and abs(sum(parts) - rss) < 1.0, moment
        assert _megabytes(moment, "peak") >= rss
    assert "5 searches, request -> answer: p50 " in shown.output
    # Each channel's topic is a word of a paper featured today: the tick queues all three and all are posted.
    assert "digest tick: 3 due, 3 queued, 0 already there, 0 with nothing new;" in shown.output
    assert "exit code 0" in shown.output

    again = _bench_memory(tmp_path, searches=0)
    assert again.exit_code == 0, again.output
    # The first run's digests were forgotten before the second started, so its tick queued them again.
    assert "digest tick: 3 due, 3 queued, 0 already there, 0 with nothing new;" in again.output


def test_a_traced_process_writes_what_holds_its_python_memory_on_sigusr1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "top.json"
    monkeypatch.setenv(TRACE_FILE_VARIABLE, str(target))
    previous = signal.getsignal(signal.SIGUSR1)
    try:
        traced_run.install()
        kept = [bytearray(1000) for _ in range(2000)]
        os.kill(os.getpid(), signal.SIGUSR1)
        time.sleep(0.1)  # the handler runs between two bytecodes of this thread; this gives it some
        top = json.loads(target.read_text())
    finally:
        signal.signal(signal.SIGUSR1, previous)
        tracemalloc.stop()

    assert len(kept) == 2000
    assert top["traced"] >= 2_000_000 and top["overhead"] > 0 and top["modules"] > 100
    here = [entry for entry in top["holders"] if entry["holder"] == "tests"]
    assert here and here[0]["size"] >= 2_000_000
    assert any(entry["where"].startswith(__file__) for entry in top["lines"])


def test_the_traced_command_starts_paperboy(tmp_path: Path) -> None:
    command = [*traced_command()[:-1], "--help"]
    shown = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONTRACEMALLOC": "1"},
    )

    assert shown.returncode == 0, shown.stderr
    assert "run" in shown.stdout and "bench" in shown.stdout


def test_read_memory_counts_the_index_pages_a_search_maps_apart_from_anonymous_memory(tmp_path: Path) -> None:
    async def search_and_read() -> MemorySample:
        index = await open_index(tmp_path / "index")
        try:
            await index.add_papers([Paper(f"2401.{n:05d}", f"Matryoshka paper {n}") for n in range(1, 200)])
            assert await index.search(parse_query("matryoshka"), 5)
            # Read while the index is open: its files are mapped into this process until it closes.
            return read_memory(os.getpid(), "now", tmp_path / "index", tmp_path / "paperboy.db")
        finally:
            await index.close()

    sample = asyncio.run(search_and_read())

    assert sample.index_pages > 0
    assert sample.database_pages == 0
    assert sample.anonymous > sample.index_pages
    assert abs(sample.anonymous + sample.index_pages + sample.other_files - sample.rss) < 1024


def test_holder_names_the_package_that_allocated() -> None:
    import sqlalchemy

    assert holder(sqlalchemy.__file__ or "") == "sqlalchemy"
    assert holder("<frozen importlib._bootstrap_external>") == "code of imported modules (importlib)"
    assert holder(os.__file__) == "stdlib os"
    assert holder(str(Path(__file__).resolve())) == "tests"


def _memory_limit_or_skip(megabytes: int) -> MemoryLimit:
    try:
        return MemoryLimit.create(megabytes, f"paperboy-test-{os.getpid()}-{time.monotonic_ns()}")
    except LimitUnavailable as error:
        pytest.skip(f"no memory cgroup to make here: {error}")


def test_a_process_started_in_a_memory_limit_runs_in_its_group_and_is_held_to_it(tmp_path: Path) -> None:
    limit = _memory_limit_or_skip(64)
    # The process writes its group, then holds 200 MB of its own: more than the limit lets it keep.
    probe = "import pathlib; print(pathlib.Path('/proc/self/cgroup').read_text()); x = bytearray(200 * 2**20)"
    try:
        done = subprocess.run(
            limit.command([sys.executable, "-c", probe]), capture_output=True, text=True, timeout=60
        )
        peak, events = limit.peak_mb(), limit.events()
    finally:
        limit.remove()

    assert limit.folder.name in done.stdout
    assert done.returncode == -signal.SIGKILL
    assert events["killed"] >= 1
    # cgroup v2 tells the peak from Linux 5.19 on.
    assert math.isnan(peak) or 32 < peak <= 64.5


def test_a_memory_limit_is_never_made_over_a_group_that_exists_already() -> None:
    first = _memory_limit_or_skip(64)
    try:
        with pytest.raises(LimitUnavailable, match="exists already"):
            MemoryLimit.create(64, first.folder.name)
    finally:
        assert first.remove()
    assert not first.folder.exists()


def test_evicting_a_file_from_the_page_cache_says_how_many_bytes_it_asked_for(tmp_path: Path) -> None:
    (tmp_path / "index").mkdir()
    (tmp_path / "index" / "segment").write_bytes(b"x" * 5000)
    (tmp_path / "paperboy.db").write_bytes(b"y" * 3000)

    assert evict_from_page_cache([tmp_path / "index", tmp_path / "paperboy.db"]) == 8000
