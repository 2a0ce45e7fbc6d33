"""How far a long step of `flask demo` is, for the command to show (the domain only counts).

A `Progress` is called as progress(step, done, total): with done 0 when the step starts, as
items are done, and with done == total when it ends. Steps: "users", "households", "chain"
(app.demo.workflow) and "events" (app.demo.events).
"""
from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]


def no_progress(step: str, done: int, total: int) -> None:
    return None
