"""Reading the sync API's JSON bodies: what the JSON parser accepts but the server cannot use.

- Nesting: Python's parser raises RecursionError past about a thousand levels (a 500), and a
  body it did read close to that limit failed again when hashed. Our bodies are at most a
  few levels deep (data.members[i].field, signature[stroke][point][x]), so anything deeper
  than MAX_DEPTH is refused before any other work, as unreadable.
- Lone surrogates ("\\ud800" is valid JSON, but no character): they cannot be encoded as
  UTF-8, so hashing the body or storing the text failed. Refused, naming the field.
"""
from __future__ import annotations

import re
import typing

import flask
from flask_babel import gettext as _
from flask_smorest import Blueprint
from webargs import core
from webargs.flaskparser import FlaskParser

from app.api.errors import ApiError, error_item

MAX_DEPTH = 32


class BodyProblem(Exception):
    def __init__(self, kind: str, path: str):
        super().__init__(kind, path)
        self.kind = kind  # "depth" or "surrogate"
        self.path = path


def check_body(data: typing.Any, max_depth: int = MAX_DEPTH) -> None:
    """BodyProblem for the first value nested deeper than `max_depth` or string (key or
    value) with a lone surrogate. `path` is as in the error catalogue: "members[2].name"
    for data.members[2].name, else the dotted path from the top ("signature[0][1]")."""
    stack: list[tuple[str, typing.Any, int]] = [("", data, 0)]  # no recursion: any depth is safe
    while stack:
        path, value, depth = stack.pop()
        if depth > max_depth:
            raise BodyProblem("depth", _api_path(path))
        if isinstance(value, str):
            if _has_surrogate(value):
                raise BodyProblem("surrogate", _api_path(path))
        elif isinstance(value, dict):
            for key, item in value.items():
                child = f"{path}.{key}" if path else str(key)
                if _has_surrogate(key):
                    raise BodyProblem("surrogate", _api_path(path))
                stack.append((child, item, depth + 1))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                stack.append((f"{path}[{index}]", item, depth + 1))


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


_FIELD = re.compile(r"^(?:members\[\d+\]|household)\.\w+")


def _api_path(path: str) -> str:
    """The path of the form field the problem is in ("members[1].name", not
    "members[1].name[0][0]"), as the catalogue's error items name fields."""
    path = path[len("data."):] if path.startswith("data.") else path
    field = _FIELD.match(path)
    return field.group(0) if field else path


class SyncParser(FlaskParser):
    """webargs' parser, with the body checked as above (E2001, naming the field)."""

    def _raw_load_json(self, req: flask.Request) -> typing.Any:
        try:
            data = super()._raw_load_json(req)
            if data is not core.missing:
                check_body(data)
        except RecursionError:
            raise ApiError("E2001", _("The request is nested too deeply to be read.")) from None
        except BodyProblem as problem:
            if problem.kind == "depth":
                message = _("The request is nested too deeply to be read.")
            else:
                message = _("This text contains an invalid character (a lone surrogate); type it again.")
            raise ApiError("E2001", message, [error_item(problem.path, message)]) from None
        return data


class SyncBlueprint(Blueprint):
    ARGUMENTS_PARSER = SyncParser()
