"""Settings from the environment, the generated secret key, SQLite's pragmas."""
from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from app import config, create_app
from app.extensions import db


def test_secret_key_is_generated_once_with_owner_only_permissions(tmp_path):
    key = config.load_or_create_secret_key(tmp_path)
    path = tmp_path / "secret_key"
    assert len(key) == 64
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert config.load_or_create_secret_key(tmp_path) == key


def _key_after_barrier(folder, barrier, keys):
    barrier.wait()
    keys.put(config.load_or_create_secret_key(Path(folder)))


def test_workers_starting_at_once_all_get_the_same_whole_key(tmp_path):
    # gunicorn starts its workers together on a fresh instance folder: each must end up with
    # the one key in the file, never an empty one read while another was writing it.
    context = multiprocessing.get_context("fork")
    for attempt in range(15):
        folder = tmp_path / str(attempt)
        barrier, keys = context.Barrier(6), context.Queue()
        workers = [context.Process(target=_key_after_barrier, args=(str(folder), barrier, keys))
                   for _ in range(6)]
        for w in workers:
            w.start()
        got = [keys.get(timeout=30) for _ in workers]
        for w in workers:
            w.join(timeout=30)
        assert set(got) == {(folder / "secret_key").read_text()}
        assert len(got[0]) == 64
        assert sorted(p.name for p in folder.iterdir()) == ["secret_key"]  # no temporary file left


def test_an_empty_key_file_is_refused_not_used(tmp_path):
    (tmp_path / "secret_key").write_text("")
    with pytest.raises(RuntimeError, match="secret_key is empty"):
        config.load_or_create_secret_key(tmp_path)


def test_defaults_use_sqlite_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("DOORSTEP_INSTANCE", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'doorstep.sqlite'}"
    assert app.config["SECRET_KEY"] == (tmp_path / "secret_key").read_text()
    with app.app_context():
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        db.session.rollback()
        db.engine.dispose()


def test_environment_settings_win(tmp_path, monkeypatch):
    monkeypatch.setenv("DOORSTEP_INSTANCE", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db.example/doorstep")
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    monkeypatch.setenv("BASE_URL", "https://doorstep.example")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@db.example/doorstep"
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert app.config["BASE_URL"] == "https://doorstep.example"
    assert not (tmp_path / "secret_key").exists()


def test_wsgi_module_serves_the_app(tmp_path, monkeypatch):
    monkeypatch.setenv("DOORSTEP_INSTANCE", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    import importlib

    import wsgi
    importlib.reload(wsgi)
    assert wsgi.app.name == "app"
    assert wsgi.app.test_client().get("/login").status_code == 200
