"""`flask access verify [--head N:HASH]`, `flask access head`, `flask access flush`: the access log."""
from __future__ import annotations

import re
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from app import access_log

access_cli = AppGroup("access", help="The access log (who saw which household, person or list).")


def _anchor(value: str | None) -> tuple[int, str] | None:
    if not value:
        return None
    match = re.fullmatch(r"(\d{1,18}):([0-9a-f]{64})", value.strip())
    if not match:
        raise click.BadParameter("give the head as N:HASH, as `flask access head` printed it", param_hint="--head")
    return int(match.group(1)), match.group(2)


@access_cli.command("verify")
@click.option("--head", "head", metavar="N:HASH", help="a head printed earlier by `flask access head`")
def verify(head: str | None) -> None:
    """Check every batch's link, entry count and HMAC, in order (and that the anchored head is there)."""
    access_log.current().flush()  # what this process still holds, first
    report = access_log.verify(current_app.config["ACCESS_LOG_KEYS"], _anchor(head))
    if report.ok:
        click.echo(f"access log intact: {report.batches} batches, {report.entries} entries")
        return
    where = f"at batch {report.broken_batch}" if report.broken_batch is not None else "after the last batch"
    click.echo(f"access log BROKEN {where}: {report.reason} "
               f"({report.batches} batches, {report.entries} entries before it are intact)", err=True)
    sys.exit(1)


@access_cli.command("head")
def head() -> None:
    """Print the last batch's position and hash (N:HASH), to keep outside this machine."""
    access_log.current().flush()
    found = access_log.head()
    if found is None:
        click.echo("access log empty")
        return
    click.echo(f"{found[0]}:{found[1]}")
