"""`flask lists prefill LIST_ID --key household_no|village_card_no`: pre-filled households from
an imported police list or register (app.domain.prefill). Part of the `flask lists` group
(app/cli/lists.py adds it there).

Exit status: 0 done (also: nothing left to pre-fill); 1 refused (no such list, not a police
list or register, not loaded, not the user's area): nothing was made; 2 wrong usage."""
from __future__ import annotations

import sys
import time

import click
from flask import current_app
from flask_babel import force_locale

from app.cli.users_named import active_user, first_sysadmin
from app.domain import prefill
from app.domain.errors import DomainError
from app.extensions import db
from app.models import ImportedList, User


def _actor(list_id: int, username: str | None) -> User:
    """Who pre-fills: --as, else who imported the list, else the first active system
    administrator (households are always made by someone: Household.created_by)."""
    if username:
        return active_user(username)
    lst = db.session.get(ImportedList, list_id)
    if lst is not None and lst.created_by is not None and lst.created_by.active:
        return lst.created_by
    admin = first_sysadmin()
    if admin is None:
        raise click.ClickException(f"list {list_id}: name the clerk or county administrator who pre-fills "
                                   "with --as USERNAME")
    print(f"prefill: as {admin.username} (a system administrator; another with --as USERNAME)", file=sys.stderr)
    return admin


@click.command("prefill")
@click.argument("list_id", type=int)
@click.option("--key", type=click.Choice(prefill.KEYS), default="household_no", show_default=True,
              help="How persons are grouped into households: the police 户号 (household_no), or village + "
                   "card number of an old register, whose card numbers are kept (village_card_no).")
@click.option("--as", "username", metavar="USERNAME",
              help="The clerk or county administrator who pre-fills (default: who imported the list, else the "
                   "first system administrator).")
@click.option("--workers", type=click.IntRange(0, 8), default=None,
              help="Processes that build and check the forms while this one reads and writes (0: none; "
                   "default: 1 where the machine has two cores or more).")
@click.option("--quiet", "-q", is_flag=True, help="Print the totals only, not a line per village.")
def prefill_command(list_id: int, key: str, username: str | None, workers: int | None, quiet: bool) -> None:
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
            result = prefill.prefill(actor, list_id, key=key, commit=db.session.commit, on_progress=progress,
                                     workers=prefill.default_workers() if workers is None else workers)
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
