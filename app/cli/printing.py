"""`flask print book|village`: print books from the command line, with the same jobs, slots
and audit entries as the clerk's screen (the command waits for the render itself).

The command has no user of the app: the foot of every page names '命令行（<OS account>）',
the operating-system account that ran it (app.domain.print_jobs.imprint)."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from app import runs
from app.domain import print_jobs
from app.domain.errors import DomainError
from app.extensions import db
from app.models import AdminUnit, PrintJob, PrintJobKind, UnitLevel

print_cli = AppGroup("print", help="Print household cards and books (PDF).")

village_option = click.option("--village", "code", required=True, metavar="CODE", help="12-digit village code.")
size_option = click.option("--page-size", type=click.Choice(print_jobs.PAGE_SIZES), default="A4", show_default=True)


def _village(code: str) -> AdminUnit:
    village = db.session.scalar(select(AdminUnit).where(AdminUnit.code == code,
                                                        AdminUnit.level == UnitLevel.village.value))
    if village is None:
        raise click.UsageError(f"no village with code {code}")
    return village


def _run(village: AdminUnit, kind: PrintJobKind, page_size: str, book_no: int | None = None) -> PrintJob:
    try:
        job = print_jobs.request_job(None, village, kind, book_no=book_no, page_size=page_size)
    except DomainError as error:
        db.session.rollback()
        click.echo(f"error: {error.message}", err=True)
        sys.exit(1)
    db.session.commit()
    with click.progressbar(length=job.total_steps, label=f"{village.name}: books", file=sys.stderr) as bar:
        job = runs.run_print_job(job.id, on_step=lambda done, total: bar.update(1))
    return job


@print_cli.command("book")
@village_option
@click.option("--book", "book_no", type=int, required=True, help="Book number (1, 2, ...).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True, path_type=Path), required=True)
@size_option
def book_command(code: str, book_no: int, output: Path, page_size: str) -> None:
    """Print one book of a village to OUTPUT (a PDF)."""
    village = _village(code)
    job = _run(village, PrintJobKind.book, page_size, book_no)
    shutil.copyfile(print_jobs.file_path(job, 0), output)
    click.echo(f"{output}: {village.name}, book {book_no}")


@print_cli.command("village")
@village_option
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the books (made if missing), one PDF a book.")
@size_option
def village_command(code: str, output: Path, page_size: str) -> None:
    """Print every book of a village into the folder OUTPUT."""
    village = _village(code)
    job = _run(village, PrintJobKind.village, page_size)
    output.mkdir(parents=True, exist_ok=True)
    for index, item in enumerate(job.files):
        shutil.copyfile(print_jobs.file_path(job, index), output / item["name"])
        click.echo(output / item["name"])
