"""Run `paperboy` as a fresh clone without the semantic extra would, even on a machine where it is installed.

A `sitecustomize` module on PYTHONPATH puts None in `sys.modules` for the extra's modules before anything
runs: `import numpy` then fails as if numpy were missing, and `importlib.util.find_spec("numpy")` (what
`missing_extra()` asks) returns None.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PAPERBOY = str(Path(sys.executable).with_name("paperboy"))
SEMANTIC_EXTRA_MODULES = ("numpy", "torch", "sentence_transformers")

_SITECUSTOMIZE = f"""\
import sys

# A test's stand-in for "the semantic extra is not installed".
for name in {SEMANTIC_EXTRA_MODULES!r}:
    sys.modules[name] = None
"""


def env_without_semantic_extra(folder: Path) -> dict[str, str]:
    """PYTHONPATH for a subprocess in which numpy, torch and sentence-transformers cannot be imported."""
    site = folder / "without-semantic-extra"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(_SITECUSTOMIZE)
    inherited = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": os.pathsep.join([str(site), inherited]) if inherited else str(site)}


def run_paperboy(
    folder: Path, *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The installed `paperboy` script with `args`, run in `folder` (no developer `.env`) with `env` added."""
    environment = {**os.environ, "PAPERBOY_REFRESH_MINUTES": "0", **env}
    for name in ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "SLACK_APP_TOKEN", "DISCORD_TOKEN"):
        environment.pop(name, None)
    return subprocess.run(
        [PAPERBOY, *args],
        capture_output=True,
        text=True,
        cwd=folder,
        env=environment,
        timeout=timeout,
        check=False,
    )
