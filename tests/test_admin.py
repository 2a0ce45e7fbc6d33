"""User administration over HTTP: county_admin and sysadmin, each within their own area."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.domain.units import get_or_create_unit
from app.extensions import db
from app.models import AuditEntry, RoleAssignment, UnitLevel, User, UserSession
from tests.conftest import PASSWORD

NEW_PASSWORD = "a new long password"


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def audits(action: str) -> list[AuditEntry]:
    return list(db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def user_named(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == username))


def roles_of(user: User) -> set[tuple[str, str]]:
    db.session.expire_all()
    return {(a.role, a.unit.code) for a in db.session.get(User, user.id).roles}


@pytest.fixture
def other_county(units):
    unit = get_or_create_unit("110102000000", "西城区", UnitLevel.county, units["city"])
    village = get_or_create_unit("110102001001", "西城某社区", UnitLevel.village,
                                 get_or_create_unit("110102001000", "西长安街街道", UnitLevel.township, unit))
    db.session.commit()
    return {"county": unit, "village": village}


@pytest.fixture
def county_admin(client, units, make_user):
    """The client, logged in as the county administrator of 东城区."""
    make_user("county_admin", units["county"], username="admin", name="县管理员")
    client.login("admin")
    return client


def new_user_form(units, **changes) -> dict:
    form = {"username": "wang", "name": "王芳", "phone": "138 0000 0000", "locale": "zh_CN",
            "role": "collector", "unit": units["A"].code, "password": NEW_PASSWORD}
    form.update(changes)
    return form


# ------------------------------------------------------------------ who may come in

def test_collector_may_not_open_the_admin_screens(client, units, make_user):
    make_user("collector", units["A"], username="zhang")
    client.login("zhang")
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/users/new").status_code == 403
    before = count(User)
    resp = client.post_form("/admin/users/new", new_user_form(units))
    assert resp.status_code == 403
    assert count(User) == before


def test_home_links_to_the_user_list_for_admins_only(county_admin, new_client, units, make_user):
    assert "/admin/users" in county_admin.get("/").get_data(as_text=True)
    make_user("collector", units["A"], username="zhang")
    c = new_client()
    c.login("zhang")
    assert "/admin/users" not in c.get("/").get_data(as_text=True)


# ------------------------------------------------------------------ the list

def test_list_shows_the_users_of_the_area_and_searches(county_admin, units, other_county, make_user):
    make_user("collector", units["A"], username="zhang", name="张伟")
    make_user("verifier", units["T2"], username="li", name="李娜")
    make_user("collector", other_county["village"], username="outsider", name="外人")
    page = county_admin.get("/admin/users").get_data(as_text=True)
    assert 'data-testid="row-zhang"' in page and 'data-testid="row-li"' in page
    assert "outsider" not in page and "外人" not in page
    assert "多福巷社区" in page  # roles are shown with their units

    by_name = county_admin.get("/admin/users?q=张").get_data(as_text=True)
    assert 'data-testid="row-zhang"' in by_name and 'data-testid="row-li"' not in by_name
    by_username = county_admin.get("/admin/users?q=LI").get_data(as_text=True)
    assert 'data-testid="row-li"' in by_username and 'data-testid="row-zhang"' not in by_username
    # LIKE wildcards are searched for literally.
    assert 'data-testid="row-' not in county_admin.get("/admin/users?q=%25").get_data(as_text=True)


def test_list_hides_the_roles_held_elsewhere(county_admin, units, other_county, make_user):
    from app.domain.users import grant_role
    both = make_user("collector", units["A"], username="both")
    grant_role(None, both, "collector", other_county["village"])
    db.session.commit()
    page = county_admin.get("/admin/users").get_data(as_text=True)
    assert 'data-testid="row-both"' in page
    assert "西城某社区" not in page


def test_list_is_paged(county_admin, units, make_user):
    for i in range(52):
        make_user("collector", units["B"], username=f"c{i:02d}")
    first = county_admin.get("/admin/users").get_data(as_text=True)
    assert "c00" in first and "c51" not in first
    second = county_admin.get("/admin/users?page=2").get_data(as_text=True)
    assert "c51" in second and 'data-testid="row-c00"' not in second


# ------------------------------------------------------------------ creating a user

def test_county_admin_creates_a_collector(county_admin, new_client, units):
    resp = county_admin.post_form("/admin/users/new", new_user_form(units))
    assert resp.status_code == 302
    user = user_named("wang")
    assert resp.headers["Location"] == f"/admin/users/{user.id}"
    assert user.name == "王芳" and user.phone == "138 0000 0000" and user.active
    assert roles_of(user) == {("collector", units["A"].code)}
    # The flash message and the detail page after the redirect.
    page = county_admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert "王芳" in page and "wang" in page and 'class="flash' in page

    admin = user_named("admin")
    created, = [e for e in audits("user.create") if e.object_id == str(user.id)]
    assert created.actor_id == admin.id and created.details["username"] == "wang"
    granted = [e for e in audits("user.role_grant") if e.object_id == str(user.id)]
    assert [(e.actor_id, e.details["role"], e.details["unit"]) for e in granted] == [
        (admin.id, "collector", units["A"].code)]
    new_client().login("wang", NEW_PASSWORD)


@pytest.mark.parametrize("changes, field", [
    ({"username": ""}, "username"),
    ({"username": "has space"}, "username"),
    ({"name": "  "}, "name"),
    ({"phone": "call me"}, "phone"),
    ({"locale": "fr"}, "locale"),
    ({"password": "short"}, "password"),
    ({"role": "emperor"}, "role"),
    ({"role": ""}, "role"),
    ({"unit": ""}, "unit"),
    ({"unit": "999999999999"}, "unit"),
])
def test_bad_input_is_shown_with_the_field_and_changes_nothing(county_admin, units, changes, field):
    users_before, audit_before = count(User), count(AuditEntry)
    resp = county_admin.post_form("/admin/users/new", new_user_form(units, **changes))
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert f'data-testid="error-{field}"' in page and 'data-testid="form-error"' in page
    # What was typed comes back, except the password.
    assert 'value="王芳"' in page or field == "name"
    assert NEW_PASSWORD not in page
    assert count(User) == users_before and count(AuditEntry) == audit_before


def test_several_wrong_fields_are_reported_together(county_admin, units):
    resp = county_admin.post_form("/admin/users/new",
                                  new_user_form(units, username="", name="", password="x"))
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    for field in ("username", "name", "password"):
        assert f'data-testid="error-{field}"' in page


def test_duplicate_username_is_refused(county_admin, units, make_user):
    make_user("collector", units["B"], username="wang")
    before = count(User)
    resp = county_admin.post_form("/admin/users/new", new_user_form(units, username=" WANG "))
    assert resp.status_code == 422
    assert 'data-testid="error-username"' in resp.get_data(as_text=True)
    assert count(User) == before


def test_role_at_the_wrong_level_is_refused(county_admin, units):
    # A collector works in a village or a group, not for a whole township.
    resp = county_admin.post_form("/admin/users/new", new_user_form(units, unit=units["T1"].code))
    assert resp.status_code == 422
    assert 'data-testid="error-unit"' in resp.get_data(as_text=True)
    assert user_named("wang") is None


def test_unit_outside_the_area_is_refused(county_admin, units, other_county):
    resp = county_admin.post_form("/admin/users/new", new_user_form(units, unit=other_county["village"].code))
    assert resp.status_code == 422
    page = resp.get_data(as_text=True)
    assert 'data-testid="error-unit"' in page and "西城某社区" not in page
    assert user_named("wang") is None


def test_county_admin_may_not_create_a_sysadmin(county_admin, units):
    resp = county_admin.post_form("/admin/users/new", new_user_form(units, role="sysadmin",
                                                                    unit=units["county"].code))
    assert resp.status_code == 403
    assert user_named("wang") is None
    assert 'value="sysadmin"' not in county_admin.get("/admin/users/new").get_data(as_text=True)


def test_sysadmin_may_create_a_sysadmin(client, units, make_user):
    make_user("sysadmin", units["province"], username="root")
    client.login("root")
    resp = client.post_form("/admin/users/new",
                            new_user_form(units, role="sysadmin", unit=units["province"].code))
    assert resp.status_code == 302
    assert roles_of(user_named("wang")) == {("sysadmin", units["province"].code)}


# ------------------------------------------------------------------ choosing the unit

def test_unit_picker_drills_down_by_path(county_admin, units, other_county):
    top = county_admin.get("/admin/users/new?role=collector").get_data(as_text=True)
    assert 'data-testid="pick-110101000000"' in top  # the county, the top of the area
    county = county_admin.get(f"/admin/users/new?role=collector&at={units['county'].id}").text
    assert "东华门街道" in county and "景山街道" in county
    assert "unit=110101001000" not in county  # a township cannot take a collector
    t1 = county_admin.get(f"/admin/users/new?role=collector&at={units['T1'].id}").get_data(as_text=True)
    assert "多福巷社区" in t1 and "银闸社区" in t1 and "隆福寺社区" not in t1
    assert f"unit={units['A'].code}" in t1
    # Choosing fills the form's unit field and names the unit by its path.
    chosen = county_admin.get(f"/admin/users/new?role=collector&unit={units['A'].code}").text
    assert f'value="{units["A"].code}"' in chosen and "东华门街道 › 多福巷社区" in chosen
    # Search by name, limited to the area.
    found = county_admin.get("/admin/users/new?role=collector&find=社区").get_data(as_text=True)
    assert "隆福寺社区" in found and "西城某社区" not in found
    # Another county cannot be opened.
    assert county_admin.get(f"/admin/users/new?at={other_county['county'].id}").status_code == 404


# ------------------------------------------------------------------ one user: scope

def test_detail_of_a_user_outside_the_area_is_not_found(county_admin, units, other_county, make_user):
    outsider = make_user("collector", other_county["village"], username="outsider")
    assert county_admin.get(f"/admin/users/{outsider.id}").status_code == 404
    resp = county_admin.post_form(f"/admin/users/{outsider.id}/roles",
                                  {"role": "viewer", "unit": units["A"].code})
    assert resp.status_code == 404
    assert county_admin.post_form(f"/admin/users/{outsider.id}/deactivate").status_code == 404
    assert county_admin.get("/admin/users/999999").status_code == 404


def test_user_partly_outside_the_area_is_refused(county_admin, units, other_county, make_user):
    from app.domain.users import grant_role
    both = make_user("collector", units["A"], username="both")
    grant_role(None, both, "collector", other_county["village"])
    db.session.commit()
    assert county_admin.get(f"/admin/users/{both.id}").status_code == 403
    assert county_admin.post_form(f"/admin/users/{both.id}/deactivate").status_code == 403
    db.session.expire_all()
    assert db.session.get(User, both.id).active


def test_county_admin_may_not_act_on_a_sysadmin(county_admin, units, make_user):
    boss = make_user("sysadmin", units["county"], username="boss")
    assert county_admin.get(f"/admin/users/{boss.id}").status_code == 403
    assert county_admin.post_form(f"/admin/users/{boss.id}/deactivate").status_code == 403
    resp = county_admin.post_form(f"/admin/users/{boss.id}/password", {"password": NEW_PASSWORD})
    assert resp.status_code == 403
    db.session.expire_all()
    assert db.session.get(User, boss.id).active


# ------------------------------------------------------------------ roles

def test_grant_and_revoke_a_role(county_admin, units, make_user):
    target = make_user("collector", units["A"], username="zhang")
    resp = county_admin.post_form(f"/admin/users/{target.id}/roles",
                                  {"role": "viewer", "unit": units["T2"].code})
    assert resp.status_code == 302 and resp.headers["Location"] == f"/admin/users/{target.id}"
    assert roles_of(target) == {("collector", units["A"].code), ("viewer", units["T2"].code)}
    grant = audits("user.role_grant")[-1]
    assert grant.details == {"username": "zhang", "role": "viewer", "unit": units["T2"].code}

    # Granting it again changes nothing and writes nothing.
    before = count(AuditEntry)
    county_admin.post_form(f"/admin/users/{target.id}/roles", {"role": "viewer", "unit": units["T2"].code})
    assert count(AuditEntry) == before and count(RoleAssignment) == 3  # admin, collector, viewer

    viewer = db.session.scalar(select(RoleAssignment).where(RoleAssignment.user_id == target.id,
                                                            RoleAssignment.role == "viewer"))
    resp = county_admin.post_form(f"/admin/users/{target.id}/roles/{viewer.id}/revoke")
    assert resp.status_code == 302
    assert roles_of(target) == {("collector", units["A"].code)}
    revoke = audits("user.role_revoke")[-1]
    assert revoke.details == {"username": "zhang", "role": "viewer", "unit": units["T2"].code}
    assert revoke.actor_id == user_named("admin").id


def test_grant_refusals(county_admin, units, other_county, make_user):
    target = make_user("collector", units["A"], username="zhang")
    url = f"/admin/users/{target.id}/roles"
    before = count(AuditEntry)
    wrong_level = county_admin.post_form(url, {"role": "verifier", "unit": units["A"].code})
    assert wrong_level.status_code == 422
    assert 'data-testid="error-unit"' in wrong_level.get_data(as_text=True)
    outside = county_admin.post_form(url, {"role": "viewer", "unit": other_county["village"].code})
    assert outside.status_code == 422 and 'data-testid="error-unit"' in outside.get_data(as_text=True)
    no_role = county_admin.post_form(url, {"role": "", "unit": units["A"].code})
    assert no_role.status_code == 422 and 'data-testid="error-role"' in no_role.get_data(as_text=True)
    assert county_admin.post_form(url, {"role": "sysadmin", "unit": units["A"].code}).status_code == 403
    assert roles_of(target) == {("collector", units["A"].code)}
    assert count(AuditEntry) == before


def test_the_last_role_of_a_user_cannot_be_revoked(county_admin, units, make_user):
    target = make_user("collector", units["A"], username="zhang")
    only = target.roles[0]
    assert f"/roles/{only.id}/revoke" not in county_admin.get(f"/admin/users/{target.id}").text
    assert county_admin.post_form(f"/admin/users/{target.id}/roles/{only.id}/revoke").status_code == 409
    assert roles_of(target) == {("collector", units["A"].code)}


def test_nobody_revokes_their_own_last_admin_role(county_admin, units):
    me = user_named("admin")
    county_admin.post_form(f"/admin/users/{me.id}/roles", {"role": "viewer", "unit": units["T1"].code})
    own = db.session.scalar(select(RoleAssignment).where(RoleAssignment.user_id == me.id,
                                                         RoleAssignment.role == "county_admin"))
    assert county_admin.post_form(f"/admin/users/{me.id}/roles/{own.id}/revoke").status_code == 403
    assert ("county_admin", units["county"].code) in roles_of(me)


def test_revoke_with_an_assignment_of_another_user_is_not_found(county_admin, units, make_user):
    a = make_user("collector", units["A"], username="zhang")
    b = make_user("collector", units["B"], username="li")
    county_admin.post_form(f"/admin/users/{a.id}/roles", {"role": "viewer", "unit": units["T1"].code})
    resp = county_admin.post_form(f"/admin/users/{a.id}/roles/{b.roles[0].id}/revoke")
    assert resp.status_code == 404
    assert roles_of(b) == {("collector", units["B"].code)}


# ------------------------------------------------------------------ password and status

def test_deactivating_ends_the_users_sessions(county_admin, new_client, units, make_user):
    target = make_user("collector", units["A"], username="zhang")
    phone = new_client()
    phone.login("zhang")
    assert phone.get("/").status_code == 200

    resp = county_admin.post_form(f"/admin/users/{target.id}/deactivate")
    assert resp.status_code == 302
    after = phone.get("/")
    assert after.status_code == 302 and after.headers["Location"].startswith("/login")
    assert count(UserSession) == 2 and db.session.scalar(
        select(func.count()).select_from(UserSession).where(UserSession.user_id == target.id,
                                                            UserSession.ended_at.is_(None))) == 0
    entry = audits("user.deactivate")[-1]
    assert entry.object_id == str(target.id) and entry.details == {"username": "zhang", "sessions_ended": 1,
                                                                   "devices_revoked": 0}
    assert phone.post_form("/login", {"username": "zhang", "password": PASSWORD}).status_code == 401
    assert 'data-testid="inactive"' in county_admin.get("/admin/users").get_data(as_text=True)

    # A second click changes nothing; reactivating lets the user in again.
    county_admin.post_form(f"/admin/users/{target.id}/deactivate")
    assert len(audits("user.deactivate")) == 1
    assert county_admin.post_form(f"/admin/users/{target.id}/reactivate").status_code == 302
    assert audits("user.reactivate")[-1].details == {"username": "zhang"}
    phone.login("zhang")


def test_county_admin_cannot_deactivate_themselves(county_admin):
    me = user_named("admin")
    assert 'data-testid="deactivate"' not in county_admin.get(f"/admin/users/{me.id}").get_data(as_text=True)
    assert county_admin.post_form(f"/admin/users/{me.id}/deactivate").status_code == 403
    assert county_admin.get("/admin/users").status_code == 200  # still logged in
    assert audits("user.deactivate") == []


def test_password_reset_ends_sessions_and_is_audited(county_admin, new_client, units, make_user):
    target = make_user("collector", units["A"], username="zhang")
    phone = new_client()
    phone.login("zhang")
    resp = county_admin.post_form(f"/admin/users/{target.id}/password", {"password": NEW_PASSWORD})
    assert resp.status_code == 302
    assert phone.get("/").status_code == 302
    assert phone.post_form("/login", {"username": "zhang", "password": PASSWORD}).status_code == 401
    phone.login("zhang", NEW_PASSWORD)
    entry = audits("user.password_reset")[-1]
    assert entry.details == {"username": "zhang", "sessions_ended": 1}
    assert NEW_PASSWORD not in str(entry.details)


def test_short_password_is_refused_with_the_field(county_admin, units, make_user):
    target = make_user("collector", units["A"], username="zhang")
    old_hash = target.password_hash
    resp = county_admin.post_form(f"/admin/users/{target.id}/password", {"password": "short"})
    assert resp.status_code == 422
    assert 'data-testid="error-password"' in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, target.id).password_hash == old_hash
    assert audits("user.password_reset") == []


def test_sysadmin_manages_a_county_admin(client, units, make_user):
    make_user("sysadmin", units["province"], username="root")
    ca = make_user("county_admin", units["county"], username="ca")
    client.login("root")
    assert client.get(f"/admin/users/{ca.id}").status_code == 200
    assert client.post_form(f"/admin/users/{ca.id}/deactivate").status_code == 302
    db.session.expire_all()
    assert not db.session.get(User, ca.id).active


# ------------------------------------------------------------------ races: the database decides

def test_a_username_taken_meanwhile_is_a_conflict_and_the_transaction_survives(app, units, make_user,
                                                                                monkeypatch):
    from app.domain import users
    from app.domain.errors import Conflict
    make_user("collector", units["A"], username="wang")
    real = users.check_user_fields

    def as_if_checked_before_the_other_insert(*args):
        fields = real(*args)
        args[-1].pop("username", None)
        return fields

    monkeypatch.setattr(users, "check_user_fields", as_if_checked_before_the_other_insert)
    with pytest.raises(Conflict) as refused:
        users.create_user(None, username="wang", name="王芳", password=NEW_PASSWORD, role="collector",
                          unit=units["B"])
    assert refused.value.field == "username"
    assert count(User) == 1  # the savepoint kept the transaction usable (PostgreSQL)


def test_a_role_granted_meanwhile_is_returned_not_a_crash(app, units, make_user, monkeypatch):
    from app.domain import users
    target = make_user("collector", units["A"], username="zhang")
    existing = target.roles[0]
    looked_up: list[int] = []

    def not_there_yet_at_the_first_look(*args):
        looked_up.append(1)
        return None if len(looked_up) == 1 else existing

    monkeypatch.setattr(users, "_assignment", not_there_yet_at_the_first_look)
    assert users.grant_role(None, target, "collector", units["A"]).id == existing.id
    assert count(RoleAssignment) == 1 and count(AuditEntry) == 2  # create + first grant only
