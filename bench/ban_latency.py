#!/usr/bin/env python3
"""Ban latency: seconds from an attack written to a log until a CrowdSec
bouncer sees the ban.

A throwaway real LAPI (tests/lapi/harness.py) and `anomaly-detect watch
--follow --apply` on a log file with some ordinary traffic.  Each run
appends a burst of sensitive-file probes from a new attacker address
(with the current time, as a live nginx would), then polls
GET /v1/decisions?ip= with the bouncer key every 50 ms (bounded) until the
decision is there.  Prints every run, the median and the worst.

    bench/ban_latency.py                  # 5 runs
    bench/ban_latency.py --runs 10 --json /tmp/ban_latency.json
    AD_BIN=build/release/anomaly-detect bench/ban_latency.py

Needs crowdsec installed (or installable by the harness); Python 3
standard library only.
"""
import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "lapi"))
import harness  # noqa: E402

BIN = os.environ.get("AD_BIN") or os.path.join(ROOT, "build", "release", "anomaly-detect")
POLL = 0.05
LIMIT = 15.0
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
          "Oct", "Nov", "Dec"]
PROBES = ["/.env", "/.git/config", "/wp-config.php.bak", "/.aws/credentials",
          "/backup.sql", "/phpinfo.php", "/.htpasswd", "/config.json",
          "/admin/.env", "/db.sql", "/shell.php", "/.ssh/id_rsa"]


def clf(t):
    g = time.gmtime(t)
    return "%02d/%s/%04d:%02d:%02d:%02d +0000" % (
        g.tm_mday, MONTHS[g.tm_mon - 1], g.tm_year, g.tm_hour, g.tm_min, g.tm_sec)


def line(ip, t, path, status, ua):
    return '%s - - [%s] "GET %s HTTP/1.1" %d 512 "-" "%s"\n' % (ip, clf(t), path, status, ua)


def normal_traffic(rnd, n, now):
    out = []
    for _ in range(n):
        ip = "93.184.%d.%d" % (rnd.randint(0, 255), rnd.randint(1, 254))
        out.append(line(ip, now - rnd.randint(0, 120), rnd.choice(["/", "/index.html", "/about",
                                                                   "/static/app.js"]),
                        200, "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"))
    return "".join(sorted(out, key=lambda l: l.split("[", 1)[1]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()

    d = tempfile.mkdtemp(prefix="ban-latency-")
    log = os.path.join(d, "access.log")
    rnd = random.Random(1)
    with open(log, "w") as f:
        f.write(normal_traffic(rnd, 300, int(time.time())))
    try:
        lapi = harness.LapiServer()
        lapi.setup()
    except harness.Skip as e:
        print("skipped: %s" % e)
        return 0
    w = None
    results = []
    try:
        w = subprocess.Popen([BIN, "watch", "--follow", "--apply", "--json", "--window", "5m",
                              "--lapi-url", lapi.url, "--lapi-machine", lapi.machine_id,
                              "--lapi-password-file", lapi.password_file,
                              "--state-file", os.path.join(d, "state.json"),
                              "--audit-file", os.path.join(d, "audit.jsonl"), log],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(2.0)  # the first cycle over what is there
        for i in range(args.runs):
            ip = "203.0.113.%d" % (100 + i)
            now = time.time()
            burst = "".join(line(ip, int(now), p, 404, "curl/8.5.0") for p in PROBES)
            with open(log, "a") as f:
                f.write(normal_traffic(rnd, 20, int(now)))
                f.write(burst)
            t0 = time.monotonic()
            seen = None
            while time.monotonic() - t0 < LIMIT:
                if lapi.decisions(ip):
                    seen = time.monotonic() - t0
                    break
                time.sleep(POLL)
            results.append({"ip": ip, "seconds": seen})
            print("run %d  %-15s  %s" % (i + 1, ip, "%.3f s" % seen if seen is not None
                                         else "not banned within %.0f s" % LIMIT), flush=True)
            time.sleep(rnd.uniform(0.2, 1.5))  # attacks do not come in step with cycles
    finally:
        if w is not None:
            w.send_signal(signal.SIGTERM)
            try:
                w.wait(timeout=20)
            except subprocess.TimeoutExpired:
                w.kill()
        lapi.close()
    ok = [r["seconds"] for r in results if r["seconds"] is not None]
    missed = len(results) - len(ok)
    if ok:
        print("median %.3f s, worst %.3f s over %d runs%s (target < 2 s)"
              % (statistics.median(ok), max(ok), len(results),
                 ", %d not banned" % missed if missed else ""))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": results, "median": statistics.median(ok) if ok else None,
                       "worst": max(ok) if ok else None, "missed": missed}, f, indent=1)
    return 0 if ok and not missed and max(ok) < 2.0 else 1


if __name__ == "__main__":
    sys.exit(main())
