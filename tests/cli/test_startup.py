"""The command line starts fast: `--help` and `search` import neither the platform SDKs nor the semantic extra
(nor, for search on SQLite, migrations, metrics or PostgreSQL's driver), a fresh clone's search works without that
extra, and `paperboy bench startup` prints both timings, on compiled bytecode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from adapters.bench.startup import store_environment
from adapters.cli.main import app
from tests.cli.without_extra import env_without_semantic_extra, run_paperboy

# Modules `paperboy --help` has no use for; together they cost it over a second.
NOT_FOR_HELP = (
    "discord",
    "slack_bolt",
    "slack_sdk",
    "aiohttp",
    "alembic",
    "sqlalchemy",
    "tantivy",
    "apscheduler",
    "httpx",
    "rich",
    "numpy",
    "torch",
)
# What a search by words on SQLite needs none of: chat platforms, the scheduler, HTTP clients, the terminal UI,
# the semantic extra, migrations (the store is up to date), metrics (nothing scrapes a one-shot command) and
# PostgreSQL's driver.
NOT_FOR_SEARCH = (
    "discord",
    "slack_bolt",
    "slack_sdk",
    "aiohttp",
    "apscheduler",
    "httpx",
    "rich",
    "numpy",
    "torch",
    "sentence_transformers",
    "alembic",
    "prometheus_client",
    "asyncpg",
    "sqlalchemy.dialects.postgresql",
)

# Runs the command line in this process, then prints which modules it loaded, as the last line (a module
# blocked by `env_without_semantic_extra` sits in sys.modules as None: not loaded).
_PROBE = """\
import json, sys
sys.argv = ["paperboy", *sys.argv[1:]]
from adapters.cli.main import main
try:
    main()
except SystemExit as stop:
    code = stop.code
else:
    code = 0
loaded = {name for name, module in sys.modules.items() if module is not None}
print(json.dumps({"code": code, "modules": sorted(loaded)}))
"""


def modules_loaded_by(folder: Path, *args: str, env: dict[str, str]) -> tuple[object, set[str]]:
    """The exit code of `paperboy ARGS` and every module loaded by the time it ended (packages and submodules)."""
    environment = {**os.environ, "PAPERBOY_REFRESH_MINUTES": "0", **env}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        cwd=folder,
        env=environment,
        timeout=120,
        check=False,
    )
    assert done.stdout.strip(), done.stderr
    said = json.loads(done.stdout.strip().splitlines()[-1])
    return said["code"], set(said["modules"])


@pytest.fixture
def demo_store(tmp_path: Path) -> dict[str, str]:
    """A SQLite store holding the demo papers, loaded by a `paperboy` that lacks the semantic extra."""
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'paperboy.db'}",
        # The default model, as a newcomer has it: without the extra, search by meaning is simply off.
        "PAPERBOY_SEMANTIC_MODEL": "",
        **env_without_semantic_extra(tmp_path),
    }
    loaded = run_paperboy(tmp_path, "ingest", "demo", env=env)
    assert loaded.returncode == 0, loaded.stderr
    return env


def test_help_lists_every_group_without_loading_a_platform_sdk_the_store_or_rich(tmp_path: Path) -> None:
    code, modules = modules_loaded_by(tmp_path, "--help", env={})

    assert code == 0
    assert sorted(modules.intersection(NOT_FOR_HELP)) == []


def test_search_without_the_semantic_extra_finds_by_words_and_loads_nothing_it_does_not_use(
    tmp_path: Path, demo_store: dict[str, str]
) -> None:
    found = run_paperboy(tmp_path, "search", "matryoshka", env=demo_store)
    assert found.returncode == 0, found.stderr
    assert "Matryoshka Representation Learning" in found.stdout
    assert "Traceback" not in found.stderr

    code, modules = modules_loaded_by(tmp_path, "search", "matryoshka", env=demo_store)
    assert code == 0
    assert sorted(modules.intersection(NOT_FOR_SEARCH)) == []


def test_help_shows_each_command_summary_whole() -> None:
    shown = CliRunner().invoke(app, ["--help"])

    assert shown.exit_code == 0
    # Summaries longer than the column are wrapped onto the next line, not cut with "...".
    words = " ".join(shown.output.split())
    assert "run Serve every configured adapter (the console when no chat platform is configured)." in words
    assert "doctor Check the configuration, database, platforms and paper sources; exit 1 when" in words
    assert "..." not in shown.output.split("Commands:")[1]


def test_bench_startup_prints_the_median_and_max_of_help_and_search() -> None:
    shown = CliRunner().invoke(app, ["bench", "startup", "--runs", "1", "--word", "matryoshka"])

    assert shown.exit_code == 0, shown.output
    rows = {
        line.split("  median ")[0].strip(): line for line in shown.output.splitlines() if " median " in line
    }
    assert set(rows) == {"paperboy --help", "paperboy search matryoshka"}
    for row in rows.values():
        assert row.endswith(" s") and " max " in row


def test_bench_startup_runs_compile_bytecode_once_even_where_writing_it_is_turned_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    env = store_environment(tmp_path, semantic=False)

    # What the warm-up run does: import the command line's modules, which leaves their bytecode for the timed runs.
    subprocess.run([sys.executable, "-c", "import adapters.cli.groups"], env=env, cwd=tmp_path, check=True)

    assert list(tmp_path.rglob("groups.cpython-*.pyc"))


# A command's work as the console script runs it (the collector paused at start) or as a test invokes it in-process.
_COLLECTOR_PROBE = """\
import gc, json, sys
from adapters.cli.collector import pause_collector
from adapters.cli.exits import run_async

if sys.argv[1] == "paused":
    pause_collector()
started = {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}


async def work() -> dict[str, object]:
    return {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}


print(json.dumps({"started": started, "working": run_async(work)}))
"""


@pytest.mark.parametrize(("start", "frozen_at_work"), [("paused", True), ("as-is", False)])
def test_the_garbage_collector_is_on_for_a_commands_work_and_objects_are_frozen_only_after_a_paused_start(
    tmp_path: Path, start: str, frozen_at_work: bool
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _COLLECTOR_PROBE, start],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=True,
    )
    said = json.loads(done.stdout.strip().splitlines()[-1])

    assert said["started"] == {"enabled": start != "paused", "frozen": 0}
    assert said["working"]["enabled"] is True
    assert (said["working"]["frozen"] > 0) is frozen_at_work


def test_bench_startup_with_papers_searches_a_store_of_that_size(tmp_path: Path) -> None:
    shown = CliRunner().invoke(app, ["bench", "startup", "--runs", "1", "--papers", "300"])

    assert shown.exit_code == 0, shown.output
    assert "demo papers and 300 synthetic ones in SQLite" in shown.output
    assert any(
        line.strip().startswith("paperboy search matryoshka  median") for line in shown.output.splitlines()
    )


@pytest.mark.semantic
def test_bench_startup_stores_a_unit_vector_for_every_synthetic_paper_under_the_models_name(
    tmp_path: Path,
) -> None:
    import asyncio

    from storage.vectors.semantic import missing_extra
    from tests.conftest import skip_without_semantic_extra

    skip_without_semantic_extra(missing_extra())
    import numpy as np

    from adapters.bench.search import load_vocabulary, write_synthetic_snapshot
    from adapters.bench.startup import store_synthetic_vectors
    from adapters.sources.snapshot import ingest_snapshot
    from storage.search.index import open_index
    from storage.sql import open_store
    from storage.vectors.index import from_bytes, to_bytes
    from storage.vectors.model import DEFAULT_MODEL

    url = f"sqlite:///{tmp_path / 'bench.db'}"
    snapshot = tmp_path / "synthetic.jsonl"
    write_synthetic_snapshot(snapshot, 120, load_vocabulary())

    async def stored_vectors() -> list[float]:
        store = await open_store(url)
        try:
            rows = await store.embeddings_since(DEFAULT_MODEL, None, "", 1000)
        finally:
            await store.close()
        return [float(np.linalg.norm(from_bytes(row.vector))) for row in rows]

    async def ingest() -> None:
        store = await open_store(url)
        index = await open_index(tmp_path / "index")
        try:
            await ingest_snapshot(snapshot, store, index, progress=False)
            # What `paperboy ingest demo` leaves: a paper embedded by the model, whose size the bench copies.
            first = json.loads(snapshot.read_text().splitlines()[0])["id"]
            await store.save_embeddings(
                DEFAULT_MODEL, 384, [(first, "model", to_bytes(np.ones(384) / 384**0.5))]
            )
        finally:
            await index.close()
            await store.close()

    asyncio.run(ingest())
    assert asyncio.run(store_synthetic_vectors(url, snapshot, None)) == 120
    norms = asyncio.run(stored_vectors())
    assert len(norms) == 120
    assert all(abs(norm - 1.0) < 1e-2 for norm in norms)
