"""argon2id password hashing with parameters from the settings."""
from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError


def hasher(config) -> PasswordHasher:
    return PasswordHasher(
        time_cost=config["ARGON2_TIME_COST"],
        memory_cost=config["ARGON2_MEMORY_COST"],
        parallelism=config["ARGON2_PARALLELISM"],
        type=Type.ID,
    )


def hash_password(config, password: str) -> str:
    return hasher(config).hash(password)


def check_password(config, password_hash: str, password: str) -> tuple[bool, str | None]:
    """(matches, new hash if the stored one was made with other parameters)."""
    ph = hasher(config)
    try:
        ph.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False, None
    return True, (ph.hash(password) if ph.check_needs_rehash(password_hash) else None)


MIN_PASSWORD_LENGTH = 8
