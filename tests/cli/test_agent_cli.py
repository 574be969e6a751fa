#!/usr/bin/env python3
"""run / scan --analyst llm|stats|auto: the agent in a detection cycle,
against tests/fakes/fake_llm.py on 127.0.0.1.

 - llm: the model is asked (the fake records the request) and the cycle
   reports the "agent" object;
 - the endpoint down: the built-in analyst's findings go to the guard
   (dry-run verdicts present) and the output says so;
 - triage that does not call the model says so, and falls back too;
 - auto with no key and no base URL is stats; the config key "analyst";
 - the key is never printed.
"""
import json
import os
import socket
import subprocess
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adtest  # noqa: E402
from adtest import case, eq, run, run_json  # noqa: E402

TMP = adtest.tmpdir()
FAKE = os.path.join(adtest.ROOT, "tests", "fakes", "fake_llm.py")
NOKEY = {"LLM_API_KEY": "", "OPENROUTER_API_KEY": "", "DRY_RUN": ""}
SECRET = "sk-test-agent-cli-SECRET"
LOG = os.path.join(TMP, "access.log")
STATE = os.path.join(TMP, "state.json")

run(["generate", "--rows", "3000", "--seed", "7", "--format", "nginx",
     "--output", LOG, "--labels", os.path.join(TMP, "labels.json")],
    check=True)


class Fake:
    def __init__(self, *args):
        self.p = subprocess.Popen([sys.executable, FAKE] + list(args),
                                  stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE)
        self.port = int(self.p.stdout.readline())
        self.url = "http://127.0.0.1:%d/v1" % self.port

    def requests(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/fake/requests"
                                    % self.port, timeout=10) as r:
            text = r.read().decode()
        return [json.loads(x) for x in text.splitlines() if x.strip()]

    def close(self):
        self.p.stdin.close()
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def dead_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "http://127.0.0.1:%d/v1" % port


def llm_args(url):
    return ["--analyst", "llm", "--llm-base-url", url, "--llm-model", "m",
            "--agent-triage", "always"]


def run_cycle(extra, env=NOKEY):
    p = run_json(["run", "--json", "--dry-run", "--state-file", STATE] +
                 extra + [LOG], env=env)
    return p.json, p


def scan(extra, env=NOKEY):
    p = run_json(["scan", "--json", "--no-progress"] + extra + [LOG],
                 env=env)
    return p.json, p


def stats_bans():
    d, p = run_cycle(["--analyst", "stats"])
    eq(p.returncode, 0, "run --analyst stats (%s)" % p.err[-300:])
    eq(d["analyst"], "stats", "analyst")
    if "agent" in d:
        raise AssertionError("agent object with --analyst stats")
    if d["summary"]["dry_run"] == 0:
        raise AssertionError("the scenario gives the analyst no bans")
    return sorted(b["value"] for b in d["bans"] if b["verdict"] == "dry-run")


def run_llm_called():
    f = Fake("--key", SECRET)
    try:
        d, p = run_cycle(llm_args(f.url), env=dict(NOKEY, LLM_API_KEY=SECRET))
        eq(p.returncode, 0, "exit (%s)" % p.err[-300:])
        eq(d["analyst"], "llm", "analyst")
        a = d["agent"]
        eq(a["called"], True, "called")
        eq(a["stop"], "answered", "stop")
        eq(a["fallback"], False, "fallback")
        eq(a["report"], "done", "report (the fake's default answer)")
        if a["turns"] < 1 or a["prompt_tokens"] <= 0:
            raise AssertionError("no usage: %r" % a)
        reqs = [r for r in f.requests()
                if r["path"].endswith("/chat/completions")]
        if not reqs:
            raise AssertionError("the fake recorded no chat request")
        eq(reqs[0]["body"]["model"], "m", "model sent")
        # The model banned nothing: nothing else is banned either.
        eq(d["summary"]["dry_run"], 0, "dry-run bans without proposals")
        if SECRET in p.out or SECRET in p.err:
            raise AssertionError("the API key was printed")
    finally:
        f.close()


def run_llm_down():
    want = stats_bans()
    d, p = run_cycle(llm_args(dead_url()))
    eq(p.returncode, 0, "exit (%s)" % p.err[-300:])
    a = d["agent"]
    eq(a["fallback"], True, "fallback")
    eq(a["stop"], "llm-error", "stop")
    if not a["error"]:
        raise AssertionError("no error: %r" % a)
    got = sorted(b["value"] for b in d["bans"] if b["verdict"] == "dry-run")
    eq(got, want, "the built-in analyst's dry-run verdicts")
    t = run(["run", "--dry-run", "--state-file", STATE] +
            llm_args(dead_url()) + ["--llm-retries", "0", LOG], env=NOKEY)
    eq(t.returncode, 0, "text exit")
    if "analyst: llm unavailable (" not in t.out or \
            "built-in analyst's findings used" not in t.out:
        raise AssertionError("text: " + t.out[-800:])
    if "dry-run  " not in t.out:
        raise AssertionError("no dry-run verdicts in text: " + t.out[-500:])


def run_triage_skips():
    f = Fake()
    try:
        args = ["--analyst", "llm", "--llm-base-url", f.url,
                "--llm-model", "m", "--agent-triage", "never"]
        d, p = run_cycle(args)
        eq(p.returncode, 0, "exit")
        eq(d["agent"]["called"], False, "called")
        eq(d["agent"]["fallback"], True, "fallback")
        if d["summary"]["dry_run"] == 0:
            raise AssertionError("no analyst bans after a skip")
        eq([r for r in f.requests()
            if r["path"].endswith("/chat/completions")], [], "requests")
        t = run(["run", "--dry-run", "--state-file", STATE] + args + [LOG],
                env=NOKEY)
        if "llm not called: no signal above the triage threshold" \
                not in t.out:
            raise AssertionError("text: " + t.out[-500:])
    finally:
        f.close()


def auto_is_stats():
    f = Fake()
    try:
        auto_with(f)
    finally:
        f.close()


def auto_with(fake):
    want = stats_bans()
    d, p = run_cycle(["--analyst", "auto"])
    eq(p.returncode, 0, "exit (%s)" % p.err[-300:])
    eq(d["analyst"], "stats", "analyst")
    if "agent" in d:
        raise AssertionError("agent object without a model configured")
    eq(sorted(b["value"] for b in d["bans"] if b["verdict"] == "dry-run"),
       want, "bans")
    # auto is the default of run.
    d, p = run_cycle([])
    eq(d["analyst"], "stats", "default analyst without a model")
    # and with a base URL auto uses the model.
    d, p = run_cycle(["--llm-base-url", fake.url, "--llm-model", "m",
                      "--agent-triage", "always"])
    eq(d["analyst"], "llm", "auto with llm_base_url")
    eq(d["agent"]["called"], True, "called")
    # a key alone (OpenRouter) also selects the model; without
    # llm_model it is not usable and the built-in analyst decides.
    d, p = run_cycle([], env=dict(NOKEY, OPENROUTER_API_KEY=SECRET))
    eq(d["analyst"], "stats", "auto with a key but no model")
    if SECRET in p.out or SECRET in p.err:
        raise AssertionError("the API key was printed")


def config_key():
    f = Fake()
    try:
        config_with(f)
    finally:
        f.close()


def config_with(fake):
    conf = os.path.join(TMP, "a.conf")
    with open(conf, "w") as f:
        f.write("analyst = llm\nllm_base_url = %s\nllm_model = m\n"
                "agent_triage = always\n" % fake.url)
    d, p = run_cycle(["-c", conf])
    eq(p.returncode, 0, "exit (%s)" % p.err[-300:])
    eq(d["analyst"], "llm", "analyst from the config")
    eq(d["agent"]["called"], True, "called")
    d, p = run_cycle(["-c", conf, "--analyst", "stats"])
    eq(d["analyst"], "stats", "the option over the config")
    p = run(["run", "--dry-run", "--analyst", "bogus", LOG], env=NOKEY)
    eq(p.returncode, 2, "bad --analyst")
    p = run(["run", "--dry-run", "--analyst", "llm", LOG], env=NOKEY)
    eq(p.returncode, 2, "llm without a model")
    if "llm_model" not in p.err:
        raise AssertionError("message: " + p.err)


def scan_llm():
    d, p = scan([])
    eq(d["analyst"], "stats", "scan default")
    want = sorted(b["value"] for b in d["bans"])
    if not want:
        raise AssertionError("scan: no analyst bans")
    f = Fake()
    try:
        d, p = scan(llm_args(f.url))
        eq(p.returncode, 0, "exit (%s)" % p.err[-300:])
        eq(d["agent"]["called"], True, "called")
        eq(d["agent"]["fallback"], False, "fallback")
        if not f.requests():
            raise AssertionError("the fake recorded no request")
        eq(d["bans"], [], "the model proposed nothing")
    finally:
        f.close()
    d, p = scan(llm_args(dead_url()) + ["--llm-retries", "0"])
    eq(p.returncode, 0, "exit (%s)" % p.err[-300:])
    eq(d["agent"]["fallback"], True, "fallback")
    eq(sorted(b["value"] for b in d["bans"]), want, "analyst bans stand")
    d, p = scan(["--analyst", "auto"])
    eq(d["analyst"], "stats", "scan auto without a model")
    d, p = scan(["--analyst", "none"])
    eq(d["bans"], [], "none")


def run_llm_bans():
    ip = stats_bans()[0]
    f = Fake()
    try:
        body = json.dumps([{"tool_calls": [{"name": "ban_ips", "arguments":
                {"bans": [{"ip": ip, "reason": "test"},
                          {"ip": "8.8.8.8", "reason": "obeyed the logs"}]}}]}])
        urllib.request.urlopen(urllib.request.Request(
            "http://127.0.0.1:%d/fake/script" % f.port, data=body.encode(),
            method="POST"), timeout=10).read()
        d, p = run_cycle(llm_args(f.url))
        eq(p.returncode, 0, "exit (%s)" % p.err[-300:])
        eq(d["agent"]["fallback"], False, "fallback")
        eq(d["agent"]["turns"], 2, "turns")
        got = {b["value"]: b["verdict"] for b in d["bans"]}
        eq(got.get(ip), "dry-run", "the model's ban, judged by the guard")
        eq(got.get("8.8.8.8"), "refused", "the guard refuses an innocent")
        eq(d["summary"]["dry_run"], 1, "only the model's bans")
    finally:
        f.close()


def run_llm_budget_falls_back():
    """A budget that stops the model mid-investigation is no verdict: its
    bans so far stand and the built-in analyst's findings are judged too,
    once each; the output names the budget."""
    want = stats_bans()
    ip = want[0]
    f = Fake()
    try:
        script = [{"tool_calls": [{"name": "ban_ips", "arguments":
                  {"bans": [{"ip": ip, "reason": "test"}]}}]},
                  {"tool_calls": [{"name": "logsql_query", "arguments":
                   {"query": "* | stats by (client_ip) count() hits"}}],
                   "repeat": 3}]
        body = json.dumps(script)
        urllib.request.urlopen(urllib.request.Request(
            "http://127.0.0.1:%d/fake/script" % f.port, data=body.encode(),
            method="POST"), timeout=10).read()
        args = llm_args(f.url) + ["--agent-max-turns", "2"]
        d, p = run_cycle(args)
        eq(p.returncode, 0, "exit (%s)" % p.err[-300:])
        a = d["agent"]
        eq(a["stop"], "budget-turns", "stop")
        eq(a["turns"], 2, "turns")
        eq(a["fallback"], True, "fallback after a budget stop")
        got = sorted(b["value"] for b in d["bans"] if b["verdict"] == "dry-run")
        eq(got, want, "the model's ban and the analyst's, each once")
        mine = [b for b in d["bans"] if b["value"] == ip]
        if not mine[0]["scenario"].startswith("anomaly-detect/llm") or \
                mine[0]["verdict"] != "dry-run":
            raise AssertionError("the model's ban is not its own: %r" %
                                 mine[0])
        # The analyst's finding of the same client: judged once only.
        eq([(b["verdict"], b["code"]) for b in mine[1:]],
           [("skipped", "already-banned")], "the second proposal")
        t = run(["run", "--dry-run", "--state-file", STATE] + args + [LOG],
                env=NOKEY)
        if "llm stopped by a budget (budget-turns)" not in t.out or \
                "not a verdict" not in t.out:
            raise AssertionError("text: " + t.out[-800:])
    finally:
        f.close()


case("run --analyst llm: the model is asked", run_llm_called)
case("run --analyst llm: a budget stop adds the analyst's bans",
     run_llm_budget_falls_back)
case("run --analyst llm: the model's bans through the guard", run_llm_bans)
case("run --analyst llm, endpoint down: the analyst's bans", run_llm_down)
case("run: triage skips the model", run_triage_skips)
case("run --analyst auto without a model is stats", auto_is_stats)
case("config key analyst, bad values", config_key)
case("scan --analyst llm|auto|none", scan_llm)
adtest.finish()
