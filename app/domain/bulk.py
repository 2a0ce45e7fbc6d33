"""Many rows into one table in the caller's transaction, the fastest way each database has:
COPY on PostgreSQL, the driver's executemany on SQLite.

On PostgreSQL a county's pre-fill inserts 400k persons, 130k households and their versions;
an executemany sends them as INSERTs of a thousand rows each, which the server parses and
binds one by one; COPY streams them. Values go through each column type's own bind processing
(time zones, JSON, UUIDs), as an INSERT would.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> str:
    """Insert `rows` (dicts of column values) into `table`; says how: "copy" or "insert"."""
    if not rows:
        return "insert"
    names = list(dict.fromkeys(name for row in rows for name in row))
    # A column left out that has a Python-side default: only an INSERT applies it.
    defaulted = [c for c in table.columns if c.name not in names and c.default is not None]
    if conn.dialect.name != "postgresql" or defaulted:
        conn.execute(table.insert(), list(rows))
        return "insert"
    columns = [table.c[name] for name in names]
    processors = [c.type.dialect_impl(conn.dialect).bind_processor(conn.dialect) for c in columns]
    quote = conn.dialect.identifier_preparer.quote
    copy_sql = f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
    with conn.connection.driver_connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for row in rows:
            copy.write_row([value if proc is None or value is None else proc(value)
                            for proc, value in zip(processors, (row.get(n) for n in names), strict=True)])
    return "copy"
