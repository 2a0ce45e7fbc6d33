"""`flask quality duplicates [--unit CODE] [--as USERNAME]`: duplicate persons in the register
(app.domain.duplicates), stored as candidates for review. Part of the `flask quality` group
(app/cli/quality.py adds it there).

Prints `run_id=N` and the counts: `records=N found=N new=N seen_again=N gone=N open=N`
(open: the area's open candidates after the run). Times go to stderr.
Exit status: 0 done; 1 refused (no such unit, no such user, outside the user's area):
nothing was stored; 2 wrong usage."""
from __future__ import annotations

import sys
import time

import click
from flask import current_app
from flask_babel import force_locale

from app.cli.users_named import active_user, first_sysadmin, unit_named
from app.domain import duplicates
from app.domain.errors import DomainError
from app.extensions import db, reads_only
from app.models import User


def _actor(username: str | None) -> User:
    """Who runs it: --as, else the first active system administrator (a run reads the
    register of its actor's area, and is audited as theirs)."""
    if username:
        return active_user(username)
    admin = first_sysadmin()
    if admin is None:
        raise click.ClickException("name the user whose area is searched with --as USERNAME")
    return admin


@click.command("duplicates")
@click.option("--unit", "unit_code", metavar="CODE", help="Only the persons of this unit (its code), e.g. a township.")
@click.option("--as", "username", metavar="USERNAME",
              help="The user whose area is searched (default: the first system administrator).")
def duplicates_command(unit_code: str | None, username: str | None) -> None:
    """Find duplicate persons (重复人口) in the register and store them as candidates for review."""
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")):
        with reads_only():  # SQLite: looked up without the write lock, which the run takes only to store
            actor = _actor(username)
            unit_id = None
            if unit_code:
                unit_id = unit_named(unit_code).id
        db.session.commit()  # ends the read (nothing was written)
        started = time.perf_counter()
        try:
            result = duplicates.run_duplicates(actor, unit_id=unit_id)
        except DomainError as e:
            db.session.rollback()
            raise click.ClickException(e.message) from e
        db.session.commit()
    click.echo(f"run_id={result.run_id}")
    click.echo(f"records={result.records} found={result.found} new={result.new} seen_again={result.seen_again} "
               f"gone={result.gone} open={result.open}")
    for block in result.capped_blocks:
        click.echo(f"capped block: {block['rule']} {block['key']} ({block['size']} records, not paired)")
    times = " ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items())
    print(f"duplicates: {times}; total {time.perf_counter() - started:.1f} s", file=sys.stderr)
