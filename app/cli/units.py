"""`flask units ...` (being written)."""
from __future__ import annotations

from flask.cli import AppGroup

units_cli = AppGroup("units", help="units")
