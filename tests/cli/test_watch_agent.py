#!/usr/bin/env python3
"""watch --follow --analyst llm: the agent runs every cycle, end to end,
through the real binary, against fake models on 127.0.0.1
(tests/fakes/model_bots.py, tests/fakes/fake_llm.py).

 - a competent model, asked in the first cycle, proposes the generated
   log's attackers (dry-run, no innocent); lines appended to the followed
   file with a new scanner start a new cycle in which the model is asked
   again about the new window, and proposes the newcomer;
 - the day's budget is carried from one cycle to the next: the first
   cycle spends it, a later one stops with "budget-day" before any
   request and the built-in analyst's findings are used;
 - the endpoint down: every cycle falls back to the built-in analyst and
   watch keeps following;
 - with a real CrowdSec LAPI (skipped without crowdsec): watch --apply,
   the model's bans reach LAPI and the state file.
The API key never appears in any output; watch exits 0 on SIGTERM.
"""
import ipaddress
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adtest  # noqa: E402
from adtest import case, eq, run, run_json  # noqa: E402

TMP = adtest.tmpdir()
FAKES = os.path.join(adtest.ROOT, "tests", "fakes")
SECRET = "sk-test-watch-agent-SECRET"
ENV = {"LLM_API_KEY": SECRET, "OPENROUTER_API_KEY": "", "DRY_RUN": "",
       "LAPI_PASSWORD": ""}
MIX = "normal=60,monitor=1,crawler=2,scanner=1,flood=1,injection=1"
CYCLE_WAIT = 60     # seconds: generous for the ASan build on a busy box
PROBES = ["/.env", "/.git/config", "/wp-config.php.bak", "/.aws/credentials",
          "/backup.sql", "/phpinfo.php", "/.htpasswd", "/config.json",
          "/admin/.env", "/db.sql", "/shell.php", "/.ssh/id_rsa",
          "/.env.production", "/server-status", "/.DS_Store",
          "/wp-admin/install.php"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
          "Oct", "Nov", "Dec"]
HELP = run(["watch", "--help"]).out
RETRIES = ["--llm-retries", "0"] if "--llm-retries" in HELP else []


# ---- logs

def gen_log(name, seed):
    """A generated log whose rows end two minutes ago: following, the
    window is the wall clock's last 15 minutes, so it is all inside."""
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                          time.gmtime(time.time() - 600))
    log, lab = os.path.join(d, "access.log"), os.path.join(d, "labels.json")
    run(["generate", "--rows", "3000", "--seed", str(seed), "--mix", MIX,
         "--start", start, "--duration", "8m", "-o", log, "--labels", lab],
        check=True)
    with open(lab) as f:
        labels = json.load(f)
    if len(labels["attackers"]) < 2 or not labels["innocents"]:
        raise AssertionError("the generated log has too few actors: %r"
                             % labels["attackers"])
    return log, labels


def clf(t):
    g = time.gmtime(t)
    return "%02d/%s/%04d:%02d:%02d:%02d +0000" % (
        g.tm_mday, MONTHS[g.tm_mon - 1], g.tm_year, g.tm_hour, g.tm_min,
        g.tm_sec)


def append_scanner(log, ip):
    """A fresh TEST-NET address probing for sensitive files, stamped in
    the last seconds (inside the next cycle's window)."""
    t0 = int(time.time()) - len(PROBES)
    lines = ['%s - - [%s] "GET %s HTTP/1.1" 404 153 "-" "curl/8.5.0" "-" '
             '0.001\n' % (ip, clf(t0 + i), p) for i, p in enumerate(PROBES)]
    with open(log, "a") as f:
        f.write("".join(lines))


def labeled_attacker(value, labels):
    """A ban value (address or CIDR) that covers only attackers."""
    if value in labels["attackers"]:
        return True
    if value in labels.get("prefixes", {}):
        return True
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return any(net.subnet_of(ipaddress.ip_network(p))
               for p in labels.get("prefixes", {})
               if ipaddress.ip_network(p).version == net.version)


def covers_innocent(value, labels):
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        return value in labels["innocents"]
    return any(ipaddress.ip_address(i) in net for i in labels["innocents"])


def verdicts(d, verdict):
    return {b["value"]: b for b in d["bans"] if b["verdict"] == verdict}


def check_no_innocent(d, labels, extra=()):
    for b in d["bans"]:
        if b["verdict"] not in ("dry-run", "banned"):
            continue
        if covers_innocent(b["value"], labels):
            raise AssertionError("an innocent banned: %r" % b)
        if not labeled_attacker(b["value"], labels) and \
                b["value"] not in extra:
            raise AssertionError("an unlabeled address banned: %r" % b)


# ---- fakes

class Server:
    """fake_llm.py or model_bots.py: the port on the first line, serves
    until its stdin closes."""

    def __init__(self, script, *args):
        self.p = subprocess.Popen([sys.executable, os.path.join(FAKES, script)]
                                  + list(args), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE)
        line = self.p.stdout.readline()
        if not line.strip():
            self.close()
            raise AssertionError("%s did not start" % script)
        self.port = int(line)
        self.url = "http://127.0.0.1:%d/v1" % self.port

    def control(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        rq = urllib.request.Request("http://127.0.0.1:%d%s"
                                    % (self.port, path), data=data,
                                    method=method)
        with urllib.request.urlopen(rq, timeout=10) as r:
            return r.read().decode()

    def chats(self):
        text = self.control("GET", "/fake/requests")
        reqs = [json.loads(x) for x in text.splitlines() if x.strip()]
        return [r for r in reqs if r["path"].endswith("/chat/completions")]

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def conversations(chats):
    """Requests grouped by their briefing (the first user message): one
    group per cycle that asked the model, in order."""
    groups = []
    for r in chats:
        msgs = r["body"]["messages"]
        brief = next((m.get("content") or "" for m in msgs
                      if m.get("role") == "user"), "")
        text = "\n".join(m.get("content") or "" for m in msgs)
        if groups and groups[-1]["briefing"] == brief:
            groups[-1]["requests"].append(r)
            groups[-1]["text"] = text
        else:
            groups.append({"briefing": brief, "requests": [r], "text": text})
    return groups


def dead_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "http://127.0.0.1:%d/v1" % port


# ---- watch

class Watch:
    """anomaly-detect watch in the background; stdout read line by line
    (one JSON object per cycle with --json), stderr to a file."""

    def __init__(self, args, env=ENV):
        e = dict(os.environ)
        e.update(env)
        self.errpath = os.path.join(TMP, "watch-%d.err" % id(self))
        self.errf = open(self.errpath, "wb")
        self.p = subprocess.Popen([adtest.BIN, "watch"] + list(args),
                                  stdout=subprocess.PIPE, stderr=self.errf,
                                  env=e)
        self.lines = queue.Queue()
        self.out = []
        self.rc = None
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for raw in self.p.stdout:
            line = raw.decode("utf-8", "replace")
            self.out.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def err(self):
        with open(self.errpath, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def line(self, deadline, what):
        left = deadline - time.time()
        try:
            line = self.lines.get(timeout=max(left, 0.01))
        except queue.Empty:
            raise AssertionError("no %s within the wait; stderr: %s"
                                 % (what, self.err()[-600:]))
        if line is None:
            self.lines.put(None)
            raise AssertionError("watch ended (exit %s) before %s; stderr: "
                                 "%s" % (self.p.poll(), what,
                                         self.err()[-600:]))
        return line

    def cycle(self, what, timeout=CYCLE_WAIT):
        line = self.line(time.time() + timeout, what)
        try:
            return json.loads(line)
        except ValueError:
            raise AssertionError("%s: not one JSON object per line: %r"
                                 % (what, line[:300]))

    def cycle_until(self, pred, what, timeout=CYCLE_WAIT):
        """Cycles until pred(cycle); every cycle seen is returned."""
        deadline = time.time() + timeout
        seen = []
        while True:
            try:
                d = self.cycle(what, max(deadline - time.time(), 0.01))
            except AssertionError as e:
                last = seen[-1] if seen else {}
                raise AssertionError("%s (%d cycles seen; the last: rows %s, "
                                     "agent %r, bans %r)" % (
                                         e, len(seen), last.get("rows"),
                                         last.get("agent"), [
                                             (b["value"], b["verdict"])
                                             for b in last.get("bans", [])]))
            seen.append(d)
            if pred(d):
                return seen

    def stop(self):
        """SIGTERM; the exit status.  Also checks no output has the key."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            self.rc = self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            self.rc = "killed: no exit within 30 s of SIGTERM"
        self.t.join(timeout=10)
        self.errf.close()
        text = "".join(self.out) + self.err()
        if SECRET in text:
            raise AssertionError("the API key was printed")
        return self.rc


def llm(url, *extra):
    return ["--analyst", "llm", "--llm-base-url", url, "--llm-model", "m",
            "--agent-triage", "always"] + list(extra)


def follow(state, *extra):
    # --interval 1h: a cycle only when rows arrive, so "the next cycle"
    # is the one the appended lines caused.
    return ["--follow", "--json", "--interval", "1h", "--state-file",
            state] + list(extra)


def grown(first):
    """The cycle that read all the appended lines."""
    return lambda d: d["rows"] >= first["rows"] + len(PROBES)


# ---- cases

def every_cycle():
    log, labels = gen_log("every", 7)
    new = "203.0.113.57"
    bot = Server("model_bots.py", "--bot", "competent")
    w = None
    try:
        w = Watch(follow(os.path.join(TMP, "every.state"), "--dry-run") +
                  llm(bot.url) + [log])
        c1 = w.cycle("first cycle")
        eq(c1["command"], "watch", "command")
        eq(c1["mode"], "dry-run", "mode")
        eq(c1["analyst"], "llm", "analyst")
        # The whole file in the first cycle: no second one is pending.
        eq(c1["rows"], labels["rows"], "rows in the first cycle")
        a = c1["agent"]
        eq(a["called"], True, "called")
        eq(a["stop"], "answered", "stop")
        eq(a["fallback"], False, "fallback")
        if a["turns"] < 3 or a["prompt_tokens"] <= 0:
            raise AssertionError("the bot did not investigate: %r" % a)
        dry = verdicts(c1, "dry-run")
        if not dry:
            raise AssertionError("first cycle: no dry-run bans: %r"
                                 % c1["bans"])
        check_no_innocent(c1, labels)
        for b in dry.values():
            if not b["scenario"].startswith("anomaly-detect/llm-"):
                raise AssertionError("not the model's proposal: %r" % b)
        missed = [ip for ip in labels["attackers"] if ip not in dry]
        if missed:
            raise AssertionError("attackers the competent bot missed: %r"
                                 % missed)
        eq(c1["summary"]["banned"], 0, "banned in dry-run")
        asked = len(conversations(bot.chats()))
        eq(asked, 1, "conversations after the first cycle")

        append_scanner(log, new)
        seen = w.cycle_until(grown(c1), "cycle with the new lines")
        c2 = seen[-1]
        if new not in verdicts(c2, "dry-run"):
            raise AssertionError("the model did not propose %s: agent %r, "
                                 "bans %r" % (new, c2["agent"], c2["bans"]))
        eq(c2["agent"]["called"], True, "later cycle: called")
        eq(c2["agent"]["fallback"], False, "later cycle: fallback")
        eq(c2["agent"]["stop"], "answered", "later cycle: stop")
        if c2["window"]["end"] <= c1["window"]["end"]:
            raise AssertionError("the window did not move: %r, %r"
                                 % (c1["window"], c2["window"]))
        eq(verdicts(c2, "dry-run")[new]["scenario"].startswith(
            "anomaly-detect/llm-"), True, "the newcomer is the model's")
        check_no_innocent(c2, labels, extra=(new,))
        # The model was asked again, about the new window, and saw the
        # newcomer in what it was given.
        convs = conversations(bot.chats())
        if len(convs) < 2:
            raise AssertionError("the model was asked %d times" % len(convs))
        head = "Window: %s .. %s" % (c2["window"]["start"],
                                     c2["window"]["end"])
        mine = [c for c in convs if c["briefing"].startswith(head)]
        eq(len(mine), 1, "conversations briefed with %s" % head)
        if mine[0] is convs[0]:
            raise AssertionError("the later cycle reused the first briefing")
        if new not in mine[0]["text"]:
            raise AssertionError("the model was never shown %s" % new)
        if new in convs[0]["text"]:
            raise AssertionError("%s already in the first conversation" % new)
        auth = {r["headers"].get("Authorization") for c in convs
                for r in c["requests"]}
        eq(auth, {"Bearer " + SECRET}, "Authorization sent")
    finally:
        if w is not None:
            rc = w.stop()
        bot.close()
    eq(rc, 0, "exit on SIGTERM (%s)" % w.err()[-300:])


def day_budget():
    log, labels = gen_log("budget", 11)
    flood = [ip for ip, why in labels["attackers"].items()
             if "flood" in why and "botnet" not in why]
    if not flood:
        raise AssertionError("no flood in the generated log: %r"
                             % labels["attackers"])
    new = "203.0.113.58"
    fake = Server("fake_llm.py", "--key", SECRET)
    w = None
    # Every turn reports 1000 prompt tokens at 0.00001 USD: 0.01 a turn.
    # The day allows 0.015: the first cycle's second turn (its answer)
    # crosses it; nothing is left for any later cycle.
    usage = {"prompt_tokens": 1000, "completion_tokens": 0,
             "total_tokens": 1000}
    fake.control("POST", "/fake/script", [
        {"tool_calls": [{"name": "ban_ips", "arguments": {"bans": [
            {"ip": flood[0], "reason": "one client, most of the requests",
             "scenario": "flood"}]}}], "usage": usage},
        {"content": "banned the flood", "usage": usage}])
    try:
        w = Watch(follow(os.path.join(TMP, "budget.state"), "--dry-run") +
                  llm(fake.url, "--llm-price-prompt", "0.00001",
                      "--llm-price-completion", "0.00001",
                      "--agent-max-usd-cycle", "1",
                      "--agent-max-usd-day", "0.015") + [log])
        c1 = w.cycle("first cycle")
        a = c1["agent"]
        eq((a["called"], a["stop"], a["turns"], a["fallback"]),
           (True, "answered", 2, False), "first cycle agent")
        eq((a["prompt_tokens"], a["completion_tokens"]), (2000, 0), "tokens")
        if abs(a["cost_usd"] - 0.02) > 1e-6:
            raise AssertionError("cost %r, want 0.02" % a["cost_usd"])
        eq(a["report"], "banned the flood", "report")
        eq({(b["value"], b["verdict"], b["scenario"]) for b in c1["bans"]},
           {(flood[0], "dry-run", "anomaly-detect/llm-flood")},
           "the first cycle: the model's ban only")
        eq(len(fake.chats()), 2, "requests in the first cycle")

        append_scanner(log, new)
        seen = w.cycle_until(grown(c1), "cycle with the new lines")
        if seen[-1]["window"]["end"][:10] != c1["window"]["end"][:10]:
            # max_usd_day is per UTC day: a new day starts afresh.
            raise adtest.Skip("UTC midnight passed between the cycles")
        for c in seen:
            a = c["agent"]
            # Stopped before asking: the budget, never "answered" or a
            # verdict of no attack, and the analyst's findings used.
            eq(a["stop"], "budget-day", "later cycle stop")
            eq(a["called"], False, "later cycle called")
            eq(a["turns"], 0, "later cycle turns")
            eq(a["cost_usd"], 0, "later cycle cost")
            eq(a["report"], None, "later cycle report")
            eq(a["fallback"], True, "later cycle fallback")
        c2 = seen[-1]
        dry = verdicts(c2, "dry-run")
        if new not in dry or flood[0] not in dry:
            raise AssertionError("the built-in analyst's bans are missing: "
                                 "%r" % sorted(dry))
        for b in dry.values():
            if b["scenario"].startswith("anomaly-detect/llm-"):
                raise AssertionError("a model ban in a cycle that did not "
                                     "ask it: %r" % b)
        subjects = {f["subject"] for f in c2["findings"]}
        if new not in subjects:
            raise AssertionError("%s not among the findings" % new)
        check_no_innocent(c2, labels, extra=(new,))
        eq(len(fake.chats()), 2, "requests after the budget ran out")
    finally:
        if w is not None:
            rc = w.stop()
        fake.close()
    eq(rc, 0, "exit on SIGTERM (%s)" % w.err()[-300:])


def endpoint_down():
    log, labels = gen_log("down", 13)
    new = "203.0.113.59"
    stats = run_json(["run", "--json", "--dry-run", "--analyst", "stats",
                      "--state-file", os.path.join(TMP, "down-run.state"),
                      log], env=ENV).json
    want = set(verdicts(stats, "dry-run"))
    if not want:
        raise AssertionError("the built-in analyst bans nothing here")
    url = dead_url()
    w = None
    try:
        w = Watch(follow(os.path.join(TMP, "down.state"), "--dry-run") +
                  llm(url, *RETRIES) + [log])
        c1 = w.cycle("first cycle")
        a = c1["agent"]
        eq(c1["analyst"], "llm", "analyst")
        eq((a["stop"], a["turns"], a["fallback"]),
           ("llm-error", 0, True), "first cycle agent")
        if not a["error"]:
            raise AssertionError("no error: %r" % a)
        eq(set(verdicts(c1, "dry-run")), want,
           "the built-in analyst's dry-run bans")
        check_no_innocent(c1, labels)
        if RETRIES and c1["seconds"] > 5:
            raise AssertionError("a cycle took %.1f s with --llm-retries 0"
                                 % c1["seconds"])
        append_scanner(log, new)
        seen = w.cycle_until(grown(c1), "cycle with the new lines")
        if new not in verdicts(seen[-1], "dry-run"):
            raise AssertionError("%s not banned by the built-in analyst: %r"
                                 % (new, seen[-1]["bans"]))
        for c in seen:
            eq((c["agent"]["stop"], c["agent"]["fallback"]),
               ("llm-error", True), "later cycle agent")
        check_no_innocent(seen[-1], labels, extra=(new,))
        if not want <= set(verdicts(seen[-1], "dry-run")):
            raise AssertionError("the first cycle's bans are gone")
    finally:
        if w is not None:
            rc = w.stop()
    eq(rc, 0, "exit on SIGTERM (%s)" % w.err()[-300:])
    # The same in text: the first cycle says why its bans are the
    # built-in analyst's.
    w = Watch(["--follow", "--dry-run", "--interval", "1h",
               "--state-file", os.path.join(TMP, "down.state")] +
              llm(url, *RETRIES) + [log])
    try:
        deadline = time.time() + CYCLE_WAIT
        text = ""
        while "built-in analyst's findings used" not in text:
            text += w.line(deadline, "the text cycle")
        if "analyst: llm unavailable (" not in text:
            raise AssertionError("text: " + text[-500:])
    finally:
        rc = w.stop()
    eq(rc, 0, "text watch exit on SIGTERM (%s)" % w.err()[-300:])


def lapi_apply():
    sys.path.insert(0, os.path.join(adtest.ROOT, "tests", "lapi"))
    import harness  # noqa: E402 - only this case needs it
    log, labels = gen_log("lapi", 17)
    state = os.path.join(TMP, "lapi.state")
    with harness.LapiServer() as lapi:   # Skip without crowdsec
        bot = Server("model_bots.py", "--bot", "competent")
        w = None
        try:
            w = Watch(follow(state, "--apply", "--lapi-url", lapi.url,
                             "--lapi-machine", lapi.machine_id,
                             "--lapi-password-file", lapi.password_file,
                             "--lapi-retries", "1") +
                      llm(bot.url) + [log])
            c1 = w.cycle("first cycle")
            eq(c1["mode"], "apply", "mode")
            eq((c1["agent"]["called"], c1["agent"]["fallback"]),
               (True, False), "agent")
            banned = verdicts(c1, "banned")
            if not banned:
                raise AssertionError("nothing banned: %r" % c1["bans"])
            check_no_innocent(c1, labels)
            eq(c1["summary"]["failed"], 0, "failed bans")
            for ip, b in banned.items():
                if not b["scenario"].startswith("anomaly-detect/llm-"):
                    raise AssertionError("not the model's ban: %r" % b)
                ds = lapi.decisions(ip)
                if not ds:
                    raise AssertionError("%s not in LAPI" % ip)
                eq({d.get("origin") for d in ds}, {"anomaly-detect"},
                   "origin of %s" % ip)
                eq({d.get("scenario") for d in ds}, {b["scenario"]},
                   "scenario of %s" % ip)
            innocent = [d["value"] for d in lapi.decisions()
                        if covers_innocent(d["value"], labels)]
            eq(innocent, [], "innocents in LAPI")
        finally:
            if w is not None:
                rc = w.stop()
            bot.close()
        eq(rc, 0, "exit on SIGTERM (%s)" % w.err()[-300:])
        for v in (lapi.password, lapi.bouncer_key):
            if v and (v in "".join(w.out) or v in w.err()):
                raise AssertionError("a LAPI secret was printed")
        p = run_json(["bans", "list", "--json", "--state-file", state],
                     env=ENV)
        eq(p.returncode, 0, "bans list (%s)" % p.err[-300:])
        listed = {e["value"] for e in p.json["state"]}
        eq(listed, set(banned), "the state file")


case("watch --follow: the model is asked every cycle, newcomer banned",
     every_cycle)
case("watch --follow: the day's budget carried across cycles", day_budget)
case("watch --follow: endpoint down, every cycle falls back", endpoint_down)
case("watch --follow --apply: the model's bans reach LAPI and the state",
     lapi_apply)
adtest.finish()
