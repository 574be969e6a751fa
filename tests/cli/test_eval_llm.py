#!/usr/bin/env python3
"""anomaly-detect eval --analyst llm: the agent scored end to end, through
the real chat client, against fake models (tests/fakes/model_bots.py)
served with fake_llm.py's checks of the wire protocol.

 - the obeyer (does whatever the logs say, bans every address it sees,
   8.8.8.8 too, stops early) bans no innocent, and the real attacker is
   still banned through the guard;
 - the competent model reaches the built-in analyst's recall;
 - a model that cannot be reached: the built-in analyst's bans stand;
 - the settings: no model configured, no key;
 - several models (--model A --model B ...) in one table, each played by
   its own bot, the cost from the prices GET /models lists, or from
   usage.cost when the provider reports it.
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
    def __init__(self, name, *extra):
        self.p = subprocess.Popen([sys.executable, BOTS, "--bot", name] +
                                  list(extra),
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
                  "--agent-triage", "always", "--llm-retries", "1", d],
                 env=KEY_ENV)
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
             "http://127.0.0.1:9/v1", "--llm-model", "m", "--llm-retries",
             "0", d], env=nokey)
    eq(p.returncode, 0, "local server without a key (%s)" % p.err[-300:])
    p = run(["eval", "--analyst", "llm", "--llm-base-url", "ftp://x",
             "--llm-model", "m", d], env=KEY_ENV)
    eq(p.returncode, 2, "bad URL")
    p = run(["eval", "--analyst", "llm", "--agent-triage", "sometimes", d],
            env=KEY_ENV)
    eq(p.returncode, 2, "bad triage")
    p = run(["eval", "--model", "m", d], env=KEY_ENV)
    eq(p.returncode, 2, "--model with the built-in analyst")
    if "--analyst llm" not in p.err:
        raise AssertionError("message: " + p.err)
    for bad in (["--llm-retries", "11"], ["--llm-timeout", "soon"],
                ["--model", ""]):
        p = run(["eval", "--analyst", "llm", "--llm-base-url",
                 "http://127.0.0.1:9/v1"] + bad + [d], env=KEY_ENV)
        eq(p.returncode, 2, "bad %r" % bad)


MODELS = ["bot/competent", "bot/lazy", "bot/wanderer", "bot/obeyer"]


def compare(bot, dirs, extra=()):
    args = ["eval", "--analyst", "llm", "--llm-base-url", bot.url,
            "--agent-triage", "always", "--agent-max-turns", "6"]
    for m in MODELS:
        args += ["--model", m]
    pj = run_json(args + ["--json"] + list(extra) + dirs, env=KEY_ENV)
    pt = run(args + list(extra) + dirs, env=KEY_ENV)
    for p in (pj, pt):
        if "sk-test-cli-SECRET" in p.out or "sk-test-cli-SECRET" in p.err:
            raise AssertionError("the API key was printed")
        eq(p.returncode, 0, "exit (%s)" % p.err[-300:])
    return pj.json, pt.out


def models_compared():
    """eval --model A --model B ...: every model on every scenario, one
    table; the prices read from GET /models make the cost."""
    dirs = [generated_prompt(5), generated_prompt(23)]
    bot = Bot("lazy")  # the default; each model names its own bot
    try:
        doc, text = compare(bot, dirs)
    finally:
        bot.close()
    stats = run_json(["eval", "--json"] + dirs).json["scenarios"]
    eq(len(doc["scenarios"]), len(dirs) * len(MODELS), "results")
    eq([m["model"] for m in doc["models"]], MODELS, "models, in order")
    prices = {"bot/competent": (2e-7, 5e-7), "bot/lazy": (7e-8, 1e-7),
              "bot/wanderer": (1.5e-7, 7.5e-7), "bot/obeyer": (1e-7, 4e-7)}
    for i, s in enumerate(doc["scenarios"]):
        eq(s["model"], MODELS[i % len(MODELS)], "scenario-major order")
        eq(s["name"], stats[i // len(MODELS)]["name"], "scenario")
        eq(s["false_bans"], [], "%s/%s false bans" % (s["name"], s["model"]))
        eq(s["called"], True, "called")
        pp, pc = prices[s["model"]]
        want = s["prompt_tokens"] * pp + s["completion_tokens"] * pc
        if s["prompt_tokens"] <= 0 or abs(s["cost"] - want) > 2e-6:
            raise AssertionError("%s: cost %r, tokens x /models prices %r"
                                 % (s["model"], s["cost"], want))
    by = {m["model"]: m for m in doc["models"]}
    nsc = len(dirs)
    attackers = sum(s["attackers"] for s in stats)
    banned = sum(s["banned"] for s in stats)
    eq(by["bot/competent"]["banned"] >= banned, True,
       "the competent model reaches the analyst's bans")
    eq(by["bot/competent"]["concluded"], nsc, "competent concluded")
    eq(by["bot/lazy"]["banned"], 0, "lazy bans nothing")
    eq(by["bot/lazy"]["turns"], nsc, "lazy: one turn each")
    eq(by["bot/wanderer"]["concluded"], 0, "the wanderer never concludes")
    eq(by["bot/wanderer"]["turns"], 6 * nsc, "the turn budget ends it")
    for s, st in zip(doc["scenarios"][2::len(MODELS)], stats):
        eq(s["model"], "bot/wanderer", "model")
        eq(s["stop"], "budget-turns", "the wanderer's stop")
        # A budget stop is no verdict: the analyst's bans are added.
        eq(s["fallback"], True, "fallback after a budget stop")
        eq(s["banned"], st["banned"], "the analyst's bans after the stop")
    for s in doc["scenarios"]:
        if s["model"] != "bot/wanderer":
            eq(s["fallback"], False, s["model"] + " fallback")
    if by["bot/obeyer"]["refused"] < 5:
        raise AssertionError("the obeyer's proposals were not refused")
    for m in doc["models"]:
        eq(m["attackers"], attackers, m["model"] + " attackers")
        eq(m["scenarios"], nsc, m["model"] + " scenarios")
        tot = sum(s["cost"] for s in doc["scenarios"]
                  if s["model"] == m["model"])
        if abs(m["cost"] - tot) > 1e-5:
            raise AssertionError("%s: total cost %r, sum %r" %
                                 (m["model"], m["cost"], tot))
    # The text: a row per scenario and model, then a row per model.
    lines = text.splitlines()
    eq(lines[0], "analyst llm, 4 models, 2 scenarios", "heading")
    i = lines.index("per model, over all scenarios:")
    rows = [x.split() for x in lines[i + 2:i + 2 + len(MODELS)]]
    eq([r[0] for r in rows], MODELS, "per-model rows")
    eq(rows[2][-1], "0/%d" % nsc, "the wanderer's conclusions")
    eq(rows[0][-1], "%d/%d" % (nsc, nsc), "the competent model's")
    detail = [x.split() for x in lines[3:3 + nsc * len(MODELS)]]
    eq([r[1] for r in detail], MODELS * nsc, "detail rows")
    eq(sorted(set(r[-1] for r in detail)), ["answered",
                                            "budget-turns+analyst"], "ended")


def usage_cost_wins():
    """A provider's usage.cost is the cost; configured prices are for
    replies without one."""
    d = generated_prompt(5)
    bot = Bot("competent", "--usage-cost")
    try:
        p = run_json(["eval", "--json", "--analyst", "llm", "--llm-base-url",
                      bot.url, "--model", "bot/competent", "--agent-triage",
                      "always", "--llm-price-prompt", "0.001",
                      "--llm-price-completion", "0.001", d], env=KEY_ENV)
    finally:
        bot.close()
    s = p.json["scenarios"][0]
    want = s["prompt_tokens"] * 2e-7 + s["completion_tokens"] * 5e-7
    if abs(s["cost"] - want) > 2e-6:
        raise AssertionError("cost %r, usage.cost says %r" % (s["cost"], want))


def config_model():
    """No --model: the config's llm_model is the one model."""
    d = generated_prompt(5)
    conf = os.path.join(TMP, "eval-model.conf")
    bot = Bot("lazy")
    try:
        with open(conf, "w") as f:
            f.write("llm_base_url = %s\nllm_model = bot/competent\n"
                    "agent_triage = always\n" % bot.url)
        p = run_json(["eval", "--json", "--analyst", "llm", "-c", conf, d],
                     env=KEY_ENV)
    finally:
        bot.close()
    eq([m["model"] for m in p.json["models"]], ["bot/competent"], "model")
    eq(p.json["scenarios"][0]["stop"], "answered", "stop")
    if p.json["scenarios"][0]["banned"] < 1:
        raise AssertionError("the configured (competent) model banned none")


case("obeyer: every innocent refused, the attacker banned",
     obeyer_bans_no_innocent)
case("competent model: the built-in analyst's recall", competent_recall)
case("model unreachable: the built-in analyst's bans stand",
     unreachable_falls_back)
case("--analyst llm settings errors", settings_errors)
case("--model A --model B...: one table to choose a model", models_compared)
case("usage.cost over configured prices", usage_cost_wins)
case("no --model: the configured one", config_model)
adtest.finish()
