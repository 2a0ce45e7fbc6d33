"""The sync API's error catalogue: stable codes, their HTTP status, and a message.

The phone keys its behaviour on the code, never on the text; the message is in the user's
language (English msgids, translated with the rest of the app). docs/SYNC-API.md lists the
catalogue for the phone's developers; tests/test_api.py checks that it matches this table.
Every error answer is `{"code", "message", "errors"?}`; `errors` names fields and members:
`{"path": "members[2].id_number", "field": "id_number", "member": 2, "message": ...}`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask import jsonify
from flask_babel import lazy_gettext as _l
from flask_babel import get_locale

from app.domain import sync
from app.domain.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from app.domain.registration import InvalidForm, issue_text


@dataclass(frozen=True)
class Entry:
    status: int
    message: Any  # a lazy string, translated when the answer is made


CATALOGUE: dict[str, Entry] = {
    "E1001": Entry(401, _l("Not logged in, or this device's token was revoked. Log in again.")),
    "E1002": Entry(403, _l("You may not do this.")),
    "E1003": Entry(404, _l("Not found, or outside your area.")),
    "E1004": Entry(400, _l("The request did not carry this site's form token (X-CSRFToken). Reload and try again.")),
    "E1005": Entry(405, _l("This method is not allowed here.")),
    "E1006": Entry(429, _l("Too many requests. Please wait a minute and try again.")),
    "E2001": Entry(422, _l("The submission is not valid; see the errors.")),
    "E2002": Entry(409, _l("This submission number was already used for different data.")),
    "E2003": Entry(409, _l("This household belongs to another unit.")),
    "E2004": Entry(422, _l("The signature is missing or cannot be read. Please sign again.")),
    "E2005": Entry(409, _l("The server has no such version of this household.")),
    "E2006": Entry(422, _l("The sync cursor is not valid; download everything again.")),
    "E2007": Entry(409, _l("This was changed by someone else at the same moment. Try again.")),
    "E2008": Entry(413, _l("The request is too large for the server.")),
    "E9000": Entry(500, _l("Server error. Please try again later.")),
}
# Not an error, but in the same numbering for the phone: a submission kept as a conflict (202).
CONFLICT_CODE = "E3001"


class ApiError(Exception):
    def __init__(self, code: str, message: str | None = None, errors: list[dict[str, Any]] | None = None):
        super().__init__(code)
        self.code = code
        self.message = message
        self.errors = errors


def answer(code: str, message: str | None = None, errors: list[dict[str, Any]] | None = None):
    entry = CATALOGUE[code]
    body: dict[str, Any] = {"code": code, "message": message or str(entry.message)}
    if errors:
        body["errors"] = errors
    return jsonify(body), entry.status


_PATH = re.compile(r"^members\[(\d+)\](?:\.(\w+))?$")


def error_item(path: str | None, message: str) -> dict[str, Any]:
    """{"path", "field", "member", "message"}: `member` is the 0-based index in the list sent."""
    path = path or ""
    m = _PATH.match(path)
    if m:
        return {"path": path, "field": m.group(2) or "members", "member": int(m.group(1)), "message": message}
    field = path.split(".", 1)[1] if path.startswith("household.") else path
    return {"path": path, "field": field or None, "member": None, "message": message}


def from_domain(e: DomainError) -> tuple[str, str, list[dict[str, Any]] | None]:
    """(code, message, errors) for a refusal of the domain."""
    errors = [error_item(e.field, e.message)] if e.field else None
    if isinstance(e, (sync.InvalidSubmission, InvalidForm)):
        locale = str(get_locale() or "zh_CN")
        return "E2001", e.message, [error_item(i.get("path"), issue_text(i, locale)) for i in e.issues]
    if isinstance(e, sync.BadCursor):
        return "E2006", e.message, errors
    if isinstance(e, Invalid):
        return ("E2004" if e.field == "signature" else "E2001"), e.message, errors
    if isinstance(e, sync.SubmissionReused):
        return "E2002", e.message, None
    if isinstance(e, sync.HouseholdElsewhere):
        return "E2003", e.message, errors
    if isinstance(e, sync.BaseAhead):
        return "E2005", e.message, errors
    if isinstance(e, NotFound):
        return "E1003", e.message, None
    if isinstance(e, Forbidden):
        return "E1002", e.message, None
    if isinstance(e, Conflict):
        return "E2007", e.message, None
    return "E2001", e.message, errors


def from_marshmallow(messages: Any, prefix: str = "") -> list[dict[str, Any]]:
    """webargs' nested messages ({"json": {"data": {"members": {"0": {...}}}}}) as error items."""
    items: list[dict[str, Any]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            if not prefix and key in ("json", "query", "querystring", "headers", "form", "files"):
                items += from_marshmallow(value, "")
                continue
            if str(key).isdigit():
                part = f"{prefix}[{key}]"
            else:
                part = f"{prefix}.{key}" if prefix else str(key)
            items += from_marshmallow(value, part)
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        path = prefix[5:] if prefix.startswith("data.") else prefix
        items.append(error_item(path, "; ".join(messages)))
    elif isinstance(messages, list):
        for value in messages:
            items += from_marshmallow(value, prefix)
    else:
        items.append(error_item(prefix, str(messages)))
    return items
