"""The console bot end to end: the real `paperboy` command in a subprocess, fed through a pipe."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PAPERBOY = str(Path(sys.executable).with_name("paperboy"))


def paperboy(
    tmp_path: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'paperboy.db'}",
        # No test reaches the internet: the Daily Papers refresh stays off here.
        "PAPERBOY_REFRESH_MINUTES": "0",
        **(env or {}),
    }
    for name in ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "SLACK_APP_TOKEN", "DISCORD_TOKEN"):
        environment.pop(name, None)
    return subprocess.run(
        [PAPERBOY, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        timeout=120,
    )


@pytest.fixture
def demo_store(tmp_path: Path, demo_template: Path) -> Path:
    """A folder with the store and index `paperboy ingest demo` makes, the test's own to change."""
    # A copy of the session's (tests/e2e/conftest.py): the ingest is a process start and 50 papers indexed,
    # about a second of CPU, and every test here began with the same one.
    shutil.copytree(demo_template, tmp_path, dirs_exist_ok=True)
    return tmp_path


def test_piped_search_prints_the_paper_and_exits_zero(demo_store: Path) -> None:
    result = paperboy(demo_store, "run", "--console", stdin="/papers search matryoshka\n")
    assert result.returncode == 0, result.stderr
    assert "Matryoshka Representation Learning" in result.stdout
    assert "paperboy>" not in result.stdout  # no prompt when stdin is not a terminal


def test_a_console_session_subscribes_votes_and_posts_a_digest(demo_store: Path) -> None:
    lines = "\n".join(
        [
            '/papers subscribe "gaussian splatting"',
            "/papers topics",
            "/papers vote 2311.13681",
            "/papers vote 2311.13681",
            "/papers schedule 25:00",
            "/papers digest",
            "/papers frobnicate",
            "",
        ]
    )
    result = paperboy(demo_store, "run", "--console", stdin=lines)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert '1. "gaussian splatting"' in out
    assert "Counted your vote for Compact 3D Gaussian Representation for Radiance Field" in out
    assert "You had already voted for" in out
    assert "HH:MM" in out
    assert "Trending papers for" in out and "Compact 3D Gaussian" in out
    assert "I don't know 'frobnicate'" in out
    paper = paperboy(demo_store, "paper", "2311.13681", "--json")
    assert json.loads(paper.stdout)["chat_votes"] == 1


def test_json_contracts_of_search_trending_and_paper(demo_store: Path) -> None:
    results = json.loads(paperboy(demo_store, "search", "matryoshka", "--json").stdout)
    assert results[0]["arxiv_id"] == "2205.13147"
    assert {"arxiv_id", "title", "authors", "score"} <= set(results[0])
    assert isinstance(results[0]["authors"], list)
    trending = json.loads(paperboy(demo_store, "trending", "--window", "week", "--json").stdout)
    assert len(trending) == 10 and trending[0]["score"] >= trending[-1]["score"]
    paper = json.loads(paperboy(demo_store, "paper", "arxiv.org/abs/2205.13147", "--json").stdout)
    for key in (
        "arxiv_id",
        "title",
        "authors",
        "abstract",
        "published",
        "featured_on",
        "hf_upvotes",
        "chat_votes",
        "ai_summary",
        "ai_keywords",
        "github_repo",
        "github_stars",
        "categories",
    ):
        assert key in paper


def test_cite_prints_bibtex(demo_store: Path) -> None:
    result = paperboy(demo_store, "cite", "2205.13147")
    assert result.returncode == 0 and result.stdout.startswith("@misc{kusupati2022matryoshka,")


def test_bad_input_on_the_command_line_gets_one_sentence_and_exit_one(demo_store: Path) -> None:
    bad_id = paperboy(demo_store, "paper", "nonsense")
    assert bad_id.returncode == 1 and "2205.13147" in bad_id.stderr and "Traceback" not in bad_id.stderr
    bad_channel = paperboy(demo_store, "digest", "--channel", "general")
    assert bad_channel.returncode == 1 and "platform:workspace:channel" in bad_channel.stderr


def test_unwritable_database_path_is_one_clear_sentence(tmp_path: Path) -> None:
    result = paperboy(tmp_path, "search", "x", env={"DATABASE_URL": "sqlite:////proc/paperboy/nowhere.db"})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "database" in result.stderr.lower()


def test_dry_run_digest_shows_the_plan_and_records_nothing(demo_store: Path) -> None:
    dry = paperboy(demo_store, "digest", "--channel", "console:local:general", "--dry-run")
    assert dry.returncode == 0 and "(dry run)" in dry.stdout
    real = paperboy(demo_store, "digest", "--channel", "console:local:general")
    assert real.returncode == 0 and "Posted the digest" in real.stdout
