"""`flask demo`: a demo township with real division codes, one login per role and households."""
from __future__ import annotations

import unicodedata

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale

from app.domain import demo, demo_events, demo_workflow, scope
from app.domain.errors import DomainError
from app.extensions import db
from app.models import Role


@click.command("demo")
@click.option("--password", default=None,
              help="Shared password for the users this run creates or resets (default: a random one).")
@click.option("--reset-passwords", is_flag=True,
              help="Give the existing demo users a new shared password (and end their sessions).")
@click.option("--households", type=click.IntRange(0, 9999), default=demo.DEMO_HOUSEHOLDS, show_default=True,
              help="Households to register when the township has none yet (0: none).")
@click.option("--no-workflow", is_flag=True,
              help="Leave the demo households as drafts (default: most verified, some waiting at each "
                   "level of the approval chain, a few returned).")
@click.option("--events/--no-events", default=True, show_default=True,
              help="Record a year of life events (births, deaths, moves, marriages, splits) on the demo "
                   "households, once.")
@with_appcontext
def demo_cli(password: str | None, reset_passwords: bool, households: int, no_workflow: bool,
             events: bool) -> None:
    """Create the demo township, users and households, and move the households along the
    approval chain (again: completes what is missing, changes nothing else)."""
    # A fixed locale: without a request the locale selector cannot read the session.
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")):
        try:
            result = demo.create_demo(password=password, reset_passwords=reset_passwords,
                                      households=households, workflow=not no_workflow)
            life = None
            if events and households > 0:
                life = demo_events.add_events(result.township.township,
                                              demo.village_collectors(result.township, result.logins),
                                              seed=demo.HOUSEHOLD_SEED)
        except DomainError as e:
            db.session.rollback()
            raise click.ClickException(e.message) from e
        db.session.commit()
        _report(result, password_given=password is not None)
        _report_events(life)


def _report_events(e: demo_events.EventsReport | None) -> None:
    if e is None or e.existing:
        return
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(e.recorded.items()))
    click.echo(f"Life events recorded: {sum(e.recorded.values())} in {e.seconds:.1f} s ({kinds}); "
               f"{e.refused} refused"
               + (f", {e.replayed} already recorded by another run." if e.replayed else "."))


def _report(result: demo.DemoResult, *, password_given: bool) -> None:
    t = result.township
    groups = sum(len(g) for g in t.groups.values())
    click.echo(f"Demo township: {' '.join(u.name for u in t.chain)} ({t.township.code}), "
               f"{len(t.villages)} villages, {groups} groups; {t.units_created} units created.")
    if result.users_created:
        click.echo(f"Users created: {len(result.users_created)}.")
    if result.passwords_reset:
        click.echo(f"Passwords reset: {len(result.passwords_reset)} (their sessions were ended).")
    _report_households(result.households)
    _report_workflow(result.workflow)
    unchanged = [login.username for login in result.logins if not login.password_set]
    if unchanged:
        click.echo("These demo users already exist; their password is unchanged "
                   "(run again with --reset-passwords to set a new one): " + ", ".join(unchanged))
        if password_given:
            click.echo("--password was not applied to them; add --reset-passwords to apply it.")
    click.echo("")
    click.echo(f"Open {current_app.config['BASE_URL']} and log in as:")
    rows = [("username", "role", "unit", "password")]
    for login in result.logins:
        rows.append((login.username, f"{login.role.value} ({scope.role_label(login.role)})", login.unit.name,
                     result.password if login.password_set and result.password else "(unchanged)"))
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  " + "  ".join(_pad(cell, w) for cell, w in zip(row, widths)).rstrip())
    if result.password:
        click.echo("")
        click.echo(f"Password: {result.password}")
        click.echo("It is not stored anywhere else; keep it, or run again with --reset-passwords.")
    collectors = [login for login in result.logins if login.role is Role.collector]
    if len(collectors) >= 2:
        a, b = collectors[:2]
        click.echo("")
        click.echo(f"To try scope: {a.username} works in {a.unit.name}, {b.username} in {b.unit.name}; "
                   "neither sees the other's village.")


def _report_households(h: demo.HouseholdsReport | None) -> None:
    if h is None or h.asked == 0:
        return
    if h.existing:
        click.echo(f"Households: the township already has {h.existing}; none created.")
        return
    click.echo(f"Households created: {h.created} in {h.seconds:.1f} s "
               f"({h.incomplete} with errors, {h.warnings} with warnings only)"
               + (f"; {h.replayed} were already saved by another run." if h.replayed else "."))
    if h.problems:
        click.echo("Deliberate problems for the checks to find: "
                   + ", ".join(f"{kind} {n}" for kind, n in h.problems.items()) + ".")


def _report_workflow(w: demo_workflow.WorkflowReport | None) -> None:
    if w is None:
        return
    if w.transitions:
        click.echo(f"Approval chain: {w.moved} households moved in {w.seconds:.1f} s ({w.transitions} "
                   f"submissions, confirmations, verifications and returns); {w.stuck} kept as drafts "
                   "because of errors.")
    if w.states:
        click.echo("Demo households by state: "
                   + ", ".join(f"{state} {n}" for state, n in w.states.items()) + ".")


def _width(text: str) -> int:
    # Chinese characters take two columns in a terminal.
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
