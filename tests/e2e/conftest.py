"""The demo store the console tests start from, made once per session (and xdist worker) and copied."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder where `paperboy ingest demo --if-empty` made its store and index, to copy, never to change."""
    from tests.e2e.test_console import paperboy

    folder = tmp_path_factory.mktemp("demo-store")
    result = paperboy(folder, "ingest", "demo", "--if-empty")
    assert result.returncode == 0, result.stderr
    assert "50 new" in result.stdout
    return folder
