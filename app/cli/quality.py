"""`flask quality`: the quality checks and village acceptance (issue 17). The group only; its
commands live in their own modules (app/cli/scorecard.py, ...) and are added in register_cli."""
from __future__ import annotations

from flask.cli import AppGroup

quality_cli = AppGroup("quality", help="Quality checks, scorecards and village acceptance.")
