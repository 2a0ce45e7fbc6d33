"""Security headers on every answer (issue 15, item 9): a Content-Security-Policy without
'unsafe-inline', no framing, no MIME sniffing, a same-origin referrer, and "no-store" on every
answer but the few without personal data (app.CACHEABLE_ENDPOINTS).

The walk goes over the app's URL map, so a route added later is covered without anyone
remembering to add it: every route, every method, signed in as a user who may open the
objects (the scope matrix's factories in tests/test_security.py make them), and signed out.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from app import CACHEABLE_ENDPOINTS
from app.domain.users import grant_role
from app.extensions import db
from app.models import AdminUnit, Role, User
from tests import test_security
from tests.test_security import _fill, _rules

matrix = test_security.matrix  # the scope matrix's fixture: village B's objects, one per URL parameter

TEMPLATES = Path(__file__).resolve().parent.parent / "app" / "templates"


def assert_secure_headers(resp, what: str, endpoint: str | None) -> None:
    h = resp.headers
    csp = h.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives.get("script-src") == ["'self'"], f"{what}: script-src in {csp!r}"
    assert directives.get("style-src") == ["'self'"], f"{what}: style-src in {csp!r}"
    assert directives.get("frame-ancestors") == ["'none'"], f"{what}: frame-ancestors in {csp!r}"
    assert directives.get("object-src") == ["'none'"], what
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp, what
    assert h.get("X-Content-Type-Options") == "nosniff", what
    assert h.get("X-Frame-Options") == "DENY", what
    assert h.get("Referrer-Policy") in ("same-origin", "no-referrer"), what
    if endpoint in CACHEABLE_ENDPOINTS and resp.status_code in (200, 304):
        assert "no-store" not in h.get("Cache-Control", ""), what
        assert h.get("Cache-Control"), f"{what}: a cacheable answer says how (no-cache: revalidated)"
    else:
        assert h.get("Cache-Control") == "no-store", f"{what}: Cache-Control {h.get('Cache-Control')!r}"


@pytest.fixture
def everyone(matrix, make_user):
    """Someone who may open village B's objects in every role that opens a page."""
    units = matrix["units"]
    user = make_user("sysadmin", units["province"], username="all_roles")
    for role, unit in [("collector", "B"), ("village_leader", "B"), ("verifier", "T1"), ("clerk", "T1"),
                       ("county_admin", "county")]:
        grant_role(None, user, Role(role), db.session.get(AdminUnit, units[unit].id))
    db.session.commit()
    return db.session.get(User, user.id)


def test_every_route_answers_with_the_security_headers(app, matrix, everyone, client, new_client):
    client.login("all_roles")
    anonymous = new_client()
    statuses: dict[int, int] = {}
    rules = _rules(app)
    for rule in rules:
        url = _fill(rule, matrix["objects"])
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for who, c in (("signed in", client), ("signed out", anonymous)):
                # POSTs go without a CSRF token: refused (400), which is an answer like any other,
                # and the user stays signed in for the rest of the walk.
                resp = c.get(url) if method == "GET" else c.open(url, method=method, data={})
                assert resp.status_code < 500, f"{method} {url} ({who}): {resp.status_code}"
                statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
                assert_secure_headers(resp, f"{method} {url} ({who}, {resp.status_code})", rule.endpoint)
    # The walk opened real pages with personal data, not only refusals.
    assert statuses.get(200, 0) >= len([r for r in rules if "GET" in r.methods]) - 3, statuses
    for url in ("/static/app.css", "/static/pwa/sw.js", "/static/no-such-file.css"):
        resp = client.get(url)
        assert_secure_headers(resp, f"GET {url}", "static" if resp.status_code == 200 else None)
    # A not-modified answer of the form definition keeps its own caching.
    form = client.get("/api/v1/form")
    again = client.get("/api/v1/form", headers={"If-None-Match": form.headers["ETag"]})
    assert again.status_code == 304
    assert_secure_headers(again, "GET /api/v1/form (304)", "api.form")


def test_pages_and_api_answers_with_personal_data_are_never_stored(app, matrix, everyone, client):
    client.login("all_roles")
    household = matrix["objects"]["household_id"]
    for url in (f"/collect/households/{household}", f"/review/households/{household}",
                "/api/v1/assignments", f"/print/jobs/{matrix['objects']['job_id']}/files/0"):
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert resp.headers["Cache-Control"] == "no-store", url
        assert "Expires" not in resp.headers, url


def test_the_service_worker_and_manifest_are_revalidated_not_stored(client):
    worker = client.get("/sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    assert worker.headers["Cache-Control"] == "no-cache"  # a new version is found on the next visit
    assert worker.headers["Service-Worker-Allowed"] == "/"
    assert_secure_headers(worker, "GET /sw.js", "offline.service_worker")
    manifest = client.get("/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json" and manifest.headers["Cache-Control"] == "no-cache"
    assert_secure_headers(manifest, "GET /manifest.webmanifest", "offline.manifest")


# Inline code the policy would block: a <script> that is not a data block, an event handler
# attribute, a javascript: URL, a <style> element, a style attribute.
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I), "inline <script>"),
    (re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I), "event handler attribute"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
    (re.compile(r"<style[\s>]", re.I), "<style> element"),
    (re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I), "style attribute"),
]


def test_templates_have_nothing_inline_that_the_policy_blocks():
    found = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for pattern, what in INLINE:
            for m in pattern.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                found.append(f"{path.relative_to(TEMPLATES)}:{line}: {what}")
    assert found == [], "move these into app/static (a .css or .js file):\n" + "\n".join(found)


def test_https_answers_ask_browsers_to_stay_on_https(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers  # plain HTTP: a LAN test server
    resp = client.get("/login", base_url="https://doorstep.example")
    assert resp.headers["Strict-Transport-Security"] == "max-age=31536000"
