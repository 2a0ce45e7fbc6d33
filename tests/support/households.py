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


def young_family(surname: str = "张", seq: int = 1) -> dict:
    """A coherent family with a married woman aged 15-49 (38 on TODAY) and her items filled:
    head, his wife (married 2010, a son born 2012 and a daughter born 2015, both at home)."""
    head = member(f"{surname}建国", "02", "1985-03-01", "1", seq=seq, marital_status="20")
    return {
        "household": {"household_type": "family", "door_no": f"{seq}号"},
        "members": [
            head,
            member("李秀英", "12", "1988-05-02", "2", seq=seq, marital_status="20",
                   marriage_date="2010-10-01", spouse_member=head["person_id"], boys=1, girls=1,
                   youngest_birth_date="2015-06-01", youngest_sex="2"),
            member(f"{surname}伟", "20", "2012-01-10", "1", seq=seq),
            member(f"{surname}丽", "30", "2015-06-01", "2", seq=seq),
        ],
    }
