"""`flask quality scorecard --unit CODE --format csv [-o FILE] [--round R]`: the village
scorecard of a unit for scripts and checks, from the same rows as the page
(app.domain.scorecard): one row per child unit with exactly the issue's columns, then a last row
for the unit asked for with its own code. Rates are fractions 0-1, empty where the denominator
is 0; `accepted` is 1 when the village (all villages of a higher unit) is accepted in the round.

Exit status: 0 written; 1 no such unit; 2 wrong usage (click; a round not of 1-20 characters).
"""
from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import click
from sqlalchemy import select

from app.domain import scorecard as domain
from app.domain import settings
from app.extensions import db, reads_only
from app.models import AdminUnit


@click.command("scorecard")
@click.option("--unit", "code", required=True, metavar="CODE", help="The unit's 12-digit code.")
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              help="Write to this file (default: standard output).")
@click.option("--round", "round_", default=None, metavar="ROUND",
              help="The acceptance round (default: ACCEPTANCE_ROUND, or this year).")
def scorecard_command(code: str, fmt: str, output: Path | None, round_: str | None) -> None:
    """Write the scorecard of the unit CODE and its child units as CSV."""
    if round_ is not None:
        try:  # a round longer than the column would fail in the database, after the work
            round_ = settings.check_round(round_)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--round") from None
    with reads_only():
        unit = db.session.scalar(select(AdminUnit).where(AdminUnit.code == code.strip()))
        if unit is None:
            click.echo(f"错误 error: 没有代码为{code}的行政区划 / no unit with code {code!r}", err=True)
            sys.exit(1)
        card = domain.scorecard(unit, round_ or settings.current().acceptance_round)
        rows = domain.csv_rows(card)
        db.session.rollback()  # end the read-only transaction
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=domain.CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    if output is None:
        click.echo(buffer.getvalue(), nl=False)
    else:
        output.write_text(buffer.getvalue(), encoding="utf-8")
        click.echo(f"{len(rows)} rows -> {output}", err=True)
