"""The offline app's server side (app/web/offline.py): the service worker, the manifest, the
session endpoint the sync script reads its CSRF token from, and the status bar on the pages."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _

STATIC = Path(__file__).resolve().parent.parent / "app" / "static"


def test_the_service_worker_is_served_from_the_root_for_the_whole_site(client):
    resp = client.get("/sw.js")
    assert resp.status_code == 200
    assert resp.mimetype == "text/javascript"
    assert resp.headers["Service-Worker-Allowed"] == "/"
    assert resp.headers["Cache-Control"] == "no-cache"
    source = resp.get_data(as_text=True)
    version = re.search(r'var VERSION = "([0-9a-f]{16})";', source)
    shell = json.loads(re.search(r"var SHELL = (\[.*?\]);", source).group(1))
    assert version, "the version is filled in"
    assert "__SHELL__" not in source and "__VERSION__" not in source
    # Every file of the shell exists (the worker's install fails on a single 404).
    assert {"/static/collect.js", "/static/pwa/offline.js", "/manifest.webmanifest"} <= set(shell)
    for url in shell:
        assert client.get(url).status_code == 200, url


def test_the_manifest_describes_the_installed_app(client):
    resp = client.get("/manifest.webmanifest")
    assert resp.status_code == 200
    assert resp.mimetype == "application/manifest+json"
    manifest = resp.get_json()
    assert manifest["start_url"] == "/collect/" and manifest["scope"] == "/"
    assert manifest["display"] == "standalone"
    assert manifest["name"] == "入户采集"  # the default language, Chinese
    icon = client.get(manifest["icons"][0]["src"])
    assert icon.status_code == 200 and b"<svg" in icon.data


def test_worker_and_manifest_carry_no_personal_data_and_need_no_login(client, units, make_user):
    anonymous = (client.get("/sw.js").get_data(as_text=True), client.get("/manifest.webmanifest").data)
    make_user("collector", units["A"], username="offline_zhou", name="周采集")
    client.login("offline_zhou")
    logged_in = (client.get("/sw.js").get_data(as_text=True), client.get("/manifest.webmanifest").data)
    assert logged_in == anonymous
    assert "周采集" not in logged_in[0] and "offline_zhou" not in logged_in[0]


def test_session_endpoint_gives_the_user_and_a_working_csrf_token(client, units, make_user):
    assert client.get("/offline/session").status_code == 302  # a login is needed
    user = make_user("collector", units["A"], username="offline_wu")
    client.login("offline_wu")
    resp = client.get("/offline/session")
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    body = resp.get_json()
    assert body["user_id"] == user.id
    # The token is the session's: a POST with it in the header passes the CSRF check (logout).
    resp = client.post("/logout", headers={"X-CSRFToken": body["csrf_token"]})
    assert resp.status_code == 302
    assert client.get("/offline/session").status_code == 302


@pytest.mark.parametrize("role, shown", [("collector", True), ("village_leader", False)])
def test_the_status_bar_is_on_every_page_of_a_collector(client, units, make_user, role, shown):
    make_user(role, units["A"], username=f"offline_{role}")
    client.login(f"offline_{role}")
    for url in ("/", "/collect/"):
        page = client.get(url).get_data(as_text=True)
        assert ('data-testid="status-bar"' in page) is shown, url
        assert ("pwa/offline.js" in page) is shown
        assert 'rel="manifest"' in page
    if shown:
        texts = json.loads(re.search(r'<script type="application/json" id="offline-i18n">(.*?)</script>',
                                     page, re.S).group(1))
        with client.application.test_request_context(), force_locale("zh_CN"):
            assert texts["offline"] == _("Offline")  # translated on the server, in the user's language
        assert "{n}" in texts["waiting"]


def test_the_shell_files_are_hand_written_modules(client):
    """No third-party code: every script of the offline app is ours and says what it is for."""
    for path in sorted((STATIC / "pwa").glob("*.js")):
        head = path.read_text(encoding="utf-8").lstrip()
        assert head.startswith("/*"), f"{path.name} starts with its description"
        assert "Copyright" not in head and "@license" not in head, path.name
