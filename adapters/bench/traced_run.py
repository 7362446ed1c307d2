"""What holds the Python memory of a `paperboy run` that `paperboy bench memory --tracemalloc` started.

The child runs `install()` before `paperboy run` (see adapters.bench.memory.traced_command), with
PYTHONTRACEMALLOC=1 so that tracemalloc counts from the interpreter's first allocation, imports included. On
SIGUSR1 it writes the top holders to PAPERBOY_BENCH_TRACE_FILE (JSON, written whole then renamed into place)
and goes on serving. Only the standard library is imported here: the child's memory is what is measured.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import sys
import sysconfig
import tracemalloc
from pathlib import Path
from types import FrameType

TRACE_FILE_VARIABLE = "PAPERBOY_BENCH_TRACE_FILE"
TOP = 12
_PROJECT = Path(__file__).resolve().parents[2]
_STDLIB = sysconfig.get_paths()["stdlib"]
# Where the interpreter turns a module's compiled file into code objects (marshal) and builds its module.
_IMPORT_MACHINERY = ("<frozen importlib._bootstrap_external>", "<frozen importlib._bootstrap>")


def holder(filename: str) -> str:
    """Who an allocation made in `filename` belongs to: a package, the project's package, or the stdlib."""
    if filename in _IMPORT_MACHINERY:
        return "code of imported modules (importlib)"
    if "site-packages" in filename:
        return filename.split("site-packages", 1)[1].strip("/").split("/", 1)[0].removesuffix(".py")
    if filename.startswith(str(_PROJECT)):
        return Path(filename).relative_to(_PROJECT).parts[0].removesuffix(".py")
    if filename.startswith(_STDLIB):
        return "stdlib " + Path(filename).relative_to(_STDLIB).parts[0].removesuffix(".py")
    return filename


def top_allocations(snapshot: tracemalloc.Snapshot) -> dict[str, object]:
    """The traced total, tracemalloc's own cost, and the biggest holders by package and by line."""
    traced, peak = tracemalloc.get_traced_memory()
    by_holder: collections.Counter[str] = collections.Counter()
    for stat in snapshot.statistics("filename"):
        by_holder[holder(stat.traceback[0].filename)] += stat.size
    lines = [
        {"size": stat.size, "count": stat.count, "where": f"{frame.filename}:{frame.lineno}"}
        for stat in snapshot.statistics("lineno")[:TOP]
        for frame in [stat.traceback[0]]
    ]
    return {
        "traced": traced,
        "peak": peak,
        "overhead": tracemalloc.get_tracemalloc_memory(),
        "modules": len(sys.modules),
        "holders": [{"holder": name, "size": size} for name, size in by_holder.most_common(TOP)],
        "lines": lines,
    }


def _write_top(signum: int, frame: FrameType | None) -> None:
    target = Path(os.environ[TRACE_FILE_VARIABLE])
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(json.dumps(top_allocations(snapshot)))
    temporary.replace(target)


def install() -> None:
    """Write the top allocations to PAPERBOY_BENCH_TRACE_FILE on SIGUSR1 (tracemalloc started if it was not)."""
    if not tracemalloc.is_tracing():
        tracemalloc.start()
    signal.signal(signal.SIGUSR1, _write_top)
