"""Who and where a batch command works as: `--as USERNAME` and `--unit CODE`, looked up the same
way by every command that takes them (lists prefill, quality run, duplicates, scorecard)."""
from __future__ import annotations

import click
from sqlalchemy import select

from app.domain.units import unit_by_code
from app.extensions import db
from app.models import AdminUnit, Role, RoleAssignment, User


def active_user(username: str) -> User:
    """The active user `username`; the command fails naming --as otherwise."""
    user = db.session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        raise click.ClickException(f"--as {username}: no such active user")
    return user


def first_sysadmin() -> User | None:
    """The first active system administrator: whom a command without --as runs as."""
    return db.session.scalar(select(User).join(RoleAssignment, RoleAssignment.user_id == User.id)
                             .where(RoleAssignment.role == Role.sysadmin.value, User.active.is_(True))
                             .order_by(User.id).limit(1))


def unit_named(code: str) -> AdminUnit:
    """The unit with this code; the command fails naming --unit otherwise."""
    unit = unit_by_code(code.strip())
    if unit is None:
        raise click.ClickException(f"--unit {code}: no such unit")
    return unit
