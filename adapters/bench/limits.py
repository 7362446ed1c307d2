"""A hard memory limit for a benchmarked process, as a container sets one: a Linux memory cgroup of its own.

Resident memory (RSS) counts the search index's pages that the process has mapped, although they are the kernel's
page cache: clean, shared, and dropped when memory is short. A cgroup limit is what a container runtime enforces,
and it charges those pages to the process's group: at the limit the kernel drops the least used pages (mapped
index pages among them) instead of letting the group grow, and kills the process only when what it owns itself
does not fit. So a run inside a limit shows whether Paperboy works within that much memory, and what the limit
costs searches.

Pages already cached were charged to whoever read them first, not to the new group; the benchmark's files are
evicted from the page cache before the run (posix_fadvise DONTNEED), so the run reads and is charged for
everything it touches.

Needs a writable memory controller: cgroup v2 (`memory` in /sys/fs/cgroup/cgroup.subtree_control) or v1
(/sys/fs/cgroup/memory), as root or with a delegated group.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
_MB = 1024 * 1024


class LimitUnavailable(RuntimeError):
    """This machine gives the benchmark no memory cgroup to make."""


@dataclass(frozen=True, slots=True)
class MemoryLimit:
    """A memory cgroup of the benchmark's own, limited to `megabytes`."""

    folder: Path
    megabytes: int
    version: int

    @classmethod
    def create(cls, megabytes: int, name: str) -> MemoryLimit:
        """Make the group (v2 where its children get the memory controller, else v1) and set its limit.

        Swap is held to nothing as well where the group can say so: a process over its limit is then made to
        fit or killed, not swapped out.
        """
        v2 = "memory" in _words(CGROUP_ROOT / "cgroup.subtree_control")
        parent = CGROUP_ROOT if v2 else CGROUP_ROOT / "memory"
        if not v2 and not (parent / "memory.limit_in_bytes").is_file():
            raise LimitUnavailable("No memory cgroup controller here (neither cgroup v2's nor v1's).")
        folder = parent / name
        try:
            folder.mkdir()
        except FileExistsError:
            raise LimitUnavailable(f"The memory cgroup {folder} exists already; remove it first.") from None
        except OSError as error:
            raise LimitUnavailable(f"Cannot make a memory cgroup in {parent}: {error.strerror}.") from None
        limit = cls(folder, megabytes, 2 if v2 else 1)
        size = str(megabytes * _MB)
        try:
            if v2:
                (folder / "memory.max").write_text(size)
                _write_if_there(folder / "memory.swap.max", "0")
            else:
                (folder / "memory.limit_in_bytes").write_text(size)
                # Memory and swap together, no more than memory alone (set after it: never below it).
                _write_if_there(folder / "memory.memsw.limit_in_bytes", size)
        except OSError as error:
            limit.remove()
            raise LimitUnavailable(f"Cannot limit the memory cgroup {folder}: {error.strerror}.") from None
        return limit

    def command(self, command: list[str]) -> list[str]:
        """`command` started inside the group: a shell moves itself in, then becomes the command."""
        procs = str(self.folder / "cgroup.procs")
        return ["sh", "-c", 'echo $$ > "$0" && exec "$@"', procs, *command]

    def peak_mb(self) -> float:
        """The most memory the group was charged at once (v2 needs Linux 5.19 for it; else NaN)."""
        name = "memory.peak" if self.version == 2 else "memory.max_usage_in_bytes"
        try:
            return int((self.folder / name).read_text()) / _MB
        except (OSError, ValueError):
            return float("nan")

    def events(self) -> dict[str, int]:
        """How often the group reached its limit and how many of its processes the kernel killed for it."""
        if self.version == 2:
            counts = _pairs(self.folder / "memory.events")
            return {"at the limit": counts.get("max", 0), "killed": counts.get("oom_kill", 0)}
        try:
            failures = int((self.folder / "memory.failcnt").read_text())
        except (OSError, ValueError):
            failures = 0
        return {
            "at the limit": failures,
            "killed": _pairs(self.folder / "memory.oom_control").get("oom_kill", 0),
        }

    def remove(self) -> bool:
        """Delete the group (its processes have exited); False when it could not be."""
        try:
            self.folder.rmdir()
        except FileNotFoundError:
            return True
        except OSError:
            return False
        return True


def _words(path: Path) -> list[str]:
    """The words of a cgroup file, or none when it is not there."""
    try:
        return path.read_text().split()
    except OSError:
        return []


def _write_if_there(path: Path, value: str) -> None:
    """Write a cgroup setting the kernel offers (swap accounting may be off)."""
    if path.is_file():
        path.write_text(value)


def _pairs(path: Path) -> dict[str, int]:
    """A cgroup file of `name value` lines."""
    pairs: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            with contextlib.suppress(ValueError):
                pairs[name] = int(value)
    return pairs


def evict_from_page_cache(paths: list[Path]) -> int:
    """Ask the kernel to drop the cached pages of these files (and of every file below these folders); their size.

    Each file is flushed first: the kernel keeps pages not yet written, and a store just filled has many.
    """
    files = [
        path for root in paths for path in ([root] if root.is_file() else root.rglob("*")) if path.is_file()
    ]
    asked = 0
    for path in files:
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
            asked += os.fstat(descriptor).st_size
        finally:
            os.close(descriptor)
    return asked
