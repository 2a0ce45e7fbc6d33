"""`flask users create|grant|list|set-password`: user accounts from the command line.

The operator at the command line acts as the system (actor None): any role, any unit.
A password is never a command-line argument (other users see those in `ps`): it is read
from a hidden prompt, or from standard input with --password-stdin.
"""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale

from app.domain import scope
from app.domain import users as domain
from app.domain.errors import DomainError
from app.extensions import db
from app.models import Role, User

users_cli = AppGroup("users", help="User accounts and their roles.")
STDIN_HELP = "Read the password from the first line of standard input."


def _locale():
    # A fixed locale: without a request the app's locale selector cannot run.
    return force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN"))


def _fail(e: DomainError) -> click.ClickException:
    db.session.rollback()
    errors = domain.field_errors(e)
    return click.ClickException(" ".join(errors.values()) if errors else e.message)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line; only the line ending is removed (a password may end in a space).
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _roles_text(user: User) -> str:
    return ", ".join(f"{a.role}@{a.unit.code} ({a.unit.name})" for a in user.roles)


@users_cli.command("create")
@click.argument("username")
@click.option("--name", required=True, help="The person's name.")
@click.option("--role", "role_name", required=True,
              help="First role: " + ", ".join(r.value for r in Role) + ".")
@click.option("--unit", "unit_code", required=True, help="Code of the unit the role is for.")
@click.option("--phone", default=None, help="Phone number (optional).")
@click.option("--locale", default="zh_CN", show_default=True, help="zh_CN or en.")
@click.option("--password-stdin", is_flag=True, help=STDIN_HELP)
def create(username: str, name: str, role_name: str, unit_code: str, phone: str | None, locale: str,
           password_stdin: bool) -> None:
    """Create a user with a first role (the password is asked for, never given as an argument)."""
    with _locale():
        try:
            # Everything but the password first, so nobody types a password for a doomed command.
            role = domain.parse_role(role_name)
            unit = domain.unit_for_code(None, unit_code)
            errors: dict[str, str] = {}
            domain.check_user_fields(username, name, phone, locale, errors)
            if errors:
                raise domain.FieldErrors(errors)
            domain.check_level(role, unit)
        except DomainError as e:
            raise _fail(e) from e
        password = _read_password(password_stdin)
        try:
            user = domain.create_user(None, username=username, name=name, password=password, role=role,
                                      unit=unit, phone=phone, locale=locale)
        except DomainError as e:
            raise _fail(e) from e
        db.session.commit()
        click.echo(f"Created user {user.username} ({user.name}): {role.value} "
                   f"({scope.role_label(role)}) for {unit.name} ({unit.code}).")


@users_cli.command("grant")
@click.argument("username")
@click.argument("role_name", metavar="ROLE")
@click.argument("unit_code", metavar="CODE")
def grant(username: str, role_name: str, unit_code: str) -> None:
    """Give USERNAME the role ROLE for the unit with code CODE."""
    with _locale():
        try:
            user = domain.user_by_username(username)
            role = domain.parse_role(role_name)
            unit = domain.unit_for_code(None, unit_code)
            before = {a.id for a in user.roles}
            assignment = domain.grant_role(None, user, role, unit)
        except DomainError as e:
            raise _fail(e) from e
        db.session.commit()
        if assignment.id in before:
            click.echo(f"{user.username} already has {role.value} for {unit.name} ({unit.code}); "
                       "nothing changed.")
        else:
            click.echo(f"Granted {role.value} ({scope.role_label(role)}) for {unit.name} ({unit.code}) "
                       f"to {user.username}.")


@users_cli.command("list")
@click.option("--unit", "unit_code", default=None, help="Only users with a role at or below this unit.")
def list_(unit_code: str | None) -> None:
    """List users with their roles."""
    with _locale():
        try:
            unit = domain.unit_for_code(None, unit_code) if unit_code else None
        except DomainError as e:
            raise _fail(e) from e
        found = domain.users_under(unit)
        for user in found:
            state = "" if user.active else " [inactive]"
            click.echo(f"{user.username}\t{user.name}{state}\t{_roles_text(user)}")
        click.echo(f"{len(found)} users.")


@users_cli.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help=STDIN_HELP)
def set_password(username: str, password_stdin: bool) -> None:
    """Give USERNAME a new password; their open sessions end."""
    with _locale():
        try:
            user = domain.user_by_username(username)
        except DomainError as e:
            raise _fail(e) from e
        password = _read_password(password_stdin)
        try:
            ended = domain.reset_password(None, user.id, password)
        except DomainError as e:
            raise _fail(e) from e
        db.session.commit()
        click.echo(f"New password set for {user.username}; sessions ended: {ended}.")
