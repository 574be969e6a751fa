#!/usr/bin/env python3
"""Banning through a REAL CrowdSec LAPI (tests/lapi/harness.py): run,
watch --follow, scan --apply, bans list, unban; dry-run by default; the
state file survives kill -9; secrets never in any output.  Skips cleanly
when crowdsec is not installed."""
import json
import os
import random
import signal
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adtest  # noqa: E402
from adtest import case, eq, run, Skip  # noqa: E402

sys.path.insert(0, os.path.join(adtest.ROOT, "tests", "lapi"))
import harness  # noqa: E402

TMP = adtest.tmpdir()
SHARED = adtest.shared_dir()
OUTPUTS = []          # every stdout/stderr seen, checked for secrets at the end
LAPI = None
SETUP_ERR = None

PROBES = ["/.env", "/.git/config", "/wp-config.php.bak", "/.aws/credentials",
          "/backup.sql", "/phpinfo.php", "/.htpasswd", "/config.json",
          "/admin/.env", "/db.sql", "/shell.php", "/.ssh/id_rsa"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
          "Oct", "Nov", "Dec"]


def clf(t):
    g = time.gmtime(t)
    return "%02d/%s/%04d:%02d:%02d:%02d +0000" % (
        g.tm_mday, MONTHS[g.tm_mon - 1], g.tm_year, g.tm_hour, g.tm_min, g.tm_sec)


def probe_lines(ip, t0):
    return ['%s - - [%s] "GET %s HTTP/1.1" 404 153 "-" "curl/8.5.0"' % (ip, clf(t0 + i), p)
            for i, p in enumerate(PROBES)]


def scenario_log():
    """The scanners scenario, or a generated log when ../shared is absent."""
    if SHARED is not None:
        p = os.path.join(SHARED, "scenarios", "scanners", "access.log")
        if os.path.isfile(p):
            return p
    p = os.path.join(TMP, "gen.log")
    if not os.path.exists(p):
        run(["generate", "--rows", "3000", "--seed", "7", "--format", "nginx",
             "--mix", "normal=100,scanner=3", "-o", p], check=True)
    return p


def refuse_log():
    """A private address and a public one probing, among normal traffic."""
    p = os.path.join(TMP, "refuse.log")
    rows = []
    t0 = 1795683600  # 2026-11-20T09:00:00Z
    for ip, off in (("192.168.1.50", 10), ("203.0.113.9", 100), ("198.51.100.11", 200),
                    ("198.51.100.12", 300)):
        rows += [(t0 + off + i, l) for i, l in enumerate(probe_lines(ip, t0 + off))]
    rnd = random.Random(3)
    for _ in range(200):
        t = t0 + rnd.randint(0, 599)
        rows.append((t, '93.184.%d.%d - - [%s] "GET /index.html HTTP/1.1" 200 1024 "-" '
                        '"Mozilla/5.0"' % (rnd.randint(0, 255), rnd.randint(1, 254), clf(t))))
    rows.sort()
    with open(p, "w") as f:
        f.write("".join(l + "\n" for _, l in rows))
    return p


def need_lapi():
    if LAPI is None:
        raise Skip(SETUP_ERR or "no LAPI")
    return LAPI


def lapi_args(state, audit=None, extra=()):
    a = ["--lapi-url", LAPI.url, "--lapi-machine", LAPI.machine_id,
         "--lapi-password-file", LAPI.password_file, "--state-file", state,
         "--lapi-retries", "1"]
    if audit:
        a += ["--audit-file", audit]
    return a + list(extra)


def ad(args, **kw):
    p = run(args, **kw)
    OUTPUTS.append(("%s stdout" % args[0], p.out))
    OUTPUTS.append(("%s stderr" % args[0], p.err))
    return p


def ad_json(args, **kw):
    p = ad(args, **kw)
    try:
        p.json = json.loads(p.out)
    except ValueError:
        raise AssertionError("not JSON; exit %d; stderr %s; stdout %s"
                             % (p.returncode, p.err[-800:], p.out[:300]))
    return p


def audit_records(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        text = f.read()
    OUTPUTS.append(("audit " + path, text))
    return [json.loads(l) for l in text.splitlines() if l.strip()]


def state_entries(state):
    p = ad_json(["bans", "list", "--json", "--state-file", state])
    eq(p.returncode, 0, "bans list exit (%s)" % p.err[-300:])
    return {e["value"]: e for e in p.json["state"]}


# ---- cases

def t_dry_run_default():
    need_lapi()
    st, au = os.path.join(TMP, "dry.state"), os.path.join(TMP, "dry.audit")
    p = ad_json(["run", "--json"] + lapi_args(st, au) + [scenario_log()])
    eq(p.returncode, 0, "exit (%s)" % p.err[-300:])
    eq(p.json["mode"], "dry-run", "mode")
    assert p.json["bans"], "no bans proposed"
    eq({b["verdict"] for b in p.json["bans"]}, {"dry-run"}, "verdicts")
    eq(LAPI.decisions(), [], "LAPI decisions after a dry-run")
    eq(os.path.exists(st), False, "state file written by a dry-run")
    t = ad(["run"] + lapi_args(st) + [scenario_log()])
    assert "dry-run" in t.out.splitlines()[0], t.out[:200]


BANNED = {}


def t_apply_bans():
    need_lapi()
    st, au = os.path.join(TMP, "main.state"), os.path.join(TMP, "main.audit")
    p = ad_json(["run", "--json", "--apply"] + lapi_args(st, au) + [scenario_log()])
    eq(p.returncode, 0, "exit (%s)" % p.err[-500:])
    eq(p.json["mode"], "apply", "mode")
    bans = [b for b in p.json["bans"] if b["verdict"] == "banned"]
    assert bans, "nothing banned: %s" % p.json["bans"]
    eq([b for b in p.json["bans"] if b["verdict"] == "failed"], [], "failed bans")
    for b in bans:
        d = LAPI.decisions(b["value"])
        eq(len(d), 1, "decisions for %s" % b["value"])
        eq(d[0]["scope"], "Ip", "scope")
        eq(d[0]["scenario"], b["scenario"], "scenario")
        eq(d[0]["origin"], "anomaly-detect", "origin")
        alerts = LAPI.alerts(ip=b["value"])
        eq(len(alerts), 1, "alerts for %s" % b["value"])
        eq(alerts[0]["events_count"], b["events"], "events_count = guard's count")
        assert 1 <= len(alerts[0].get("events") or []) <= 10, "sample events"
        BANNED[b["value"]] = b
    eq(set(state_entries(st)), set(BANNED), "state entries")
    verdicts = [r for r in audit_records(au) if r["event"] == "verdict"]
    eq(sorted(r["value"] for r in verdicts), sorted(b["value"] for b in p.json["bans"]),
       "one audit verdict per ban")


def t_second_run_no_duplicate():
    need_lapi()
    if not BANNED:
        raise Skip("nothing banned before")
    st = os.path.join(TMP, "main.state")
    p = ad_json(["run", "--json", "--apply"] + lapi_args(st) + [scenario_log()])
    eq(p.returncode, 0, "exit")
    for b in p.json["bans"]:
        if b["value"] in BANNED:
            eq(b["verdict"], "skipped", "verdict of %s" % b["value"])
            eq(b["code"], "already-banned", "code")
    for v in BANNED:
        eq(len(LAPI.alerts(ip=v)), 1, "alerts for %s after a second run" % v)


def t_bans_list_lapi():
    need_lapi()
    st = os.path.join(TMP, "main.state")
    p = ad_json(["bans", "list", "--json"] + lapi_args(st))
    eq(p.returncode, 0, "exit (%s)" % p.err[-300:])
    eq({e["value"] for e in p.json["state"]}, set(BANNED), "state")
    eq({d["value"] for d in p.json["lapi"]["decisions"]}, set(BANNED), "LAPI decisions")
    t = ad(["bans", "list", "--state-file", st])
    for v in BANNED:
        assert v in t.out, "%s not in text list" % v


def t_unban():
    need_lapi()
    if not BANNED:
        raise Skip("nothing banned before")
    st, au = os.path.join(TMP, "main.state"), os.path.join(TMP, "main.audit")
    v = sorted(BANNED)[0]
    p = ad(["unban"] + lapi_args(st, au) + [v])
    eq(p.returncode, 0, "exit (%s)" % p.err[-300:])
    eq(LAPI.decisions(v), [], "decisions after unban")
    assert v not in state_entries(st), "state entry stays"
    # Without LAPI configured, unban refuses and says why.
    q = ad(["unban", "--state-file", st, sorted(BANNED)[-1]])
    eq(q.returncode, 2, "exit without LAPI")
    assert "LAPI not configured" in q.err, q.err
    # DRY_RUN=0 applies: the unbanned address is banned again.
    r = ad_json(["run", "--json"] + lapi_args(st, au) + [scenario_log()],
                env={"DRY_RUN": "0"})
    eq(r.json["mode"], "apply", "mode with DRY_RUN=0")
    again = [b for b in r.json["bans"] if b["value"] == v]
    eq([b["verdict"] for b in again], ["banned"], "re-ban of %s" % v)
    eq(len(LAPI.decisions(v)), 1, "decision back")


def t_lapi_down_then_back():
    need_lapi()
    st, au = os.path.join(TMP, "down.state"), os.path.join(TMP, "down.audit")
    log = refuse_log()
    LAPI.stop()
    try:
        p = ad_json(["run", "--json", "--apply"] + lapi_args(st, au) + [log])
    finally:
        LAPI.start()
    eq(p.returncode, 1, "exit with LAPI down")
    failed = [b for b in p.json["bans"] if b["verdict"] == "failed"]
    assert failed, p.json["bans"]
    assert all(b.get("error") for b in failed), "failed without error"
    eq(state_entries(st), {}, "state after failures")
    pushes = [r for r in audit_records(au) if r["event"] == "lapi"]
    assert pushes and all(r["attempts"] >= 2 for r in pushes), "not retried: %s" % pushes
    q = ad_json(["run", "--json", "--apply"] + lapi_args(st, au) + [log])
    eq(q.returncode, 0, "exit with LAPI back (%s)" % q.err[-300:])
    eq({b["value"] for b in q.json["bans"] if b["verdict"] == "banned"},
       {b["value"] for b in failed}, "banned on the next run")
    eq(set(state_entries(st)), {b["value"] for b in failed}, "state")


def t_refusals():
    need_lapi()
    st = os.path.join(TMP, "refuse.state")
    p = ad_json(["run", "--json", "--apply"] + lapi_args(st) + [refuse_log()])
    by = {b["value"]: b for b in p.json["bans"]}
    eq(by["192.168.1.50"]["verdict"], "refused", "private address")
    eq(by["192.168.1.50"]["code"], "special-address", "code")
    assert "private" in by["192.168.1.50"]["reason"], by["192.168.1.50"]
    eq(LAPI.decisions("192.168.1.50"), [], "private address banned")
    # The configured classes, in dry-run (the guard judges the same way).
    base = ["run", "--json", "--state-file", os.path.join(TMP, "refuse-dry.state")]
    q = ad_json(base + ["--guard-allow", "203.0.113.0/24", "--trusted-proxy",
                        "198.51.100.12", refuse_log()])
    by = {b["value"]: b for b in q.json["bans"]}
    eq((by["203.0.113.9"]["verdict"], by["203.0.113.9"]["code"]),
       ("refused", "allowlisted"), "allowlisted")
    eq((by["198.51.100.12"]["verdict"], by["198.51.100.12"]["code"]),
       ("refused", "trusted-proxy"), "trusted proxy")
    eq(by["198.51.100.11"]["verdict"], "dry-run", "an attacker still judged")
    q = ad_json(base + ["--guard-max-per-cycle", "1", refuse_log()])
    codes = sorted(b["code"] for b in q.json["bans"] if b["value"] != "192.168.1.50")
    eq(codes, ["cap-per-cycle", "cap-per-cycle", "ok"], "per-cycle cap")
    assert all(b["reason"] for b in q.json["bans"]), "a verdict without reason"
    if SHARED is None:
        return
    conf = os.path.join(TMP, "wide.conf")
    with open(conf, "w") as f:
        f.write("guard_range_ipv6 = 80\nwindow = 24h\n")
    q = ad_json(["run", "--json", "-c", conf, os.path.join(SHARED, "scenarios", "ipv6",
                                                         "access.log")])
    ranges = [b for b in q.json["bans"] if b["scope"] == "Range"]
    assert ranges, "no range proposed"
    for b in ranges:
        eq(b["verdict"], "refused", "range verdict")
        eq(b["code"], "range-too-wide", "range code")
        assert "guard_range_ipv6" in b["reason"], b["reason"]


def t_relogin_watch_follow():
    """watch --follow bans as lines arrive; LAPI restarted in between
    (new signing secret: the old token is refused) and it logs in again."""
    need_lapi()
    st, au = os.path.join(TMP, "watch.state"), os.path.join(TMP, "watch.audit")
    log = os.path.join(TMP, "live.log")
    open(log, "w").close()
    args = [adtest.BIN, "watch", "--follow", "--apply", "--json", "--window", "10m"] \
        + lapi_args(st, au) + [log]
    w = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        def wait_banned(ip, limit=20):
            end = time.time() + limit
            while time.time() < end:
                if LAPI.decisions(ip):
                    return True
                time.sleep(0.2)
            return False
        with open(log, "a") as f:
            f.write("".join(l + "\n" for l in probe_lines("203.0.113.41", int(time.time()) - 12)))
        assert wait_banned("203.0.113.41"), "first attacker not banned"
        LAPI.stop()
        LAPI.start()
        with open(log, "a") as f:
            f.write("".join(l + "\n" for l in probe_lines("203.0.113.42", int(time.time()) - 12)))
        assert wait_banned("203.0.113.42"), "not banned after a LAPI restart"
    finally:
        w.send_signal(signal.SIGTERM)
        try:
            out, err = w.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            w.kill()
            out, err = w.communicate()
    OUTPUTS.append(("watch stdout", out.decode("utf-8", "replace")))
    OUTPUTS.append(("watch stderr", err.decode("utf-8", "replace")))
    eq(w.returncode, 0, "watch exit on SIGTERM (%s)" % err.decode()[-300:])
    eq(set(state_entries(st)), {"203.0.113.41", "203.0.113.42"}, "state after watch")
    recs = audit_records(au)
    eq(recs[-1]["event"], "exit", "last audit record")
    second = [r for r in recs if r["event"] == "lapi" and r["value"] == "203.0.113.42"]
    eq(len(second), 1, "pushes of the second attacker")
    # A 401 with the old token, a login, the request again.
    assert second[0]["attempts"] >= 3, "no re-login: %s" % second[0]


def t_scan_apply():
    need_lapi()
    st = os.path.join(TMP, "scan.state")
    log = os.path.join(TMP, "scan.log")
    with open(log, "w") as f:
        f.write("".join(l + "\n" for l in probe_lines("203.0.113.77", 1795683600)))
    p = ad_json(["scan", "--json", "--apply"] + lapi_args(st) + [log])
    eq(p.returncode, 0, "exit (%s)" % p.err[-300:])
    eq(p.json["mode"], "apply", "mode")
    eq([(b["value"], b["verdict"]) for b in p.json["bans"]], [("203.0.113.77", "banned")],
       "bans")
    eq(len(LAPI.decisions("203.0.113.77")), 1, "decision")
    q = ad_json(["scan", "--json"] + lapi_args(st) + [log])
    eq(q.json["mode"], "dry-run", "scan default mode")


def busy_log():
    """Many attackers, so that a run --apply is busy for most of a second."""
    if SHARED is not None:
        p = os.path.join(SHARED, "scenarios", "mixed", "access.log")
        if os.path.isfile(p):
            return p
    p = os.path.join(TMP, "busy.log")
    if not os.path.exists(p):
        run(["generate", "--rows", "20000", "--seed", "5", "--format", "nginx",
             "--mix", "normal=200,scanner=60,injection=30", "-o", p], check=True)
    return p


def t_kill9_state():
    need_lapi()
    st = os.path.join(TMP, "kill.state")
    rnd = random.Random(11)
    hit = 0
    for i in range(6):
        before = os.stat(st).st_ino if os.path.exists(st) else None
        pr = subprocess.Popen([adtest.BIN, "run", "--apply", "--ban-duration", "1s",
                               "--window", "24h"] + lapi_args(st) + [busy_log()],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Kill it while it bans: after its first save (the file replaced),
        # at a random moment among the next ones.
        end = time.time() + 5
        while time.time() < end and pr.poll() is None:
            if os.path.exists(st) and os.stat(st).st_ino != before:
                break
            time.sleep(0.002)
        time.sleep(rnd.uniform(0.0, 0.15))
        if pr.poll() is None:
            hit += 1
        pr.kill()
        pr.wait()
        p = ad_json(["bans", "list", "--json", "--state-file", st])
        eq(p.returncode, 0, "bans list after kill %d (%s)" % (i, p.err[-200:]))
        corrupt = [n for n in os.listdir(TMP) if n.startswith("kill.state.corrupt")]
        eq(corrupt, [], "state set aside as corrupt after kill %d" % i)
        time.sleep(1.05)  # the 1 s bans expire: the next run bans again
    # How many kills land inside a run depends on the machine's speed; the
    # deterministic crash test is test_state.c's.  Here at least one must
    # have hit a run at work, or the test proved nothing.
    assert hit >= 1, "none of the 6 kills hit a running process"
    # A run after the kills cleans up after them and works.
    q = ad(["run", "--apply", "--window", "24h"] + lapi_args(st) + [busy_log()])
    eq(q.returncode, 0, "run after the kills (%s)" % q.err[-300:])
    assert state_entries(st), "state empty after a full run"
    leftovers = [n for n in os.listdir(TMP) if n.startswith("kill.state")
                 and n not in ("kill.state", "kill.state.lock")]
    eq(leftovers, [], "temp files left")


def t_password_file_mode():
    need_lapi()
    pw = os.path.join(TMP, "pw-open")
    with open(LAPI.password_file) as f, open(pw, "w") as g:
        g.write(f.read())
    os.chmod(pw, 0o644)
    p = ad(["run", "--apply", "--lapi-url", LAPI.url, "--lapi-machine", LAPI.machine_id,
            "--lapi-password-file", pw, "--state-file", os.path.join(TMP, "pw.state"),
            scenario_log()])
    eq(p.returncode, 2, "exit")
    assert "readable by group or others" in p.err, p.err


def t_no_secrets():
    need_lapi()
    with open(LAPI.password_file) as f:
        secret = f.read().strip()
    assert len(secret) >= 8
    for what, text in OUTPUTS:
        assert secret not in text, "password in %s" % what
        assert LAPI.bouncer_key not in text, "bouncer key in %s" % what
    assert len(OUTPUTS) > 10, "too few outputs checked"


def main():
    global LAPI, SETUP_ERR
    server = None
    try:
        server = harness.LapiServer()
        server.setup()
        LAPI = server
    except Skip as e:
        SETUP_ERR = str(e)
    except Exception as e:  # noqa: BLE001 - report as a failed case
        SETUP_ERR = "LAPI setup: %s" % e
        case("lapi_setup", lambda: (_ for _ in ()).throw(AssertionError(SETUP_ERR)))
        LAPI = None
    try:
        case("dry_run_default", t_dry_run_default)
        case("apply_bans_in_lapi", t_apply_bans)
        case("second_run_no_duplicate", t_second_run_no_duplicate)
        case("bans_list_state_and_lapi", t_bans_list_lapi)
        case("unban_and_dry_run_env", t_unban)
        case("lapi_down_failed_then_banned", t_lapi_down_then_back)
        case("guard_refusals", t_refusals)
        case("watch_follow_relogin", t_relogin_watch_follow)
        case("scan_apply", t_scan_apply)
        case("kill9_state_readable", t_kill9_state)
        case("password_file_mode", t_password_file_mode)
        case("no_secrets_anywhere", t_no_secrets)
    finally:
        if server is not None:
            server.close()
    adtest.finish()


if __name__ == "__main__":
    main()
