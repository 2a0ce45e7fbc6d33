"""`flask lists prefill LIST_ID --key household_no|village_card_no`: pre-filled households from
an imported police list or register (app.domain.prefill). Part of the `flask lists` group
(app/cli/lists.py adds it there)."""
from __future__ import annotations

import sys
import time

import click
from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select

from app.domain import prefill
from app.domain.errors import DomainError
from app.extensions import db
from app.models import ImportedList, User


def _actor(list_id: int, username: str | None) -> User:
    if username:
        user = db.session.scalar(select(User).where(User.username == username))
        if user is None or not user.active:
            raise click.ClickException(f"--as {username}: no such active user")
        return user
    lst = db.session.get(ImportedList, list_id)
    if lst is not None and lst.created_by is not None:
        return lst.created_by
    raise click.ClickException(f"list {list_id}: name the clerk or county administrator who pre-fills "
                               "with --as USERNAME (the list was imported without a user)")


@click.command("prefill")
@click.argument("list_id", type=int)
@click.option("--key", type=click.Choice(prefill.KEYS), default="household_no", show_default=True,
              help="How persons are grouped into households: the police 户号 (household_no), or village + "
                   "card number of an old register, whose card numbers are kept (village_card_no).")
@click.option("--as", "username", metavar="USERNAME",
              help="The clerk or county administrator who pre-fills (default: who imported the list).")
@click.option("--quiet", "-q", is_flag=True, help="Print the totals only, not a line per village.")
def prefill_command(list_id: int, key: str, username: str | None, quiet: bool) -> None:
    """Create pre-filled draft households from the imported list LIST_ID (a police list or a register).

    Prints a line per village (households created with their card numbers, updated from a newer
    register, noticed) and then the totals:
    `created=N updated=N unchanged=N noticed=N flagged=N skipped=N`. Progress goes to stderr.
    Each village is committed as it is done; running it again makes nothing twice.
    """
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")):
        actor = _actor(list_id, username)
        started = time.perf_counter()

        def progress(done: int, total: int) -> None:
            print(f"prefill: {done:,} of {total:,} records, {time.perf_counter() - started:.1f} s",
                  file=sys.stderr, flush=True)

        try:
            result = prefill.prefill(actor, list_id, key=key, commit=db.session.commit, on_progress=progress)
        except DomainError as e:
            db.session.rollback()
            raise click.ClickException(f"list {list_id}: {e.message}") from e
        db.session.commit()
    if not quiet:
        for v in result.villages:
            line = f"{v.code} {v.name}: {v.created} created"
            if v.cards:
                line += f" (cards {min(v.cards)}-{max(v.cards)})"
            for n, word in ((v.updated, "updated"), (v.unchanged, "unchanged"), (v.noticed, "noticed")):
                if n:
                    line += f", {n} {word}"
            click.echo(line)
    click.echo(f"created={result.created} updated={result.updated} unchanged={result.unchanged} "
               f"noticed={result.noticed} flagged={result.flagged} skipped={result.skipped}")
    print(f"prefill: done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
