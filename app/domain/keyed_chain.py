"""Keyed hash chains: each entry's hash is an HMAC over the previous hash and its content.

Pure, without Flask or the database, so that any append-only log can be chained the same way
(the audit log, app.domain.audit; an access log): a table with `prev_hash`, `hash`, `key_id`
and `algorithm` columns, appended under a lock, calls `KeyRing.sign` for each row and
`verify` to walk the rows in order.

Why keyed: a plain SHA-256 chain can be recomputed by anyone who can write to the database,
so a rewritten tail still verifies. The key lives outside the database (AUDIT_KEYS, like the
card keys); each entry names the id of its key and its algorithm, so keys can be rotated and
the algorithm changed while older entries stay verifiable. Truncation of the tail cannot be
seen from inside the chain at all: an operator keeps the head (`Anchor`, "N:HASH") elsewhere
and verifies against it.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

GENESIS = "0" * 64
# Algorithm name as stored in an entry -> hashlib name. Both digests are 32 bytes (64 hex
# characters). SM3 (GB/T 32905) comes from OpenSSL through hashlib: no extra package.
ALGORITHMS = {"hmac-sha256": "sha256", "hmac-sm3": "sm3"}
DEFAULT_ALGORITHM = "hmac-sha256"
KEY_ID = re.compile(r"[a-z0-9]{1,4}")
# Domain separation: a MAC of one chain is never valid in another chain or another use of the key.
_LABEL = "doorstep-chain-v1"
_ANCHOR = re.compile(r"(?P<n>[0-9]{1,19}):(?P<hash>[0-9a-f]{64})")


def check_algorithm(name: str) -> str:
    """The algorithm name if it is known and this Python's OpenSSL has it; ValueError else."""
    if name not in ALGORITHMS:
        raise ValueError(f"unknown chain algorithm {name!r}: choose one of {', '.join(ALGORITHMS)}")
    if ALGORITHMS[name] not in hashlib.algorithms_available:
        raise ValueError(f"{name}: this Python's OpenSSL has no {ALGORITHMS[name]} "
                         "(OpenSSL 1.1.1 or newer with the default provider has it)")
    return name


def canonical(fields: Sequence[Any]) -> bytes:
    return json.dumps(list(fields), sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class Link:
    """What a new entry stores: the key it was signed with, the algorithm, and its hash."""

    key_id: str
    algorithm: str
    hash: str


@dataclass(frozen=True)
class KeyRing:
    """The chain keys, {key id: secret}, newest first: the first signs, all verify.

    Rotation puts a new key in front and keeps the older ones, so that the entries they signed
    still verify. An entry signed with an older key after one signed with a newer key is
    refused by `verify`: a retired key that leaked cannot be used to append."""

    keys: Mapping[str, str]
    algorithm: str = DEFAULT_ALGORITHM  # what new entries use

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("no chain key")
        for key_id, secret in self.keys.items():
            if not KEY_ID.fullmatch(key_id) or len(secret) < 32:
                raise ValueError("chain keys: each id is 1-4 lower-case letters or digits, each secret "
                                 "at least 32 characters")
        check_algorithm(self.algorithm)

    @property
    def signing_key_id(self) -> str:
        return next(iter(self.keys))

    def age(self, key_id: str) -> int:
        """0 for the signing key, 1 for the key before it, and so on."""
        return list(self.keys).index(key_id)

    def mac(self, chain: str, key_id: str, algorithm: str, prev_hash: str, fields: Sequence[Any]) -> str:
        message = canonical([_LABEL, chain, key_id, algorithm, prev_hash, *fields])
        return hmac.new(self.keys[key_id].encode("utf-8"), message, ALGORITHMS[algorithm]).hexdigest()

    def sign(self, chain: str, prev_hash: str, fields: Sequence[Any]) -> Link:
        key_id = self.signing_key_id
        return Link(key_id, self.algorithm, self.mac(chain, key_id, self.algorithm, prev_hash, fields))


@dataclass(frozen=True)
class Anchor:
    """A head kept outside the database: the id of an entry and its hash, written "N:HASH"."""

    position: int
    hash: str

    @classmethod
    def parse(cls, text: str) -> Anchor:
        match = _ANCHOR.fullmatch(text.strip().lower())
        if match is None:
            raise ValueError(f"not a chain head: {text!r} (expected N:HASH, HASH 64 hex digits)")
        return cls(int(match["n"]), match["hash"])

    def __str__(self) -> str:
        return f"{self.position}:{self.hash}"


@dataclass(frozen=True)
class Row:
    """One entry as `verify` reads it. `fields`: what the MAC covers besides the links.
    `marker`: the entry is the marker where a keyed part starts after unkeyed entries."""

    id: int
    prev_hash: str
    hash: str
    key_id: str | None
    algorithm: str | None
    fields: Sequence[Any]
    marker: bool = False


@dataclass
class ChainReport:
    checked: int = 0          # entries found intact, in order, before the first problem
    unkeyed: int = 0          # of which in the unkeyed part (before the marker)
    keyed: int = 0
    broken_id: int | None = None  # the first entry found wrong, when one is
    reason: str | None = None
    head: Anchor | None = None    # the last entry checked
    keys_used: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reason is None


def verify(rows: Iterable[Row], ring: KeyRing, chain: str, *,
           unkeyed_hash: Callable[[Row], str] | None = None,
           anchors: Sequence[Anchor] = ()) -> ChainReport:
    """Walk the rows in order and report the first that is wrong.

    Unkeyed rows (key_id None) are accepted only before the keyed part, and only when
    `unkeyed_hash` (their plain hash) is given; after them the first keyed row must be a
    marker. A chain with unkeyed rows and no keyed part is reported: without a key, it could
    have been written by anyone. Each anchor must name a row of the chain with that hash;
    one beyond the last row means the tail was cut off."""
    report = ChainReport()
    expected_prev = GENESIS
    newest_age: int | None = None
    wanted = {a.position for a in anchors}
    seen: dict[int, str] = {}

    def broken(row: Row, reason: str) -> ChainReport:
        report.broken_id, report.reason = row.id, reason
        return report

    for row in rows:
        if row.prev_hash != expected_prev:
            return broken(row, "prev_hash does not match the entry before it")
        if row.key_id is None:
            if report.keyed:
                return broken(row, "an unkeyed entry after the keyed part started")
            if unkeyed_hash is None or not hmac.compare_digest(unkeyed_hash(row), row.hash):
                return broken(row, "content does not match its hash")
            report.unkeyed += 1
        else:
            if row.algorithm not in ALGORITHMS:
                return broken(row, f"unknown algorithm {row.algorithm!r}")
            if row.key_id not in ring.keys:
                return broken(row, f"signed with key {row.key_id!r}, which is not among the chain keys")
            age = ring.age(row.key_id)
            if newest_age is not None and age > newest_age:
                return broken(row, f"signed with key {row.key_id!r}, older than the key of an entry before it")
            if not report.keyed and report.unkeyed and not row.marker:
                return broken(row, "the keyed part does not start with its marker entry")
            actual = ring.mac(chain, row.key_id, row.algorithm, row.prev_hash, row.fields)
            if not hmac.compare_digest(actual, row.hash):
                return broken(row, "content does not match its keyed hash")
            newest_age = age
            if row.key_id not in report.keys_used:
                report.keys_used.append(row.key_id)
            report.keyed += 1
        if row.id in wanted:
            seen[row.id] = row.hash
        expected_prev = row.hash
        report.checked += 1
        report.head = Anchor(row.id, row.hash)
    if report.unkeyed and not report.keyed:
        report.reason = ("the chain has no keyed part: nothing was recorded since keys were introduced, "
                         "or the keyed part was removed")
        return report
    for anchor in anchors:
        last = report.head.position if report.head else 0
        if anchor.position not in seen:
            report.reason = (f"entry {anchor.position} of the anchored head is missing: the chain ends at "
                             f"entry {last}, it was cut off" if anchor.position > last else
                             f"entry {anchor.position} of the anchored head is missing")
            return report
        if not hmac.compare_digest(seen[anchor.position], anchor.hash):
            report.broken_id = anchor.position
            report.reason = f"entry {anchor.position} does not have the anchored hash: the chain was rewritten"
            return report
    return report
