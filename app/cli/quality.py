"""`flask quality ...`: the quality checks of the registry, duplicates, scorecards and
village acceptance (issue 17). The group only; each command lives in its own module
(app/cli/duplicates.py, app/cli/scorecard.py, ...), added to it in app.cli.register_cli."""
from __future__ import annotations

from flask.cli import AppGroup

quality_cli = AppGroup("quality", help="Quality checks, duplicates, scorecards and village acceptance.")

