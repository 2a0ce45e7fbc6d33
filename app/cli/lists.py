"""`flask lists import|withdraw|problems`: department lists and registers from the command
line, with the same lists, problems and audit entries as the clerk's page.

Without --as the operator acts as the system (actor None, as `flask units` and `flask users`):
any unit, and rows without a village are kept at the root of the tree. With --as USERNAME the
import is that user's: their area (permission list.import), their unit.

Exit status: 0 imported (also: already imported, the same list); 1 nothing imported (the file
cannot be read, the mapping is incomplete, a bad option); 2 wrong usage (click).
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click
import exchange
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select

from app.domain import lists as domain
from app.domain.errors import DomainError
from app.extensions import db
from app.models import User

lists_cli = AppGroup("lists", help="Imported lists (police, births, deaths, registers).")
SHOW_PROBLEMS = 20


def _locale():
    # A fixed locale: without a request the app's locale selector cannot run.
    return force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN"))


def _fail(messages: dict[str, str] | str, code: int = 1) -> None:
    """Nothing was imported: say why, in Chinese and English, and exit non-zero."""
    db.session.rollback()
    if isinstance(messages, dict):
        text = messages.get("zh", "")
        if messages.get("en") and messages.get("en") != text:
            text += "\n" + messages["en"]
    else:
        text = messages
    click.echo(f"错误 error: {text}", err=True)
    sys.exit(code)


def _messages(error: DomainError) -> dict[str, str] | str:
    return getattr(error, "messages", None) or error.message


def _actor(username: str | None) -> User | None:
    if username is None:
        return None
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        _fail({"zh": f"没有用户{username}（或已停用）", "en": f"no active user {username!r}"})
    return user


@lists_cli.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--source", required=True, type=click.Choice(exchange.SOURCES),
              help="Where the list comes from.")
@click.option("--month", default=None, metavar="YYYY-MM", help="The month the list covers.")
@click.option("--mapping", "mapping_name", default=None, metavar="NAME",
              help="Use and save the column mapping of this name (default: the source's).")
@click.option("--map", "maps", multiple=True, metavar="COLUMN=FIELD",
              help="Put a column on a field (COLUMN= leaves it unmapped); repeatable. Fields: "
                   + ", ".join(exchange.FIELDS) + ".")
@click.option("--dry-run", is_flag=True, help="Check and count everything, then save nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of lines.")
@click.option("--as", "username", default=None, metavar="USERNAME",
              help="Import as this user (their area and unit); default: the system.")
@click.option("--sheet", default=None, help="The sheet of an Excel file (default: the one with the best header).")
def import_command(file: Path, source: str, month: str | None, mapping_name: str | None, maps: tuple[str, ...],
                   dry_run: bool, as_json: bool, username: str | None, sheet: str | None) -> None:
    """Import the list in FILE (CSV in UTF-8/GBK/GB18030, .csv.gz, or XLSX).

    Prints `list_id=N` (the same N when the file was imported already), then the rows read,
    loaded, flagged (kept, a value to check), refused (not imported) and duplicate (already
    in a list of the same source and month), and the first problems with their line numbers.
    Progress goes to standard error.
    """
    with _locale():
        overrides: dict[str, str] = {}
        for option in maps:
            try:
                column, target = exchange.parse_map_option(option)
            except exchange.MappingError as e:
                _fail(e.message)
            overrides[column] = target
        actor = _actor(username)
        started = time.perf_counter()

        def progress(read: int) -> None:
            click.echo(f"{read:,} rows read, {time.perf_counter() - started:.1f} s", err=True)

        try:
            result = domain.import_list(actor, file, source=source, month=month, mapping_name=mapping_name,
                                        overrides=overrides, dry_run=dry_run, on_progress=progress,
                                        commit=None if dry_run else db.session.commit, sheet=sheet)
        except DomainError as e:
            _fail(_messages(e))
        if dry_run:
            db.session.rollback()
        else:
            db.session.commit()
        seconds = time.perf_counter() - started
        problems = result.problems
        if result.existing and result.list_id is not None:
            problems = list(domain.problems_of(result.list_id, limit=SHOW_PROBLEMS))
        if as_json:
            click.echo(json.dumps({
                "list_id": result.list_id, "existing": result.existing, "dry_run": dry_run,
                "read": result.read, "loaded": result.loaded, "flagged": result.flagged,
                "refused": result.refused, "duplicate": result.duplicate,
                "mapping": result.proposal.fields if result.proposal else {},
                "extras": result.proposal.extras if result.proposal else [],
                "seconds": round(seconds, 1),
                "problems": [{"line": p.line, "column": p.column, "field": p.field, "value": p.value,
                              "reason": p.reason, "message": p.message.get("zh"), "refused": p.refused}
                             for p in problems],
            }, ensure_ascii=False))
            return
        _print_report(result, problems, seconds, dry_run)


def _print_report(result: domain.ImportResult, problems: list[exchange.RowProblem], seconds: float,
                  dry_run: bool) -> None:
    if result.list_id is not None:
        click.echo(f"list_id={result.list_id}")
    if result.existing:
        click.echo(_("This file was imported already: nothing was added."))
    elif dry_run:
        click.echo(_("Dry run: nothing was saved."))
    counts = ((_("rows read"), result.read), (_("loaded"), result.loaded), (_("flagged"), result.flagged),
              (_("refused"), result.refused), (_("duplicate"), result.duplicate))
    for label, n in counts:
        click.echo(f"{label}: {n}")
    if not result.existing:
        click.echo(_("%(seconds)s s", seconds=f"{seconds:.1f}"))
    if not problems:
        return
    click.echo(_("Problems (line, column: reason):"))
    for p in problems[:SHOW_PROBLEMS]:
        where = _("line %(line)s", line=p.line) + (f", {p.column}" if p.column else "")
        mark = _("not imported") if p.refused else _("imported, to check")
        click.echo(f"  {where}: {p.message.get('zh', p.reason)} [{mark}]")
    total = result.refused + result.flagged
    if len(problems) > SHOW_PROBLEMS or total > SHOW_PROBLEMS:
        if result.list_id is not None:
            click.echo(_("The whole list: flask lists problems %(id)s --xlsx problems.xlsx", id=result.list_id))


@lists_cli.command("withdraw")
@click.argument("list_id", type=int)
@click.option("--as", "username", default=None, metavar="USERNAME", help="Withdraw as this user.")
def withdraw_command(list_id: int, username: str | None) -> None:
    """Withdraw a mistaken import (only while no household was made from it)."""
    with _locale():
        actor = _actor(username)
        try:
            lst = domain.withdraw(actor, list_id)
        except DomainError as e:
            _fail(_messages(e))
        db.session.commit()
        click.echo(_("List %(id)s (%(file)s) is withdrawn.", id=lst.id, file=lst.file_name))


@lists_cli.command("problems")
@click.argument("list_id", type=int)
@click.option("--xlsx", "output", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
              help="Write the whole list of problems to this Excel file.")
@click.option("--as", "username", default=None, metavar="USERNAME", help="As this user.")
def problems_command(list_id: int, output: Path | None, username: str | None) -> None:
    """The refused rows and flagged values of a list, with their lines (all of them with --xlsx)."""
    with _locale():
        actor = _actor(username)
        try:
            lst = domain.get_list(actor, list_id)
        except DomainError as e:
            _fail(_messages(e))
        if output is not None:
            with output.open("wb") as f:
                exchange.write_problems_xlsx(domain.problems_of(lst.id), f)
            click.echo(_("%(count)s problems written to %(file)s.", count=domain.count_problems(lst.id),
                         file=output))
            return
        for p in domain.problems_of(lst.id):
            where = _("line %(line)s", line=p.line) + (f", {p.column}" if p.column else "")
            mark = _("not imported") if p.refused else _("imported, to check")
            click.echo(f"{where}: {p.value!s} {p.message.get('zh', p.reason)} [{mark}]")


# `flask lists prefill LIST_ID --key ...`: pre-filled households (app/cli/prefill.py).
def _add_prefill() -> None:
    from app.cli.prefill import prefill_command
    lists_cli.add_command(prefill_command)


_add_prefill()
