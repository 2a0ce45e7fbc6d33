"""Pre-filled households asked from a list's page (issue 16, "start of collection"), over real
HTTP on both databases: a clerk imports a police list, asks for the pre-fill (the job runs at
once in tests), the page shows it done with its counts and the households are in their
villages; asking again makes nothing twice, a second ask while one is under way starts
nothing; no permission is 403, another area's list 404; a pre-fill that fails after a
village shows why, keeps that village, and a new ask goes on."""
from __future__ import annotations

import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from app import jobs
from app.domain import prefill
from app.domain.errors import Conflict
from app.extensions import db
from app.models import Household, ImportedList, utcnow
from tests.test_lists_web import import_police, police_rows, text
from tests.test_lists_web import people as lists_people  # noqa: F401 (a fixture, by this name)

A, B = "110101001001", "110101001002"


@pytest.fixture
def people(lists_people):  # noqa: F811 (pytest passes the imported fixture)
    """The clerk of T1 (钱文书), the clerk of T2 and a collector of A, each with a logged-in client."""
    return lists_people


def two_villages() -> list[list[str]]:
    # Village A: household H001 (3 persons; the nameless H002 row is refused); B: H101, H102.
    return [*police_rows(A),
            ["孙大海", "男", "1970-04-04", "", "H101", "户主", B, "银闸胡同1号"],
            ["周小梅", "女", "1972-08-09", "", "H102", "户主", B, "银闸胡同2号"]]


def households_in(unit) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Household).where(Household.village_id == unit.id))


def ask(client, lst: ImportedList, key: str = "household_no"):
    return client.post_form(f"/lists/{lst.id}/prefill", {"key": key})


def fresh(lst: ImportedList) -> ImportedList:
    db.session.expire_all()
    return db.session.get(ImportedList, lst.id)


def test_a_clerk_asks_for_the_prefill_and_the_page_shows_it_done_with_its_counts(app, people, units):
    lst = import_police(people, rows=two_villages())
    c = people.clerk_client
    page = text(c.get(f"/lists/{lst.id}"))
    assert 'data-testid="prefill-form"' in page and "生成预填住户" in page
    assert 'value="household_no" checked' in page  # a police list: by 户号
    assert "data-status-url" not in page  # nothing runs: no polling

    resp = ask(c, lst)
    assert resp.status_code == 302 and resp.headers["Location"] == f"/lists/{lst.id}"
    done = fresh(lst)
    assert (done.prefill_state, done.prefill_key, done.prefill_by_id) == ("done", "household_no", people.clerk.id)
    assert done.prefill_asked_at is not None and done.prefill_done == done.prefill_total == 5
    assert (done.prefill_created, done.prefill_updated, done.prefill_noticed) == (3, 0, 0)
    assert households_in(units["A"]) == 1 and households_in(units["B"]) == 2

    page = text(c.get(resp.headers["Location"]))
    assert "预填完成" in page and "data-status-url" not in page
    for name, n in (("created", 3), ("updated", 0), ("noticed", 0)):
        assert re.search(rf'data-testid="prefill-{name}">{n}<', page), name
    assert 'href="/review/prefilled/"' in page and "钱文书" in page
    status = c.get(f"/lists/{lst.id}/status").get_json()
    assert (status["prefill_state"], status["prefill_done"], status["busy"]) == ("done", 5, False)

    # Asked again: a new run that finds every record used, and makes nothing twice.
    assert ask(c, lst).status_code == 302
    again = fresh(lst)
    assert (again.prefill_state, again.prefill_created) == ("done", 0)
    assert households_in(units["A"]) == 1 and households_in(units["B"]) == 2


def test_a_second_ask_while_one_is_under_way_starts_nothing(app, people, units, monkeypatch):
    lst = import_police(people, rows=two_villages())
    c = people.clerk_client
    started = []
    monkeypatch.setattr(jobs, "run_prefill", lambda *args: started.append(args))  # left queued
    assert ask(c, lst, "village_card_no").status_code == 302
    assert started == [(lst.id, "village_card_no", people.clerk.id)]
    page = text(c.get(f"/lists/{lst.id}"))
    assert "等待开始" in page and f'data-status-url="/lists/{lst.id}/status"' in page and "lists.js" in page
    assert 'data-testid="prefill-form"' not in page
    assert c.get(f"/lists/{lst.id}/status").get_json()["busy"] is True

    resp = ask(c, lst)  # the double tap
    assert resp.status_code == 302 and "正在进行中" in text(c.get(resp.headers["Location"]))
    assert len(started) == 1 and fresh(lst).prefill_key == "village_card_no"

    # A job silent for longer than LIST_IMPORT_STALE_AFTER died: it may be asked again.
    db.session.execute(ImportedList.__table__.update().where(ImportedList.id == lst.id)
                       .values(prefill_progress_at=utcnow() - dt.timedelta(hours=1)))
    db.session.commit()
    assert ask(c, lst).status_code == 302 and len(started) == 2


def test_no_permission_is_403_another_areas_list_404_and_a_bad_key_changes_nothing(app, people, units):
    lst = import_police(people, rows=two_villages())
    assert ask(people.collector_client, lst).status_code == 403
    assert ask(people.other_client, lst).status_code == 404
    assert people.clerk_client.post(f"/lists/{lst.id}/prefill", data={"key": "household_no"}).status_code == 400
    resp = ask(people.clerk_client, lst, key="surname")
    assert resp.status_code == 302 and "请选择区分住户的依据" in text(people.clerk_client.get(resp.headers["Location"]))
    assert fresh(lst).prefill_state is None
    assert households_in(units["A"]) == 0 and households_in(units["B"]) == 0


@pytest.mark.parametrize("error, shown", [(Conflict("第二个村的数据库连接断开"), "第二个村的数据库连接断开"),
                                          (RuntimeError("secret detail"), "RuntimeError")])
def test_a_failing_prefill_shows_why_keeps_the_village_done_and_a_new_ask_goes_on(app, people, units, monkeypatch,
                                                                                  error, shown):
    lst = import_police(people, rows=two_villages())
    c = people.clerk_client
    real = prefill.prefill

    def failing(*args, on_progress, **kw):
        def progress(done: int, total: int) -> None:
            on_progress(done, total)
            raise error  # after the first village was committed
        return real(*args, on_progress=progress, **kw)

    monkeypatch.setattr(prefill, "prefill", failing)
    assert ask(c, lst).status_code == 302
    failed = fresh(lst)
    assert failed.prefill_state == "failed" and failed.prefill_done == 3 and failed.prefill_total == 5
    page = text(c.get(f"/lists/{lst.id}"))
    assert "预填中断" in page and 'data-testid="prefill-failed"' in page and shown in page
    assert "secret detail" not in page
    assert 'data-testid="prefill-form"' in page  # asked again from here
    assert households_in(units["A"]) == 1 and households_in(units["B"]) == 0

    monkeypatch.setattr(prefill, "prefill", real)
    assert ask(c, lst).status_code == 302
    done = fresh(lst)
    assert (done.prefill_state, done.prefill_created, done.prefill_error) == ("done", 2, None)
    assert households_in(units["A"]) == 1 and households_in(units["B"]) == 2
