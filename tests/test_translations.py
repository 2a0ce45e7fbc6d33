"""Chinese first: every user-facing string in the code has a zh_CN translation."""
from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
METHODS = [("app/**.py", "python"), ("app/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _extracted() -> dict[str, str]:
    found = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), METHODS, keywords=KEYWORDS):
        msgid = message[0] if isinstance(message, tuple) else message
        found.setdefault(msgid, filename)
    return found


def _catalog():
    with open(ROOT / "app/translations/zh_Hans_CN/LC_MESSAGES/messages.po", "rb") as f:
        return read_po(f, locale="zh_CN")


def test_every_string_has_a_chinese_translation():
    catalog = _catalog()
    missing = []
    for msgid, filename in sorted(_extracted().items()):
        message = catalog.get(msgid)
        translated = all(message.string) if message is not None and isinstance(message.string, tuple) \
            else bool(message and message.string)
        if message is None or not translated or message.fuzzy:
            missing.append(f"{filename}: {msgid!r}")
    assert not missing, "untranslated (see app/translations/README.md):\n" + "\n".join(missing)


def test_translations_keep_their_placeholders():
    for message in _catalog():
        if message.id and message.string and isinstance(message.id, str):
            assert set(PLACEHOLDER.findall(message.id)) == set(PLACEHOLDER.findall(message.string)), message.id


def test_pages_are_chinese_by_default(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'lang="zh-CN"' in page and "登录" in page and "Log in" not in page


def test_dates_are_written_year_month_day(app):
    import datetime as dt
    with app.test_request_context():
        d = dt.date(2026, 11, 23)
        assert app.jinja_env.filters["date"](d) == "2026-11-23"
        t = dt.datetime(2026, 11, 23, 1, 30, tzinfo=dt.timezone.utc)
        assert app.jinja_env.filters["datetime"](t) == "2026-11-23 09:30"  # Asia/Shanghai
