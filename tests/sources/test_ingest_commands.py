"""`paperboy ingest hf` and `paperboy ingest arxiv`: counts on success, one sentence and exit 1 on failure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from adapters.cli import ingest as sources_cli
from adapters.cli.main import app as paperboy_cli
from adapters.settings import Settings
from adapters.sources.arxiv import ArxivClient, ArxivPacer
from adapters.sources.hf import HuggingFaceClient
from adapters.sources.http import RetryPolicy
from tests.fakes.hf import demo_items, serve

from .conftest import RecordedSleep, Script, make_item
from .test_arxiv_client import entry, feed

FAST = RetryPolicy(attempts=2, backoff_initial=0.01, jitter=0.0)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SQLite store and index for the commands, and no `.env` from the developer's folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'paperboy.db'}")
    monkeypatch.setenv("PAPERBOY_INDEX_DIR", str(tmp_path / "index"))
    return tmp_path


@pytest.fixture
def fast_hf(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hugging Face clients that retry quickly, so failing runs end at once."""

    def make(settings: Settings) -> HuggingFaceClient:
        return HuggingFaceClient(settings.hf_api_url, policy=FAST, sleep=RecordedSleep())

    monkeypatch.setattr(sources_cli, "hf_client", make)


@pytest.fixture
def demo_day(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The demo items plus one broken item, served by the loopback fake."""
    items = demo_items()
    broken = make_item("2509.00009", day="2025-09-01", upvotes="many")
    with serve([*items, broken]) as (url, _fake):
        monkeypatch.setenv("HF_API_URL", url)
        yield url


def run(*args: str) -> Any:
    return CliRunner().invoke(paperboy_cli, ["ingest", *args])


def test_ingest_hf_reports_new_updated_and_skipped(env: Path, demo_day: str) -> None:
    first = run("hf", "--date", "2025-09-01")
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "50 new, 0 updated, 1 skipped"
    again = run("hf", "--date", "2025-09-01")
    assert again.stdout.strip() == "0 new, 0 updated, 1 skipped (50 unchanged)"


def test_ingest_hf_by_week_reads_every_page(env: Path, demo_day: str) -> None:
    result = run("hf", "--week", "2025-W36")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "50 new, 0 updated, 1 skipped"


def test_ingest_hf_since_reads_each_day_until_today(env: Path, demo_day: str) -> None:
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    result = run("hf", "--since", yesterday)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "0 new, 0 updated, 0 skipped"


def test_unreachable_hugging_face_exits_1_with_one_sentence(
    env: Path, fast_hf: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_API_URL", "http://127.0.0.1:9")
    result = run("hf", "--date", "2025-09-01")
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Could not connect to Hugging Face at http://127.0.0.1:9/api/daily_papers")


def test_an_html_answer_exits_1_and_stores_nothing(
    env: Path, fast_hf: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def html(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, text="<html><body>Maintenance</body></html>", headers={"Content-Type": "text/html"}
        )

    def make(settings: Settings) -> HuggingFaceClient:
        return HuggingFaceClient("http://hf.test", Script(html).client(), policy=FAST)

    monkeypatch.setattr(sources_cli, "hf_client", make)
    result = run("hf", "--date", "2025-09-01")
    assert result.exit_code == 1
    assert "HTML page instead of JSON" in result.stderr
    assert not (env / "paperboy.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["hf", "--date", "2025-09-01", "--week", "2025-W36"],
            "Give only one of --date, --week, --month or --since",
        ),
        (["hf", "--week", "36"], "write YYYY-Www, e.g. 2025-W36"),
        (["hf", "--month", "2025-13"], "write YYYY-MM"),
        (["hf", "--date", "yesterday"], "--date takes a date like 2025-09-01"),
        (["hf", "--since", "2999-01-01"], "is in the future"),
        (["hf", "--since", "2001-01-01"], "use --month"),
        (["arxiv"], "Give either --ids"),
        (["arxiv", "--ids", "12345"], "is not an arXiv id"),
        (["arxiv", "--category", "computer science"], "is not an arXiv category"),
    ],
)
def test_bad_options_are_refused_with_what_would_work(env: Path, args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr


@pytest.fixture
def fake_arxiv(monkeypatch: pytest.MonkeyPatch) -> Script:
    """arXiv answering id lists for the ids it knows, and category listings with two papers."""

    def answer(request: httpx.Request) -> httpx.Response:
        if "id_list" in request.url.params:
            asked = request.url.params["id_list"].split(",")
            return feed(*(entry(i, categories=("cs.LG", "cs.CV")) for i in asked if i != "2509.99999"))
        return feed(entry("2509.00001"), entry("2509.00002"))

    script = Script(answer)

    def make(settings: Settings) -> ArxivClient:
        return ArxivClient(
            "http://arxiv.test/api/query",
            script.client("http://arxiv.test"),
            pacer=ArxivPacer(0),
            policy=FAST,
        )

    monkeypatch.setattr(sources_cli, "arxiv_client", make)
    return script


def test_ingest_arxiv_by_ids(env: Path, fake_arxiv: Script) -> None:
    result = run("arxiv", "--ids", "2205.13147", "arxiv.org/abs/1506.03134v1", "2509.99999")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "2 new, 0 updated, 1 skipped"
    assert fake_arxiv.requests[0].url.params["id_list"] == "2205.13147,1506.03134,2509.99999"


def test_ingest_arxiv_newest_of_a_category(env: Path, fake_arxiv: Script) -> None:
    result = run("arxiv", "--category", "cs.CL", "--max", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "2 new, 0 updated, 0 skipped"
    assert fake_arxiv.requests[0].url.params["search_query"] == "cat:cs.CL"


def test_unreachable_arxiv_exits_1_with_one_sentence(env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def make(settings: Settings) -> ArxivClient:
        return ArxivClient(
            "http://127.0.0.1:9/api/query", pacer=ArxivPacer(0), policy=FAST, sleep=RecordedSleep()
        )

    monkeypatch.setattr(sources_cli, "arxiv_client", make)
    result = run("arxiv", "--ids", "2205.13147")
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("Could not connect to arXiv")
    assert len(result.stderr.strip().splitlines()) == 1


def test_done_when_hf_day_from_a_loopback_fake_is_visible_through_paperboy_paper(tmp_path: Path) -> None:
    """The issue's acceptance check, as a user runs it: two `paperboy` processes against a loopback fake."""
    items = demo_items()
    for item in items:
        item["paper"]["ai_summary"] = f"Summary of {item['paper']['title']}."
        item["paper"]["ai_keywords"] = ["representation learning", "embeddings"]
    environment = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'paperboy.db'}",
        "PAPERBOY_INDEX_DIR": str(tmp_path / "index"),
    }
    paperboy = [str(Path(sys.executable).parent / "paperboy")]
    with serve(items) as (url, _fake):
        ingest = subprocess.run(
            [*paperboy, "ingest", "hf", "--date", "2025-09-01"],
            env={**environment, "HF_API_URL": url},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert ingest.returncode == 0, ingest.stderr
    assert ingest.stdout.strip() == "50 new, 0 updated, 0 skipped"
    shown = subprocess.run(
        [*paperboy, "paper", "2205.13147", "--json"],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    paper = json.loads(shown.stdout)
    assert paper["title"] == "Matryoshka Representation Learning"
    assert paper["hf_upvotes"] == 250
    assert paper["featured_on"] == "2025-09-01"
    assert paper["ai_summary"] == "Summary of Matryoshka Representation Learning."
    assert paper["ai_keywords"] == ["representation learning", "embeddings"]
    assert paper["github_repo"] == "https://github.com/RAIVNLab/MRL"


def test_an_unwritable_database_exits_1_with_one_sentence(
    tmp_path: Path, demo_day: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'missing-folder' / 'paperboy.db'}")
    monkeypatch.setenv("PAPERBOY_INDEX_DIR", str(tmp_path / "index"))
    result = run("hf", "--date", "2025-09-01")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
