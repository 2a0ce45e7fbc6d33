"""The schema is made only by migrations: migrated == models, and down/up round-trips."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from app import create_app
from app.extensions import db
from tests.conftest import base_config


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.sqlite'}"
    return request.getfixturevalue("pg_admin")("doorstep_migrations")


def _differences() -> list:
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(ctx, db.metadata)


def _tables() -> set[str]:
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_migrations_match_models_and_round_trip(empty_db):
    app = create_app(base_config(empty_db))
    with app.app_context():
        upgrade()
        assert _differences() == []
        assert _tables() == set(db.metadata.tables)
        downgrade(revision="base")
        assert _tables() == set()
        upgrade()
        assert _differences() == []
        db.engine.dispose()


def test_card_counter_goes_on_from_the_numbers_given(empty_db):
    """0009 starts each village's counter at its highest card number, so the next household
    after the upgrade gets the number after it."""
    from app.domain import registration
    from app.domain.units import get_or_create_unit as add
    from app.domain.users import create_user
    from app.models import Role, UnitLevel as L
    from tests.support.households import TODAY, family

    app = create_app(base_config(empty_db))
    with app.app_context(), app.test_request_context():
        upgrade()
        village = add("110101001001", "多福巷社区", L.village, add("110101001000", "东华门街道", L.township, None))
        collector = create_user(None, username="c", name="采集员", password="x" * 12, role=Role.collector,
                                unit=village)
        for seq in (1, 2, 3):
            registration.new_household(collector, unit_id=village.id, data=family(seq=seq), today=TODAY)
        db.session.commit()
        downgrade(revision="0008")
        upgrade()
        h = registration.new_household(collector, unit_id=village.id, data=family(seq=4), today=TODAY).household
        db.session.commit()
        assert h.card_no == "0004"
        db.session.remove()
        db.engine.dispose()


def test_unkeyed_audit_entries_are_kept_and_sealed_by_the_keyed_chain(empty_db):
    """0011 keys the chain: entries written before it keep their plain SHA-256 hashes, the
    first action after it writes the marker onto them, and verify checks both parts."""
    import datetime as dt

    from sqlalchemy import text

    from app.domain import audit

    app = create_app(base_config(empty_db))
    with app.app_context():
        upgrade(revision="0010")
        prev, at = audit.GENESIS_HASH, dt.datetime(2026, 11, 1, 8, 0, tzinfo=dt.timezone.utc)
        with db.engine.begin() as conn:
            for i in range(3):  # as the unkeyed chain of 0010 wrote them
                h = audit.entry_hash(prev, at, None, "test.legacy", None, None, {"i": i})
                conn.execute(text("INSERT INTO audit_entry (at, actor_id, action, object_type, object_id, "
                                  "details, prev_hash, hash) VALUES (:at, NULL, 'test.legacy', NULL, NULL, "
                                  ":details, :prev, :hash)"),
                             {"at": at.replace(tzinfo=None), "details": '{"i": %d}' % i, "prev": prev, "hash": h})
                prev = h
        upgrade()
        assert not audit.verify_chain().ok  # no keyed part yet
        audit.record("test.after_upgrade")
        db.session.commit()
        report = audit.verify_chain()
        assert report.ok and (report.unkeyed, report.keyed) == (3, 2)
        db.session.remove()
        db.engine.dispose()
