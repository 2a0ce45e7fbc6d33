"""Settings from the environment.

Every setting has a safe default for a single machine: SQLite in instance/, a secret key
generated once into instance/ (owner-only), Chinese as the default language.
"""
from __future__ import annotations

import os
import re
import secrets
import tempfile
from pathlib import Path


def _instance_path() -> Path:
    return Path(os.environ.get("DOORSTEP_INSTANCE", Path(__file__).resolve().parent.parent / "instance"))


def normalise_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever scheme the operator wrote."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def load_or_create_secret_key(instance: Path, name: str = "secret_key") -> str:
    """Read instance/<name>, creating it once with mode 0600 if missing.

    The key is never a constant in the code: a constant would let anyone who reads the
    source forge session cookies and QR tags.
    """
    path = instance / name
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = ""
    if key:
        return key
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # Workers start at once: the key is written whole to a file of this process, then linked
    # into place, which fails if another got there first. Readers never see a half-written
    # (empty) file, which before gave a worker an empty key (found by bench/submit.py --profile).
    fd, tmp_name = tempfile.mkstemp(dir=instance, prefix=f".{name}.")  # mode 0600
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(key)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            key = path.read_text().strip()
            if not key:  # only a crash of an older version leaves one
                raise RuntimeError(f"{path} is empty: delete it, and a new key is made") from None
    finally:
        tmp.unlink(missing_ok=True)
    return key


def card_keys(instance: Path, name: str = "CARD_KEYS", file_prefix: str = "card_key") -> dict[str, str]:
    """The keys that sign card QR codes, {key id: secret}; the first one signs new cards.

    CARD_KEYS="2:<secret>,1:<secret>" in the environment; rotation adds a key in front, and a
    key removed from the list is revoked (its cards no longer verify). Without the setting,
    one key "1" is generated once into instance/card_key_1. The access log's keys
    (ACCESS_LOG_KEYS, instance/access_log_key_1) are read the same way.
    """
    return _keys("CARD_KEYS", instance, "card_key_1")


def audit_keys(instance: Path) -> dict[str, str]:
    """The keys of the audit chain's HMAC, {key id: secret}; the first one signs new entries.

    AUDIT_KEYS="2:<secret>,1:<secret>": rotation adds a key in front and KEEPS the older ones,
    as the entries they signed are verified with them (app.domain.keyed_chain). The key must
    not be readable by whoever can write to the database: set it in the environment (or a
    secret store), not in the database's folder. Without the setting, one key "1" is generated
    once into instance/audit_key_1, which protects only where the database is elsewhere.
    """
    return _keys("AUDIT_KEYS", instance, "audit_key_1")


def audit_algorithm() -> str:
    """AUDIT_ALGORITHM: hmac-sha256 (default) or hmac-sm3 (国密 SM3). Checked at start-up."""
    from app.domain.keyed_chain import DEFAULT_ALGORITHM, check_algorithm

    return check_algorithm(os.environ.get("AUDIT_ALGORITHM", "").strip() or DEFAULT_ALGORITHM)


def _keys(name: str, instance: Path, default_file: str) -> dict[str, str]:
    setting = os.environ.get(name, "").strip()
    if not setting:
        return {"1": load_or_create_secret_key(instance, default_file)}
    keys: dict[str, str] = {}
    for item in setting.split(","):
        key_id, _, secret = item.strip().partition(":")
        if not re.fullmatch(r"[a-z0-9]{1,4}", key_id) or len(secret) < 32:
            raise ValueError(f"{name}: each item is '<id>:<secret>', the id 1-4 lower-case letters "
                             "or digits, the secret at least 32 characters")
        keys[key_id] = secret
    return keys


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _round(value: str) -> str:
    """ACCEPTANCE_ROUND checked at start-up: a bad one stops the app with a clear message
    rather than failing each acceptance later (empty: the local year)."""
    from app.domain.settings import check_round  # the one rule, kept with the setting

    value = value.strip()
    return check_round(value) if value else ""


def from_environment() -> dict:
    instance = _instance_path()
    instance.mkdir(parents=True, exist_ok=True)
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'doorstep.sqlite'}"
    return {
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or load_or_create_secret_key(instance),
        "BASE_URL": os.environ.get("BASE_URL", "http://127.0.0.1:5000"),
        "CARD_KEYS": card_keys(instance),
        # The audit chain's HMAC keys (newest first) and algorithm (app.domain.audit).
        "AUDIT_KEYS": audit_keys(instance),
        "AUDIT_ALGORITHM": audit_algorithm(),
        # The access log's batches are HMAC-chained with these keys, kept outside the database
        # like the card keys; the first one signs new batches, older ones still verify.
        # One key source with the change audit chain (AUDIT_KEYS, rotated the same way).
        "ACCESS_LOG_KEYS": audit_keys(instance),
        # Buffered access entries are appended at least this often (and at exit).
        "ACCESS_LOG_FLUSH_SECONDS": float(os.environ.get("ACCESS_LOG_FLUSH_SECONDS", 2)),
        # Anonymous card scans per address and minute; more are refused (429) and counted.
        "CARD_SCANS_PER_MINUTE": _int("CARD_SCANS_PER_MINUTE", 30),
        # "ID number registered elsewhere" lookups per user and hour; more are not looked up.
        "ID_LOOKUPS_PER_HOUR": _int("ID_LOOKUPS_PER_HOUR", 120),
        # Households a printed book holds (DESIGN.md §7).
        "BOOK_SIZE": _int("BOOK_SIZE", 100),
        # PDF books and print jobs are written here, and deleted after PRINT_KEEP_DAYS: they
        # hold personal data, and a book can always be printed again.
        "PRINT_PATH": os.environ.get("PRINT_PATH", str(instance / "prints")),
        "PRINT_KEEP_DAYS": _int("PRINT_KEEP_DAYS", 7),
        # A running print job whose consumer gave no sign of life (one comes after each book,
        # which takes well under a minute) for this many seconds is taken for crashed and
        # queued again; after PRINT_JOB_MAX_ATTEMPTS tries it fails with a message.
        "PRINT_JOB_STALE_AFTER": _int("PRINT_JOB_STALE_AFTER", 600),
        "PRINT_JOB_MAX_ATTEMPTS": _int("PRINT_JOB_MAX_ATTEMPTS", 3),
        # Imported lists (issue 16): each uploaded file is kept here, named by its SHA-256, so
        # that the preview, the import job and a later look at its problems read the same bytes.
        "LIST_UPLOAD_PATH": os.environ.get("LIST_UPLOAD_PATH", str(instance / "lists")),
        # The largest list file a clerk may upload (a county's police list of 400k rows is
        # some 60 MB as CSV); larger ones are refused unread.
        "LIST_UPLOAD_MAX_BYTES": _int("LIST_UPLOAD_MAX_BYTES", DEFAULT_LIST_UPLOAD_MAX_BYTES),
        # Task queue for print jobs: Huey on SQLite in the instance folder, or Redis when set.
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
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
        # The round of village acceptance (issue 17, app.domain.scorecard); empty: the local year.
        "ACCEPTANCE_ROUND": _round(os.environ.get("ACCEPTANCE_ROUND", "")),
        **request_limits(_int("MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES)),
    }


# The largest request body taken (issue 15): a collective household of 500 members typed in
# full on the web form is about 1.5 MB, a signature at most some 100 KB. A larger body is
# refused with 413 before it is read (Werkzeug checks Content-Length, and a stream without
# one stops at the limit), so nothing is parsed, checked or stored.
DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024
# A list file's upload (LIST_UPLOAD_MAX_BYTES), the one route allowed more (app.web.accepts_upload).
DEFAULT_LIST_UPLOAD_MAX_BYTES = 200 * 1024 * 1024


def request_limits(max_bytes: int) -> dict:
    """Flask's settings for one limit: the body, and (Flask 3.1) a form's fields in memory,
    which would otherwise refuse url-encoded forms over 500 kB on their own."""
    return {"MAX_CONTENT_LENGTH": max_bytes, "MAX_FORM_MEMORY_SIZE": max_bytes}
