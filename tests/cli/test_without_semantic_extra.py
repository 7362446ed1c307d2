"""Commands that need the semantic extra say, without it, what to install: one sentence, exit 1, no traceback."""

from __future__ import annotations

from pathlib import Path

from tests.cli.without_extra import env_without_semantic_extra, run_paperboy


def test_bench_hybrid_without_the_extra_says_what_to_install(tmp_path: Path) -> None:
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'paperboy.db'}", **env_without_semantic_extra(tmp_path)}

    said = run_paperboy(tmp_path, "bench", "hybrid", "--papers", "100", "--workdir", str(tmp_path), env=env)

    assert said.returncode == 1
    assert said.stderr == (
        "`paperboy bench hybrid` needs the semantic extra (no numpy here): pip install 'paperboy-bot[semantic]'.\n"
    )
    assert said.stdout == ""
