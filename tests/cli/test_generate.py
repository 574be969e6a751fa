#!/usr/bin/env python3
"""anomaly-detect generate: deterministic, well-formed, labeled traffic.

Every case runs the real binary on small windows (a few thousand rows), so
the whole file takes a few seconds.
"""
import datetime
import ipaddress
import json
import os
import re
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adtest  # noqa: E402
from adtest import case, eq, run, Skip  # noqa: E402

TMP = adtest.tmpdir()
FORMATS = ("nginx", "combined", "traefik", "vlogs", "caddy", "apisix")

# The nginx "main" format extended with XFF and request time, as in the
# shared scenarios' access.log.  The user agent may hold quotes (prompt
# injection payloads are written raw), hence the greedy group.
NGINX_RE = re.compile(
    r'^(?P<peer>[0-9a-f.:]+) - - \[(?P<t>\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d) \+0000\] '
    r'"(?P<method>[A-Z]+) (?P<path>/\S*) HTTP/1\.1" (?P<status>\d{3}) (?P<bytes>\d+) '
    r'"(?P<ref>[^"]*)" "(?P<ua>.*)" "(?P<xff>[^"]*)" (?P<rt>\d+\.\d{3})$')
COMBINED_RE = re.compile(
    r'^(?P<peer>[0-9a-f.:]+) - - \[(?P<t>\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d) \+0000\] '
    r'"(?P<method>[A-Z]+) (?P<path>/\S*) HTTP/1\.1" (?P<status>\d{3}) (?P<bytes>\d+) '
    r'"(?P<ref>[^"]*)" "(?P<ua>.*)"$')

# Key order of the shared scenarios' traefik.json and vlogs.jsonl.
TRAEFIK_KEYS = ["ClientAddr", "ClientHost", "RequestMethod", "RequestPath",
                "RequestProtocol", "RequestHost", "DownstreamStatus",
                "DownstreamContentSize", "Duration", "RouterName", "ServiceName",
                "StartUTC", "request_User-Agent", "request_Referer", "level", "msg",
                "time"]
VLOGS_KEYS = ["_time", "_msg", "remote_addr", "http_x_forwarded_for",
              "request_method", "request_uri", "status", "body_bytes_sent",
              "http_user_agent", "http_referer", "request_time", "host", "service"]

LABEL_KEYS = {"attackers", "doc", "grey", "innocents", "prefixes", "rows",
              "scenario", "trusted_proxies", "window"}


def gen(*args, name=None):
    """Runs generate into a file; returns (path of log, path of labels)."""
    name = name or "g%d" % gen.n
    gen.n += 1
    out = os.path.join(TMP, name + ".log")
    lab = os.path.join(TMP, name + ".labels.json")
    run(["generate", "--output", out, "--labels", lab] + list(args), check=True)
    return out, lab


gen.n = 0


def read_lines(path):
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        raise AssertionError("%s: last line not terminated" % path)
    return data.decode("utf-8").split("\n")[:-1]


def load_labels(path):
    with open(path) as f:
        return json.load(f)


def rfc3339(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def clf_time(s):
    return datetime.datetime.strptime(s + " +0000", "%d/%b/%Y:%H:%M:%S %z")


def utc_epoch(secs):
    return datetime.datetime.fromtimestamp(secs, datetime.timezone.utc)


class Rec:
    """One request, whatever the format: peer, xff, time, method, path..."""
    __slots__ = ("peer", "xff", "t", "method", "path", "status", "bytes", "ua", "ref")


def parse_line(fmt, line):
    r = Rec()
    if fmt in ("nginx", "combined"):
        m = (NGINX_RE if fmt == "nginx" else COMBINED_RE).match(line)
        if not m:
            raise AssertionError("%s line does not match: %r" % (fmt, line[:300]))
        r.peer, r.t = m["peer"], clf_time(m["t"])
        r.xff = m["xff"] if fmt == "nginx" and m["xff"] != "-" else ""
        r.method, r.path, r.ua = m["method"], m["path"], m["ua"]
        r.status, r.bytes = int(m["status"]), int(m["bytes"])
        r.ref = "" if m["ref"] == "-" else m["ref"]
        return r
    d = json.loads(line)
    if fmt == "traefik":
        r.peer, r.t = d["ClientHost"], rfc3339(d["StartUTC"])
        r.xff = d.get("request_X-Forwarded-For", "")
        r.method, r.path, r.status = d["RequestMethod"], d["RequestPath"], d["DownstreamStatus"]
        r.bytes, r.ua, r.ref = d["DownstreamContentSize"], d["request_User-Agent"], d["request_Referer"]
    elif fmt == "vlogs":
        r.peer, r.t = d["remote_addr"], rfc3339(d["_time"])
        r.xff = "" if d["http_x_forwarded_for"] == "-" else d["http_x_forwarded_for"]
        r.method, r.path, r.status = d["request_method"], d["request_uri"], int(d["status"])
        r.bytes, r.ua = int(d["body_bytes_sent"]), d["http_user_agent"]
        r.ref = "" if d["http_referer"] == "-" else d["http_referer"]
    elif fmt == "caddy":
        q = d["request"]
        r.peer, r.t = q["remote_ip"], utc_epoch(d["ts"])
        h = q["headers"]
        r.xff = h.get("X-Forwarded-For", [""])[0]
        r.method, r.path, r.status, r.bytes = q["method"], q["uri"], d["status"], d["size"]
        r.ua, r.ref = h["User-Agent"][0], h.get("Referer", [""])[0]
    elif fmt == "apisix":
        q = d["request"]
        r.peer, r.t = d["client_ip"], utc_epoch(d["start_time"] / 1000)
        h = q["headers"]
        r.xff = h.get("x-forwarded-for", "")
        r.method, r.path, r.status = q["method"], q["uri"], d["response"]["status"]
        r.bytes = d["response"]["size"]
        r.ua, r.ref = h["user-agent"], h.get("referer", "")
    else:
        raise AssertionError("format %s" % fmt)
    return r


def records(fmt, path):
    return [parse_line(fmt, line) for line in read_lines(path)]


def client_of(r):
    """The right-most XFF entry when there is one, else the peer."""
    if r.xff:
        return r.xff.split(",")[-1].strip()
    return r.peer


# ---- determinism

def same_seed_same_bytes():
    for fmt in ("nginx", "traefik"):
        a, la = gen("--rows", "3000", "--seed", "42", "--format", fmt)
        b, lb = gen("--rows", "3000", "--seed", "42", "--format", fmt)
        eq(open(a, "rb").read(), open(b, "rb").read(), "%s log of seed 42 twice" % fmt)
        eq(open(la, "rb").read(), open(lb, "rb").read(), "%s labels of seed 42 twice" % fmt)
    # stdout is the same bytes as --output
    p = run(["generate", "--rows", "3000", "--seed", "42", "--format", "traefik"], check=True)
    eq(p.stdout, open(a, "rb").read(), "stdout vs --output")


def other_seed_other_bytes():
    a, la = gen("--rows", "3000", "--seed", "1")
    b, lb = gen("--rows", "3000", "--seed", "2")
    if open(a, "rb").read() == open(b, "rb").read():
        raise AssertionError("seeds 1 and 2 gave the same log")
    if set(load_labels(la)["attackers"]) & set(load_labels(lb)["attackers"]):
        raise AssertionError("seeds 1 and 2 share attacker addresses")


def formats_describe_same_traffic():
    # The format only changes how a request is written, never which
    # requests there are.
    base = None
    for fmt in ("nginx", "vlogs", "traefik", "caddy", "apisix"):
        log, _ = gen("--rows", "2000", "--seed", "9", "--format", fmt)
        seq = [(r.peer, r.t.replace(microsecond=0), r.method, r.path, r.status, r.ua)
               for r in records(fmt, log)]
        if base is None:
            base = seq
        else:
            eq(len(seq), len(base), "%s rows vs nginx" % fmt)
            for i, (x, y) in enumerate(zip(seq, base)):
                if x[:3] != y[:3] or x[3:] != y[3:] and fmt != "apisix":
                    raise AssertionError("%s row %d: %r vs nginx %r" % (fmt, i, x, y))


# ---- sizes

def rows_respected():
    for n, extra in ((5000, []), (40000, []), (8000, ["--mix", "normal=50,api=1,flood=1,scanner=2"]),
                     (3000, ["--mix", "scanner=1"])):
        log, lab = gen("--rows", str(n), *extra, "--format", "combined")
        got = len(read_lines(log))
        if abs(got - n) > n * 0.03:
            raise AssertionError("--rows %d %s: got %d lines" % (n, extra, got))
        eq(load_labels(lab)["rows"], got, "labels rows vs lines")


def mix_counts_actors():
    log, lab = gen("--rows", "6000", "--mix", "normal=40,botnet=25,scanner=3,flood=1")
    L = load_labels(lab)
    what = list(L["attackers"].values())
    eq(sum(1 for w in what if "botnet" in w), 25, "botnet nodes")
    eq(sum(1 for w in what if "sensitive-file" in w), 3, "scanners")
    eq(sum(1 for w in what if w == "request flood"), 1, "floods")
    eq(sum(1 for w in L["innocents"].values() if w.startswith("ordinary visitor")), 40, "visitors")
    eq(L["prefixes"], {}, "no ipv6 actor, no prefix")


def stuffing_and_forgot_shapes():
    # Not in the default mix: naming them adds them; the default stays as it was.
    log, lab = gen("--rows", "20000", "--seed", "9",
                   "--mix", "normal=200,stuffing=40,forgot=15")
    L = load_labels(lab)
    stuffers = {ip for ip, w in L["attackers"].items() if "stuffing" in w}
    forgot = {ip for ip, w in L["innocents"].items() if "forgot" in w}
    eq(len(stuffers), 40, "stuffing nodes")
    eq(len(forgot), 15, "visitors who forgot their password")
    by = {}
    for r in records("nginx", log):
        by.setdefault(client_of(r), []).append(r)
    for ip in stuffers:
        rs = by.get(ip, [])
        if not 2 <= len(rs) <= 6:
            raise AssertionError("%s: %d requests, want 2..6" % (ip, len(rs)))
        eq({r.path for r in rs}, {"/login"}, ip + " paths")
        posts = [r for r in rs if r.method == "POST"]
        if not posts or any(r.status not in (401, 429) for r in posts):
            raise AssertionError("%s: a login POST that did not fail" % ip)
        eq(len({r.ua for r in rs}), 1, ip + " keeps one user agent")
        if "Mozilla/5.0" not in rs[0].ua:
            raise AssertionError("%s: not a browser user agent: %s" % (ip, rs[0].ua))
    for ip in forgot:
        rs = by.get(ip, [])
        posts = [r for r in rs if r.method == "POST"]
        if not 2 <= len(posts) <= 4 or any(r.status != 401 for r in posts):
            raise AssertionError("%s: want 2..4 failed POSTs, got %r"
                                 % (ip, [r.status for r in posts]))
        if not any(r.path.startswith(("/static/", "/img/", "/favicon")) for r in rs):
            raise AssertionError(ip + ": a browser that loaded no asset")
        eq(rs[0].path, "/login", ip + " starts on the login form")
    # Nothing else changes when they are absent.
    a, _ = gen("--rows", "3000", "--seed", "4", "--mix", "normal=30,flood=1")
    b, _ = gen("--rows", "3000", "--seed", "4", "--mix", "normal=30,flood=1,stuffing=0")
    with open(a, "rb") as fa, open(b, "rb") as fb:
        eq(fa.read() == fb.read(), True, "stuffing=0 changes nothing")


# ---- every format is well formed

def check_format(fmt):
    log, lab = gen("--rows", "4000", "--seed", "5", "--format", fmt,
                   "--mix", "normal=60,nat=1,api=1,crawler=2,monitor=2,internal=4,flood=1,"
                   "scanner=2,injection=1,bruteforce=1,botnet=20,ipv6=1,prompt=1")
    lines = read_lines(log)
    eq(len(lines), load_labels(lab)["rows"], "rows")
    for i, line in enumerate(lines):
        r = parse_line(fmt, line)  # json.loads / the regex, for every line
        if fmt == "traefik":
            d = json.loads(line)
            keys = list(d)
            eq(keys[:len(TRAEFIK_KEYS)], TRAEFIK_KEYS, "traefik keys of line %d" % i)
            if keys[len(TRAEFIK_KEYS):] not in ([], ["request_X-Forwarded-For"]):
                raise AssertionError("traefik extra keys %r" % keys[len(TRAEFIK_KEYS):])
            for k in ("DownstreamStatus", "DownstreamContentSize", "Duration"):
                if type(d[k]) is not int:
                    raise AssertionError("traefik %s is %r" % (k, d[k]))
            host = d["ClientHost"]
            want = ("[%s]" % host if ":" in host else host) + ":"
            if not d["ClientAddr"].startswith(want) or not d["ClientAddr"][len(want):].isdigit():
                raise AssertionError("ClientAddr %r for host %r" % (d["ClientAddr"], host))
            eq(d["time"], d["StartUTC"][:19] + "Z", "time vs StartUTC")
        elif fmt == "vlogs":
            d = json.loads(line)
            eq(list(d), VLOGS_KEYS, "vlogs keys of line %d" % i)
            for k, v in d.items():
                if type(v) is not str:
                    raise AssertionError("vlogs %s is %r, not a string" % (k, v))
            eq(d["_msg"], "%s %s %s" % (d["request_method"], d["request_uri"], d["status"]), "_msg")
        elif fmt == "caddy":
            d = json.loads(line)
            eq(d["logger"], "http.log.access", "logger")
            eq(d["msg"], "handled request", "msg")
            if type(d["ts"]) is not float or type(d["duration"]) is not float:
                raise AssertionError("caddy ts/duration not floats: %r" % line[:200])
            eq(d["request"]["proto"], "HTTP/1.1", "proto")
            eq(d["request"]["client_ip"], client_of(r), "client_ip")
        elif fmt == "apisix":
            d = json.loads(line)
            if type(d["start_time"]) is not int or type(d["latency"]) is not float:
                raise AssertionError("apisix start_time/latency types: %r" % line[:200])
            if not d["request"]["url"].endswith(d["request"]["uri"]):
                raise AssertionError("apisix url %r vs uri %r" % (d["request"]["url"], d["request"]["uri"]))
            eq(d["route_id"], "1", "route_id")
        if not (100 <= r.status <= 599):
            raise AssertionError("status %d" % r.status)


def window_and_order():
    # Across midnight, and a month end, so the date text must change.
    start = datetime.datetime(2025, 2, 28, 23, 50, tzinfo=datetime.timezone.utc)
    end = start + datetime.timedelta(minutes=20)
    for fmt in ("nginx", "traefik", "vlogs", "caddy", "apisix"):
        log, lab = gen("--rows", "3000", "--start", "2025-02-28T23:50:00Z",
                       "--duration", "20m", "--format", fmt)
        recs = records(fmt, log)
        prev = None
        days = set()
        for r in recs:
            if not (start <= r.t < end):
                raise AssertionError("%s: %s outside [%s, %s)" % (fmt, r.t, start, end))
            if prev is not None and r.t < prev:
                raise AssertionError("%s: %s after %s: not sorted" % (fmt, r.t, prev))
            prev = r.t
            days.add(r.t.date())
        eq(sorted(days), [datetime.date(2025, 2, 28), datetime.date(2025, 3, 1)], "%s days" % fmt)
        eq(load_labels(lab)["window"], {"start": "2025-02-28T23:50:00Z", "end": "2025-03-01T00:10:00Z"},
           "window")


# ---- labels

def labels_schema_and_truth():
    log, lab = gen("--rows", "20000", "--seed", "11", "--scenario", "bench-mixed")
    L = load_labels(lab)
    eq(set(L), LABEL_KEYS, "labels keys")
    eq(L["scenario"], "bench-mixed", "scenario")
    eq(L["trusted_proxies"], [], "no proxy")
    eq(list(L["attackers"]), sorted(L["attackers"]), "attackers sorted")
    recs = records("nginx", log)
    seen = {}
    for r in recs:
        seen[client_of(r)] = seen.get(client_of(r), 0) + 1
    missing = [a for a in L["attackers"] if a not in seen]
    eq(missing, [], "attackers that never appear in the log")
    both = set(L["attackers"]) & set(L["innocents"])
    eq(both, set(), "both attacker and innocent")
    unseen = [a for a, w in L["innocents"].items() if a not in seen and "never seen" not in w]
    eq(unseen, [], "innocents that never appear")
    unlabeled = [a for a in seen if a not in L["attackers"] and a not in L["innocents"]]
    eq(unlabeled, [], "clients without a label")
    kinds = set(L["attackers"].values())
    for want in ("request flood", "credential brute force", "distributed botnet node",
                 "sensitive-file", "injection probing", "IPv6 /64", "prompt-injection"):
        if not any(want in k for k in kinds):
            raise AssertionError("no attacker doing %r in %r" % (want, kinds))
    ikinds = set(L["innocents"].values())
    for want in ("ordinary visitor", "office NAT", "API integration", "uptime monitor",
                 "search engine crawler", "internal security scan"):
        if not any(want in k for k in ikinds):
            raise AssertionError("no innocent %r in %r" % (want, ikinds))
    # Attackers are public addresses; internal scanners are not.
    for a in L["attackers"]:
        if not ipaddress.ip_address(a).is_global:
            raise AssertionError("attacker %s is not a public address" % a)
    internal = [ipaddress.ip_address(a) for a, w in L["innocents"].items() if "internal" in w]
    cgnat, tailnet = ipaddress.ip_network("100.64.0.0/10"), ipaddress.ip_network("fd7a:115c:a1e0::/48")
    for a in internal:
        if not (a.is_private or a in cgnat or (a.version == 6 and a in tailnet)):
            raise AssertionError("internal scanner %s is public" % a)
    # Crawlers come from the search engines' own ranges.
    nets = [ipaddress.ip_network(n) for n in ("66.249.64.0/19", "40.77.0.0/16",
                                               "157.55.0.0/16", "207.46.0.0/16")]
    for a, w in L["innocents"].items():
        if "crawler" in w and not any(ipaddress.ip_address(a) in n for n in nets):
            raise AssertionError("crawler %s outside the search engines' ranges" % a)


def prompt_names_innocents():
    log, lab = gen("--rows", "5000", "--seed", "4")
    L = load_labels(lab)
    inj = [a for a, w in L["attackers"].items() if "prompt-injection" in w]
    eq(len(inj), 1, "prompt-injection scanners")
    named = set()
    for r in records("nginx", log):
        if client_of(r) == inj[0]:
            for text in (r.ua, urllib.parse.unquote(r.path)):
                named.update(re.findall(r"(?<![\d.])\d+\.\d+\.\d+\.\d+(?![\d])", text))
    named.discard(inj[0])
    if not named:
        raise AssertionError("payloads name nobody")
    for a in named:
        if a not in L["innocents"]:
            raise AssertionError("payload names %s, which is not an innocent" % a)


def ipv6_canonical_and_prefix():
    log, lab = gen("--rows", "4000", "--mix", "normal=30,ipv6=1,internal=8", "--seed", "8")
    L = load_labels(lab)
    eq(len(L["prefixes"]), 1, "prefixes")
    net = ipaddress.ip_network(list(L["prefixes"])[0])
    eq(net.prefixlen, 64, "prefix length")
    if not net.network_address.is_global:
        raise AssertionError("prefix %s is not public" % net)
    v6 = [a for a, w in L["attackers"].items() if "IPv6" in w]
    if len(v6) < 50:
        raise AssertionError("only %d rotating addresses" % len(v6))
    for a in v6:
        if ipaddress.ip_address(a) not in net:
            raise AssertionError("%s outside %s" % (a, net))
    addrs = set(L["attackers"]) | set(L["innocents"])
    for r in records("nginx", log):
        addrs.add(r.peer)
    for a in addrs:
        if ":" in a and ipaddress.ip_address(a).compressed != a:
            raise AssertionError("%s is not canonical (%s)" % (a, ipaddress.ip_address(a).compressed))
    if not any(":" in a for a in L["innocents"]):
        raise AssertionError("no tailnet IPv6 internal scanner among 8")


def behind_proxy():
    for spec, peers in (("10.0.0.2", {"10.0.0.2"}),
                        ("10.9.0.0/30", {"10.9.0.1", "10.9.0.2"}),
                        ("fd00:1::7", {"fd00:1::7"})):
        for fmt in ("nginx", "traefik", "caddy"):
            log, lab = gen("--rows", "4000", "--seed", "6", "--behind-proxy", spec, "--format", fmt)
            L = load_labels(lab)
            eq(L["trusted_proxies"], [spec], "trusted_proxies")
            for p in peers:
                eq(L["innocents"].get(p), "the trusted reverse proxy itself", "proxy %s" % p)
            forged = {a for a, w in L["innocents"].items() if "forged" in w}
            if not forged:
                raise AssertionError("no scanner forges X-Forwarded-For")
            seen_forged = set()
            clients = set()
            for r in records(fmt, log):
                if r.peer not in peers:
                    raise AssertionError("%s: peer %s is not the proxy %s" % (fmt, r.peer, spec))
                if not r.xff:
                    raise AssertionError("%s: a request without X-Forwarded-For" % fmt)
                parts = [x.strip() for x in r.xff.split(",")]
                clients.add(parts[-1])
                if len(parts) > 1:
                    eq(len(parts), 2, "xff entries")
                    seen_forged.add(parts[0])
                    if parts[-1] not in L["attackers"]:
                        raise AssertionError("forging client %s is not an attacker" % parts[-1])
            eq(seen_forged, forged, "forged entries in the log vs labels")
            missing = [a for a in L["attackers"] if a not in clients]
            eq(missing, [], "attackers not right-most in XFF")


def scan_reads_every_format():
    # The project's own parsers take every generated format whole.
    probe = run(["scan", "--json", "/dev/null"])
    if probe.returncode == 2 and "unknown command" in probe.err:
        raise Skip("no scan command in this build")
    for fmt in FORMATS:
        log, lab = gen("--rows", "3000", "--seed", "12", "--format", fmt, "--behind-proxy", "10.0.0.2")
        p = run(["scan", "--json", "--top", "0", "--trusted-proxy", "10.0.0.2", log])
        try:
            doc = json.loads(p.out)
        except ValueError:
            raise AssertionError("scan %s: exit %d, %s" % (fmt, p.returncode, p.err[-300:]))
        if "rows" not in doc or "top_clients" not in doc:
            raise Skip("scan --json has no rows/top_clients")
        L = load_labels(lab)
        eq(doc["rows"], L["rows"], "scan rows of %s" % fmt)
        if fmt != "combined":  # no XFF there: everything is the proxy
            got = {c["client_ip"] for c in doc["top_clients"]}
            missing = [a for a in L["attackers"] if a not in got]
            eq(missing, [], "%s: attackers scan does not see as clients" % fmt)


# ---- usage

def bad_usage():
    out = os.path.join(TMP, "never.log")
    for args in (["--rows", "0"], ["--rows", "12x"], ["--rows", "-5"], ["--rows"],
                 ["--format", "xml"], ["--mix", "goblins=3"], ["--mix", "normal"],
                 ["--mix", "normal=-1"], ["--mix", ""], ["--mix", "normal=0,flood=0"], ["--duration", "0s"],
                 ["--duration", "forever"], ["--start", "yesterday"],
                 ["--start", "2026-11-20 09:00"], ["--seed", "x"],
                 ["--behind-proxy", "10.0.0.1/8"], ["--behind-proxy", "proxy.local"],
                 ["--no-such-option"], ["stray-argument"]):
        p = run(["generate", "--output", out] + args)
        eq(p.returncode, 2, "exit of %r" % args)
        if "usage" not in p.err:
            raise AssertionError("%r: no usage on stderr: %r" % (args, p.err[:200]))
    if os.path.exists(out):
        raise AssertionError("bad usage still wrote the output")
    p = run(["generate", "--help"])
    eq(p.returncode, 0, "--help exit")
    if "--behind-proxy" not in p.out:
        raise AssertionError("--help does not describe the options")


def unwritable_output():
    p = run(["generate", "--rows", "100", "--output", os.path.join(TMP, "no", "such", "dir.log")])
    eq(p.returncode, 1, "exit for an output that cannot be created")
    p = run(["generate", "--rows", "100", "--output", "/dev/full"])
    eq(p.returncode, 1, "exit when the disk is full")


case("same seed gives the same bytes", same_seed_same_bytes)
case("other seed gives other traffic", other_seed_other_bytes)
case("every format describes the same requests", formats_describe_same_traffic)
case("--rows is respected", rows_respected)
case("--mix sets the actors", mix_counts_actors)
case("stuffing nodes and forgetful visitors", stuffing_and_forgot_shapes)
for f in FORMATS:
    case("format %s is well formed" % f, lambda f=f: check_format(f))
case("window bounds and time order, across midnight", window_and_order)
case("labels: schema, and they match the log", labels_schema_and_truth)
case("prompt-injection payloads name innocents", prompt_names_innocents)
case("IPv6 canonical, rotation inside the labeled /64", ipv6_canonical_and_prefix)
case("--behind-proxy: proxy peer, client right-most in XFF", behind_proxy)
case("scan reads every generated format", scan_reads_every_format)
case("bad usage exits 2 with usage", bad_usage)
case("write errors exit 1", unwritable_output)
adtest.finish()
