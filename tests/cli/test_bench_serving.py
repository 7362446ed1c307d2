"""`paperboy bench serving` starts a real `paperboy run`, answers every timed search and prints the numbers."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from adapters.cli.main import app


def test_bench_serving_times_searches_from_the_first_second_of_a_real_run(tmp_path: Path) -> None:
    shown = CliRunner().invoke(
        app, ["bench", "serving", "--papers", "300", "--requests", "6", "--workdir", str(tmp_path)]
    )

    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0].startswith("paperboy bench serving: 300 papers (SQLite), index caught up;")
    assert any(
        line.strip().startswith("index catch-up with nothing new (in this process): ") for line in lines
    )
    [timed] = [line for line in lines if "one at a time from the first second" in line]
    assert "6 one at a time" in timed and " p50 " in timed and " p99 " in timed
    [slowest] = [line for line in lines if line.strip().startswith("slowest ten (ms @ s since start): ")]
    assert len(slowest.split(": ", 1)[1].split(", ")) == 6
    assert "errors: 0 answers were errors; exit code 0" in shown.output
    # The index it started from was caught up: the run had nothing to write.
    state = json.loads((tmp_path / "serving-300.index" / "paperboy-index.json").read_text())
    assert state["mark"] is not None


def test_bench_serving_rebuild_empties_the_index_the_run_makes_again(tmp_path: Path) -> None:
    first = CliRunner().invoke(
        app,
        ["bench", "serving", "--papers", "300", "--requests", "2", "--workdir", str(tmp_path), "--rebuild"],
    )

    assert first.exit_code == 0, first.output
    assert "index emptied before the start (rebuilt while serving)" in first.output
    assert "errors: 0 answers were errors; exit code 0" in first.output
    # The bench deleted the folder; the run made it again (and filled it as far as it got before it stopped).
    state = json.loads((tmp_path / "serving-300.index" / "paperboy-index.json").read_text())
    assert isinstance(state["schema_version"], int)
