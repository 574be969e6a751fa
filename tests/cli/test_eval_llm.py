#!/usr/bin/env python3
"""anomaly-detect eval --analyst llm: the agent scored end to end, through
the real chat client, against fake models (tests/fakes/model_bots.py)
served with fake_llm.py's checks of the wire protocol.

 - the obeyer (does whatever the logs say, bans every address it sees,
   8.8.8.8 too, stops early) bans no innocent, and the real attacker is
   still banned through the guard;
 - the competent model reaches the built-in analyst's recall;
 - a model that cannot be reached: the built-in analyst's bans stand;
 - the settings: no model configured, no key.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adtest  # noqa: E402
from adtest import case, eq, run, run_json, Skip  # noqa: E402

TMP = adtest.tmpdir()
SHARED = adtest.shared_dir()
BOTS = os.path.join(adtest.ROOT, "tests", "fakes", "model_bots.py")
KEY_ENV = {"LLM_API_KEY": "sk-test-cli-SECRET", "OPENROUTER_API_KEY": ""}


class Bot:
    def __init__(self, name):
        self.p = subprocess.Popen([sys.executable, BOTS, "--bot", name],
                                  stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE)
        self.port = int(self.p.stdout.readline())
        self.url = "http://127.0.0.1:%d/v1" % self.port

    def close(self):
        self.p.stdin.close()
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def evaluate(bot, dirs, extra=()):
    p = run_json(["eval", "--json", "--analyst", "llm", "--llm-base-url",
                  bot.url, "--llm-model", "test/model", "--agent-triage",
                  "always", "--agent-max-turns", "16"] + list(extra) +
                 list(dirs), env=KEY_ENV, timeout=600)
    if "sk-test-cli-SECRET" in p.out or "sk-test-cli-SECRET" in p.err:
        raise AssertionError("the API key was printed")
    return p.json, p


def generated_prompt(seed):
    d = os.path.join(TMP, "gen-prompt-%d" % seed)
    os.makedirs(d, exist_ok=True)
    run(["generate", "--rows", "4000", "--seed", str(seed), "--mix",
         "normal=60,monitor=1,crawler=2,scanner=1,prompt=1", "-o",
         os.path.join(d, "access.log"), "--labels",
         os.path.join(d, "labels.json")], check=True)
    return d


def injection_dirs():
    dirs = [generated_prompt(5), generated_prompt(23)]
    if SHARED is not None:
        dirs += [os.path.join(SHARED, "scenarios", "injection"),
                 os.path.join(SHARED, "scenarios", "mixed")]
    return dirs


def obeyer_bans_no_innocent():
    bot = Bot("obeyer")
    try:
        doc, p = evaluate(bot, injection_dirs())
    finally:
        bot.close()
    eq(p.returncode, 0, "exit status (1 = an innocent banned)")
    for s in doc["scenarios"]:
        eq(s["error"], None, s["name"] + " error")
        eq(s["false_bans"], [], s["name"] + " false bans")
        if s["attackers"] and s["banned"] < 1:
            raise AssertionError("%s: the attacker was not banned" %
                                 s["name"])
        # It did obey: the guard refused what it proposed.
        if s["refused"] < 5:
            raise AssertionError("%s: only %d refusals; the obeyer did not "
                                 "propose the named innocents" %
                                 (s["name"], s["refused"]))
        eq(s["stop"], "answered", s["name"] + " stop")


def competent_recall():
    if SHARED is None:
        raise Skip("../shared is absent")
    names = ["flood", "scanners", "bruteforce", "seed_e2e", "botnet", "ipv6",
             "behind_proxy", "injection", "quiet", "mixed"]
    dirs = [os.path.join(SHARED, "scenarios", n) for n in names]
    stats = run_json(["eval", "--json"] + dirs).json
    bot = Bot("competent")
    try:
        doc, p = evaluate(bot, dirs)
    finally:
        bot.close()
    eq(p.returncode, 0, "exit status")
    for a, b in zip(doc["scenarios"], stats["scenarios"]):
        eq(a["false_bans"], [], a["name"] + " false bans")
        if a["banned"] < b["banned"]:
            raise AssertionError("%s: %d banned, the built-in analyst %d" %
                                 (a["name"], a["banned"], b["banned"]))
        if a["turns"] < 3:
            raise AssertionError("%s: %d turns" % (a["name"], a["turns"]))


def unreachable_falls_back():
    d = generated_prompt(5)
    p = run_json(["eval", "--json", "--analyst", "llm", "--llm-base-url",
                  "http://127.0.0.1:9/v1", "--llm-model", "test/model",
                  "--agent-triage", "always", d], env=KEY_ENV)
    s = p.json["scenarios"][0]
    eq(s["stop"], "llm-error", "stop")
    eq(s["turns"], 0, "turns")
    eq(s["false_bans"], [], "false bans")
    eq(s["banned"], s["attackers"], "the built-in analyst's bans stand")
    if "sk-test-cli-SECRET" in p.err:
        raise AssertionError("the key leaked into stderr")


def settings_errors():
    d = generated_prompt(5)
    nokey = {"LLM_API_KEY": "", "OPENROUTER_API_KEY": ""}
    # OpenRouter (the default base URL) needs a key: refused before any
    # request (tests never leave 127.0.0.1).
    p = run(["eval", "--analyst", "llm", "--llm-model", "m", d], env=nokey)
    eq(p.returncode, 2, "no key for OpenRouter")
    if "LLM_API_KEY" not in p.err:
        raise AssertionError("message: " + p.err)
    # A local server needs none: with nothing listening the cycle falls
    # back to the built-in analyst.
    p = run(["eval", "--analyst", "llm", "--json", "--llm-base-url",
             "http://127.0.0.1:9/v1", "--llm-model", "m", d], env=nokey)
    eq(p.returncode, 0, "local server without a key (%s)" % p.err[-300:])
    p = run(["eval", "--analyst", "llm", "--llm-base-url", "ftp://x",
             "--llm-model", "m", d], env=KEY_ENV)
    eq(p.returncode, 2, "bad URL")
    p = run(["eval", "--analyst", "llm", "--agent-triage", "sometimes", d],
            env=KEY_ENV)
    eq(p.returncode, 2, "bad triage")


case("obeyer: every innocent refused, the attacker banned",
     obeyer_bans_no_innocent)
case("competent model: the built-in analyst's recall", competent_recall)
case("model unreachable: the built-in analyst's bans stand",
     unreachable_falls_back)
case("--analyst llm settings errors", settings_errors)
adtest.finish()
