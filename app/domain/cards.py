"""Household cards in QR codes: signed, checkable, revocable (DESIGN.md §6).

A card's QR code holds BASE_URL/c/<village code>-<card no>.<tag>. The tag is the id of the
key that signed the code followed by a truncated HMAC-SHA256, so codes cannot be forged or
guessed, and removing a key from CARD_KEYS revokes every card it signed. The code holds no
name, ID number or address: a lost card tells only that a village has a card with that number.

`read_card_code` and `card_code` are pure and take the keys dict ({key id: secret}, the first
key signs; app.config["CARD_KEYS"]). `scan` is what the /c/ page does: read, decide, audit.

A household moved to another village (a transfer) gets a new card number there; its old card
stays genuine (the old village's book keeps its page) and names a household that is no longer
in that village: `departures` says where each such card's household went.
"""
from __future__ import annotations

import base64
import datetime as dt
import enum
import hashlib
import hmac
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import or_, select

from app.domain import audit, scope
from app.domain.errors import Invalid, NotFound
from app.extensions import db
from app.models import AdminUnit, Household, HouseholdVersion, UnitLevel, User
from app.models.events import HouseholdTransfer, TransferState

MAC_LENGTH = 11  # base64url of 8 bytes without padding; fixed, so the key id is tag[:-11]
# Key ids as app.config.card_keys accepts them.
_KEY_ID = re.compile(r"[a-z0-9]{1,4}")
_CODE = re.compile(r"(?P<village>[0-9]{12})-(?P<card>[0-9]{4})"
                   r"\.(?P<key>[a-z0-9]{1,4})(?P<mac>[A-Za-z0-9_-]{11})")
# A raw code kept in the audit log for investigation is cut to this length.
AUDIT_CODE_LENGTH = 64
# The fallback form offers a list of villages up to this many; beyond, the code is typed.
MAX_VILLAGE_CHOICES = 100


@dataclass(frozen=True)
class CardRef:
    """What a genuine code says: a card of this village with this number, signed with this key."""

    village_code: str
    card_no: str
    key_id: str


class ScanOutcome(str, enum.Enum):
    opened = "opened"    # the user may see the household: the view opens it
    valid = "valid"      # a genuine card, but nothing more is shown to this user
    invalid = "invalid"  # malformed, forged, or signed with an unknown or revoked key
    moved = "moved"      # a genuine old card of a household that moved to another village


@dataclass(frozen=True)
class ScanResult:
    outcome: ScanOutcome
    card: CardRef | None = None
    village_name: str | None = None  # the village as this system knows it (None: not known here)
    household_id: uuid.UUID | None = None  # opened, or moved when the user may open it
    can_edit: bool = False  # the user is the household's collector
    departure: Departure | None = None  # moved only


@dataclass(frozen=True)
class Departure:
    """A household leaving a village by an accepted transfer, and the card it held there."""

    household: Household
    from_village_id: int
    card_no: str  # its card number in the village it left
    occurred_on: dt.date
    to_village: AdminUnit
    to_card_no: str  # its card number in the village it went to
    version: HouseholdVersion  # the transfer version: the household's first in the village it went to


def departures(household_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, list[Departure]]:
    """Every accepted transfer of these households, oldest first (a household is moved again
    only after its last transfer was decided, so ids are in the order of the moves)."""
    ids = list(dict.fromkeys(household_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(HouseholdTransfer, HouseholdVersion)
        .join(HouseholdVersion, HouseholdTransfer.version_id == HouseholdVersion.id)
        .where(HouseholdTransfer.household_id.in_(ids),
               HouseholdTransfer.state == TransferState.accepted.value)
        .order_by(HouseholdTransfer.household_id, HouseholdTransfer.id)).all()
    chains: dict[uuid.UUID, list[tuple[HouseholdTransfer, HouseholdVersion]]] = {}
    for transfer, version in rows:
        chains.setdefault(transfer.household_id, []).append((transfer, version))
    out: dict[uuid.UUID, list[Departure]] = {}
    for household_id, chain in chains.items():
        for i, (transfer, version) in enumerate(chain):
            # The card number in the village it went to: what the next move took away, or
            # its present one when it is still there.
            after = (chain[i + 1][1].event or {}).get("from_card_no") if i + 1 < len(chain) else None
            unit = transfer.to_unit
            out.setdefault(household_id, []).append(Departure(
                household=transfer.household, from_village_id=transfer.from_village_id,
                card_no=str((version.event or {}).get("from_card_no") or ""),
                occurred_on=transfer.occurred_on,
                to_village=unit if unit.level == UnitLevel.village.value else unit.parent,
                to_card_no=after or transfer.household.card_no, version=version))
    return out


def departure_of_card(village: AdminUnit, card_no: str) -> Departure | None:
    """The household that held this card of this village before it moved away (the latest,
    should two have), or None."""
    left = db.session.scalars(select(HouseholdTransfer.household_id).where(
        HouseholdTransfer.from_village_id == village.id,
        HouseholdTransfer.state == TransferState.accepted.value)).all()
    matching = [d for chain in departures(left).values() for d in chain
                if d.from_village_id == village.id and d.card_no == card_no]
    return max(matching, key=lambda d: d.version.id, default=None)


def _mac(secret: str, key_id: str, village_code: str, card_no: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), f"{key_id}:{village_code}-{card_no}".encode("ascii"),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:8]).rstrip(b"=").decode("ascii")


def card_code(keys: dict[str, str], village_code: str, card_no: str) -> str:
    """'<village code>-<card no>.<key id><mac>', signed with the first key of `keys`."""
    if not keys:
        raise ValueError("no card key to sign with")
    key_id, secret = next(iter(keys.items()))
    if not (_KEY_ID.fullmatch(key_id) and re.fullmatch(r"[0-9]{12}", village_code)
            and re.fullmatch(r"[0-9]{4}", card_no)):
        raise ValueError(f"cannot make a card code: key {key_id!r}, village {village_code!r}, "
                         f"card {card_no!r}")
    return f"{village_code}-{card_no}.{key_id}{_mac(secret, key_id, village_code, card_no)}"


def card_url(base_url: str, keys: dict[str, str], village_code: str, card_no: str) -> str:
    """The URL a printed card's QR code holds."""
    return f"{base_url.rstrip('/')}/c/{card_code(keys, village_code, card_no)}"


def read_card_code(keys: dict[str, str], code: str) -> CardRef | None:
    """The card a code names, or None if it is malformed, its key is unknown or revoked, or
    its mac is wrong."""
    match = _CODE.fullmatch(code)
    if match is None:
        return None
    key_id = match["key"]
    secret = keys.get(key_id)
    if secret is None:
        return None
    expected = _mac(secret, key_id, match["village"], match["card"])
    if not hmac.compare_digest(expected, match["mac"]):
        return None
    return CardRef(match["village"], match["card"], key_id)


def _printable(text: str) -> str:
    """A junk code as it can be stored and read: control and other unprintable characters as
    \\uXXXX (PostgreSQL's JSON refuses NUL, "a\\x00b" from /c/a%00b failed the scan with a 500)."""
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


def scan(actor: User | None, keys: dict[str, str], code: str, address: str) -> ScanResult:
    """A card was scanned (its /c/ URL opened) by `actor` (None: not signed in).

    Opened when the user may see the household; valid for a genuine card otherwise, which
    says no more than the village and the card number, so that whether the household exists
    stays hidden from anyone outside its area; invalid else. The old card of a household that
    moved to another village is `moved` for a user who may see the household now (with it,
    to open) or who may see the households of the village it left (where it went, no more);
    valid for anyone else. One audit entry per scan of a signed-in user; anonymous scans are
    counted by the caller instead (per day, address and outcome: app.access_log), so that a
    scanner of junk codes cannot flood the audit log.
    """
    card = read_card_code(keys, code)
    if card is None:
        if actor is None:
            return ScanResult(ScanOutcome.invalid)
        audit.record("card.scan", actor=actor, details={
            "outcome": ScanOutcome.invalid.value, "code": _printable(code[:AUDIT_CODE_LENGTH]),
            "address": address})
        return ScanResult(ScanOutcome.invalid)
    village = db.session.scalar(select(AdminUnit).where(AdminUnit.code == card.village_code,
                                                        AdminUnit.level == UnitLevel.village.value))
    household = None if village is None else db.session.scalar(
        select(Household).where(Household.village_id == village.id, Household.card_no == card.card_no))
    if household is None and village is not None and actor is not None:
        departure = departure_of_card(village, card.card_no)
        if departure is not None:
            moved = _moved(actor, card, village, departure, address)
            if moved is not None:
                return moved
    opened = (actor is not None and household is not None
              and scope.can_at(actor, "household.view", household.unit_path))
    outcome = ScanOutcome.opened if opened else ScanOutcome.valid
    if actor is None:
        return ScanResult(outcome, card, village.name if village else None)
    # The household is named only when opened: the entry then reads as "who opened it".
    audit.record("card.scan", actor=actor, object_type="household" if opened else None,
                 object_id=household.id if opened else None,
                 details={"outcome": outcome.value, "key_id": card.key_id, "village": card.village_code,
                          "card_no": card.card_no, "address": address})
    if not opened:
        return ScanResult(outcome, card, village.name if village else None)
    return ScanResult(outcome, card, village.name, household.id,
                      can_edit=scope.can_at(actor, "household.edit", household.unit_path))


def _told_of(actor: User, departure: Departure, village: AdminUnit) -> bool:
    """Who learns that a household moved away from `village`: a user of its new place, or
    one who may see the households of the whole village it left."""
    return (scope.can_at(actor, "household.view", departure.household.unit_path)
            or scope.can_at(actor, "household.view", village.path))


def _moved(actor: User, card: CardRef, village: AdminUnit, departure: Departure,
           address: str) -> ScanResult | None:
    """The old card of a household that moved away, for a user of its new place or of the
    village it left; None for anyone else (the card then reads as any valid card)."""
    household = departure.household
    opens = scope.can_at(actor, "household.view", household.unit_path)
    if not _told_of(actor, departure, village):
        return None
    audit.record("card.scan", actor=actor, object_type="household" if opens else None,
                 object_id=household.id if opens else None,
                 details={"outcome": ScanOutcome.moved.value, "key_id": card.key_id,
                          "village": card.village_code, "card_no": card.card_no, "address": address,
                          "to_village": departure.to_village.code, "to_card_no": departure.to_card_no})
    return ScanResult(ScanOutcome.moved, card, village.name, household.id if opens else None,
                      can_edit=opens and scope.can_at(actor, "household.edit", household.unit_path),
                      departure=departure)


# ------------------------------------------------------------------ the card number typed in


def lookup_villages(actor: User) -> list[AdminUnit]:
    """Villages where the actor may look up a card number: those in the scope, and the
    village of a group the actor holds a role in (card numbers count per village). At most
    MAX_VILLAGE_CHOICES + 1, so the caller can tell that there are too many to list."""
    group_villages = [a.unit.parent_id for a in actor.roles if a.unit.level == UnitLevel.group.value]
    return list(db.session.scalars(
        select(AdminUnit)
        .where(AdminUnit.level == UnitLevel.village.value,
               or_(scope.scope_filter(actor, AdminUnit.path, "household.view"),
                   AdminUnit.id.in_(group_villages)))
        .order_by(AdminUnit.path).limit(MAX_VILLAGE_CHOICES + 1)))


def find_by_card_no(actor: User, village_code: str, card_no: str) -> Household:
    """The household with this card number in this village, if the actor may see it.

    `village_code` may be empty for a user of one village. Invalid when the number is not
    1-4 digits or the village is none of the actor's; NotFound when there is no such
    household or it lies outside the actor's area (the two are not told apart)."""
    card_no = (card_no or "").strip()
    if not re.fullmatch(r"[0-9]{1,4}", card_no):
        raise Invalid(_("Card number: enter the number printed on the card, up to 4 digits."),
                      field="card_no")
    card_no = card_no.zfill(4)
    village_code = (village_code or "").strip()
    if not village_code:  # a user of one village need not name it
        villages = lookup_villages(actor)
        village_code = villages[0].code if len(villages) == 1 else ""
    village = db.session.scalar(select(AdminUnit).where(AdminUnit.code == village_code,
                                                        AdminUnit.level == UnitLevel.village.value))
    paths = scope.scope_paths(actor, "household.view")
    # In the scope, or above a unit of the scope (a collector of one group of the village).
    if village is None or not any(village.path.startswith(p) or p.startswith(village.path) for p in paths):
        raise Invalid(_("Village: choose one of your villages."), field="village")
    household = db.session.scalar(
        select(Household).where(Household.village_id == village.id, Household.card_no == card_no))
    if household is None:
        _refuse_moved_card(actor, village, card_no)
    if household is None or not scope.can_at(actor, "household.view", household.unit_path):
        raise NotFound(_("Card number: there is no household with card number %(card)s in %(village)s "
                         "that you may open.", card=card_no, village=village.name), field="card_no")
    return household


def _refuse_moved_card(actor: User, village: AdminUnit, card_no: str) -> None:
    """A typed card number that a household held before it moved away: say so, to the same
    users the scanned old card tells (its new place, or the whole village it left)."""
    departure = departure_of_card(village, card_no)
    if departure is None or not _told_of(actor, departure, village):
        return
    raise NotFound(_("Card %(card)s of %(village)s is no longer in use: the household moved to "
                     "%(to_village)s on %(date)s. Its new card number is %(to_card)s.",
                     card=card_no, village=village.name, to_village=departure.to_village.name,
                     date=departure.occurred_on.isoformat(), to_card=departure.to_card_no),
                   field="card_no")
