"""Test data for households: valid ID numbers and coherent members."""
from __future__ import annotations

import datetime as dt
import uuid

from stdnum.iso7064 import mod_11_2

REGION = "110101"  # 东城区, valid since 1980 in stdnum's table


def id_number(birth: str, sex: str, seq: int = 1, region: str = REGION) -> str:
    """A GB 11643 number with a correct check digit; odd 17th digit for men."""
    order = seq * 2 + (1 if sex == "1" else 0)  # 2 digits + sex digit: odd = male
    body = f"{region}{birth.replace('-', '')}{order:03d}"[:17]
    return body + mod_11_2.calc_check_digit(body)


def member(name: str, relationship: str, birth: str, sex: str, *, seq: int = 1, **extra) -> dict:
    data = {"person_id": str(uuid.uuid4()), "name": name, "relationship": relationship,
            "birth_date": birth, "sex": sex, "id_number": id_number(birth, sex, seq),
            "management": "resident", "status": "active", "marital_status": "10"}
    data.update(extra)
    return data


def family(surname: str = "张", seq: int = 1) -> dict:
    """A coherent family of four: head, wife, son, daughter."""
    return {
        "household": {"household_type": "family", "door_no": f"{seq}号"},
        "members": [
            member(f"{surname}建国", "02", "1970-03-01", "1", seq=seq, marital_status="20"),
            member("李秀英", "12", "1972-05-02", "2", seq=seq, marital_status="20"),
            member(f"{surname}伟", "20", "1995-07-03", "1", seq=seq),
            member(f"{surname}丽", "30", "1998-09-04", "2", seq=seq),
        ],
    }


TODAY = dt.date(2026, 11, 23)
