"""`flask quality ...` (issue 17): the group, and `flask quality run [--unit CODE] [--as USERNAME]
[--workers N]`, the registry-wide run of the quality rules (app.domain.quality_runs). The
group's other commands live in their own modules (app/cli/duplicates.py, app/cli/scorecard.py)
and are added to it in app.cli.register_cli.

`flask quality run` Prints `run_id=N` on its own line, then
`open=N new=N resolved=N` (findings open in the unit after the run, opened by it, resolved by
it); progress goes to stderr. Each village is committed as it is done.

Exit status: 0 done; 1 refused (no such unit or user, not the user's area); 2 wrong usage."""
from __future__ import annotations

import sys
import time

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale

from app.cli.users_named import active_user, unit_named
from app.domain import quality_runs
from app.domain.errors import DomainError
from app.extensions import db

quality_cli = AppGroup("quality", help="Quality checks of the registry (质量核查), duplicates, scorecards and "
                                  "village acceptance.")


@quality_cli.command("run")
@click.option("--unit", "unit_code", metavar="CODE", help="The unit's code (default: the whole registry, or "
              "the whole area of --as).")
@click.option("--as", "username", metavar="USERNAME",
              help="Run as this clerk, verifier or county administrator: only their area is checked.")
@click.option("--workers", type=click.IntRange(0, 8), default=0, show_default=True,
              help="Processes that check the households while this one reads and writes (0: none).")
def run_command(unit_code: str | None, username: str | None, workers: int) -> None:
    """Run every rule over the current version of every household of the unit, store the
    findings (new ones opened, gone ones resolved) and each household's counts."""
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")):
        actor = active_user(username) if username else None
        unit_id = unit_named(unit_code).id if unit_code else None
        started = time.perf_counter()

        def progress(done: int, total: int) -> None:
            print(f"quality: {done:,} of {total:,} households, {time.perf_counter() - started:.1f} s",
                  file=sys.stderr, flush=True)

        try:
            r = quality_runs.start(actor, unit_id)
            db.session.commit()
        except DomainError as e:
            db.session.rollback()
            raise click.ClickException(e.message) from e
        click.echo(f"run_id={r.id}")
        try:
            result = quality_runs.run(actor, r.id, commit=db.session.commit, on_progress=progress,
                                      workers=workers)
        except Exception as e:
            db.session.rollback()
            quality_runs.fail(r.id, getattr(e, "message", None) or type(e).__name__)
            db.session.commit()
            if isinstance(e, DomainError):
                raise click.ClickException(e.message) from e
            raise
        db.session.commit()
    click.echo(f"open={result.open} new={result.opened} resolved={result.resolved}")
    print(f"quality: {result.households:,} households in {result.villages} villages, "
          f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
