"""`/papers top` and `/papers schedule recap` in the console, through the real `paperboy run --console`."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_console import demo_store, paperboy

__all__ = ["demo_store"]


def test_console_votes_then_top_lists_them_and_the_recap_day_is_set(demo_store: Path) -> None:
    lines = "\n".join(
        [
            "/papers top",
            "/papers vote 2311.13681",
            "/papers vote 2205.13147",
            "/papers top week",
            "/papers schedule recap wednesday",
            "/papers schedule recap someday",
        ]
    )
    result = paperboy(demo_store, "run", "--console", stdin=lines + "\n")

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Nobody here voted for a paper in the last week" in out
    assert "Most voted papers of the week in this workspace" in out
    assert "[2311.13681] — 1 vote" in out and "[2205.13147] — 1 vote" in out
    assert "Weekly recap: Wednesdays at 09:00" in out
    assert "'someday' is not a day of the week" in out
