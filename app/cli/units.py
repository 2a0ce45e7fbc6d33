"""`flask units import FILE`: load the NBS division tree (see app.domain.units_import)."""
from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale

from app.domain import units_import
from app.domain.errors import DomainError
from app.extensions import db

units_cli = AppGroup("units", help="Administrative units (行政区划).")

# Exit codes. 2 is click's own "wrong usage" code, so row errors get 3.
EXIT_ROW_ERRORS = 3
SHOW_ERRORS = 20


@units_cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--under", metavar="CODE", default=None,
              help="Import only the subtree of this 12-digit code (rows whose code starts with its "
                   "significant digits: 2 for a province, 4 a city, 6 a county, 9 a township), "
                   "with its ancestors from the file.")
@click.option("--verbose", "-v", is_flag=True, help="Print every row error, not only the first 20.")
@click.option("--errors-file", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              help="Write every row error to this CSV file (line,code,field,reason,message).")
@click.option("--dry-run", is_flag=True, help="Check and count everything, then save nothing.")
def import_command(file: Path, under: str | None, verbose: bool, errors_file: Path | None,
                   dry_run: bool) -> None:
    """Import units from FILE (code,name,level,parent_code; .csv or .csv.gz).

    Rows may be in any order. Running it again changes nothing but the audit log: existing
    codes are left alone, a changed name is updated ("renamed"); a changed level or parent is reported as a
    row error and not applied (moving units is not done by an import). A bad row is reported
    with its line number (the header is line 1) and the valid rows are still imported. All
    is saved in one transaction, with one audit entry.

    Exit status: 0 all rows imported; 1 the file could not be read (or --under selects
    nothing): nothing was imported; 2 wrong usage; 3 the valid rows were imported and some
    rows were rejected (printed).
    """
    # A fixed locale: without a request the locale selector cannot read a session.
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")):
        started = time.perf_counter()
        try:
            report = units_import.import_units(file, under=under)
        except DomainError as e:
            db.session.rollback()
            raise click.ClickException(e.message) from e
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
        _print_report(report, time.perf_counter() - started, dry_run=dry_run, verbose=verbose)
        if errors_file is not None:
            _write_errors(errors_file, report.errors)
            click.echo(f"All {len(report.errors)} row errors written to {errors_file}.")
    if report.errors:
        sys.exit(EXIT_ROW_ERRORS)


def _print_report(report: units_import.ImportReport, seconds: float, *, dry_run: bool, verbose: bool) -> None:
    by_level = ", ".join(f"{level} {n:,}" for level, n in report.created_by_level.items())
    click.echo(f"{'Checked (dry run, nothing saved)' if dry_run else 'Imported'} {report.source}: "
               f"{report.rows:,} rows in {seconds:.1f} s")
    click.echo(f"  created   {report.created:,}" + (f" ({by_level})" if by_level else ""))
    click.echo(f"  renamed   {report.renamed:,}")
    click.echo(f"  unchanged {report.unchanged:,}")
    click.echo(f"  errors    {len(report.errors):,}")
    if report.under:
        click.echo(f"  skipped   {report.skipped:,} (outside --under {report.under})")
    if not report.errors:
        return
    shown = report.errors if verbose else report.errors[:SHOW_ERRORS]
    click.echo("Row errors (line: code: message):")
    for error in shown:
        click.echo(f"  line {error.line}: {error.code or '(no code)'}: {error.message}")
    if len(shown) < len(report.errors):
        click.echo(f"  ... and {len(report.errors) - len(shown):,} more (see --verbose or --errors-file).")


def _write_errors(path: Path, errors: list[units_import.RowError]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["line", "code", "field", "reason", "message"])
        for e in errors:
            writer.writerow([e.line, e.code, e.field, e.reason, e.message])
