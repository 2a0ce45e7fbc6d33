"""`flask audit verify`: walk the hash chain and report the first broken link."""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from app.domain import audit

audit_cli = AppGroup("audit", help="The audit log.")


@audit_cli.command("verify")
def verify() -> None:
    """Check every entry's link and hash, in order."""
    report = audit.verify_chain()
    if report.ok:
        click.echo(f"audit chain intact: {report.checked} entries")
        return
    click.echo(f"audit chain BROKEN at entry {report.broken_id}: {report.reason} "
               f"({report.checked} entries before it are intact)", err=True)
    sys.exit(1)
