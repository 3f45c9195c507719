"""The garbage collector over the life of a ``wfe`` process.

Starting a command allocates objects that live as long as the process (modules, classes, pydantic's validators)
and few cycles to reclaim, yet the collector would walk them over and over as they pile up; at exit, the
interpreter walks them all once more. The console script pauses the collector while a command starts
(:func:`pause`); a command that runs for a while (anything on the event loop: a host, a follow, a query) resumes
it first with what start-up made frozen, so later collections skip those objects (:func:`resume`); at exit
everything is frozen (:func:`finish`). Used by the console script only: ``cli`` called in-process, from tests
or another program, leaves the caller's collector alone.
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    """Stop collecting until :func:`resume` (the console script's start)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Collect again, if :func:`pause` stopped it, leaving what is alive now out of every collection."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


def finish() -> None:
    """At the process's end: nothing alive now is looked at again (the interpreter's exit collects too)."""
    gc.freeze()
