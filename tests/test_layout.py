"""The direction of imports (DESIGN.md §3): web/api -> domain -> models; collection_forms and
printing stand alone; the domain never reads Flask's request."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("package", ["collection_forms", "printing", "exchange", "quality", "matching"])
def test_standalone_packages_import_neither_flask_nor_app(package):
    for path in _files(package):
        bad = {n for n in _imports(path)
               if n.split(".")[0] in {"flask", "app", "flask_babel", "werkzeug", "sqlalchemy", "flask_sqlalchemy"}}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_domain_and_models_do_not_reach_up_into_views_or_requests():
    for folder in ("app/domain", "app/models"):
        for path in _files(folder):
            names = _imports(path)
            bad = {n for n in names if n.startswith(("app.web", "app.api", "flask.request"))}
            bad |= {n for n in names if n in {"flask.request", "flask.session", "flask.g"}}
            assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_the_domain_does_not_import_the_demo_generators():
    """The demo township is built through the domain like any user would; the rules of the
    work never depend on it (issue 16: demo generators in their own package)."""
    assert not list((ROOT / "app/domain").glob("demo*.py"))
    for path in _files("app/domain") + _files("app/models"):
        bad = {n for n in _imports(path) if n.startswith("app.demo")}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


BLUEPRINT_MODULES = {p.stem for p in (ROOT / "app/web").glob("*.py")} - {
    "__init__", "forms_data", "household_views"}


def test_blueprints_do_not_import_each_other():
    """Helpers shared by several blueprints live in app/web itself (household_views,
    forms_data), not in one blueprint that the others import."""
    for path in _files("app/web") + _files("app/api"):
        names = _imports(path)
        bad = {n for n in names for m in BLUEPRINT_MODULES
               if (n == f"app.web.{m}" or n.startswith(f"app.web.{m}.")) and path.stem != m}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def _calls(path: Path, name: str) -> list[int]:
    return [node.lineno for node in ast.walk(ast.parse(path.read_text(), str(path)))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == name]


def test_the_domain_flushes_and_never_commits():
    """The view, the CLI command or the job commits (app.runs for batch work), so a change,
    its history and its audit entry land together or not at all."""
    for path in _files("app/domain"):
        assert not _calls(path, "commit"), f"{path.relative_to(ROOT)} commits at lines {_calls(path, 'commit')}"


def test_the_domain_takes_its_settings_from_one_object_not_current_app():
    """Jobs and CLI commands run the domain without a request; its settings come from
    app.domain.settings (put there by each app context), never from Flask's current_app."""
    for path in _files("app/domain"):
        bad = {n for n in _imports(path) if n in {"flask.current_app", "flask.g", "flask.request"}}
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_each_app_context_puts_its_own_settings_and_the_outer_ones_come_back():
    from app import create_app
    from app.domain import settings

    a = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    b = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "BABEL_DEFAULT_TIMEZONE": "UTC"})
    with a.app_context():
        assert str(settings.current().timezone) == "Asia/Shanghai"
        with b.app_context():
            assert str(settings.current().timezone) == "UTC"
        assert str(settings.current().timezone) == "Asia/Shanghai"
        a.config["BOOK_SIZE"] = 7  # read when asked: a setting changed after start-up holds
        assert settings.current().book_size == 7
    with pytest.raises(RuntimeError):
        settings.current()
    with settings.using(settings.Settings({"BABEL_DEFAULT_TIMEZONE": "Asia/Urumqi"})):
        assert str(settings.current().timezone) == "Asia/Urumqi"
