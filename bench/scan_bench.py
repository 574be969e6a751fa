#!/usr/bin/env python3
"""How fast `anomaly-detect scan` reads logs, against `wc -l` and GoAccess.

    bench/scan_bench.py                 1,000,000 lines, 5 runs per tool
    bench/scan_bench.py --quick         100,000 lines, 3 runs (a smoke test)
    bench/scan_bench.py --lines 5000000 --runs 7

The inputs are made by `anomaly-detect generate` (fixed seed) and cached
in bench/out/, which git ignores; --regen makes them again.  Each tool
reads the same warm-cache file; runs go round-robin so a noisy moment
hits every tool alike, and the median is reported.  Wall time is taken
around the child, peak RSS is the child's ru_maxrss from wait4 (through
GNU time when it is installed: see find_gnu_time).

The binary is $AD_BIN, else ./anomaly-detect at the top of the checkout.
Tools that are missing or fail are reported as such, not timed.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out")
SEED = 20261120

GOACCESS_FORMAT = '%h %^[%d:%t %^] "%r" %s %b "%R" "%u" %^'


def binary():
    return os.environ.get("AD_BIN") or os.path.join(ROOT, "anomaly-detect")


def count_lines(path):
    n = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 22)
            if not b:
                return n
            n += b.count(b"\n")


def generate(fmt, lines, regen):
    """The cached input of `lines` requests in `fmt`; made if missing."""
    ext = "json" if fmt == "traefik" else "log"
    path = os.path.join(OUT, "%s-%d-seed%d.%s" % (fmt, lines, SEED, ext))
    if os.path.exists(path) and not regen:
        return path
    os.makedirs(OUT, exist_ok=True)
    tmp = path + ".tmp"
    cmd = [binary(), "generate", "--rows", str(lines), "--seed", str(SEED),
           "--format", fmt, "--output", tmp,
           "--labels", path + ".labels.json"]
    print("generating %s ..." % os.path.relpath(path, ROOT), file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stderr=subprocess.PIPE)
    if p.returncode != 0:
        sys.exit("scan_bench: %s failed (exit %d): %s" % (
            " ".join(cmd), p.returncode, p.stderr.decode(errors="replace")[-500:]))
    os.replace(tmp, path)  # only a complete file is ever cached
    print("  %.2f s" % (time.perf_counter() - t0), file=sys.stderr)
    return path


def warm(path):
    """Read the file once so every tool sees it in the page cache."""
    with open(path, "rb") as f:
        while f.read(1 << 22):
            pass


class Run:
    __slots__ = ("seconds", "maxrss", "code", "err")


def find_gnu_time():
    """GNU time's path, or None.

    Linux keeps the peak RSS a process had before exec() in ru_maxrss, and
    a child forked from Python starts out as a copy of Python (15-25 MiB),
    so os.wait4 alone reports at least that much even for `wc -l`.  GNU
    time is small: the tool forked from it gets an honest ru_maxrss, which
    time reads with wait4 and writes out for us.
    """
    for path in ("/usr/bin/time", shutil.which("time") or ""):
        if path and os.access(path, os.X_OK):
            p = subprocess.run([path, "--version"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            if b"GNU" in p.stdout:
                return path
    return None


GNU_TIME = find_gnu_time()


def measure(argv, env=None):
    """Runs argv with stdout to /dev/null; wall time, peak RSS, exit."""
    r = Run()
    with tempfile.TemporaryFile() as errf, \
            tempfile.NamedTemporaryFile(prefix="scan_bench-", suffix=".rss") as rssf:
        cmd = argv
        if GNU_TIME:
            cmd = [GNU_TIME, "-f", "%M", "-o", rssf.name, "--"] + list(argv)
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=errf, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        r.seconds = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)  # already reaped
        r.code = p.returncode
        r.maxrss = ru.ru_maxrss * 1024  # KiB on Linux
        if GNU_TIME:
            rssf.seek(0)
            last = rssf.read().decode("ascii", "replace").split()
            if last and last[-1].isdigit():
                r.maxrss = int(last[-1]) * 1024
        errf.seek(0)
        r.err = errf.read()[-2000:].decode("utf-8", "replace")
    return r


class Tool:
    """One row of the table: a command over one input file."""

    def __init__(self, name, path, lines, argv, env=None, check=None):
        self.name, self.path, self.lines = name, path, lines
        self.argv, self.env, self.check = argv, env, check
        self.runs = []
        self.failed = None  # why it was not timed

    def run_once(self):
        if self.failed:
            return
        r = measure(self.argv, self.env)
        if r.code != 0:
            last = r.err.strip().splitlines()
            self.failed = "exit %d: %s" % (r.code, last[-1] if last else "no message")
            return
        if self.check is not None:
            why = self.check()
            if why:
                self.failed = why
                return
        self.runs.append(r)

    def median(self):
        return statistics.median(r.seconds for r in self.runs) if self.runs else None

    def peak(self):
        return max(r.maxrss for r in self.runs) if self.runs else None


def goaccess_tool(path, lines):
    exe = shutil.which("goaccess")
    fd, report = tempfile.mkstemp(prefix="scan_bench-", suffix=".json")
    os.close(fd)
    argv = [exe or "goaccess", path, "--log-format=" + GOACCESS_FORMAT,
            "--date-format=%d/%b/%Y", "--time-format=%T", "-o", report]
    env = dict(os.environ, TZ="UTC")

    def check():
        # Exit 0 is not enough: a wrong log-format makes GoAccess count
        # every line as failed and still succeed.
        try:
            with open(report) as f:
                g = json.load(f)["general"]
        except (OSError, ValueError, KeyError) as e:
            return "no usable JSON report (%s)" % e
        if g.get("total_requests") != lines:
            return "parsed %s of %d lines" % (g.get("total_requests"), lines)
        tool.goaccess_general = g
        return None

    tool = Tool("goaccess", path, lines, argv, env, check)
    tool.report = report
    tool.goaccess_general = None
    if exe is None:
        tool.failed = "not installed"
    return tool


def fmt_rate(v):
    if v >= 1e6:
        return "%.2fM" % (v / 1e6)
    if v >= 1e3:
        return "%.1fk" % (v / 1e3)
    return "%.0f" % v


def fmt_mib(b):
    return "%.1f MiB" % (b / (1 << 20))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=None,
                    help="lines per input file (default 1000000)")
    ap.add_argument("--runs", type=int, default=None,
                    help="timed runs per tool (default 5)")
    ap.add_argument("--quick", action="store_true",
                    help="100000 lines, 3 runs: a smoke test")
    ap.add_argument("--regen", action="store_true",
                    help="make the inputs again even if cached")
    ap.add_argument("--json", metavar="FILE",
                    help="also write the results as JSON")
    a = ap.parse_args()
    lines = a.lines or (100000 if a.quick else 1000000)
    runs = a.runs or (3 if a.quick else 5)
    if lines < 1 or runs < 1:
        ap.error("--lines and --runs must be positive")
    ad = binary()
    if not os.access(ad, os.X_OK):
        sys.exit("scan_bench: no binary at %s (build it, or set AD_BIN)" % ad)

    nginx = generate("nginx", lines, a.regen)
    traefik = generate("traefik", lines, a.regen)
    n_nginx, n_traefik = count_lines(nginx), count_lines(traefik)
    empty = os.path.join(OUT, "empty.log")
    open(empty, "wb").close()

    # "scan" alone is what this benchmark is about: parse, client address,
    # store (--analyst none).  "scan+analysis" adds the built-in analyst's
    # queries over the whole window, for the full picture.
    scan = [ad, "scan", "--json", "--analyst", "none"]
    full = [ad, "scan", "--json"]
    tools = [
        Tool("wc -l", nginx, n_nginx, ["wc", "-l", nginx]),
        Tool("scan nginx", nginx, n_nginx, scan + [nginx]),
        Tool("scan traefik", traefik, n_traefik, scan + [traefik]),
        goaccess_tool(nginx, n_nginx),
        Tool("scan+analysis nginx", nginx, n_nginx, full + [nginx]),
    ]
    # The fixed cost of the process (binary, allocator, empty store): taken
    # off the peak before dividing by rows.
    base = Tool("scan empty", empty, 0, scan + [empty])

    for path in (nginx, traefik):
        warm(path)
    for i in range(runs):
        print("run %d/%d" % (i + 1, runs), file=sys.stderr, flush=True)
        for t in tools + [base]:
            t.run_once()

    wc, ga = tools[0], tools[3]
    base_rss = base.peak()
    print()
    print("inputs: %s (%d lines, %s), %s (%d lines, %s); %d runs each, warm cache"
          % (os.path.relpath(nginx, ROOT), n_nginx, fmt_mib(os.path.getsize(nginx)),
             os.path.relpath(traefik, ROOT), n_traefik, fmt_mib(os.path.getsize(traefik)),
             runs))
    if not GNU_TIME:
        print("(no GNU time: peak RSS is os.wait4's, which counts this Python"
              " process's size as a floor)")
    hdr = ("tool", "lines/s", "MB/s", "median s", "peak RSS", "x goaccess", "x wc")
    rows = []
    results = []
    for t in tools:
        med = t.median()
        if med is None:
            rows.append((t.name, "-", "-", "-", "-", "-", "-"))
            results.append({"tool": t.name, "error": t.failed})
            continue
        size = os.path.getsize(t.path)
        vs_ga = ("%.2f" % (med / ga.median())) if ga.median() else "-"
        vs_wc = ("%.1f" % (med / wc.median())) if wc.median() else "-"
        rows.append((t.name, fmt_rate(t.lines / med), "%.0f" % (size / med / 1e6),
                     "%.3f" % med, fmt_mib(t.peak()), vs_ga, vs_wc))
        results.append({"tool": t.name, "file": t.path, "lines": t.lines,
                        "bytes": size, "median_seconds": med,
                        "seconds": [r.seconds for r in t.runs],
                        "peak_rss_bytes": t.peak()})
    widths = [max(len(str(r[i])) for r in rows + [hdr]) for i in range(len(hdr))]
    line = "  ".join("%-*s" if i == 0 else "%*s" for i in range(len(hdr)))
    print(line % tuple(x for p in zip(widths, hdr) for x in p))
    for r in rows:
        print(line % tuple(x for p in zip(widths, r) for x in p))
    print("(x goaccess, x wc: median time as a multiple of theirs; lower is faster;"
          " MB = 10^6 bytes)")
    for t in tools:
        if t.failed:
            print("%s: not timed: %s" % (t.name, t.failed))
    if ga.goaccess_general:
        g = ga.goaccess_general
        print("goaccess: total_requests %s, valid %s, failed %s"
              % (g.get("total_requests"), g.get("valid_requests"), g.get("failed_requests")))
    if base_rss is not None:
        print("scan of an empty file: peak RSS %s" % fmt_mib(base_rss))
        for t in tools[1:3] + tools[4:]:
            if t.peak() is not None and t.lines:
                per = (t.peak() - base_rss) / t.lines
                print("%s: %.0f bytes of peak memory per stored row" % (t.name, per))
                for res in results:
                    if res["tool"] == t.name:
                        res["bytes_per_row"] = per
    elif base.failed:
        print("scan empty: not timed: %s" % base.failed)
    try:
        os.unlink(ga.report)
    except OSError:
        pass
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"lines": lines, "runs": runs, "empty_scan_rss": base_rss,
                       "results": results}, f, indent=1)
    failed = [t for t in tools if t.failed and t.name != "goaccess"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
