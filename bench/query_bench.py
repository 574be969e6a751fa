#!/usr/bin/env python3
"""Time one LogsQL query on the embedded store against text tools.

The query is the detector's bread and butter: requests and distinct paths
per client over the last 15 minutes,

    _time:15m | stats by (client_ip) count() hits, count_uniq(request_uri) paths

run on a generated nginx log (10 million rows by default).  Compared:

  embedded   the query on the store, after loading (the load is timed
             apart; the target is the query)
  mawk       the same aggregation on the text file, over its last 15 minutes
  sort|uniq  hits per client only: cut | sort | uniq -c, over the whole file

`anomaly-detect query --input FILE` would time the load with the query, so
the store side runs through a small C driver, bench/query_bench.c, built
here against build/release/libanomaly.a, that loads once and times only
the query.
Each figure is the median of --runs runs.  The results of the embedded
query and of mawk are checked to agree (clients, total hits, total paths).

    python3 bench/query_bench.py [--rows N] [--runs 5] [--file F] [--keep]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUERY = ("_time:15m | stats by (client_ip) count() hits, "
         "count_uniq(request_uri) paths")

# Requests and distinct paths per client among lines newer than the
# cutoff (day-of-month * 86400 + seconds of day, from [20/Nov/2026:09:00:00).
# Only lines of the file's last month-day pair are compared, which holds
# for generated windows up to a few weeks long.
MAWK_PROG = r'''
{
	t = substr($4, 2, 2) * 86400 + substr($4, 14, 2) * 3600 + \
	    substr($4, 17, 2) * 60 + substr($4, 20, 2)
	if (t > cutoff) {
		hits[$1]++
		k = $1 SUBSEP $7
		if (!(k in seen)) {
			seen[k] = 1
			paths[$1]++
		}
	}
}
END {
	n = 0; h = 0; p = 0
	for (c in hits) { n++; h += hits[c]; p += paths[c] }
	printf "clients %d hits %d paths %d\n", n, h, p
}
'''


def die(msg):
    print("query_bench: " + msg, file=sys.stderr)
    sys.exit(1)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def build_driver():
    """The C driver, against the release library (built if needed)."""
    run(["make", "-s", "-C", ROOT, "build/release/libanomaly.a"])
    out_dir = os.path.join(ROOT, "build", "bench")
    os.makedirs(out_dir, exist_ok=True)
    exe = os.path.join(out_dir, "query_bench")
    libs = subprocess.run(["pkg-config", "--libs", "libcurl", "jansson",
                           "zlib"], capture_output=True, text=True)
    extra = libs.stdout.split() if libs.returncode == 0 else \
        ["-lcurl", "-ljansson", "-lz"]
    cc = os.environ.get("CC", "cc")
    run([cc, "-std=c11", "-D_GNU_SOURCE", "-O2", "-g", "-Wall", "-Wextra",
         "-I" + os.path.join(ROOT, "src"), "-o", exe,
         os.path.join(ROOT, "bench", "query_bench.c"),
         os.path.join(ROOT, "build", "release", "libanomaly.a")] +
        extra + ["-lm", "-lpthread"])
    return exe


def generate(path, rows, keep):
    if keep and os.path.exists(path) and os.path.getsize(path) > 0:
        print("using existing %s (%.2f GB)" % (path,
              os.path.getsize(path) / 1e9))
        return
    tool = os.path.join(ROOT, "anomaly-detect")
    if not os.path.exists(tool):
        run(["make", "-s", "-C", ROOT, "anomaly-detect"])
    print("generating %d rows into %s ..." % (rows, path), flush=True)
    t0 = time.monotonic()
    run([tool, "generate", "--rows", str(rows), "--format", "nginx",
         "--output", path])
    print("  %.1f s, %.2f GB" % (time.monotonic() - t0,
          os.path.getsize(path) / 1e9))


def last_time_key(path):
    """day * 86400 + seconds of day of the file's last line."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - 65536))
        tail = f.read().splitlines()
    for line in reversed(tail):
        parts = line.split(b" ")
        if len(parts) > 4 and parts[3].startswith(b"["):
            ts = parts[3][1:].decode()
            day, rest = ts.split("/", 1)
            hms = rest.split(":", 1)[1]
            h, m, s = (int(x) for x in hms.split(":"))
            return int(day) * 86400 + h * 3600 + m * 60 + s
    die("cannot read the last timestamp of " + path)


def bench_embedded(exe, path, runs):
    out = run([exe, "-r", str(runs), path, QUERY], capture_output=True,
              text=True).stdout
    vals = {}
    times = []
    for line in out.splitlines():
        k, v = line.split(" ", 1)
        if k == "run_seconds":
            times.append(float(v))
        else:
            vals[k] = v
    return statistics.median(times), times, vals


def bench_mawk(path, runs, cutoff):
    times = []
    result = None
    for _ in range(runs):
        t0 = time.monotonic()
        p = run(["mawk", "-v", "cutoff=%d" % cutoff, MAWK_PROG, path],
                capture_output=True, text=True,
                env=dict(os.environ, LC_ALL="C"))
        times.append(time.monotonic() - t0)
        result = p.stdout.split()
    r = dict(zip(result[0::2], (int(x) for x in result[1::2])))
    return statistics.median(times), times, r


def bench_sort(path, runs):
    times = []
    groups = 0
    cmd = "cut -d' ' -f1 '%s' | sort | uniq -c | wc -l" % path
    for _ in range(runs):
        t0 = time.monotonic()
        p = run(["sh", "-c", cmd], capture_output=True, text=True,
                env=dict(os.environ, LC_ALL="C"))
        times.append(time.monotonic() - t0)
        groups = int(p.stdout.strip())
    return statistics.median(times), times, groups


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--file", default=None,
                    help="log file (default: a temporary file, removed "
                    "after unless --keep)")
    ap.add_argument("--keep", action="store_true",
                    help="reuse --file if it exists, and keep it")
    args = ap.parse_args()
    if args.runs < 1:
        die("--runs must be at least 1")
    for tool in ("mawk", "sort", "uniq", "cut", "make"):
        if shutil.which(tool) is None:
            die("needs " + tool)

    path = args.file or os.path.join(ROOT, "build", "bench",
                                     "query_bench_%d.log" % args.rows)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    exe = build_driver()
    generate(path, args.rows, args.keep)
    try:
        print("embedded store: load, then %d runs of the query ..." %
              args.runs, flush=True)
        emb, emb_all, vals = bench_embedded(exe, path, args.runs)
        rows = int(vals["rows"])
        print("mawk: %d runs ..." % args.runs, flush=True)
        cutoff = last_time_key(path) - 900
        mk, mk_all, mres = bench_mawk(path, args.runs, cutoff)
        print("sort | uniq -c: %d runs ..." % args.runs, flush=True)
        su, su_all, sgroups = bench_sort(path, args.runs)
    finally:
        if not args.keep and args.file is None and os.path.exists(path):
            os.unlink(path)

    agree = (int(vals.get("result_rows", -1)) == mres["clients"] and
             int(vals.get("sum_hits", -1)) == mres["hits"] and
             int(vals.get("sum_paths", -1)) == mres["paths"])

    print()
    print("query: %s" % QUERY)
    print("rows: %d; load into the store: %s s (not in the figures); "
          "store memory: %.0f MiB" % (rows, vals["load_seconds"],
                                      int(vals["memory_bytes"]) / 2**20))
    print("medians of %d runs; ratio = time / embedded time" % args.runs)
    print()
    head = "| %-40s | %10s | %14s | %8s |" % ("method", "median s",
                                               "rows/s", "ratio")
    print(head)
    print("|" + "-" * 42 + "|" + "-" * 12 + "|" + "-" * 16 + "|" +
          "-" * 10 + "|")
    for name, t in (("embedded store (LogsQL, query only)", emb),
                    ("mawk (same aggregation, last 15 min)", mk),
                    ("cut | sort | uniq -c (hits only)", su)):
        print("| %-40s | %10.3f | %14s | %7.1fx |" % (
            name, t, "{:,.0f}".format(rows / t if t > 0 else 0),
            t / emb if emb > 0 else 0))
    print()
    print("all runs (s): embedded %s; mawk %s; sort %s" % (
        " ".join("%.3f" % x for x in emb_all),
        " ".join("%.2f" % x for x in mk_all),
        " ".join("%.2f" % x for x in su_all)))
    print("results: embedded %s clients, %s hits, %s paths; mawk %d, %d, "
          "%d; sort|uniq %d clients -> %s" % (
              vals.get("result_rows"), vals.get("sum_hits"),
              vals.get("sum_paths"), mres["clients"], mres["hits"],
              mres["paths"], sgroups, "agree" if agree else "DISAGREE"))
    target = 0.5
    print("target: query under %.1f s on %d rows: %s" % (
        target, rows, "met" if emb < target else "NOT met"))
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
