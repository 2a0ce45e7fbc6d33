"""The settings the rules of the work read: one object, not Flask's current_app.

`Settings` wraps the app's configuration mapping with the names and types the domain uses.
The app puts its own in place whenever an app context is pushed (requests, CLI commands,
task-queue jobs: app.create_app), and a script or test without an app can run the domain
inside `using(Settings(config))`. Reading the mapping when asked, not copying it once, keeps
a setting changed after start-up (as tests do) in force.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo


class Settings:
    def __init__(self, config: MutableMapping[str, Any]):
        self.config = config  # for the modules that take the whole mapping (passwords, audit)

    @property
    def timezone(self) -> ZoneInfo:
        """Where the households are: local dates and times are read in this zone."""
        return _zone(self.config.get("BABEL_DEFAULT_TIMEZONE") or "Asia/Shanghai")

    @property
    def book_size(self) -> int:
        return int(self.config["BOOK_SIZE"])

    @property
    def print_path(self) -> Path:
        return Path(self.config["PRINT_PATH"])

    @property
    def id_lookups_per_hour(self) -> int:
        return int(self.config["ID_LOOKUPS_PER_HOUR"])

    @property
    def base_url(self) -> str:
        return self.config["BASE_URL"]

    @property
    def card_keys(self) -> Mapping[str, Any]:
        return self.config["CARD_KEYS"]

    @property
    def acceptance_round(self) -> str:
        """The round of village acceptance (验收, issue 17): ACCEPTANCE_ROUND, or the local year."""
        import datetime as dt

        value = str(self.config.get("ACCEPTANCE_ROUND") or "").strip()
        return check_round(value) if value else str(dt.datetime.now(self.timezone).year)


ROUND_MAX = 20  # VillageAcceptance.round and SpotCheck.round are String(20)


def check_round(value: str) -> str:
    """An acceptance round as written in ACCEPTANCE_ROUND or `--round` (a year, or the campaign's
    name): 1-20 characters, no control characters; a longer one would not fit the database."""
    text = str(value).strip()
    if not 1 <= len(text) <= ROUND_MAX or any(not c.isprintable() for c in text):
        raise ValueError(f"验收轮次须为1至{ROUND_MAX}个字符且不含控制字符 / the acceptance round must be 1 to "
                         f"{ROUND_MAX} characters without control characters: {text!r}")
    return text


_ZONES: dict[str, ZoneInfo] = {}


def _zone(name: str) -> ZoneInfo:
    if name not in _ZONES:
        _ZONES[name] = ZoneInfo(name)
    return _ZONES[name]


_current: ContextVar[Settings | None] = ContextVar("doorstep_settings", default=None)


def current() -> Settings:
    settings = _current.get()
    if settings is None:
        raise RuntimeError("No settings: run the domain inside the app (an app context) "
                           "or inside app.domain.settings.using(Settings(config)).")
    return settings


def put(settings: Settings | None) -> None:
    """Make `settings` the current ones in this context (the app does this on each app context)."""
    _current.set(settings)


@contextmanager
def using(settings: Settings) -> Iterator[Settings]:
    token = _current.set(settings)
    try:
        yield settings
    finally:
        _current.reset(token)
