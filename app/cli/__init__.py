"""Command-line groups: `flask units`, `flask users`, `flask audit`, `flask access`, `flask demo`,
`flask print`, `flask lists`, `flask quality`; `flask backup` and `flask restore`."""
from __future__ import annotations

from flask import Flask


def register_cli(app: Flask) -> None:
    from app.cli import access, audit, backup, demo, lists, printing, quality, units, users

    app.cli.add_command(audit.audit_cli)
    app.cli.add_command(access.access_cli)
    app.cli.add_command(units.units_cli)
    app.cli.add_command(users.users_cli)
    app.cli.add_command(demo.demo_cli)
    app.cli.add_command(printing.print_cli)
    app.cli.add_command(lists.lists_cli)
    app.cli.add_command(backup.backup_command)
    app.cli.add_command(backup.restore_command)
    app.cli.add_command(quality.quality_cli)
