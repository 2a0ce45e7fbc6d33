"""Command-line groups: `flask units`, `flask users`, `flask audit`, `flask demo`."""
from __future__ import annotations

from flask import Flask


def register_cli(app: Flask) -> None:
    from app.cli import audit

    app.cli.add_command(audit.audit_cli)
