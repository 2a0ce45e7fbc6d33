"""No 5xx on any route, whatever its URL carries (issue 15, "tests that cover what nobody lists").

The routes come from app.url_map, so a route added later is probed without anyone adding it
here. Each path parameter is sent as numbers past 64 and 32 bits, negative, non-numeric and
unicode values (samples per converter, not a product of everything), by GET and, where the
route takes it, by POST with a valid CSRF token, signed in as each role and signed out. GET
routes are also sent the query parameters the views read, with the same kind of values.

The values rotate over the identities (each role and the anonymous visitor sends PER_ROLE
of each parameter's samples), so that every sample is sent at least once per route without
multiplying the requests; the test checks that. Run with -s to see the probe's figures
(requests tried, 5xx seen, seconds).
"""
from __future__ import annotations

import re
import time
from urllib.parse import quote, urlencode

from werkzeug.routing import IntegerConverter, PathConverter, UUIDConverter

ROLES = {  # role -> the fixture's unit it is given for (tests/conftest.py `units`)
    "collector": "A", "village_leader": "A", "verifier": "T1", "clerk": "T1",
    "county_admin": "county", "viewer": "county", "sysadmin": "province",
}

HUGE = [str(2**64), str(10**30), str(2**63), str(2**31), "9" * 400]
NEGATIVE = ["-1", "-" + str(2**64)]
JUNK = ["abc", "1e3", "0x10", "1.5", " 1", "１２", "٣", "²", "𠮷", "张三", "\u202e1", "%00", "a\x00b", "\ud800"]
SAMPLES = {
    IntegerConverter: HUGE + NEGATIVE + JUNK + ["0"],
    UUIDConverter: ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "0" * 33, str(2**64), "-1",
                    "𠮷" * 36] + JUNK,
    PathConverter: HUGE + NEGATIVE + JUNK + ["../../etc/passwd", "x" * 2000, "110101001001-0001.AAAA"],
}
DEFAULT_SAMPLES = HUGE + NEGATIVE + JUNK + ["x" * 2000, "../x"]  # strings (<kind>, ...)

# Query parameters the views read (app/web: request.args / request.values); any junk is sent.
QUERY_NAMES = ["unit_id", "village_id", "collector_id", "user_id", "at", "page", "book_no", "cursor", "q",
               "state", "kind", "month", "code", "card_no", "village", "person_id", "role", "unit", "find",
               "next", "add_member"]

SKIP = {("auth.logout", "POST")}  # would end the session the probe is signed in with
PER_ROLE = 3  # values of each parameter sent per role and method (rotated, so the roles share the list)
_PARAM = re.compile(r"<(?:([a-zA-Z_][\w]*)(?:\([^)]*\))?:)?([a-zA-Z_]\w*)>")


def samples_for(converter) -> list[str]:
    for kind, values in SAMPLES.items():
        if isinstance(converter, kind):
            return values
    return DEFAULT_SAMPLES


def url_for_values(rule, values: dict[str, str]) -> str:
    """The rule's path with raw values put in (rule.build() would refuse the converter's misfits)."""
    def put(match: re.Match) -> str:
        name = match.group(2)
        safe = "/" if isinstance(rule._converters[name], PathConverter) else ""
        return quote(values[name].encode("utf-8", "surrogatepass"), safe=safe)
    return _PARAM.sub(put, rule.rule)


def probe_urls(rule, offset: int, sent: set | None = None) -> list[str]:
    """PER_ROLE urls for the rule, starting at `offset` in each parameter's samples; the
    (rule, parameter, value) sent are added to `sent`."""
    if not rule.arguments:
        return [rule.rule]
    urls = []
    for k in range(PER_ROLE):
        values = {}
        for name in rule.arguments:
            options = samples_for(rule._converters[name])
            values[name] = options[(offset + k) % len(options)]
            if sent is not None:
                sent.add((rule.rule, name, values[name]))
        urls.append(url_for_values(rule, values))
    return urls


def query_string(offset: int) -> str:
    pool = HUGE + NEGATIVE + JUNK
    return urlencode({name: pool[(offset + i) % len(pool)].encode("utf-8", "surrogatepass")
                      for i, name in enumerate(QUERY_NAMES)})


def test_no_route_answers_5xx_to_any_path_value(app, client, units, make_user):
    users = {role: make_user(role, units[unit], username=f"fuzz_{role}") for role, unit in ROLES.items()}
    rules = sorted((r for r in app.url_map.iter_rules() if r.endpoint != "static"), key=lambda r: r.rule)
    tried, failures, started = 0, [], time.monotonic()
    sent: set[tuple[str, str, str]] = set()

    def send(method: str, url: str, token: str | None) -> None:
        nonlocal tried
        tried += 1
        kwargs = {}
        if method == "POST":
            kwargs = {"data": {"csrf_token": token or ""}, "headers": {"X-CSRFToken": token or ""}}
        try:
            status = client.open(url, method=method, **kwargs).status_code
        except Exception as e:  # noqa: BLE001 - the test client re-raises what would be a 500
            status = f"{type(e).__name__}: {str(e)[:200]}"
        if not isinstance(status, int) or status >= 500:
            failures.append(f"{who} {method} {url[:150]} -> {status}")

    for index, who in enumerate([*ROLES, "anonymous"]):
        if who != "anonymous":
            client.login(users[who].username)
        token = client.csrf_token()
        for rule in rules:
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                if (rule.endpoint, method) in SKIP:
                    continue
                for url in probe_urls(rule, index * PER_ROLE, sent):
                    send(method, url, token)
                if method == "GET":
                    send(method, f"{probe_urls(rule, index * PER_ROLE)[0]}?{query_string(index)}", token)
        if who != "anonymous":
            client.logout()

    seconds = time.monotonic() - started
    summary = f"fuzz_routes: {tried} requests to {len(rules)} routes, {len(failures)} 5xx, {seconds:.1f} s"
    print(f"\n{summary}")
    unsent = [(rule.rule, name, value) for rule in rules for name in rule.arguments
              for value in samples_for(rule._converters[name]) if (rule.rule, name, value) not in sent]
    assert not unsent, f"samples never sent (raise PER_ROLE): {unsent[:5]}"
    assert not failures, f"{summary}:\n" + "\n".join(failures[:40])
