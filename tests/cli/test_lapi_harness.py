#!/usr/bin/env python3
"""The LAPI test harness against a REAL CrowdSec LAPI, with a raw client.

These cases pin down what CrowdSec's Local API (Debian 1.4.6) actually
answers, byte for byte where it matters, because the ban client in C must
handle exactly this: status codes, body shapes, what is and is not stored.
See ../shared/docs/crowdsec-lapi.md.  Skipped when crowdsec is not
installed and cannot be.  Bans use documentation addresses only.
"""
import calendar
import copy
import json
import os
import re
import socket
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lapi"))
import adtest  # noqa: E402
from adtest import case, eq, Skip  # noqa: E402
import harness  # noqa: E402
from harness import sample_alert  # noqa: E402

GO_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:([\d.]+)s)?$")


def go_seconds(d):
    """'3h59m59.61s' -> 14399.61 (the durations LAPI returns)."""
    m = GO_DURATION.match(d)
    if not m or not d:
        raise AssertionError("not a Go duration: %r" % d)
    h, mi, s = m.groups()
    return int(h or 0) * 3600 + int(mi or 0) * 60 + float(s or 0)


def parse_rfc3339(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


def body_is(r, want_status, want_json, what):
    eq(r.status, want_status, what + " status (body %s)" % r.text[:200])
    eq(r.json, want_json, what + " body")


class Ctx:
    lapi = None
    token = None


C = Ctx()


def decisions_raw(ip):
    return C.lapi.request("GET", "/v1/decisions?ip=" + ip, api_key=C.lapi.bouncer_key)


def post(body, **kw):
    if "token" not in kw and "api_key" not in kw:
        kw["token"] = C.token
    return C.lapi.request("POST", "/v1/alerts", body, **kw)


def assert_not_banned(ip, what):
    r = decisions_raw(ip)
    eq(r.status, 200, what + ": GET /v1/decisions status")
    # "no decision" is the JSON literal null, not []
    eq(r.body, b"null", what + ": decisions for %s" % ip)


# ---- authentication

def t_login():
    r = C.lapi.request("POST", "/v1/watchers/login",
                       {"machine_id": C.lapi.machine_id, "password": C.lapi.password,
                        "scenarios": []})
    eq(r.status, 200, "status")
    eq(sorted(r.json), ["code", "expire", "token"], "keys")
    eq(r.json["code"], 200, "code")
    left = parse_rfc3339(r.json["expire"]) - time.time()
    if not 3500 <= left <= 3660:
        raise AssertionError("token lifetime %.0fs, documented as 1 h" % left)
    if r.json["token"].count(".") != 2:
        raise AssertionError("token is not a JWT (3 dot-separated parts)")
    C.token = r.json["token"]
    # scenarios is optional
    r = C.lapi.request("POST", "/v1/watchers/login",
                       {"machine_id": C.lapi.machine_id, "password": C.lapi.password})
    eq(r.status, 200, "login without scenarios")


def t_login_wrong_password():
    r = C.lapi.request("POST", "/v1/watchers/login",
                       {"machine_id": C.lapi.machine_id, "password": "wrong-" + "x" * 10})
    body_is(r, 401, {"code": 401, "message": "incorrect Username or Password"}, "wrong password")
    eq(r.headers.get("Www-Authenticate"), "JWT realm=Crowdsec API local", "WWW-Authenticate")


def t_login_unknown_machine():
    # not in the doc: an unknown machine is also 401, with another message
    r = C.lapi.request("POST", "/v1/watchers/login",
                       {"machine_id": "no-such-machine", "password": "x"})
    body_is(r, 401, {"code": 401, "message": "ent: machine not found"}, "unknown machine")


def t_password_file():
    st = os.stat(C.lapi.password_file)
    eq(stat.S_IMODE(st.st_mode), 0o600, "password file mode")
    with open(C.lapi.password_file) as f:
        pw = f.read()
    if pw != C.lapi.password or len(pw) < 32:
        raise AssertionError("password file does not hold exactly the password (len %d)" % len(pw))
    r = C.lapi.request("POST", "/v1/watchers/login",
                       {"machine_id": C.lapi.machine_id, "password": pw})
    eq(r.status, 200, "login with the file's password")


def t_secrets_not_shown():
    text = repr(C.lapi)
    for s in (C.lapi.password, C.lapi.bouncer_key):
        if s in text:
            raise AssertionError("repr shows a secret")
    try:
        C.lapi.login(password="wrong")
    except harness.LapiError as e:
        if C.lapi.password in str(e) or C.lapi.bouncer_key in str(e):
            raise AssertionError("error message shows a secret")
    else:
        raise AssertionError("login with a wrong password did not fail")
    C.token = C.lapi.login()  # login() keeps the last token; restore it


def t_no_or_bad_token():
    a = sample_alert("203.0.113.90")
    body_is(post([a], token=None), 401, {"code": 401, "message": "cookie token is empty"}, "no token")
    bad = C.token[:-4] + ("AAAA" if not C.token.endswith("AAAA") else "BBBB")
    body_is(post([a], token=bad), 401, {"code": 401, "message": "signature is invalid"}, "tampered")
    assert_not_banned("203.0.113.90", "after refused pushes")


def t_heartbeat_refresh():
    r = C.lapi.request("GET", "/v1/heartbeat", token=C.token)
    eq((r.status, r.body), (200, b""), "heartbeat with JWT")
    r = C.lapi.request("GET", "/v1/heartbeat")
    body_is(r, 401, {"code": 401, "message": "cookie token is empty"}, "heartbeat without JWT")
    r = C.lapi.request("GET", "/v1/refresh_token", token=C.token)
    eq(r.status, 200, "refresh status")
    eq(sorted(r.json), ["code", "expire", "token"], "refresh keys")
    r2 = C.lapi.request("GET", "/v1/heartbeat", token=r.json["token"])
    eq(r2.status, 200, "heartbeat with the refreshed token")


# ---- pushing a ban

def t_post_alert():
    ip = "203.0.113.7"
    r = post([sample_alert(ip)])
    eq(r.status, 201, "status (body %s)" % r.text[:300])
    if not (isinstance(r.json, list) and len(r.json) == 1
            and isinstance(r.json[0], str) and r.json[0].isdigit()):
        raise AssertionError("want an array of one id string like [\"1\"], got %s" % r.text)
    C.first_id = r.json[0]


def t_decision_visible():
    ip = "203.0.113.7"
    r = decisions_raw(ip)
    eq(r.status, 200, "status")
    eq(len(r.json or []), 1, "decisions for %s" % ip)
    d = r.json[0]
    eq(sorted(d), ["duration", "id", "origin", "scenario", "scope", "type", "value"], "keys")
    eq((d["origin"], d["type"], d["scope"], d["value"], d["scenario"]),
       ("anomaly-detect", "ban", "Ip", ip, "anomaly-detect/test"), "decision")
    if not isinstance(d["id"], int):
        raise AssertionError("decision id is %r, want an integer" % d["id"])
    left = go_seconds(d["duration"])
    if not 4 * 3600 - 120 < left <= 4 * 3600:
        raise AssertionError("remaining duration %s, want just under 4h" % d["duration"])
    # the harness helper agrees, and another address has no decision
    eq([x["value"] for x in C.lapi.decisions(ip)], [ip], "harness decisions()")
    assert_not_banned("203.0.113.8", "neighbour")
    eq(C.lapi.decisions("203.0.113.8"), [], "harness maps null to []")


def t_alert_listed():
    al = [a for a in C.lapi.alerts() if a["source"].get("value") == "203.0.113.7"]
    eq(len(al), 1, "alerts for 203.0.113.7")
    a = al[0]
    eq(str(a["id"]), C.first_id, "alert id = the id POST returned")
    eq((a["scenario"], a["events_count"], a["capacity"], a["leakspeed"], a["machine_id"]),
       ("anomaly-detect/test", 3, 0, "0s", C.lapi.machine_id), "alert fields")
    eq(a["source"]["scope"], "Ip", "source scope")
    eq([m["key"] for m in a["events"][0]["meta"]],
       ["http_path", "http_status", "http_verb", "http_user_agent"], "event meta kept")


def t_object_not_array():
    r = post(sample_alert("203.0.113.20"))
    body_is(r, 400, {"message": "json: cannot unmarshal object into Go value of type "
                                "models.AddAlertsRequest"}, "object body")
    assert_not_banned("203.0.113.20", "after 400")


def t_missing_field():
    a = sample_alert("203.0.113.21")
    del a["scenario"]
    body_is(post([a]), 500, {"message": "validation failure list:\n0.scenario in body is required"},
            "no scenario")
    a = sample_alert("203.0.113.21")
    del a["events_count"]
    body_is(post([a]), 500, {"message": "validation failure list:\n0.events_count in body is required"},
            "no events_count")
    a = sample_alert("203.0.113.21")
    del a["decisions"][0]["origin"]
    body_is(post([a]), 500, {"message": "validation failure list:\nvalidation failure list:\n"
                                        "0.decisions.0.origin in body is required"},
            "no decision origin")
    # one bad alert in a batch rejects the whole batch
    good = sample_alert("203.0.113.22")
    eq(post([good, a]).status, 500, "batch with one bad alert")
    assert_not_banned("203.0.113.21", "after 500")
    assert_not_banned("203.0.113.22", "good alert of a rejected batch")


def t_bad_values():
    a = sample_alert("203.0.113.23")
    a["events_count"] = "12"
    body_is(post([a]), 400, {"message": "json: cannot unmarshal string into Go struct field "
                                        "Alert.events_count of type int32"}, "string events_count")
    body_is(post(json.dumps([sample_alert("203.0.113.23")])[:60]), 400,
            {"message": "unexpected EOF"}, "truncated JSON")
    a = sample_alert("203.0.113.23", duration="4hours")
    r = post([a])
    eq(r.status, 500, "bad duration status")
    if "unknown unit" not in r.json["message"]:
        raise AssertionError("bad duration message: %s" % r.text)
    a = sample_alert("198.51.100.300")
    r = post([a])
    eq(r.status, 500, "bad address status")
    if "invalid addr/range 198.51.100.300" not in r.json["message"]:
        raise AssertionError("bad address message: %s" % r.text)
    assert_not_banned("203.0.113.23", "after rejected values")


def t_empty_array():
    body_is(post([]), 201, [], "empty array")


def t_duplicate_adds_decision():
    ip = "198.51.100.9"
    a = sample_alert(ip)
    r1, r2 = post([a]), post([copy.deepcopy(a)])
    eq((r1.status, r2.status), (201, 201), "both POSTs")
    if r1.json == r2.json:
        raise AssertionError("same alert id twice: %s" % r1.text)
    ds = C.lapi.decisions(ip)
    eq(len(ds), 2, "decisions after two identical POSTs (LAPI does not dedup)")
    if ds[0]["id"] == ds[1]["id"]:
        raise AssertionError("decision ids not distinct")
    # the bouncer stream shows such an address once
    r = C.lapi.request("GET", "/v1/decisions/stream?startup=true", api_key=C.lapi.bouncer_key)
    eq(r.status, 200, "stream status")
    eq(sorted(r.json), ["deleted", "new"], "stream keys")
    eq(len([d for d in r.json["new"] if d["value"] == ip]), 1, "stream entries for the address")


def t_delete_decisions():
    ip = "198.51.100.9"
    r = C.lapi.request("DELETE", "/v1/decisions?ip=" + ip, api_key=C.lapi.bouncer_key)
    body_is(r, 401, {"code": 401, "message": "cookie token is empty"}, "bouncer may not delete")
    eq(len(C.lapi.decisions(ip)), 2, "decisions left after the refused delete")
    r = C.lapi.request("DELETE", "/v1/decisions?ip=" + ip, token=C.token)
    # every decision for the address goes, and the count is a string
    body_is(r, 200, {"nbDeleted": "2"}, "delete by ip")
    assert_not_banned(ip, "after delete")
    r = C.lapi.request("DELETE", "/v1/decisions?ip=" + ip, token=C.token)
    body_is(r, 200, {"nbDeleted": "0"}, "delete again")
    # by id
    eq(post([sample_alert("198.51.100.10")]).status, 201, "push for delete by id")
    did = C.lapi.decisions("198.51.100.10")[0]["id"]
    body_is(C.lapi.request("DELETE", "/v1/decisions/%d" % did, token=C.token),
            200, {"nbDeleted": "1"}, "delete by id")
    assert_not_banned("198.51.100.10", "after delete by id")


def t_bouncer_cannot_push():
    ip = "203.0.113.30"
    r = post([sample_alert(ip)], api_key=C.lapi.bouncer_key)
    body_is(r, 401, {"code": 401, "message": "cookie token is empty"}, "push with bouncer key")
    assert_not_banned(ip, "after bouncer push")
    body_is(C.lapi.request("GET", "/v1/decisions?ip=" + ip, api_key="not-a-key"),
            403, {"message": "access forbidden"}, "bad bouncer key")
    body_is(C.lapi.request("GET", "/v1/decisions?ip=" + ip),
            403, {"message": "access forbidden"}, "no bouncer key")
    body_is(C.lapi.request("GET", "/v1/decisions?ip=" + ip, token=C.token),
            403, {"message": "access forbidden"}, "watcher JWT on the bouncer route")


def t_profile_ban_without_decisions():
    ip = "198.51.100.20"
    a = sample_alert(ip)
    del a["decisions"]
    eq(post([a]).status, 201, "status")
    ds = C.lapi.decisions(ip)
    eq([(d["origin"], d["type"], d["scope"]) for d in ds], [("crowdsec", "ban", "Ip")],
       "the profile's own ban")
    eq(C.lapi.delete_decisions(ip), 1, "cleanup")


def t_range_decision():
    net = "2001:db8:4a1:7c::/64"
    eq(post([sample_alert(net, scope="Range")]).status, 201, "status")
    ds = C.lapi.decisions("2001:db8:4a1:7c:19ba:28ef:a50a:e7a7")
    eq([(d["scope"], d["value"]) for d in ds], [("Range", net)], "?ip= inside the range")
    assert_not_banned("2001:db8:4a1:7d::1", "next /64")
    ds = C.lapi.decisions(range=net)
    eq(len(ds), 1, "?range=")


def t_scope_case():
    # "ip" (lower case) is stored as is and is missing from the stream
    eq(post([sample_alert("198.51.100.21", scope="ip"),
             sample_alert("198.51.100.22")]).status, 201, "status")
    eq([d["scope"] for d in C.lapi.decisions("198.51.100.21")], ["ip"], "stored scope")
    r = C.lapi.request("GET", "/v1/decisions/stream?startup=true", api_key=C.lapi.bouncer_key)
    vals = [d["value"] for d in r.json["new"]]
    if "198.51.100.21" in vals or "198.51.100.22" not in vals:
        raise AssertionError("stream values %s: want 198.51.100.22 without 198.51.100.21" % vals)


def t_stop_start():
    port, before = C.lapi.port, C.lapi.decisions("203.0.113.7")
    old_token = C.token
    C.lapi.stop()
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(("127.0.0.1", port))
        raise AssertionError("port %d still accepts connections after stop()" % port)
    except ConnectionRefusedError:
        pass
    finally:
        s.close()
    try:
        C.lapi.request("GET", "/v1/heartbeat", timeout=2)
        raise AssertionError("HTTP answered while stopped")
    except OSError:
        pass
    C.lapi.start()
    eq(C.lapi.port, port, "port after start()")
    after = C.lapi.decisions("203.0.113.7")
    eq([d["id"] for d in after], [d["id"] for d in before], "decisions survive a restart")
    # the JWT signing secret is made at start: a token from before the
    # restart is refused and the client must log in again
    r = C.lapi.request("GET", "/v1/heartbeat", token=old_token)
    body_is(r, 401, {"code": 401, "message": "signature is invalid"}, "old token after restart")
    C.token = C.lapi.login()
    eq(C.lapi.request("GET", "/v1/heartbeat", token=C.token).status, 200, "new token")


def t_cleanup():
    d, port, proc = C.lapi.dir, C.lapi.port, C.lapi._proc
    C.lapi.close()
    if os.path.exists(d):
        raise AssertionError("temp dir %s left behind" % d)
    if proc.poll() is None:
        raise AssertionError("crowdsec still running after close()")
    if harness.port_open(port):
        raise AssertionError("port %d still open after close()" % port)


CASES = [
    ("login", t_login),
    ("login_wrong_password_401", t_login_wrong_password),
    ("login_unknown_machine_401", t_login_unknown_machine),
    ("password_file_0600", t_password_file),
    ("secrets_not_shown", t_secrets_not_shown),
    ("no_or_bad_token_401", t_no_or_bad_token),
    ("heartbeat_and_refresh", t_heartbeat_refresh),
    ("post_alert_201_ids", t_post_alert),
    ("decision_visible_to_bouncer", t_decision_visible),
    ("alert_listed_for_watcher", t_alert_listed),
    ("object_body_400", t_object_not_array),
    ("missing_field_500", t_missing_field),
    ("bad_values_400_500", t_bad_values),
    ("empty_array_201", t_empty_array),
    ("duplicate_post_adds_decision", t_duplicate_adds_decision),
    ("delete_decisions_jwt", t_delete_decisions),
    ("bouncer_key_cannot_push", t_bouncer_cannot_push),
    ("no_decisions_profile_bans", t_profile_ban_without_decisions),
    ("range_decision_covers_ip", t_range_decision),
    ("scope_case_stream", t_scope_case),
    ("stop_start_same_port_and_data", t_stop_start),
    ("cleanup", t_cleanup),
]


def main():
    try:
        C.lapi = harness.LapiServer()
        C.lapi.setup()
    except Skip as s:
        for name, _ in CASES:
            print("skip %s: %s" % (name, s), flush=True)
        adtest.finish()
    except harness.LapiError as e:
        err = e

        def failed_start():
            raise err
        case("lapi_start", failed_start)
        adtest.finish()
    try:
        C.token = C.lapi.login()
        for name, fn in CASES:
            case(name, fn)
    finally:
        C.lapi.close()
    adtest.finish()


if __name__ == "__main__":
    main()
