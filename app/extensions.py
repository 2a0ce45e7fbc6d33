"""Flask extensions, created unbound and initialised in create_app()."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import g
from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from app.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


@contextmanager
def reads_only() -> Iterator[None]:
    """Transactions begun inside only read: on SQLite they begin deferred, without the one
    write lock (app._sqlite_begin). End such a transaction before writing: a deferred one
    that writes after another writer committed fails."""
    before = g.get("sqlite_reads_only", False)
    g.sqlite_reads_only = True
    try:
        yield
    finally:
        g.sqlite_reads_only = before

