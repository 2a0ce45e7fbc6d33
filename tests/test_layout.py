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


@pytest.mark.parametrize("package", ["collection_forms", "printing", "exchange"])
def test_standalone_packages_import_neither_flask_nor_app(package):
    for path in _files(package):
        bad = {n for n in _imports(path) if n.split(".")[0] in {"flask", "app", "flask_babel", "werkzeug"}}
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
