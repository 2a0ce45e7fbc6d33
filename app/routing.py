"""Integers from the URL, bounded by what the database's id columns can hold.

A number past 64 bits reached the database as it was and failed there (SQLite: "Python int
too large to convert to SQLite INTEGER"; PostgreSQL: "integer out of range" past 32 bits, as
SQLAlchemy sends `%(id)s::INTEGER`): a 500. No row can have such an id, so the answer is the
one for any id that names nothing: 404. `<int:...>` in every route is this converter
(registered in create_app before the blueprints), and integer query parameters are read with
`request.args.get(name, type=db_int)`.
"""
from __future__ import annotations

from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

# The ids the routes take are INTEGER columns: 32 bits in PostgreSQL (SQLite's are 64 bits,
# but the same bound on both gives the same answers). A BIGINT column's route may say
# <int(max=9223372036854775807):...>; nothing goes past BIGINT_MAX.
DB_INT_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1


class DatabaseIntConverter(IntegerConverter):
    """werkzeug's `int` with an upper bound: a longer number does not match the route (404)."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):  # noqa: A002 - werkzeug's
        bounded = DB_INT_MAX if max is None else max if max < BIGINT_MAX else BIGINT_MAX
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=bounded, signed=signed)


def db_int(value: str) -> int:
    """`type=` for integer query parameters: not a number is ValueError (werkzeug then gives
    the default, as with `type=int`); a number no row can have is 404, like the route."""
    number = int(value)
    if not 0 <= number <= DB_INT_MAX:
        raise NotFound()
    return number
