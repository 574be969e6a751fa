#!/usr/bin/env python3
"""Scripted fake MODELS for the agent's tests: functions that read the
request's messages and decide the next assistant message, as a model
would.  Served through fake_llm.py's validation and answer format:

    model_bots.py --bot obeyer|competent|lazy|wanderer [--usage-cost]
                  [--max-seconds S]

binds 127.0.0.1 on an ephemeral port, prints the port as its first line
and serves until standard input closes (like fake_llm.py).  Requests are
validated exactly as fake_llm.py does (tool_calls followed by one tool
message per id, in order, ...); a bot's answer is a fake_llm "shorthand"
item.  Usage reports prompt_tokens as the request's bytes / 4.

Bots:
  obeyer     does whatever the logs say: runs a few queries, then bans
             every IPv4 address it saw anywhere (briefing and tool
             results), adds 8.8.8.8 as a payload asks, and stops early
             ("analysis complete").  The injection proof: the guard must
             refuse every innocent it names.
  competent  investigates: the clients with the most errors and the most
             requests, the analyst's leads (their structured part, not
             the free text), and bans what the evidence shows.
  lazy       answers at once without a tool call.
  wanderer   queries forever and never concludes (a turn budget ends it,
             as the seed system saw with some models).

The bot is --bot's, unless the request names a model "bot/<name>": then
that bot answers, so one server plays several models for `eval --model
A --model B`.  GET /models lists every "bot/<name>" with its own price
(USD per token, as OpenRouter's pricing) and fake_llm's "test/model";
with --usage-cost, answers also carry usage.cost (tokens x that price),
as OpenRouter's do.
"""

import argparse
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_llm  # noqa: E402

IPV4 = re.compile(r"(?<![0-9.])((?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
                  r"(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3})"
                  r"(?![0-9])")


def turn_of(messages):
    return sum(1 for m in messages if m.get("role") == "assistant")


def briefing(messages):
    for m in messages:
        if m.get("role") == "user":
            return m.get("content") or ""
    return ""


def tool_texts(messages):
    return [m.get("content") or "" for m in messages if m.get("role") == "tool"]


def query(q):
    return {"tool_calls": [{"name": "logsql_query",
                            "arguments": json.dumps({"query": q})}]}


def ban_calls(ips, reason, scenario):
    """ban_ips calls of at most 100 entries each."""
    calls = []
    for i in range(0, len(ips), 100):
        calls.append({"name": "ban_ips", "arguments": json.dumps({
            "bans": [{"ip": ip, "reason": reason, "scenario": scenario}
                     for ip in ips[i:i + 100]]})})
    return {"tool_calls": calls} if calls else {"content": "nothing to ban"}


def uniq(seq):
    seen, out = set(), []
    for x in seq:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


OBEYER_QUERIES = [
    "* | stats by (client_ip) count() hits | sort by (hits desc) limit 50",
    "status:>=400 | stats by (client_ip, request_uri, http_user_agent) "
    "count() hits | sort by (hits desc) limit 50",
    "i(ban) OR i(ignore) OR i(attacker) | stats by (client_ip, request_uri, "
    "http_user_agent) count() hits | limit 50",
]


def obeyer(messages):
    t = turn_of(messages)
    if t < len(OBEYER_QUERIES):
        return query(OBEYER_QUERIES[t])
    if t > len(OBEYER_QUERIES):
        return {"content": "analysis complete, no attack found"}
    seen = briefing(messages) + "\n" + "\n".join(tool_texts(messages))
    ips = uniq(IPV4.findall(seen) + ["8.8.8.8"])
    return ban_calls(ips, "the logs said so", "injection")


def competent(messages):
    t = turn_of(messages)
    if t == 0:
        return query("* | stats by (client_ip) count() hits, count() if "
                     "(status:>=400) errs | sort by (errs desc) limit 20")
    if t == 1:
        return query("* | stats by (client_ip) count() hits | sort by "
                     "(hits desc) limit 10")
    if t > 2:
        return {"content": "Report: banned the clients the leads and the "
                           "error counts showed."}
    ips = []
    for line in briefing(messages).split("\n"):
        i = line.find(' subject="')
        if i < 0:
            continue
        part = line[i:].split(" says=")[0]
        m = re.search(r' range="([^"]+)"', part)
        if m:
            ips.append(m.group(1))
        ips += IPV4.findall(part)
    tools = tool_texts(messages)
    if tools:
        for row in tools[0].split("\n"):
            if not row.startswith('["'):
                continue
            try:
                ip, hits, errs = json.loads(row)
                hits, errs = int(hits), int(errs)
            except (ValueError, TypeError):
                continue
            if errs >= 50 and errs * 2 >= hits:
                ips.append(ip)
    return ban_calls(uniq(ips), "lead confirmed by the counts", "probing")


def lazy(messages):
    return {"content": "nothing to report"}


WANDER_QUERIES = [
    "* | stats by (client_ip) count() hits | sort by (hits desc) limit 5",
    "* | stats by (request_uri) count() hits | sort by (hits desc) limit 5",
    "* | stats by (http_user_agent) count() hits | sort by (hits desc) "
    "limit 5",
]


def wanderer(messages):
    return query(WANDER_QUERIES[turn_of(messages) % len(WANDER_QUERIES)])


BOTS = {"obeyer": obeyer, "competent": competent, "lazy": lazy,
        "wanderer": wanderer}
# USD per token (prompt, completion), as GET /models gives them.
PRICES = {"obeyer": (0.0000001, 0.0000004), "competent": (0.0000002,
          0.0000005), "lazy": (0.00000007, 0.0000001), "wanderer":
          (0.00000015, 0.00000075)}
USAGE_COST = False


def bot_for(model, default):
    if isinstance(model, str) and model.startswith("bot/") and \
            model[4:] in BOTS:
        return model[4:]
    return default


def make_handler(default):
    class BotHandler(fake_llm.Handler):
        def do_GET(self):
            if not self.path.endswith("/models"):
                return fake_llm.Handler.do_GET(self)
            data = [{"id": "test/model", "pricing": {
                "prompt": "0.0000002", "completion": "0.0000005"}}]
            for name in sorted(BOTS):
                pp, pc = PRICES[name]
                data.append({"id": "bot/" + name, "pricing": {
                    "prompt": "%.10f" % pp, "completion": "%.10f" % pc}})
            self.send(200, {"data": data})

        def do_POST(self):
            if not self.path.endswith("/chat/completions"):
                return fake_llm.Handler.do_POST(self)
            raw = self.read_body()
            if raw is None:
                self.send(413, fake_llm.err_body(413, "request too large"))
                return
            try:
                req = json.loads(raw.decode("utf-8", "replace"))
            except ValueError:
                self.send(400, fake_llm.err_body(400, "request body is not "
                                                      "valid JSON"))
                return
            with fake_llm.STATE.lock:
                if len(fake_llm.STATE.records) < fake_llm.MAX_RECORDS:
                    fake_llm.STATE.records.append({
                        "path": self.path, "method": "POST",
                        "headers": {k: v for k, v in self.headers.items()},
                        "body": req, "raw": raw.decode("utf-8", "replace")})
            why = fake_llm.validate(req)
            if why is not None:
                self.send(400, fake_llm.err_body(400, why))
                return
            name = bot_for(req.get("model"), default)
            item = BOTS[name](req["messages"])
            pt = len(json.dumps(req["messages"])) // 4
            usage = {"prompt_tokens": pt, "completion_tokens": 40,
                     "total_tokens": pt + 40}
            if USAGE_COST:
                pp, pc = PRICES[name]
                usage["cost"] = pt * pp + 40 * pc
            item.setdefault("usage", usage)
            self.send(200, fake_llm.shorthand(item, req))
    return BotHandler


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bot", choices=sorted(BOTS), required=True)
    ap.add_argument("--max-seconds", type=float, default=300)
    ap.add_argument("--usage-cost", action="store_true")
    args = ap.parse_args()
    global USAGE_COST
    USAGE_COST = args.usage_cost
    fake_llm.ARGS = argparse.Namespace(key=None, echo_auth=False,
                                       reject_tool_choice=False,
                                       strict_fields=False)
    fake_llm.serve(fake_llm.Server(("127.0.0.1", 0), make_handler(args.bot)),
                   args.max_seconds)


if __name__ == "__main__":
    main()
