"""`flask users ...`: the operator's commands; the password never on the command line."""
from __future__ import annotations

from sqlalchemy import func, select

from app.domain.passwords import check_password
from app.extensions import db
from app.models import AuditEntry, User, UserSession

SECRET = "a long enough secret"


def run(app, *args: str, input: str | None = None):
    return app.test_cli_runner().invoke(args=["users", *args], input=input)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def user_named(username: str) -> User | None:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.username == username))


def test_create_reads_the_password_from_stdin(app, units, new_client):
    result = run(app, "create", "zhang", "--name", "张伟", "--role", "collector",
                 "--unit", units["A"].code, "--password-stdin", input=SECRET + "\n")
    assert result.exit_code == 0, result.output
    assert "zhang" in result.output and units["A"].code in result.output
    assert SECRET not in result.output
    user = user_named("zhang")
    assert [(a.role, a.unit.code) for a in user.roles] == [("collector", units["A"].code)]
    assert check_password(app.config, user.password_hash, SECRET)[0]
    created = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.create"))
    assert created.actor_id is None and created.details["username"] == "zhang"
    new_client().login("zhang", SECRET)


def test_create_asks_for_the_password_twice_without_showing_it(app, units):
    result = run(app, "create", "li", "--name", "李娜", "--role", "county_admin",
                 "--unit", units["county"].code, input=f"{SECRET}\n{SECRET}\n")
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    assert check_password(app.config, user_named("li").password_hash, SECRET)[0]


def test_there_is_no_password_option(app, units):
    result = run(app, "create", "li", "--name", "李娜", "--role", "collector",
                 "--unit", units["A"].code, "--password", SECRET)
    assert result.exit_code == 2 and user_named("li") is None


def _refused(app, *args: str, input: str = SECRET + "\n") -> str:
    users, audits = count(User), count(AuditEntry)
    result = run(app, "create", *args, "--password-stdin", input=input)
    assert result.exit_code == 1, result.output
    assert count(User) == users and count(AuditEntry) == audits
    return result.output


def test_unknown_unit_is_refused(app, units):
    out = _refused(app, "zhang", "--name", "张伟", "--role", "collector", "--unit", "999999999999")
    assert "999999999999" in out


def test_bad_role_is_refused(app, units):
    out = _refused(app, "zhang", "--name", "张伟", "--role", "emperor", "--unit", units["A"].code)
    assert "emperor" in out and "collector" in out


def test_duplicate_username_is_refused(app, units, make_user):
    make_user("collector", units["B"], username="zhang")
    out = _refused(app, "ZHANG", "--name", "张伟", "--role", "collector", "--unit", units["A"].code)
    assert "zhang" in out


def test_wrong_level_and_short_password_are_refused(app, units):
    _refused(app, "zhang", "--name", "张伟", "--role", "verifier", "--unit", units["A"].code)
    _refused(app, "zhang", "--name", "张伟", "--role", "collector", "--unit", units["A"].code, input="short\n")
    assert user_named("zhang") is None


def test_grant_and_list(app, units, make_user):
    make_user("collector", units["A"], username="zhang")
    make_user("collector", units["C"], username="li")
    result = run(app, "grant", "zhang", "viewer", units["T2"].code)
    assert result.exit_code == 0, result.output
    again = run(app, "grant", "zhang", "viewer", units["T2"].code)
    assert again.exit_code == 0 and "nothing changed" in again.output
    assert db.session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "user.role_grant")) == 3  # two creations, one grant
    assert run(app, "grant", "nobody", "viewer", units["T2"].code).exit_code == 1
    assert run(app, "grant", "zhang", "verifier", units["A"].code).exit_code == 1

    t1 = run(app, "list", "--unit", units["T1"].code)
    assert t1.exit_code == 0 and "zhang" in t1.output and "li\t" not in t1.output
    everyone = run(app, "list")
    assert "zhang" in everyone.output and "li\t" in everyone.output and "viewer@" in everyone.output
    assert run(app, "list", "--unit", "999").exit_code == 1


def test_set_password_ends_sessions(app, units, make_user, client):
    make_user("collector", units["A"], username="zhang")
    client.login("zhang")
    result = run(app, "set-password", "zhang", "--password-stdin", input=SECRET + "\n")
    assert result.exit_code == 0, result.output
    assert "sessions ended: 1" in result.output
    assert count(UserSession) == 1 and client.get("/").status_code == 302
    client.login("zhang", SECRET)
