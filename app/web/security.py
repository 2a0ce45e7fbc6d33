"""The security officer's search of the change audit and the access log (issue 15 item 2)."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user

from app.domain import registration, security_log
from app.domain.errors import Invalid
from app.web import shows_personal_data, viewed

bp = Blueprint("security", __name__, url_prefix="/security")

FILTERS = ("log", "user", "household", "person", "since", "until")


@bp.route("/logs")
@shows_personal_data("audit_search")  # an officer's searches are logged too
def logs():
    me = current_user._get_current_object()
    sent = {k: request.args.get(k, "")[:100] for k in FILTERS}
    try:
        query = security_log.parse_query(sent, registration.local_zone())
    except Invalid as e:
        # The form again with the message, and no entries (a 4xx shows nothing and is not logged).
        query = security_log.LogQuery(log=sent["log"] if sent["log"] in security_log.LOGS else "access")
        security_log.require_officer(me)
        return render_template("security/logs.html", result=security_log.LogPage([], 0, 1, 1), sent=sent,
                               query=query, error=e.message, error_field=e.field, links={}), 400
    result = security_log.search(me, query, page=request.args.get("page", 1, type=int) or 1)
    viewed(count=result.total, page=result.page, **{k: v for k, v in sent.items() if v})
    links = {k: v for k, v in sent.items() if v}
    return render_template("security/logs.html", result=result, sent=sent, query=query, error=None,
                           error_field=None, links=links)
