#!/usr/bin/env python3
"""anomaly-detect scan, driven as a user would: formats, client addresses,
inputs (gzip, stdin, several files, follow), bad input, configuration."""
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adtest  # noqa: E402
from adtest import case, eq, run, run_json, Skip  # noqa: E402

TMP = adtest.tmpdir()
SHARED = adtest.shared_dir()
FORMATS = ("access.log", "traefik.json", "vlogs.jsonl")


def scan_json(paths, *extra, **kw):
    p = run_json(["scan", "--json", "--top", "1000000"] + list(extra) + list(paths), **kw)
    return p.json, p


def clients(doc):
    return {c["client_ip"]: c["requests"] for c in doc["top_clients"]}


def sec(window):
    """A window to the second: nginx's $time_local has no fraction."""
    return {k: v[:19] for k, v in window.items()}


def trusted_args(labels):
    out = []
    for t in labels.get("trusted_proxies", []):
        out += ["--trusted-proxy", t]
    return out


# ---- the shared scenarios: every format parses, and all three agree

def shared_scenarios():
    if SHARED is None:
        return []
    d = os.path.join(SHARED, "scenarios")
    return sorted(n for n in os.listdir(d)
                  if os.path.isfile(os.path.join(d, n, "labels.json")))


def check_scenario(name):
    d = os.path.join(SHARED, "scenarios", name)
    labels = json.load(open(os.path.join(d, "labels.json")))
    seen = {}
    for f in FORMATS:
        doc, _ = scan_json([os.path.join(d, f)], *trusted_args(labels))
        eq(doc["skipped"]["total"], 0, "%s/%s skipped (%s)" % (name, f, doc["skipped"]))
        eq(doc["rows"], labels["rows"], "%s/%s rows" % (name, f))
        # scan is a dry run: what it would ban is listed (the analyst's
        # own tests score it), never an innocent, and nothing is banned.
        for b in doc["bans"]:
            eq(b["verdict"], "dry-run", "%s/%s ban verdict" % (name, f))
            if b["value"] in labels["innocents"]:
                raise AssertionError("%s/%s: innocent %s banned" % (name, f, b["value"]))
        seen[f] = doc
    base = seen["access.log"]
    for f in FORMATS[1:]:
        eq(clients(seen[f]), clients(base), "%s: clients of %s vs access.log" % (name, f))
        eq(sec(seen[f]["window"]), sec(base["window"]), "%s: window of %s" % (name, f))
    # every attacker is a client as such; forged XFF never becomes one
    cl = clients(base)
    for ip in labels["attackers"]:
        if ip not in cl and not labels.get("prefixes"):
            raise AssertionError("%s: attacker %s not among the clients" % (name, ip))
    for ip, who in labels["innocents"].items():
        if "forged" in who and ip in cl:
            raise AssertionError("%s: forged XFF entry %s became a client" % (name, ip))
    w, lw = sec(base["window"]), sec(labels["window"])
    if not (lw["start"] <= w["start"] <= w["end"] <= lw["end"]):
        raise AssertionError("rows at %s, outside the labelled window %s" % (w, lw))


if SHARED is None:
    case("shared scenarios", lambda: (_ for _ in ()).throw(
        Skip("../shared is absent; generated scenarios below carry the core tests")))
for n in shared_scenarios():
    case("shared/%s: three formats, zero skipped, same clients" % n,
         lambda n=n: check_scenario(n))


def behind_proxy_without_trust():
    if SHARED is None:
        raise Skip("../shared is absent")
    d = os.path.join(SHARED, "scenarios", "behind_proxy", "access.log")
    doc, _ = scan_json([d])
    cl = clients(doc)
    # Not trusted: the proxied requests are the proxy's own.
    if "10.0.0.2" not in cl or "175.24.168.128" in cl:
        raise AssertionError("without trust the proxy must be the client")
    doc, _ = scan_json([d], "--trusted-proxy", "10.0.0.2")
    cl = clients(doc)
    if "175.24.168.128" not in cl or "114.69.48.199" in cl:
        raise AssertionError("with trust: the right-most entry, not the forged one")


case("behind_proxy without --trusted-proxy: the peer is the client", behind_proxy_without_trust)


# ---- generated scenarios: the core tests when ../shared is absent

GEN = {}


def generate(fmt, rows=20000, seed=7, extra=()):
    key = (fmt, rows, seed, tuple(extra))
    if key in GEN:
        return GEN[key]
    out = os.path.join(TMP, "gen-%s-%d-%d-%d.log" % (fmt, rows, seed, len(GEN)))
    lab = out + ".labels.json"
    p = run(["generate", "--rows", str(rows), "--seed", str(seed), "--format", fmt,
             "--output", out, "--labels", lab] + list(extra))
    if p.returncode != 0:
        raise AssertionError("generate failed: " + p.err)
    GEN[key] = (out, json.load(open(lab)))
    return GEN[key]


def generated_formats_agree(extra=()):
    base = None
    for fmt in ("nginx", "traefik", "vlogs", "caddy", "apisix"):
        path, labels = generate(fmt, extra=extra)
        doc, _ = scan_json([path], *trusted_args(labels))
        eq(doc["skipped"]["total"], 0, "%s skipped: %s" % (fmt, doc["skipped"]))
        eq(doc["rows"], labels["rows"], fmt + " rows")
        if base is None:
            base = (fmt, doc)
            continue
        eq(clients(doc), clients(base[1]), "clients of %s vs %s" % (fmt, base[0]))
        eq(sec(doc["window"]), sec(base[1]["window"]), "window of %s" % fmt)


case("generated: five formats, zero skipped, same clients", generated_formats_agree)
case("generated behind a proxy: formats agree, proxy is not the client",
     lambda: generated_formats_agree(("--behind-proxy", "10.9.0.1")))


def format_detected():
    for fmt, name in (("nginx", "nginx"), ("traefik", "traefik"), ("vlogs", "vlogs"),
                      ("caddy", "caddy"), ("apisix", "apisix")):
        path, _ = generate(fmt)
        doc, _ = scan_json([path])
        eq(doc["format"], name, "format detected for " + fmt)


case("format auto-detection", format_detected)


# ---- inputs

def gzip_stdin_many():
    path, labels = generate("nginx")
    gz = path + ".gz"
    with open(path, "rb") as f, gzip.open(gz, "wb") as g:
        g.write(f.read())
    plain, _ = scan_json([path])
    zipped, _ = scan_json([gz])
    eq(clients(zipped), clients(plain), "gzip vs plain")
    # a .gz under a misleading name is still recognised by its bytes
    odd = os.path.join(TMP, "rotated.1")
    os.rename(gz, odd)
    renamed, _ = scan_json([odd])
    eq(renamed["rows"], plain["rows"], "gzip without .gz name")
    data = open(path, "rb").read()
    fromstdin, _ = scan_json(["-"], stdin=data)
    eq(clients(fromstdin), clients(plain), "stdin vs file")
    both, _ = scan_json([path, odd])
    eq(both["rows"], 2 * plain["rows"], "two inputs")
    tpath, _ = generate("traefik", seed=8)
    mixed, _ = scan_json([path, tpath])
    t, _ = scan_json([tpath])
    eq(mixed["rows"], plain["rows"] + t["rows"], "nginx + traefik together")
    eq(mixed["skipped"]["total"], 0, "skipped in mixed formats")


case("gzip, stdin, several inputs of different formats", gzip_stdin_many)


def truncated_gzip():
    path, _ = generate("nginx")
    data = gzip.compress(open(path, "rb").read())
    cut = os.path.join(TMP, "cut.log.gz")
    open(cut, "wb").write(data[: len(data) // 2])
    doc, p = scan_json([cut])
    eq(p.returncode, 1, "exit status for a truncated gzip")
    if not re.search(r"truncat|unexpected end|corrupt", p.err, re.I):
        raise AssertionError("no truncation message: " + p.err)
    if not (0 < doc["rows"] < 20000):
        raise AssertionError("rows read before the cut: %d" % doc["rows"])
    eq(doc["errors"], 1, "errors")


case("truncated gzip: reported, rows before the cut kept", truncated_gzip)


def missing_file():
    p = run(["scan", "--json", os.path.join(TMP, "nope.log")])
    eq(p.returncode, 1, "exit status")
    if "nope.log" not in p.err:
        raise AssertionError("error does not name the file: " + p.err)


case("missing input file: exit 1 and named", missing_file)


# ---- bad input

GOOD = ('203.0.113.7 - - [20/Nov/2026:09:00:%02d +0000] "GET /x HTTP/1.1" 200 5 '
        '"-" "curl/8" "-" 0.010')


def bad_lines():
    lines = [GOOD % i for i in range(10)]
    lines[2] = "complete garbage"
    lines[4] = GOOD.replace("20/Nov/2026:09:00:%02d", "99/Zzz/2026:09:00:%02d") % 4
    lines[5] = ""
    lines[6] = GOOD.replace(" 200 ", " 2x0 ") % 6
    lines[7] = GOOD.replace("203.0.113.7", "not-an-ip") % 7
    lines[8] = (GOOD % 8).replace("/x", "/" + "A" * 70000)
    lines[9] = (GOOD % 9).replace("curl/8", "evil\x1b[2J\xff\xfeagent")
    path = os.path.join(TMP, "bad.log")
    with open(path, "wb") as f:
        for l in lines:
            f.write(l.encode("latin-1") + b"\n")
    doc, p = scan_json([path], "--format", "nginx")
    eq(p.returncode, 0, "exit status")
    eq(doc["rows"], 4, "rows kept")
    eq(doc["lines"], 10, "lines read")
    by = doc["skipped"]["by_reason"]
    eq(by, {"syntax": 1, "bad_time": 1, "empty": 1, "bad_status": 1,
            "bad_address": 1, "too_long": 1}, "skips by reason")
    samples = doc["skipped"]["samples"]
    eq([s["line"] for s in samples], [3, 5, 6, 7, 8], "sample line numbers")
    eq(samples[0]["text"], "complete garbage", "sample text")
    # text output: the agent with control bytes and invalid UTF-8 is escaped
    p = run(["scan", "--format", "nginx", "--top", "5", path])
    if "\x1b" in p.out:
        raise AssertionError("raw escape byte printed")
    if not re.search(r"bad.log:3: syntax: complete garbage", p.out):
        raise AssertionError("text report lacks the sample:\n" + p.out)


case("malformed lines counted by reason, samples with line numbers", bad_lines)


def invalid_utf8_escaped():
    line = (GOOD % 1).replace("/x", "/\xff\xc3(").encode("latin-1")
    path = os.path.join(TMP, "utf8.log")
    open(path, "wb").write(line + b"\nbroken \xff line\n")
    doc, p = scan_json([path], "--format", "nginx")
    eq(doc["rows"], 1, "rows")
    eq(doc["skipped"]["samples"][0]["text"], "broken \\xff line", "escaped sample")
    json.loads(p.out)  # strictly valid JSON/UTF-8


case("invalid UTF-8 kept as bytes, escaped when printed", invalid_utf8_escaped)


def wrong_format_forced():
    path, _ = generate("traefik")
    doc, _ = scan_json([path], "--format", "nginx")
    eq(doc["rows"], 0, "rows")
    eq(doc["skipped"]["by_reason"], {"syntax": 20000 if doc["lines"] == 20000 else doc["lines"]},
       "all lines skipped as syntax")


case("a forced wrong format skips every line as syntax", wrong_format_forced)


def custom_log_format():
    fmt = ('{"ip":"$remote_addr","t":"$time_iso8601","m":"$request_method",'
           '"u":"$request_uri","s":$status,"ua":"$http_user_agent","h":"$host"}')
    path = os.path.join(TMP, "custom.log")
    with open(path, "w") as f:
        for i in range(5):
            f.write('{"ip":"198.51.100.%d","t":"2026-11-20T09:00:0%dZ","m":"GET",'
                    '"u":"/p%d","s":404,"ua":"x","h":"a.example"}\n' % (i, i, i))
    doc, _ = scan_json([path], "--log-format", fmt)
    eq(doc["rows"], 5, "rows")
    eq(doc["format"], "nginx-custom", "format")
    eq(doc["window"]["end"], "2026-11-20T09:00:04Z", "window end")
    # the same through a config file, single-quoted
    cfg = os.path.join(TMP, "custom.conf")
    open(cfg, "w").write("# test\nlog_format = '%s'\n" % fmt)
    doc2, _ = scan_json([path], "--config", cfg)
    eq(doc2["rows"], 5, "rows via config")


case("nginx log_format from the command line and from config", custom_log_format)


def config_errors():
    cfg = os.path.join(TMP, "bad.conf")
    open(cfg, "w").write("format = klingon\ntrusted_proxy = 10.0.0.1/8\nbogus = 1\n")
    p = run(["scan", "-n", "--config", cfg])
    eq(p.returncode, 2, "exit status")
    for want in ("bad.conf:1: unknown format", "bad.conf:2: trusted_proxy",
                 "bad.conf:3: unknown setting"):
        if want not in p.err:
            raise AssertionError("missing %r in %r" % (want, p.err))
    good = os.path.join(TMP, "good.conf")
    open(good, "w").write("format = nginx\ntrusted_proxy = 10.0.0.0/8\n")
    p = run(["scan", "-n", "--config", good])
    eq(p.returncode, 0, "exit status for a good config")


case("config errors: all of them, as file:line", config_errors)


def trusted_xff_rules():
    rows = [
        # peer trusted, forged left-most entry, real client right-most
        ('10.0.0.2', '6.6.6.6, 203.0.113.9'),
        # chain of two trusted proxies
        ('10.0.0.2', '203.0.113.10, 10.0.0.3'),
        # junk in XFF: treated as absent (client = peer)
        ('10.0.0.2', 'unknown, <script>'),
        # untrusted peer: its XFF is ignored
        ('198.51.100.1', '203.0.113.11'),
        # port, brackets and mapped forms are canonical
        ('[::ffff:10.0.0.2]:443', '[2001:DB8::A]:1234'),
    ]
    path = os.path.join(TMP, "xff.log")
    with open(path, "w") as f:
        for i, (peer, xff) in enumerate(rows):
            f.write('%s - - [20/Nov/2026:09:00:%02d +0000] "GET / HTTP/1.1" 200 1 "-" "ua" "%s" 0.001\n'
                    % (peer, i, xff))
    doc, _ = scan_json([path], "--trusted-proxy", "10.0.0.0/24")
    eq(doc["skipped"]["total"], 0, "skipped")
    eq(sorted(clients(doc)), sorted(["203.0.113.9", "203.0.113.10", "10.0.0.2",
                                     "198.51.100.1", "2001:db8::a"]), "clients")


case("client address: right-most untrusted XFF entry, never the left-most", trusted_xff_rules)


def retention_and_memory_cap():
    path, _ = generate("nginx", rows=200000, seed=9)
    full, _ = scan_json([path])
    kept, _ = scan_json([path], "--retention", "5m")
    eq(kept["dropped"]["retention"] + kept["rows"], full["rows"], "kept + dropped")
    if not (0 < kept["rows"] < full["rows"]):
        raise AssertionError("retention kept %d of %d" % (kept["rows"], full["rows"]))
    eq(kept["window"]["end"], full["window"]["end"], "newest row kept")
    # the window is at most 5 minutes now (to the second)
    import datetime
    f = "%Y-%m-%dT%H:%M:%S"
    span = (datetime.datetime.strptime(kept["window"]["end"][:19], f)
            - datetime.datetime.strptime(kept["window"]["start"][:19], f))
    if span.total_seconds() > 300:
        raise AssertionError("window after retention: %s" % span)
    capped, _ = scan_json([path], "--max-memory", "8M")
    if capped["dropped"]["memory"] == 0:
        raise AssertionError("an 8M cap dropped nothing")
    eq(capped["dropped"]["memory"] + capped["rows"], full["rows"], "kept + dropped")
    eq(capped["window"]["end"], full["window"]["end"], "newest row kept under the cap")
    p = run(["scan", "--max-memory", "lots", path])
    eq(p.returncode, 2, "exit status for a bad size")


case("--retention and --max-memory drop the oldest rows and count them",
     retention_and_memory_cap)


def analyst_switch():
    path, _ = generate("nginx")
    full, _ = scan_json([path])
    bare, _ = scan_json([path], "--analyst", "none")
    if not full["findings"] or not full["bans"]:
        raise AssertionError("the generated scenario has attackers: no findings?")
    eq((bare["findings"], bare["bans"]), ([], []), "with --analyst none")
    eq(bare["rows"], full["rows"], "rows")
    p = run(["scan", "--analyst", "llm", path])
    eq(p.returncode, 2, "exit status for --analyst llm")
    p = run(["scan", "--analyst", "magic", path])
    eq(p.returncode, 2, "exit status for an unknown analyst")


case("--analyst none only reads; llm is not there yet", analyst_switch)


# ---- follow

def follow_live():
    path = os.path.join(TMP, "live.log")  # does not exist yet
    proc = subprocess.Popen([adtest.BIN, "scan", "--follow", "--json", "--format", "nginx", path],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(0.4)
        with open(path, "w") as f:
            for i in range(3):
                f.write(GOOD % i + "\n")
        time.sleep(0.6)
        os.rename(path, path + ".1")           # rotation by rename
        with open(path + ".1", "a") as f:      # late lines in the old file
            f.write(GOOD % 3 + "\n")
        with open(path, "w") as f:
            f.write(GOOD % 4 + "\n")
            f.write(GOOD % 5)                  # partial line: not yet a row
        time.sleep(0.8)
        with open(path, "r+") as f:            # truncation
            f.truncate(0)
        time.sleep(0.5)
        with open(path, "a") as f:
            f.write(GOOD % 6 + "\n" + GOOD % 7 + "\n")
        time.sleep(0.8)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    doc = json.loads(out)
    # 0-2, 3 (late line in the rotated file), 4, 5 (a partial line is
    # handed over when its file is truncated, as tail -F prints it), 6, 7.
    eq(doc["rows"], 8, "rows seen while following (stderr: %s)" % err.decode()[-500:])


case("--follow: file created later, rotation, truncation, SIGINT reports", follow_live)

adtest.finish()
