"""ID numbers on the review page: the check result next to a masked number, and one person's
full number revealed on demand to a reviewer, recorded in the audit log.

Reviewers see masked numbers (app.web.forms_data.mask_id_number), yet "wrong ID number" is a
reason to return a household: the check (collection_forms' validator, GB 11643, and the
agreement with the birth date and sex) tells them which numbers are wrong without showing
them; when they must read one, the reveal says who read whose number and when.
"""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from app.domain import audit, registration, scope
from app.domain.errors import Forbidden, NotFound
from app.extensions import db
from app.models import Person, User
from collection_forms.id_number import IdNumberError, parse_id_number

# Who may reveal: the reviewers of a household (village leaders and verifiers whose scope holds
# it), the same people who may return it for a wrong number.
REVEAL_PERMISSION = "household.return"


@dataclass(frozen=True)
class IdCheck:
    level: str  # "ok", "warning" (region code unknown) or "error"
    code: str   # the validator's rule: id.ok, id.length, id.checksum, id.birth_date_mismatch...
    zh: str     # what is wrong, a fragment after the field's label ("校验位错误，请核对号码")
    en: str


def check(person: Person, today: dt.date) -> IdCheck | None:
    """The check of a person's stored ID number, or None without one. The texts never show the
    masked digits (a birth date or region code read from the number): revealing is audited."""
    if not person.id_number:
        return None
    try:
        info = parse_id_number(person.id_number, today)
    except IdNumberError as e:
        if e.code == "id.date":
            return IdCheck("error", e.code, "中的出生日期无效", "contains an impossible birth date")
        return IdCheck("error", e.code, e.message_zh, e.message_en)
    if person.birth_date is not None and person.birth_date != info.birth_date:
        return IdCheck("error", "id.birth_date_mismatch", "与出生日期不一致", "does not match the date of birth")
    if person.sex in ("1", "2") and person.sex != info.sex:
        return IdCheck("error", "id.sex_mismatch", "与性别不一致", "does not match the sex")
    if info.region_warning is not None:
        return IdCheck("warning", info.region_warning.code, "中的地区码不在行政区划代码表中，请核对",
                       "has a region code that is not in the table of division codes; check it")
    return IdCheck("ok", "id.ok", "校验通过", "is valid")


def reveal(user: User, household_id: uuid.UUID, person_id: uuid.UUID) -> Person:
    """One member's full ID number for a reviewer, audited (who, when, household, person).
    NotFound outside the user's scope or for a person not in the household; Forbidden for a
    user in scope who does not review it (a collector, a clerk). The number is not written to
    the audit log: the entry says whose number was read, not the number."""
    household = registration.get_household(user, household_id)
    if not scope.can_at(user, REVEAL_PERMISSION, household.unit_path):
        raise Forbidden(_("Only the village leader and the township verifier may see a full ID number."))
    person = db.session.scalar(select(Person).where(Person.id == person_id,
                                                    Person.household_id == household.id))
    if person is None:
        raise NotFound(_("No such member in this household."))
    audit.record("person.id_number_reveal", actor=user, object_type="person", object_id=person.id,
                 details={"household_id": str(household.id), "card_no": household.card_no,
                          "village": household.village.code, "version": household.current_number,
                          "name": person.name})
    return person
