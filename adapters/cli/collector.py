"""The garbage collector while `paperboy` starts: paused during the imports, frozen and back on for the work.

Start-up imports SQLAlchemy, pydantic, typer and the core: hundreds of thousands of objects that live until
exit and form next to no garbage cycles, so the collections they trigger only walk a growing heap (about a
tenth of `paperboy search`). The console script pauses the collector first; a command turns it back on when
its work starts (`run_async`), after freezing what start-up made so that no collection walks it again.
"""

from __future__ import annotations

import gc

_paused = False


def pause_collector() -> None:
    """Turn off automatic garbage collection for the start-up of the console script."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume_collector() -> None:
    """Freeze what start-up made and turn automatic collection back on, if `pause_collector` turned it off.

    Only then: a process that did not pause (a test invoking a command in-process) keeps its collector as
    it was, and its objects are not frozen.
    """
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()
