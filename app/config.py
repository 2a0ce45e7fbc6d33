"""Settings from the environment.

Every setting has a safe default for a single machine: SQLite in instance/, a secret key
generated once into instance/ (owner-only), Chinese as the default language.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path


def _instance_path() -> Path:
    return Path(os.environ.get("DOORSTEP_INSTANCE", Path(__file__).resolve().parent.parent / "instance"))


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever scheme the operator wrote."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def load_or_create_secret_key(instance: Path) -> str:
    """Read instance/secret_key, creating it once with mode 0600 if missing.

    The key is never a constant in the code: a constant would let anyone who reads the
    source forge session cookies and QR tags.
    """
    path = instance / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # O_EXCL: if two workers start at once, exactly one writes and the other reads it.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def from_environment() -> dict:
    instance = _instance_path()
    instance.mkdir(parents=True, exist_ok=True)
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'doorstep.sqlite'}"
    return {
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or load_or_create_secret_key(instance),
        "BASE_URL": os.environ.get("BASE_URL", "http://127.0.0.1:5000"),
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("DISPLAY_TIMEZONE", "Asia/Shanghai"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "0") == "1",
        # An idle web session ends after this many minutes (a phone left in a village office).
        "SESSION_IDLE_MINUTES": _int("SESSION_IDLE_MINUTES", 12 * 60),
        # Login throttling: failures counted in a sliding window, per account and per address.
        "LOGIN_WINDOW_SECONDS": _int("LOGIN_WINDOW_SECONDS", 60),
        "LOGIN_FAILURES_PER_ACCOUNT": _int("LOGIN_FAILURES_PER_ACCOUNT", 5),
        "LOGIN_FAILURES_PER_ADDRESS": _int("LOGIN_FAILURES_PER_ADDRESS", 20),
        # argon2id parameters (RFC 9106 second recommended option); changing them rehashes at login.
        "ARGON2_TIME_COST": _int("ARGON2_TIME_COST", 3),
        "ARGON2_MEMORY_COST": _int("ARGON2_MEMORY_COST", 64 * 1024),
        "ARGON2_PARALLELISM": _int("ARGON2_PARALLELISM", 2),
        # Number of proxies in front of the app that set X-Forwarded-For (0: none).
        "PROXY_COUNT": _int("PROXY_COUNT", 0),
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
    }
