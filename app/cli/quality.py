"""`flask quality ...`: quality checks of the registry (issue 17). The group only; each
command lives in its own module and adds itself at the end of this file (duplicates:
app/cli/duplicates.py)."""
from __future__ import annotations

from flask.cli import AppGroup

quality_cli = AppGroup("quality", help="Quality checks of the registry (rules, duplicates).")


# `flask quality duplicates [--unit CODE]`: duplicate persons (app/cli/duplicates.py).
def _add_duplicates() -> None:
    from app.cli.duplicates import duplicates_command
    quality_cli.add_command(duplicates_command)


_add_duplicates()
