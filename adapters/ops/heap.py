"""Keeping a long-running process's heap small: few malloc arenas, and freed memory given back to the system.

glibc's malloc gives each thread that allocates at the same time as another an arena of its own, up to eight a
core. `paperboy run` has a dozen threads (the event loop's workers that search the index, one for each SQLite
connection, tantivy's): every arena keeps the memory freed in it for its own thread, and no arena gives back
the free pages below its top. Two arenas and a trim after each round of work (a digest tick and its
deliveries, a burst of searches) return those pages: about 10 MB of the run's anonymous memory at 1M papers
(`paperboy bench memory`). Elsewhere than on glibc (musl, macOS) both do nothing.
"""

from __future__ import annotations

import ctypes
import functools
import os

MALLOC_ARENAS = 2
# mallopt's parameter number for the most arenas (malloc.h, M_ARENA_MAX).
_M_ARENA_MAX = -8


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc's, else None."""
    try:
        version = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        return None
    if not version or not version.startswith("glibc"):
        return None
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Let at most `arenas` malloc arenas serve every thread from now on; False when not done.

    Call it before the process starts its threads. An operator's MALLOC_ARENA_MAX or GLIBC_TUNABLES wins.
    """
    if "MALLOC_ARENA_MAX" in os.environ or "GLIBC_TUNABLES" in os.environ:
        return False
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, arenas))


def trim_heap() -> bool:
    """Give the free pages of every malloc arena back to the system (malloc_trim); False when none were."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(0))
