#!/usr/bin/env python3
"""anomaly-detect query: LogsQL on the embedded store (--input) and on
VictoriaLogs (a faithful fake on 127.0.0.1), checked against results
computed here, independently, from the log files themselves."""
import collections
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adtest  # noqa: E402
from adtest import case, eq, run, Skip  # noqa: E402

TMP = adtest.tmpdir()
SHARED = adtest.shared_dir()
FAKE = os.path.join(adtest.ROOT, "tests", "fakes", "fake_vlogs.py")


def gen(fmt="vlogs", rows=5000, seed=11):
    out = os.path.join(TMP, "q-%s-%d-%d.log" % (fmt, rows, seed))
    if not os.path.exists(out):
        p = run(["generate", "--rows", str(rows), "--seed", str(seed), "--format", fmt,
                 "--output", out, "--labels", out + ".labels.json"])
        if p.returncode != 0:
            raise AssertionError("generate: " + p.err)
    return out


def vlogs_rows(path):
    """The rows of a VictoriaLogs-style JSON-lines file, as dicts."""
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        return [json.loads(l) for l in f if l.strip()]


def jsonl(p):
    if p.returncode != 0:
        raise AssertionError("exit %d: %s" % (p.returncode, p.err[-1500:]))
    rows = [json.loads(l) for l in p.out.splitlines() if l.strip()]
    for r in rows:
        for k, v in r.items():
            if not isinstance(v, str):
                raise AssertionError("value of %s is not a string: %r" % (k, v))
    return rows


def query(args, q):
    return jsonl(run(["query", "--json"] + list(args) + [q]))


def data_file():
    if SHARED is not None:
        return os.path.join(SHARED, "scenarios", "mixed", "vlogs.jsonl")
    return gen()


# ---- the embedded store, against an independent computation

def hits_and_paths():
    path = data_file()
    rows = vlogs_rows(path)
    hits = collections.Counter(r["remote_addr"] for r in rows)
    paths = collections.defaultdict(set)
    for r in rows:
        paths[r["remote_addr"]].add(r["request_uri"])
    got = query(["--input", path],
                "* | stats by (client_ip) count() hits, count_uniq(request_uri) paths")
    eq(len(got), len(hits), "groups")
    for g in got:
        ip = g["client_ip"]
        eq(g["hits"], str(hits[ip]), "hits of " + ip)
        eq(g["paths"], str(len(paths[ip])), "paths of " + ip)


case("stats by client: hits and distinct paths match a direct count", hits_and_paths)


def filters_and_sort():
    path = data_file()
    rows = vlogs_rows(path)
    want = collections.Counter(r["remote_addr"] for r in rows
                               if 400 <= int(r["status"]) < 500 and r["request_method"] == "GET")
    top = sorted(want.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    got = query(["--input", path],
                'status:>=400 status:<500 request_method:=GET '
                '| stats by (client_ip) count() n | sort by (n desc, client_ip) limit 5')
    eq([(g["client_ip"], int(g["n"])) for g in got], top, "top 4xx clients")


case("numeric ranges, exact match, sort and limit", filters_and_sort)


def huge_counts_are_caps_not_sizes():
    # "top 12GB" and "limit 1e15" are legal counts (VictoriaLogs reads unit
    # suffixes); they cap the answer, they must not size an allocation.
    path = data_file()
    rows = vlogs_rows(path)
    want = collections.Counter(r["request_method"] for r in rows)
    got = query(["--input", path], "* | top 12GB by (request_method)")
    eq(sorted((g["request_method"], int(g["hits"])) for g in got),
       sorted(want.items()), "top with a huge N gives every group")
    got = query(["--input", path], "* | sort by (_time) limit 1e15 | stats count() n")
    eq(got, [{"n": str(len(rows))}], "sort with a huge limit keeps every row")


case("huge top/limit counts are caps, not allocation sizes", huge_counts_are_caps_not_sizes)


def time_window_relative_to_newest():
    path = data_file()
    rows = vlogs_rows(path)
    # _time:5m counts back from the newest row read, not from the clock
    got = query(["--input", path], "_time:5m | stats count() n")
    import datetime

    def ts(s):
        s = s.rstrip("Z")
        if "." in s:
            a, b = s.split(".")
            s = a + "." + (b + "000000")[:6]
        else:
            s += ".000000"
        return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%f")
    newest = max(ts(r["_time"]) for r in rows)
    lo = newest - datetime.timedelta(minutes=5)
    n = sum(1 for r in rows if ts(r["_time"]) > lo)
    got_n = int(got[0]["n"])
    # the boundary row at exactly newest-5m may fall either side
    if abs(got_n - n) > 1:
        raise AssertionError("_time:5m counted %d, want %d" % (got_n, n))
    far = query(["--input", path, "--now", "2030-01-01T00:00:00Z"], "_time:5m | stats count() n")
    eq(far[0]["n"] if far else "0", "0", "with --now far ahead")


case("relative _time counts back from the newest row (and --now)", time_window_relative_to_newest)


def raw_rows_shape():
    path = data_file()
    got = query(["--input", path, "--limit", "3"], "status:404")
    eq(len(got), 3, "rows with --limit 3")
    for r in got:
        eq(r["status"], "404", "status")
        for k in ("_time", "_msg", "client_ip", "remote_addr", "request_uri"):
            if k not in r:
                raise AssertionError("row lacks %s: %r" % (k, r))


case("raw rows: VictoriaLogs fields, all strings, --limit", raw_rows_shape)


def parse_errors():
    path = data_file()
    p = run(["query", "--input", path, "* | stats by (client_ip count()"])
    eq(p.returncode, 1, "exit status")
    if "column" not in p.err:
        raise AssertionError("no position in: " + p.err)
    p = run(["query", "--input", path, "status = 404"])
    eq(p.returncode, 1, "exit status for foo = bar")
    if "status:=" not in p.err and ":=" not in p.err:
        raise AssertionError("no hint to write field:=value: " + p.err)


case("parse errors name the position (and the := hint)", parse_errors)


def table_output():
    path = data_file()
    p = run(["query", "--input", path,
             "* | stats by (request_method) count() n | sort by (n desc) limit 3"])
    eq(p.returncode, 0, "exit status")
    lines = p.out.splitlines()
    if not lines[0].split() == ["request_method", "n"]:
        raise AssertionError("header: %r" % lines[0])
    methods = collections.Counter(r["request_method"] for r in vlogs_rows(path))
    eq(len(lines), 1 + min(3, len(methods)), "header and rows")
    top = max(methods.items(), key=lambda kv: kv[1])
    eq(lines[1].split(), [top[0], str(top[1])], "first row")
    for l in lines:
        if l != l.rstrip():
            raise AssertionError("trailing blanks: %r" % l)


case("aligned table output", table_output)


# ---- VictoriaLogs through the fake

class Fake:
    def __init__(self, *args):
        self.p = subprocess.Popen([sys.executable, FAKE] + list(args),
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL)
        self.port = int(self.p.stdout.readline())
        self.url = "http://127.0.0.1:%d" % self.port

    def close(self):
        self.p.stdin.close()
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()


def vlogs_same_shape():
    if not os.path.exists(FAKE):
        raise Skip("fake VictoriaLogs missing")
    path = data_file()
    fake = Fake("--data", path)
    try:
        remote = query(["--vlogs-url", fake.url, "--limit", "5"], "status:404")
        local = query(["--input", path, "--limit", "1000000"], "status:404")
    finally:
        fake.close()
    eq(len(remote), 5, "rows from VictoriaLogs")
    newest = sorted((r["_time"] for r in local), reverse=True)[:5]
    eq(sorted((r["_time"] for r in remote), reverse=True), newest,
       "the newest five, as the embedded store has them")
    for r in remote:
        eq(r["status"], "404", "status")


case("VictoriaLogs: the same rows as the embedded store", vlogs_same_shape)


def vlogs_errors_and_secrets():
    if not os.path.exists(FAKE):
        raise Skip("fake VictoriaLogs missing")
    fake = Fake("--bearer", "s3cr3t-t0ken-value")
    try:
        p = run(["query", "--vlogs-url", fake.url, "*"],
                env={"VLOGS_BEARER_TOKEN": "wrong-t0ken-value"})
        eq(p.returncode, 1, "exit status with a wrong token")
        for secret in ("wrong-t0ken-value", "s3cr3t-t0ken-value"):
            if secret in p.err or secret in p.out:
                raise AssertionError("a token was printed: " + p.err)
        p = run(["query", "--vlogs-url", fake.url, "*"],
                env={"VLOGS_BEARER_TOKEN": "s3cr3t-t0ken-value"})
        eq(p.returncode, 0, "exit status with the right token: " + p.err)
        # the server's 400 text reaches the user
        p = run(["query", "--vlogs-url", fake.url, "* | stats count()"],
                env={"VLOGS_BEARER_TOKEN": "s3cr3t-t0ken-value"})
        eq(p.returncode, 1, "exit status for a query the server refuses")
        if "cannot parse query" not in p.err:
            raise AssertionError("server text missing: " + p.err)
    finally:
        fake.close()
    # nothing listening: a clear, quick failure
    p = run(["query", "--vlogs-url", "http://127.0.0.1:9", "*"], timeout=60)
    eq(p.returncode, 1, "exit status with no server")


case("VictoriaLogs: 400 text shown, secrets never printed, no server", vlogs_errors_and_secrets)

adtest.finish()
