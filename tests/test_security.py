"""Secure by default: login required, CSRF on every state change, scope on every object route.

These tests walk the app's URL map, so a route added later is covered without anyone
remembering to add it here; a route whose parameters the scope matrix cannot fill makes
the matrix fail until a factory for that parameter is added below.
"""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select
from werkzeug.routing import UUIDConverter

from app.domain.units import get_or_create_unit
from app.extensions import db
from app.models import AuditEntry, UnitLevel

# Endpoints that answer without a login, on purpose.
PUBLIC_ENDPOINTS = {"static", "auth.login", "auth.set_language", "cards.card", "offline.service_worker",
                    "offline.manifest"}


def _rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint != "static"]


def _fill(rule, values: dict) -> str:
    from werkzeug.routing import BuildError
    try:
        return rule.build(values, append_unknown=False)[1]
    except BuildError as e:  # pragma: no cover - a message for the developer
        raise AssertionError(f"cannot build {rule}: {e}") from e


def _any_value(rule, arg: str):
    """A value the route's converter accepts (a uuid for <uuid:...>, else 1)."""
    return uuid.UUID(int=1) if isinstance(rule._converters[arg], UUIDConverter) else 1


def test_public_endpoints_are_exactly_the_allow_list(app):
    public = {r.endpoint for r in app.url_map.iter_rules()
              if getattr(app.view_functions[r.endpoint], "is_public", False)}
    assert public | {"static"} == PUBLIC_ENDPOINTS


def test_every_other_page_requires_login(app, client):
    for rule in _rules(app):
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        url = _fill(rule, {a: _any_value(rule, a) for a in rule.arguments})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method == "GET":
                resp = client.get(url)
            else:
                resp = client.open(url, method=method, data={"csrf_token": client.csrf_token()})
            assert resp.status_code in (302, 401), f"{method} {url} answered {resp.status_code}"
            if resp.status_code == 302:
                assert resp.headers["Location"].startswith("/login"), f"{method} {url}"


def test_state_changes_without_csrf_token_are_refused(client, units, make_user):
    make_user("collector", units["A"], username="zhang")
    resp = client.post("/login", data={"username": "zhang", "password": "correct horse battery"})
    assert resp.status_code == 400
    client.login("zhang")
    before = db.session.scalar(select(func.count()).select_from(AuditEntry))
    resp = client.post("/logout")
    assert resp.status_code == 400
    assert 'data-testid="error-message"' in resp.get_data(as_text=True)
    assert client.get("/").status_code == 200, "still logged in"
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == before
    resp = client.post("/logout", data={"csrf_token": "forged"})
    assert resp.status_code == 400


# ------------------------------------------------------------------ the scope matrix
#
# For each URL parameter: how to make an object that lies in village B (township T1)
# or elsewhere outside village A, for the outsiders below to ask for. A new route with
# a parameter not listed here fails test_scope_matrix until its factory is added.

def _user_in_b(ctx):
    return ctx["make_user"]("collector", ctx["units"]["B"], username="b_collector").id


def _assignment_in_b(ctx):
    from app.models import User
    user = db.session.get(User, ctx["objects"].get("user_id") or _user_in_b(ctx))
    return user.roles[0].id


def _household_in_b(ctx):
    from app.domain import registration
    from tests.support.households import family
    maker = ctx["make_user"]("collector", ctx["units"]["B"], username="b_household_maker")
    result = registration.new_household(maker, unit_id=ctx["units"]["B"].id, data=family())
    db.session.commit()
    return result.household.id


def _card_code_in_b(ctx):
    from flask import current_app

    from app.domain.cards import card_code
    from app.models import Household
    if "household_id" not in ctx["objects"]:
        ctx["objects"]["household_id"] = _household_in_b(ctx)
    household = db.session.get(Household, ctx["objects"]["household_id"])
    return card_code(current_app.config["CARD_KEYS"], household.village.code, household.card_no)


def _print_job_in_b(ctx):
    """A finished print job of village B (a real render of its one household)."""
    from app import runs
    from app.domain import print_jobs
    from app.models import PrintJobKind
    household = ctx["objects"].get("household_id") or _household_in_b(ctx)
    ctx["objects"]["household_id"] = household
    clerk = ctx["make_user"]("clerk", ctx["units"]["T1"], username="b_clerk")
    job = print_jobs.request_job(clerk, ctx["units"]["B"], PrintJobKind.village)
    db.session.commit()
    return runs.run_print_job(job.id).id


def _device_in_b(ctx):
    from app.domain import devices
    owner = ctx["make_user"]("collector", ctx["units"]["B"], username="b_phone_owner")
    device, _token = devices.issue(owner, "B phone")
    db.session.commit()
    return device.id


def _conflict_in_b(ctx):
    """A phone's edit of a B household made on version 1 after version 2 was saved."""
    from app.domain import registration, sync
    from tests.support.households import family
    maker = ctx["make_user"]("collector", ctx["units"]["B"], username="b_conflict_maker")
    data = family(surname="赵", seq=7)
    household = registration.new_household(maker, unit_id=ctx["units"]["B"].id, data=data).household
    registration.save_household(maker, household.id, data={**data, "household": {"door_no": "8号"}}, base_number=1)
    strokes = [[[100, 100], [400, 130], [700, 100]], [[250, 60], [260, 200], [240, 330]]]
    outcome = sync.submit_from_phone(maker, submission_id=uuid.uuid4(), household_id=household.id, unit_id=None,
                                     base_version=1, data=data, strokes=strokes)
    db.session.commit()
    return outcome.answer["conflict_id"]


def _person_in_b(ctx):
    from app.models import Household
    if "household_id" not in ctx["objects"]:
        ctx["objects"]["household_id"] = _household_in_b(ctx)
    return db.session.get(Household, ctx["objects"]["household_id"]).persons[0].id


def _transfer_into_c(ctx):
    """A pending transfer of a B household into village C."""
    from app.domain import events
    from app.models import Household
    if "household_id" not in ctx["objects"]:
        ctx["objects"]["household_id"] = _household_in_b(ctx)
    household = db.session.get(Household, ctx["objects"]["household_id"])
    maker = ctx["make_user"]("collector", ctx["units"]["B"], username="b_transfer_maker")
    transfer = events.request_transfer(maker, household.id, to_unit_id=ctx["units"]["C"].id,
                                       occurred_on=household.created_at.date())
    db.session.commit()
    return transfer.id


def _list_in_t1(ctx):
    """A police list imported by a clerk of township T1, its row in village B."""
    import tempfile
    from pathlib import Path

    from app.domain import lists
    clerk = ctx["make_user"]("clerk", ctx["units"]["T1"], username="b_list_clerk")
    path = Path(tempfile.mkdtemp(prefix="doorstep-list-")) / "police.csv"
    path.write_text(f"姓名,村(居)委会\n王五,{ctx['units']['B'].code}\n", encoding="utf-8")
    result = lists.import_list(clerk, path, source="police")
    db.session.commit()
    return result.list_id


def _upload_in_t1(ctx):
    """A file uploaded for a list's preview (kept under its SHA-256): only the session that
    uploaded it may preview it, so every other user is answered 404."""
    import hashlib
    from pathlib import Path

    from flask import current_app

    from app.config import _instance_path
    data = f"姓名,村(居)委会\n赵六,{ctx['units']['B'].code}\n".encode()
    folder = Path(current_app.config.get("LIST_UPLOAD_PATH") or _instance_path() / "lists")
    folder.mkdir(parents=True, exist_ok=True)
    sha256 = hashlib.sha256(data).hexdigest()
    (folder / f"{sha256}.csv").write_bytes(data)
    return sha256


def _notice_in_b(ctx):
    """A newer register's notice on a B household (app.domain.prefill)."""
    from app.models import HouseholdNotice
    if "household_id" not in ctx["objects"]:
        ctx["objects"]["household_id"] = _household_in_b(ctx)
    notice = HouseholdNotice(household_id=ctx["objects"]["household_id"], kind="register_differs",
                             differences=[{"member": "某", "change": "added"}])
    db.session.add(notice)
    db.session.commit()
    return notice.id


def _spot_check_in_b(ctx):
    """A spot check of village B (a young family's married woman sampled), drawn by T1's verifier."""
    from app.domain import registration, spot_checks
    from tests.support.households import young_family
    maker = ctx["make_user"]("collector", ctx["units"]["B"], username="b_spot_check_maker")
    registration.new_household(maker, unit_id=ctx["units"]["B"].id, data=young_family("孙", seq=7))
    verifier = ctx["make_user"]("verifier", ctx["units"]["T1"], username="b_spot_check_drawer")
    check = spot_checks.draw(verifier, ctx["units"]["B"].id, seed="s", round_="2026",
                             today=registration.today())
    db.session.commit()
    return check.id


def _duplicate_in_b(ctx):
    """A duplicate candidate of two records in village B: one member entered in two of its
    households (app.domain.duplicates)."""
    import copy

    from app.domain import duplicates, registration
    from tests.support.households import family
    maker = ctx["make_user"]("collector", ctx["units"]["B"], username="b_duplicate_maker")
    first, second = family(surname="孙", seq=8), family(surname="周", seq=9)
    second["members"].append({**copy.deepcopy(first["members"][2]), "person_id": str(uuid.uuid4()),
                              "relationship": "99"})
    for data in (first, second):
        registration.new_household(maker, unit_id=ctx["units"]["B"].id, data=data)
    clerk = ctx["make_user"]("clerk", ctx["units"]["T1"], username="b_duplicate_clerk")
    duplicates.run_duplicates(clerk, unit_id=ctx["units"]["B"].id)
    db.session.commit()
    from app.models import DuplicateCandidate
    return db.session.scalar(select(DuplicateCandidate.id).limit(1))


def _acceptance_in_b(ctx):
    """Village B's leader's application for acceptance (app.domain.scorecard)."""
    from app.domain import scorecard
    leader = ctx["make_user"]("village_leader", ctx["units"]["B"], username="b_acceptance_leader")
    row = scorecard.apply(leader, ctx["units"]["B"].id, "2026", "申请验收")
    db.session.commit()
    return row.id


def _quality_run_of_b(ctx):
    """A run of the quality checks over village B (app.domain.quality_runs)."""
    from app.models.quality import QualityRun
    unit = ctx["units"]["B"]
    r = QualityRun(unit_id=unit.id, unit_path=unit.path, state="done", households_done=0, households_total=0)
    db.session.add(r)
    db.session.commit()
    return r.id


def _finding_in_b(ctx):
    """A quality finding on a B household."""
    from app.models.quality import QualityFinding
    if "household_id" not in ctx["objects"]:
        ctx["objects"]["household_id"] = _household_in_b(ctx)
    unit = ctx["units"]["B"]
    hid = ctx["objects"]["household_id"]
    f = QualityFinding(fingerprint=f"household.no_head|{hid}||", rule="household.no_head", level="error",
                       scope="household", household_id=hid, path="", village_id=unit.id, unit_path=unit.path,
                       message={"zh": "本户没有户主", "en": "no head"})
    db.session.add(f)
    db.session.commit()
    return f.id


FACTORIES = {
    "device_id": _device_in_b,
    "conflict_id": _conflict_in_b,
    "unit_id": lambda ctx: ctx["units"]["B"].id,
    "job_id": _print_job_in_b,
    "index": lambda ctx: 0,
    "household_id": _household_in_b,
    "code": _card_code_in_b,
    "user_id": _user_in_b,
    "assignment_id": _assignment_in_b,
    "person_id": _person_in_b,
    "village_id": lambda ctx: ctx["units"]["B"].id,
    "kind": lambda ctx: "birth",
    "transfer_id": _transfer_into_c,
    "list_id": _list_in_t1,
    "sha256": _upload_in_t1,
    "notice_id": _notice_in_b,
    "spot_check_id": _spot_check_in_b,
    "position": lambda ctx: 1,
    "candidate_id": _duplicate_in_b,
    "acceptance_id": _acceptance_in_b,
    "run_id": _quality_run_of_b,
    "finding_id": _finding_in_b,
}

# Who looks from outside, and who may see village B's objects (the positive control:
# the factories must make objects that exist and are reachable for someone in scope).
OUTSIDERS = [("collector", "A"), ("village_leader", "A"), ("county_admin", "OTHER_COUNTY")]
INSIDER = ("sysadmin", "province")
# Pages only some roles open (the sysadmin may look, not edit or print: 403): the positive
# control opens them as that role, in B's village or township.
OPENED_BY = {"collect.edit": ("collector", "B"), "books.village": ("clerk", "T1"),
             "books.job": ("clerk", "T1"), "books.download": ("clerk", "T1"),
             "history.month": ("village_leader", "B"),
             "events.record": ("collector", "B"),
             "prefill.village": ("village_leader", "B"),
             "spot_checks.draw": ("verifier", "T1"), "spot_checks.show": ("verifier", "T1"),
             "spot_checks.pdf": ("verifier", "T1"), "spot_checks.xlsx": ("verifier", "T1"),
             "spot_checks.item": ("verifier", "T1"),
             "duplicates.candidate": ("verifier", "T1"),
             "scorecard.thresholds": ("county_admin", "county"), "scorecard.expected": ("verifier", "T1")}


# Pages that only the session that made their object opens: tested where it is made.
SESSION_BOUND = {"lists.preview": "an upload's preview: tests/test_lists_web.py (another clerk gets 404)"}


@pytest.fixture
def matrix(app, units, make_user):
    other_county = get_or_create_unit("110102000000", "西城区", UnitLevel.county, units["city"])
    db.session.commit()
    ctx = {"units": {**units, "OTHER_COUNTY": other_county}, "make_user": make_user, "objects": {}}
    for rule in _rules(app):
        for arg in rule.arguments:
            if arg not in FACTORIES:
                pytest.fail(f"route {rule} has parameter <{arg}> with no factory in "
                            f"tests/test_security.py FACTORIES: add one that makes an object "
                            f"outside village A so the scope matrix covers the route")
            if arg not in ctx["objects"]:
                ctx["objects"][arg] = FACTORIES[arg](ctx)
    return ctx


def _object_routes(app):
    return [r for r in _rules(app) if r.arguments and r.endpoint not in PUBLIC_ENDPOINTS]


def test_scope_matrix(app, matrix, make_user, new_client):
    routes = _object_routes(app)
    assert routes, "no routes with object parameters?"
    outsiders = []
    for role, unit_key in OUTSIDERS:
        user = make_user(role, matrix["units"][unit_key], username=f"out_{role}")
        c = new_client()
        c.login(user.username)
        outsiders.append((role, unit_key, c))
    audit_before = db.session.scalar(select(func.count()).select_from(AuditEntry))
    for role, unit_key, c in outsiders:
        for rule in routes:
            url = _fill(rule, matrix["objects"])
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                if method == "GET":
                    resp = c.get(url)
                else:
                    resp = c.open(url, method=method, data={"csrf_token": c.csrf_token()})
                assert resp.status_code in (403, 404), (
                    f"{role} of {unit_key} got {resp.status_code} for {method} {url}")
    # Nothing was changed or audited by the refused requests.
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == audit_before


def test_scope_matrix_positive_control(app, matrix, make_user, new_client):
    role, unit_key = INSIDER
    user = make_user(role, matrix["units"][unit_key], username="insider")
    c = new_client()
    c.login(user.username)
    clients = {}
    for opener in set(OPENED_BY.values()):
        role_, unit_ = opener
        clients[opener] = new_client()
        clients[opener].login(make_user(role_, matrix["units"][unit_], username=f"insider_{role_}").username)
    for rule in _object_routes(app):
        if "GET" not in rule.methods or rule.endpoint in SESSION_BOUND:
            continue
        url = _fill(rule, matrix["objects"])
        resp = (clients[OPENED_BY[rule.endpoint]] if rule.endpoint in OPENED_BY else c).get(url)
        assert resp.status_code == 200, f"insider got {resp.status_code} for GET {url}"
