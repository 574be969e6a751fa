#!/usr/bin/env python3
"""anomaly-detect scan: the findings and the bans it would make.

Every finding carries its evidence (counts, first and last offending
request, sample rows, one sentence); bans have value, scope, scenario,
verdict and reason; both come most severe first, in JSON and as text.
The guard keeps special addresses out of the bans; cohorts name real
member addresses; attacker-written text stays data.
"""
import ipaddress
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adtest  # noqa: E402
from adtest import case, eq, run, run_json, Skip  # noqa: E402
from test_eval import cohort_scenario  # noqa: E402

TMP = adtest.tmpdir()
SHARED = adtest.shared_dir()
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")

_gen = {}


def generated(rows=12000, seed=201, fmt="nginx", extra=()):
    key = (rows, seed, fmt, tuple(extra))
    if key not in _gen:
        out = os.path.join(TMP, "gen-%d.log" % len(_gen))
        lab = out + ".labels.json"
        p = run(["generate", "--rows", str(rows), "--seed", str(seed), "--format", fmt,
                 "--output", out, "--labels", lab] + list(extra))
        if p.returncode != 0:
            raise AssertionError("generate: " + p.err)
        _gen[key] = (out, json.load(open(lab)))
    return _gen[key]


def scan(path, labels, *extra):
    args = ["scan", "--json"]
    for t in labels.get("trusted_proxies", []):
        args += ["--trusted-proxy", t]
    p = run_json(args + list(extra) + [path])
    eq(p.returncode, 0, "scan exit status: " + p.err)
    return p.json


def covered(ban, ip):
    if ban["scope"] == "Range":
        return ipaddress.ip_address(ip) in ipaddress.ip_network(ban["value"])
    return ban["value"] == ip


def check_shapes(doc):
    """Every field the issue asks for, of the right type and sense."""
    for k in ("mode", "inputs", "rows", "window", "top_clients", "skipped", "findings",
              "bans", "analysis"):
        if k not in doc:
            raise AssertionError("key %s missing" % k)
    eq(doc["mode"], "dry-run", "mode")
    sev = [f["severity"] for f in doc["findings"]]
    eq(sev, sorted(sev, reverse=True), "findings most severe first")
    for f in doc["findings"]:
        what = "%s %s" % (f["scenario"], f["subject"])
        if not f["scenario"].startswith("anomaly-detect/"):
            raise AssertionError("scenario name: " + what)
        if not 1 <= f["severity"] <= 100:
            raise AssertionError("severity: " + what)
        c = f["counts"]
        if not isinstance(c, dict) or not c:
            raise AssertionError("counts: " + what)
        for k, v in c.items():
            if not isinstance(v, int) or v < 0:
                raise AssertionError("count %s=%r: %s" % (k, v, what))
        if c.get("requests", 0) < 1:
            raise AssertionError("no requests counted: " + what)
        for k in ("first", "last"):
            if not isinstance(f[k], str) or not RFC3339.match(f[k]):
                raise AssertionError("%s %r: %s" % (k, f[k], what))
        if f["first"] > f["last"]:
            raise AssertionError("first after last: " + what)
        if not f["samples"]:
            raise AssertionError("no samples: " + what)
        if len(f["samples"]) > 5:
            raise AssertionError("too many samples: " + what)
        for s in f["samples"]:
            for k in ("time", "client_ip", "method", "uri", "status", "user_agent", "count"):
                if k not in s:
                    raise AssertionError("sample lacks %s: %s" % (k, what))
            ipaddress.ip_address(s["client_ip"])
            if s["count"] < 1:
                raise AssertionError("sample count: " + what)
            if f["cohort"]:
                if s["client_ip"] not in f["members"] and not (
                        f["range"] and covered({"scope": "Range", "value": f["range"]},
                                               s["client_ip"])):
                    raise AssertionError("sample of a non-member: " + what)
            elif s["client_ip"] != f["subject"]:
                raise AssertionError("sample of another address: " + what)
        if not isinstance(f["sentence"], str) or len(f["sentence"]) < 20:
            raise AssertionError("sentence: " + what)
        if not f["members"]:
            raise AssertionError("nobody named: " + what)
        for m in f["members"]:
            ipaddress.ip_address(m)
        if f["scenario"] not in f["signals"]:
            raise AssertionError("signals lack the scenario: " + what)
    for b in doc["bans"]:
        for k in ("value", "scope", "scenario", "verdict", "reason"):
            if k not in b:
                raise AssertionError("ban lacks %s: %r" % (k, b))
        if b["scope"] not in ("Ip", "Range"):
            raise AssertionError("scope: %r" % b)
        eq(b["verdict"], "dry-run", "verdict")
        if not b["scenario"].startswith("anomaly-detect/") or len(b["reason"]) < 20:
            raise AssertionError("ban: %r" % b)
        if b["scope"] == "Ip":
            ipaddress.ip_address(b["value"])
        else:
            ipaddress.ip_network(b["value"])
    # Bans each once, and in the order of the findings they come from.
    values = [b["value"] for b in doc["bans"]]
    eq(len(values), len(set(values)), "bans unique")
    last = -1
    for b in doc["bans"]:
        idx = None
        for i, f in enumerate(doc["findings"]):
            if f["scenario"] != b["scenario"]:
                continue
            if (b["scope"] == "Range" and f["range"] == b["value"]) or \
                    (b["scope"] == "Ip" and b["value"] in f["members"]):
                idx = i
                break
        if idx is None:
            raise AssertionError("ban from no finding: %r" % b)
        if idx < last:
            raise AssertionError("bans not most severe first at %s" % b["value"])
        last = idx


def generated_evidence():
    path, labels = generated()
    doc = scan(path, labels)
    check_shapes(doc)
    if len(doc["findings"]) < 5:
        raise AssertionError("few findings: %d" % len(doc["findings"]))
    kinds = {f["scenario"] for f in doc["findings"]}
    for want in ("anomaly-detect/http-sensitive-files", "anomaly-detect/http-flood",
                 "anomaly-detect/http-bruteforce", "anomaly-detect/botnet-cache-busting",
                 "anomaly-detect/ipv6-rotation"):
        if want not in kinds:
            raise AssertionError("no %s finding among %s" % (want, sorted(kinds)))
    # Every attacker is banned, no innocent is.
    for ip in labels["attackers"]:
        if not any(covered(b, ip) for b in doc["bans"]):
            raise AssertionError("attacker %s not banned" % ip)
    for ip in labels["innocents"]:
        if any(covered(b, ip) for b in doc["bans"]):
            raise AssertionError("innocent %s banned" % ip)
    eq(doc["analysis"]["warnings"], [], "warnings")
    if not 5 <= doc["analysis"]["queries"] <= 80:
        raise AssertionError("queries: %d" % doc["analysis"]["queries"])


def text_lists_them():
    path, labels = generated()
    doc = scan(path, labels)
    p = run(["scan", path])
    eq(p.returncode, 0, "exit status")
    out = p.out
    if "nothing is banned" not in out:
        raise AssertionError("dry-run not said")
    m = re.search(r"^findings  (\d+), most severe first$", out, re.M)
    if not m:
        raise AssertionError("no findings line")
    eq(int(m.group(1)), len(doc["findings"]), "findings count in text")
    m = re.search(r"^bans      (\d+) \(dry-run", out, re.M)
    if not m:
        raise AssertionError("no bans line")
    eq(int(m.group(1)), len(doc["bans"]), "bans count in text")
    sev = [int(x) for x in re.findall(r"^  \[ *(\d+)\] anomaly-detect/", out, re.M)]
    eq(sev, sorted(sev, reverse=True), "text most severe first")
    bans = re.findall(r"^  (Ip|Range) +(\S+) +(anomaly-detect/\S+)$", out, re.M)
    eq([(b["scope"], b["value"], b["scenario"]) for b in doc["bans"]], bans,
       "the same bans in the same order")
    for f in doc["findings"][:5]:
        if f["sentence"][:60] not in out:
            raise AssertionError("sentence not shown: " + f["sentence"])
    if "first 20" not in out or "e.g. " not in out or "counts:" not in out:
        raise AssertionError("evidence not shown")
    # Still the report it was.
    for head in ("rows ", "window ", "top clients by requests"):
        if head not in out:
            raise AssertionError("lost: " + head)


def guard_keeps_special_out():
    path, labels = generated(rows=6000, seed=202,
                             extra=("--mix", "normal=100,internal=4,scanner=2"))
    doc = scan(path, labels)
    check_shapes(doc)
    private = [ip for ip, what in labels["innocents"].items() if "private" in what]
    eq(len(private), 4, "internal scanners in the labels")
    for ip in private:
        f = [f for f in doc["findings"] if f["subject"] == ip]
        if not f:
            raise AssertionError("internal scanner %s not a finding" % ip)
        if not f[0]["note"] or "never banned" not in f[0]["note"]:
            raise AssertionError("no note for %s: %r" % (ip, f[0]["note"]))
        if any(covered(b, ip) for b in doc["bans"]):
            raise AssertionError("private %s banned" % ip)
    eq(len(doc["bans"]), 2, "the two public scanners only")
    # A trusted proxy is never banned, even when it is what misbehaves:
    # without --trusted-proxy the proxy is every client.
    path, labels = generated(rows=6000, seed=203,
                             extra=("--behind-proxy", "198.51.100.2",
                                    "--mix", "normal=100,scanner=3"))
    p = run_json(["scan", "--json", "--trusted-proxy", "198.51.100.2", path])
    for b in p.json["bans"]:
        if b["value"] == "198.51.100.2":
            raise AssertionError("the trusted proxy banned")
    eq(len(p.json["bans"]), 3, "the scanners behind the proxy")


def cohorts_named():
    d = os.path.join(TMP, "cohorts")
    labels = cohort_scenario(d, seed=4)
    doc = scan(os.path.join(d, "access.log"), labels)
    check_shapes(doc)
    by = {f["scenario"]: f for f in doc["findings"]}
    for want in ("anomaly-detect/distributed-bruteforce", "anomaly-detect/subnet-abuse",
                 "anomaly-detect/ipv6-rotation"):
        if want not in by:
            raise AssertionError("no %s among %s" % (want, sorted(by)))
        f = by[want]
        eq(f["cohort"], True, want + " is a cohort")
        for m in f["members"]:
            eq(labels["attackers"].get(m) is not None, True,
               "%s: member %s is an attacker" % (want, m))
    eq(sorted(by["anomaly-detect/subnet-abuse"]["members"]),
       sorted("203.0.113.%d" % i for i in range(10, 15)), "the /24's members")
    eq(by["anomaly-detect/subnet-abuse"]["range"], "203.0.113.0/24", "the /24")
    if "not banned whole" not in (by["anomaly-detect/subnet-abuse"]["note"] or ""):
        raise AssertionError("the /24 note")
    eq(len(by["anomaly-detect/distributed-bruteforce"]["members"]), 30, "brute members")
    ranges = [b for b in doc["bans"] if b["scope"] == "Range"]
    eq([b["value"] for b in ranges], ["2001:db8:77:1::/64"], "the /64 as a Range")
    # Where the policy allows IPv4 /24s, the /24 goes whole.
    p = run_json(["scan", "--json", "--guard-range-ipv4", "24",
                  os.path.join(d, "access.log")])
    vals = [b["value"] for b in p.json["bans"] if b["scope"] == "Range"]
    if "203.0.113.0/24" not in vals:
        raise AssertionError("the /24 not banned whole with guard_range_ipv4 = 24")
    # The healthy heavy client is in no finding.
    for f in doc["findings"]:
        if "185.60.1.20" in f["members"]:
            raise AssertionError("the healthy API client is in a finding")


def payloads_stay_data():
    path, labels = generated(rows=6000, seed=204, extra=("--mix", "normal=100,prompt=2"))
    doc = scan(path, labels)
    check_shapes(doc)
    prompt = [ip for ip, w in labels["attackers"].items() if "prompt" in w]
    for ip in prompt:
        if not any(covered(b, ip) for b in doc["bans"]):
            raise AssertionError("prompt scanner %s not banned" % ip)
    named = [ip for ip, w in labels["innocents"].items() if "named" in w]
    for ip in named:
        if any(covered(b, ip) for b in doc["bans"]):
            raise AssertionError("innocent named by a payload banned: " + ip)
    p = run(["scan", path])
    if re.search(r"[\x00-\x08\x0b-\x1f\x7f]", p.out):
        raise AssertionError("control characters in the text report")


def thresholds_as_options():
    path, labels = generated()
    base = scan(path, labels)
    strict = scan(path, labels, "--analyst-sensitive-min", "1000",
                  "--analyst-probe-min-paths", "1000", "--analyst-scanner-ua-min", "1000")
    if len([f for f in strict["findings"] if "sensitive" in f["scenario"]]) != 0:
        raise AssertionError("--analyst-sensitive-min had no effect")
    if len(strict["bans"]) >= len(base["bans"]):
        raise AssertionError("stricter thresholds, as many bans")
    conf = os.path.join(TMP, "a.conf")
    open(conf, "w").write("analyst_flood_per_minute = 100000\n"
                          "analyst_flood_min_per_minute = 100000\n")
    p = run_json(["scan", "--json", "-c", conf, path])
    if any(f["scenario"] == "anomaly-detect/http-flood" for f in p.json["findings"]):
        raise AssertionError("flood thresholds from the config had no effect")
    for bad in (("--analyst-probe-ratio", "1.5"), ("--analyst-flood-per-minute", "x"),
                ("--guard-range-ipv6", "200")):
        p = run(["scan"] + list(bad) + [path])
        eq(p.returncode, 2, "%s %s: exit status" % bad)
        if bad[0] not in p.err:
            raise AssertionError("message does not name %s: %s" % (bad[0], p.err))
    open(conf, "w").write("analyst_probe_ratio = lots\n")
    p = run(["scan", "-c", conf, path])
    eq(p.returncode, 2, "bad config value")
    if "a.conf:1" not in p.err:
        raise AssertionError("config error not located: " + p.err)
    p = run(["scan", "--help"])
    if "--analyst-cohort-min-members" not in p.out or "--guard-range-ipv6" not in p.out:
        raise AssertionError("--help lacks the thresholds")


def shared_mixed():
    if SHARED is None:
        raise Skip("../shared is absent")
    d = os.path.join(SHARED, "scenarios", "mixed")
    labels = json.load(open(os.path.join(d, "labels.json")))
    doc = scan(os.path.join(d, "access.log"), labels)
    check_shapes(doc)
    for ip in labels["attackers"]:
        if not any(covered(b, ip) for b in doc["bans"]):
            raise AssertionError("attacker %s not banned" % ip)
    for ip in labels["innocents"]:
        if any(covered(b, ip) for b in doc["bans"]):
            raise AssertionError("innocent %s banned" % ip)


def empty_input():
    p = run_json(["scan", "--json", "-"], stdin=b"")
    eq(p.returncode, 0, "exit status")
    eq(p.json["findings"], [], "findings")
    eq(p.json["bans"], [], "bans")
    p = run(["scan", "-"], stdin=b"")
    if "findings  none" not in p.out or "bans      none" not in p.out:
        raise AssertionError("empty report: " + p.out)


def main():
    case("scan --json on generated traffic: findings with their evidence, "
         "bans most severe first", generated_evidence)
    case("text report lists the findings and the bans, in order", text_lists_them)
    case("private, tailnet and trusted-proxy addresses: findings with a note, "
         "never bans", guard_keeps_special_out)
    case("cohorts name their real members; a /64 goes as a Range", cohorts_named)
    case("attacker-written payloads stay data", payloads_stay_data)
    case("thresholds as options and config keys; bad values named", thresholds_as_options)
    case("shared mixed: evidence shapes, every attacker, no innocent", shared_mixed)
    case("no rows: no findings, no bans", empty_input)
    adtest.finish()


if __name__ == "__main__":
    main()
