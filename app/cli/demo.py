"""`flask demo`: a demo township with real division codes, one login per role and households."""
from __future__ import annotations

import time
import unicodedata

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import force_locale

from app.demo import events as demo_events
from app.demo import township as demo
from app.demo import workflow as demo_workflow
from app.domain import scope
from app.domain.errors import DomainError
from app.extensions import db
from app.models import Role, VersionKind


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
    approval chain (again: completes what is missing, changes nothing else).

    Progress goes to standard error as each step runs; the summary, and the logins last, to
    standard output."""
    progress = _ProgressLines()
    # A fixed locale: without a request the locale selector cannot read the session.
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")):
        try:
            result = demo.create_demo(password=password, reset_passwords=reset_passwords,
                                      households=households, workflow=not no_workflow, progress=progress)
            life = None
            if events and households > 0:
                life = demo_events.add_events(result.township.township,
                                              demo.village_collectors(result.township, result.logins),
                                              seed=demo.HOUSEHOLD_SEED, progress=progress)
        except DomainError as e:
            db.session.rollback()
            raise click.ClickException(e.message) from e
        db.session.commit()
        summary = demo.summarize(result.township.township)
        progress.say("saved")
        _report(result, life, summary, password_given=password is not None)


class _ProgressLines:
    """`demo:  13.9 s  households: 2,000 of 2,000 registered in 12.6 s` on standard error: when
    a step starts, every EVERY seconds while it runs, and when it ends; the seconds first are
    those since the command started."""

    EVERY = 5.0
    STEPS = {"users": ("demo users", "ready"), "households": ("households", "registered"),
             "chain": ("approval chain", "households done"), "events": ("life events", "planned events done")}

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.step_started: dict[str, float] = {}

    def __call__(self, step: str, done: int, total: int) -> None:
        if total == 0:  # nothing to do (a rerun): no line
            return
        now = time.perf_counter()
        if done == 0:
            self.step_started[step] = now
        elif done < total and now - self.last < self.EVERY:
            return
        label, verb = self.STEPS.get(step, (step, "done"))
        took = f" in {now - self.step_started.get(step, self.started):.1f} s" if done == total else ""
        self.say(f"{label}: {done:,} of {total:,} {verb}{took}")

    def say(self, text: str) -> None:
        self.last = time.perf_counter()
        click.echo(f"demo: {self.last - self.started:6.1f} s  {text}", err=True)


def _report(result: demo.DemoResult, life: demo_events.EventsReport | None, summary: demo.TownshipSummary,
            *, password_given: bool) -> None:
    """What was made, the township's households now, and the logins LAST: `scripts/demo.sh`
    starts the server right after, so they stay on the screen."""
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
    _report_events(life)
    _report_summary(summary)
    collectors = [login for login in result.logins if login.role is Role.collector]
    if len(collectors) >= 2:
        a, b = collectors[:2]
        click.echo("")
        click.echo(f"To try scope: {a.username} works in {a.unit.name}, {b.username} in {b.unit.name}; "
                   "neither sees the other's village.")
    click.echo("")
    unchanged = [login.username for login in result.logins if not login.password_set]
    if unchanged:
        click.echo("These demo users already exist; their password is unchanged "
                   "(run again with --reset-passwords to set a new one): " + ", ".join(unchanged))
        if password_given:
            click.echo("--password was not applied to them; add --reset-passwords to apply it.")
    if result.password:
        click.echo("The password below is not stored anywhere else; keep it, or run again with "
                   "--reset-passwords.")
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


def _report_events(e: demo_events.EventsReport | None) -> None:
    if e is None or e.existing:
        return
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(e.recorded.items()))
    click.echo(f"Life events recorded: {sum(e.recorded.values())} in {e.seconds:.1f} s ({kinds}); "
               f"{e.refused} refused"
               + (f", {e.replayed} already recorded by another run." if e.replayed else "."))


def _report_summary(s: demo.TownshipSummary) -> None:
    """The township's households as they are now, the same on a rerun, with where the drafts
    come from: a first run counts them after its life events, so a second run agrees."""
    if not s.households:
        return
    click.echo("")
    made = [f"{s.collected:,} households collected"]
    if s.made_by_split:
        made.append(f"{s.made_by_split:,} made by splits (分户)")
    made += [f"{n:,} made by {kind}" for kind, n in sorted(s.made_by.items())
             if kind not in (VersionKind.create.value, VersionKind.split.value)]
    click.echo(f"The township has {s.households:,} households: " + " + ".join(made) + ".")
    click.echo("By state: " + ", ".join(f"{state} {n:,}" for state, n in s.states.items()) + ".")
    why = [(s.drafts_changed, f"{_n(s.drafts_changed, 'household')} changed by life events, waiting to be "
                              "signed and submitted again"),
           (s.drafts_made_by_split, f"{_n(s.drafts_made_by_split, 'new household')} made by "
                                    + ("a split" if s.drafts_made_by_split == 1 else "splits")
                                    + ", waiting to be signed"),
           (s.drafts_with_errors, f"{s.drafts_with_errors:,} with errors that block submitting "
                                  "(the deliberate problems)"),
           (s.drafts_not_submitted, f"{s.drafts_not_submitted:,} left unsubmitted on purpose, as some are in "
                                    "the field")]
    parts = [text for n, text in why if n]
    if parts:
        click.echo(f"The {s.states.get('draft', 0):,} drafts: " + "; ".join(parts) + ".")
    click.echo("Run again, the demo makes nothing twice: the same counts, until someone works on the "
               "households.")


def _report_households(h: demo.HouseholdsReport | None) -> None:
    if h is None or h.asked == 0:
        return
    if h.existing:
        click.echo(f"Households: the township already has {h.existing:,}; none created.")
        return
    click.echo(f"Households created: {h.created:,} in {h.seconds:.1f} s "
               f"({h.incomplete} with errors, {h.warnings} with warnings only)"
               + (f"; {h.replayed} were already saved by another run." if h.replayed else "."))
    if h.problems:
        click.echo("Deliberate problems for the checks to find: "
                   + ", ".join(f"{kind} {n}" for kind, n in h.problems.items()) + ".")


def _report_workflow(w: demo_workflow.WorkflowReport | None) -> None:
    if w is None:
        return
    if w.transitions:
        click.echo(f"Approval chain: {w.moved:,} households moved in {w.seconds:.1f} s ({w.transitions:,} "
                   f"submissions, confirmations, verifications and returns); {w.stuck} kept as drafts "
                   "because of errors.")


def _n(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _width(text: str) -> int:
    # Chinese characters take two columns in a terminal.
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
