"""`flask backup OUT` and `flask restore IN`: a consistent copy of the database while the app
runs, and bringing it back into a fresh database (docs/SECURITY.md).

SQLite: the backup API (sqlite3.Connection.backup) copies the whole file in one step from one
read transaction; in WAL mode writers go on meanwhile and the copy is the database as of its
start. PostgreSQL: pg_dump in its custom format, from a snapshot this command exports, so that
the audit head printed with the backup is the one inside it. Either way the command prints
that head (N:HASH): after a restore, `flask audit verify --head N:HASH` shows that nothing
of the chain was lost or rewritten.

A backup holds the whole register (names, ID numbers): it is written owner-only (0600). The
audit keys (AUDIT_KEYS) are not in it; keep them apart, as a backup and its keys together let
the holder rewrite the chain.
"""
from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess  # noqa: S404 - pg_dump/pg_restore, with argument lists, never a shell
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import inspect, text
from sqlalchemy.engine import URL

from app.extensions import db

_HEAD = "SELECT id, hash FROM audit_entry ORDER BY id DESC LIMIT 1"


def _owner_only(path: Path) -> None:
    path.touch(mode=0o600, exist_ok=False)
    os.chmod(path, 0o600)  # whatever the umask


def _head_text(row) -> str:
    return f"{row[0]}:{row[1]}" if row else "(the audit log is empty)"


@contextmanager
def _written_whole(out: Path) -> Iterator[Path]:
    """A backup is written to an owner-only `.part` beside `out` and moved into place only
    when complete; a failure leaves no part behind."""
    part = out.with_name(out.name + ".part")
    _owner_only(part)
    try:
        yield part
        part.replace(out)
    except BaseException:
        part.unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------ SQLite


def backup_sqlite(database: Path, out: Path) -> str:
    """Copy `database` into the new file `out` with SQLite's backup API; its audit head."""
    with _written_whole(out) as part:
        source = sqlite3.connect(database, timeout=30)
        target = sqlite3.connect(part)
        try:
            source.backup(target)  # pages=-1: one step, one consistent read of the whole file
            check = target.execute("PRAGMA integrity_check").fetchone()[0]
            if check != "ok":
                raise click.ClickException(f"the copy failed SQLite's integrity check: {check}")
            head = target.execute(_HEAD).fetchone()
        finally:
            target.close()
            source.close()
    return _head_text(head)


def restore_sqlite(backup: Path, database: Path) -> str:
    """Copy the backup into `database` (a new file, or one replaced); its audit head."""
    source = sqlite3.connect(backup)
    try:
        check = source.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise click.ClickException(f"{backup} failed SQLite's integrity check: {check}")
        if not database.exists():
            database.parent.mkdir(parents=True, exist_ok=True)
            _owner_only(database)
        target = sqlite3.connect(database)
        try:
            source.backup(target)
            head = target.execute(_HEAD).fetchone()
        finally:
            target.close()
    finally:
        source.close()
    return _head_text(head)


def _sqlite_tables(database: Path) -> list[str]:
    conn = sqlite3.connect(database)
    try:
        return [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    finally:
        conn.close()


# ------------------------------------------------------------------ PostgreSQL


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string for `url` without the password, and the environment with it
    (a password on the command line would be visible to every user of the machine)."""
    parts = {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database,
             **{k: v for k, v in url.query.items() if isinstance(v, str)}}
    conninfo = " ".join(f"{k}='{str(v)}'" for k, v in parts.items() if v not in (None, ""))
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return conninfo, env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise click.ClickException(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return path


def dump_postgresql(url: URL, out: Path) -> str:
    """pg_dump --format=custom into the new file `out`, from a snapshot held here; its audit head."""
    conninfo, env = _libpq(url)
    with _written_whole(out) as part:
        with db.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                head = conn.execute(text(_HEAD)).first()
                # The snapshot lives as long as this transaction: pg_dump reads exactly it.
                done = subprocess.run(  # noqa: S603 - fixed program, argument list
                    [_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                     f"--snapshot={snapshot}", f"--file={part}", f"--dbname={conninfo}"],
                    env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise click.ClickException(f"pg_dump failed: {done.stderr.strip()}")
    return _head_text(head)


def restore_postgresql(backup: Path, url: URL) -> str:
    """pg_restore into the (empty) database at `url`, in one transaction; its audit head."""
    conninfo, env = _libpq(url)
    done = subprocess.run(  # noqa: S603 - fixed program, argument list
        [_tool("pg_restore"), "--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges",
         f"--dbname={conninfo}", str(backup)],
        env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise click.ClickException(f"pg_restore failed: {done.stderr.strip()}")
    with db.engine.connect() as conn:
        return _head_text(conn.execute(text(_HEAD)).first())


# ------------------------------------------------------------------ commands


@click.command("backup")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(out: Path) -> None:
    """Write a consistent copy of the database to OUT (a new file), while the app runs."""
    if out.exists():
        raise click.UsageError(f"{out} exists: a backup never overwrites a file")
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise click.UsageError("the database is in memory: there is nothing to back up")
        head = backup_sqlite(Path(url.database), out)
    elif url.get_backend_name() == "postgresql":
        head = dump_postgresql(url, out)
    else:
        raise click.UsageError(f"no backup for {url.get_backend_name()}")
    click.echo(f"backup written: {out} ({out.stat().st_size} bytes)")
    click.echo(f"audit head in the backup: {head}")


@click.command("restore")
@click.argument("backup", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="SQLite: replace a database that holds data (stop the app first).")
@with_appcontext
def restore_command(backup: Path, replace: bool) -> None:
    """Bring a backup made by `flask backup` back into the configured database, which must be
    empty (PostgreSQL: a new database made with createdb; SQLite: a new file, or --replace)."""
    url = db.engine.url
    if url.get_backend_name() == "sqlite":
        database = Path(url.database or "")
        db.engine.dispose()  # no connection of ours stays open on the file being replaced
        if database.exists() and _sqlite_tables(database) and not replace:
            raise click.UsageError(f"{database} holds data: give --replace (with the app stopped)")
        head = restore_sqlite(backup, database)
    elif url.get_backend_name() == "postgresql":
        if inspect(db.engine).get_table_names():
            raise click.UsageError(f"the database {url.database} is not empty: restore into a new one "
                                   "(createdb) and point DATABASE_URL at it")
        db.engine.dispose()
        head = restore_postgresql(backup, url)
    else:
        raise click.UsageError(f"no restore for {url.get_backend_name()}")
    click.echo(f"restored from {backup}; audit head: {head}")
    click.echo("check it with: flask audit verify --head N:HASH (the head you kept)")
    sys.stdout.flush()
