#!/usr/bin/env python3
"""Detection quality: anomaly-detect against CrowdSec's own HTTP scenarios.

    bench/crowdsec_compare.py                  shared scenarios + 3 generated
    bench/crowdsec_compare.py --only scanners,flood --no-generated
    bench/crowdsec_compare.py --seeds 7,8 --rows 20000 --json /tmp/cmp.json

Each labeled scenario (../shared/scenarios/*/access.log, and folders made
by `anomaly-detect generate --format nginx --seed N`, cached in
bench/out/crowdsec/) is replayed through CrowdSec's detection engine:

    crowdsec -c D/config.yaml -dsn file:///.../access.log -type nginx -no-api

against a throwaway LAPI (tests/lapi/harness.py), with the parsers and
scenarios a Debian nginx host gets (collections crowdsecurity/nginx and
crowdsecurity/linux, the crowdsecurity/whitelists parser) plus every
crowdsecurity/http-* scenario of Debian's offline hub.  In file replay
CrowdSec's leaky buckets run on the log's own timestamps (dateparse-enrich),
so the 2026-11-20 windows replay as they happened; the decisions it makes
are then already expired, so bans are read from the alerts (GET /v1/alerts
as the watcher), not from the bouncer view.

The bans are scored against labels.json as the scenarios README says:
recall = attackers banned / attackers (an attacker inside a banned range
that lies in one of `prefixes` counts); false bans = innocents banned,
one by one, including those inside a banned range (the worst outcome);
unlabeled = bans of addresses in neither list.  Seconds are wall time of
the replay (CrowdSec, including ~2 s loading its scenarios) and of
`anomaly-detect eval --json DIR`.

The anomaly-detect columns come from `anomaly-detect eval --json DIR`
(its built-in analyst scoring its own bans by the same rules; it exits 1
when an innocent would be banned, which is a result here, not an error);
when that command is missing or fails, they print "-" with the reason
below the table.  The binary is $AD_BIN, else ./anomaly-detect, else
build/release/anomaly-detect.  Python 3 standard library only.
"""
import argparse
import glob
import ipaddress
import json
import os
import re
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "bench", "out", "crowdsec")
sys.path.insert(0, os.path.join(ROOT, "tests", "lapi"))
import harness  # noqa: E402

OFFLINE_HUB = "/usr/share/crowdsec/hub"
OFFLINE_DATA = "/usr/share/crowdsec/data"
PATTERNS = "/etc/crowdsec/patterns"
COLLECTIONS = ["crowdsecurity/nginx", "crowdsecurity/linux"]
PARSERS = ["crowdsecurity/whitelists"]
SCENARIO_PREFIX = "crowdsecurity/http-"
# 1.4.6 packaging fault: http-path-traversal-probing wants this name,
# the package ships path_traversal.txt
DATA_ALIASES = {"http_path_traversal.txt": "path_traversal.txt"}

DEFAULT_SEEDS = "101,102,103"
DEFAULT_ROWS = 20000


def ad_binary():
    for b in (os.environ.get("AD_BIN"), os.path.join(ROOT, "anomaly-detect"),
              os.path.join(ROOT, "build", "release", "anomaly-detect")):
        if b and os.access(b, os.X_OK):
            return b
    return None


def shared_dir():
    d = os.environ.get("AD_SHARED_DIR") or os.path.join(os.path.dirname(ROOT), "shared")
    return d if os.path.isdir(os.path.join(d, "scenarios")) else None


# ---------------------------------------------------------------- scoring

def _addr(s):
    try:
        return ipaddress.ip_address(s.strip())
    except ValueError:
        return None


def _net(s):
    try:
        return ipaddress.ip_network(s.strip(), strict=False)
    except ValueError:
        return None


def score(labels, bans):
    """bans: iterable of (scope, value).  Returns a dict with attackers,
    banned attackers, recall, false bans (innocents hit), unlabeled bans."""
    attackers = {}
    for k in labels.get("attackers", {}):
        a = _addr(k)
        if a is not None:
            attackers[a] = k
    innocents = {}
    for k in labels.get("innocents", {}):
        a = _addr(k)
        if a is not None:
            innocents[a] = k
    prefixes = [n for n in (_net(p) for p in labels.get("prefixes", {}) or {}) if n]

    hit_att, hit_inn, unlabeled = set(), set(), set()
    for scope, value in bans:
        scope = (scope or "Ip").lower()
        if scope == "ip":
            a = _addr(value)
            if a is None:
                unlabeled.add(value)
            elif a in innocents:
                hit_inn.add(a)
            elif a in attackers:
                hit_att.add(a)
            else:
                unlabeled.add(str(a))
        elif scope == "range":
            n = _net(value)
            if n is None:
                unlabeled.add(value)
                continue
            inn = {a for a in innocents if a.version == n.version and a in n}
            hit_inn |= inn
            allowed = any(n.version == p.version and n.subnet_of(p) for p in prefixes)
            att = {a for a in attackers if a.version == n.version and a in n}
            if allowed:
                hit_att |= att
            elif not inn:
                unlabeled.add(str(n))
        else:
            unlabeled.add("%s:%s" % (scope, value))
    n = len(attackers)
    return {
        "attackers": n,
        "banned_attackers": len(hit_att),
        "recall": (len(hit_att) / n) if n else None,
        "false_bans": len(hit_inn),
        "false_banned": sorted(innocents[a] for a in hit_inn),
        "unlabeled_bans": len(unlabeled),
        "missed": sorted(attackers[a] for a in attackers if a not in hit_att),
    }


# ---------------------------------------------------------------- inputs

def scenario_dirs(args):
    out = []
    sd = shared_dir()
    if sd and not args.no_shared:
        for d in sorted(glob.glob(os.path.join(sd, "scenarios", "*"))):
            if (os.path.isfile(os.path.join(d, "labels.json"))
                    and os.path.isfile(os.path.join(d, "access.log"))):
                out.append((os.path.basename(d), d))
    elif not args.no_shared:
        print("note: ../shared/scenarios not found; only generated scenarios",
              file=sys.stderr)
    if not args.no_generated:
        b = ad_binary()
        for seed in [s for s in args.seeds.split(",") if s.strip()]:
            name = "gen-seed%s-%d" % (seed.strip(), args.rows)
            d = os.path.join(OUT, name)
            log, lab = os.path.join(d, "access.log"), os.path.join(d, "labels.json")
            if not (os.path.isfile(log) and os.path.isfile(lab)) or args.regen:
                if b is None:
                    print("note: no anomaly-detect binary: %s skipped" % name, file=sys.stderr)
                    continue
                os.makedirs(d, exist_ok=True)
                print("generating %s ..." % os.path.relpath(d, ROOT), file=sys.stderr, flush=True)
                p = subprocess.run([b, "generate", "--format", "nginx", "--seed", seed.strip(),
                                    "--rows", str(args.rows), "--scenario", name,
                                    "--output", log + ".tmp", "--labels", lab],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
                if p.returncode != 0:
                    print("note: generate failed for %s: %s" % (name, p.stderr.decode()[-300:]),
                          file=sys.stderr)
                    continue
                os.replace(log + ".tmp", log)
            out.append((name, d))
    if args.only:
        keep = set(args.only.split(","))
        out = [x for x in out if x[0] in keep]
    return out


# ---------------------------------------------------------------- CrowdSec

def enable_hub_items(d):
    """Enable hub items as Debian's postinst does: symlinks from the config
    dir into the offline hub (vendor stripped).  cscli 1.4.6 cannot do
    this offline: `cscli collections install` always downloads."""
    idx = json.load(open(os.path.join(OFFLINE_HUB, ".index.json")))
    done = set()

    def enable(kind, name):
        if (kind, name) in done:
            return
        it = idx.get(kind, {}).get(name)
        if it is None:
            print("note: %s %s not in the offline hub" % (kind, name), file=sys.stderr)
            return
        done.add((kind, name))
        parts = it["path"].split("/")          # kind/[stage/]vendor/file.yaml
        if kind in ("parsers", "postoverflows"):
            dst = os.path.join(d, kind, parts[1], parts[-1])
        else:
            dst = os.path.join(d, kind, parts[-1])
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if not os.path.lexists(dst):
            os.symlink(os.path.join(OFFLINE_HUB, it["path"]), dst)
        for sub in ("parsers", "scenarios", "collections", "postoverflows"):
            for n in it.get(sub) or []:
                enable(sub, n)

    for c in COLLECTIONS:
        enable("collections", c)
    for p in PARSERS:
        enable("parsers", p)
    for s in sorted(idx.get("scenarios", {})):
        if s.startswith(SCENARIO_PREFIX):
            enable("scenarios", s)
    return sorted(n for k, n in done if k == "scenarios")


def link_data(d):
    """The data files scenarios read (user-agent lists, sensitive paths...)
    and the packaging fault's missing name.  Returns the data files some
    enabled item wants and nobody ships."""
    dd = os.path.join(d, "data")
    for f in os.listdir(OFFLINE_DATA):
        dst = os.path.join(dd, f)
        if not os.path.lexists(dst):
            os.symlink(os.path.join(OFFLINE_DATA, f), dst)
    for want, have in DATA_ALIASES.items():
        if not os.path.exists(os.path.join(dd, want)) and os.path.exists(os.path.join(dd, have)):
            os.symlink(have, os.path.join(dd, want))
    missing = set()
    for kind in ("parsers", "scenarios", "postoverflows"):
        for path in glob.glob(os.path.join(d, kind, "**", "*.yaml"), recursive=True):
            try:
                text = open(path, encoding="utf-8", errors="replace").read()
            except OSError:
                continue
            for m in re.finditer(r"dest_file:\s*['\"]?([^\s'\"]+)", text):
                if not os.path.exists(os.path.join(dd, m.group(1))):
                    missing.add(m.group(1))
    return sorted(missing)


def new_crowdsec():
    """A LAPI with the detection config in its dir, ready for replays."""
    lapi = harness.LapiServer(hub_dir=OFFLINE_HUB,
                              config_extra="crowdsec_service: {parser_routines: 1}\n")
    lapi.setup()
    try:
        os.symlink(PATTERNS, os.path.join(lapi.dir, "patterns"))
        lapi.scenarios = enable_hub_items(lapi.dir)
        lapi.missing_data = link_data(lapi.dir)
    except BaseException:
        lapi.close()
        raise
    return lapi


def run_limited(cmd, timeout, out_path, cwd=None):
    """Run cmd in its own process group, output to out_path; kill the
    group on timeout.  Returns (exit code or None on timeout, seconds)."""
    t0 = time.monotonic()
    with open(out_path, "wb") as out:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True,
                             preexec_fn=harness.die_with_parent)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            rc = None
    return rc, time.monotonic() - t0


def crowdsec_replay(name, d, labels, timeout):
    res = {"ok": False}
    try:
        lapi = new_crowdsec()
    except harness.Skip as e:
        res["why"] = "crowdsec unavailable: %s" % e
        return res
    except harness.LapiError as e:
        res["why"] = "LAPI did not start: %s" % e
        return res
    try:
        res["missing_data"] = lapi.missing_data
        res["scenarios_enabled"] = len(lapi.scenarios)
        log = os.path.abspath(os.path.join(d, "access.log"))
        out = os.path.join(lapi.dir, "log", "replay.txt")
        rc, secs = run_limited(["crowdsec", "-c", lapi.config_path, "-dsn", "file://" + log,
                                "-type", "nginx", "-no-api"], timeout, out, cwd=lapi.dir)
        res["seconds"] = secs
        text = open(out, encoding="utf-8", errors="replace").read()
        if rc is None:
            res["why"] = "replay timed out after %ds" % timeout
            return res
        if rc != 0:
            tail = [l for l in text.splitlines() if "level=fatal" in l or "level=error" in l]
            res["why"] = "crowdsec exited %d: %s" % (rc, " | ".join(tail[-3:])[-400:])
            return res
        res["overflows_logged"] = len(re.findall(r'msg="Ip \S+ performed', text))
        alerts = lapi.alerts(limit=0)   # 1.4.6: limit=0 is no limit
        res["alerts"] = len(alerts)
        bans, fired = set(), {}
        for a in alerts:
            for dec in a.get("decisions") or []:
                if dec.get("type") == "ban":
                    bans.add((dec.get("scope"), dec.get("value")))
                    fired[a.get("scenario")] = fired.get(a.get("scenario"), 0) + 1
        res["bans"] = sorted("%s:%s" % b for b in bans)
        res["fired"] = fired
        res.update(score(labels, bans))
        res["ok"] = True
    finally:
        lapi.close()
    return res


# ---------------------------------------------------------------- anomaly-detect

def ad_eval(d, labels, timeout):
    """anomaly-detect eval --json DIR: its own scores of its bans.  It
    exits 1 when an innocent would be banned, with the JSON still
    printed: that is a result, not a failure."""
    b = ad_binary()
    if b is None:
        return {"ok": False, "why": "no anomaly-detect binary (make, or set AD_BIN)"}
    t0 = time.monotonic()
    try:
        p = subprocess.run([b, "eval", "--json", d], stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"ok": False, "why": "eval timed out after %ds" % timeout}
    secs = time.monotonic() - t0
    err = p.stderr.decode("utf-8", "replace").strip()
    if "unknown command" in err:
        return {"ok": False, "why": "`anomaly-detect eval` not in this build yet"}
    try:
        doc = json.loads(p.stdout.decode("utf-8"))
    except ValueError:
        return {"ok": False, "why": "eval exited %d without JSON: %s" % (p.returncode, err[-300:])}
    if p.returncode not in (0, 1):
        return {"ok": False, "why": "eval exited %d: %s" % (p.returncode, err[-300:])}
    sc = doc.get("scenarios") if isinstance(doc, dict) else None
    if not isinstance(sc, list) or len(sc) != 1 or not isinstance(sc[0], dict):
        return {"ok": False, "why": "eval JSON has no single scenarios[] entry"}
    s = sc[0]
    if s.get("error"):
        return {"ok": False, "why": "eval: %s" % s["error"]}
    need = ("attackers", "banned", "false_bans", "unlabeled_bans")
    if any(k not in s for k in need):
        return {"ok": False, "why": "eval JSON lacks %s" % [k for k in need if k not in s]}

    def count(v):
        return len(v) if isinstance(v, list) else v
    return {
        "ok": True,
        # wall time of the whole command, like CrowdSec's column
        "seconds": secs,
        "eval_seconds": s.get("seconds"),
        "attackers": s["attackers"],
        "banned_attackers": s["banned"],
        "recall": s.get("recall"),
        "false_bans": count(s["false_bans"]),
        "false_banned": s["false_bans"] if isinstance(s["false_bans"], list) else [],
        "unlabeled_bans": count(s["unlabeled_bans"]),
        "bans": s.get("bans"),
        "exit": p.returncode,
    }


# ---------------------------------------------------------------- report

def fmt_recall(r):
    if not r.get("ok"):
        return "-"
    if r.get("banned_attackers") is not None and r.get("attackers") is not None:
        n, k = r["attackers"], r["banned_attackers"]
        return "%d/%d" % (k, n) if n else "n/a"
    v = r.get("recall")
    return "-" if v is None else "%.0f%%" % (100 * v)


def fmt(r, key, f="%d"):
    if not r.get("ok") or r.get(key) is None:
        return "-"
    return f % r[key]


def table(rows, markdown):
    head = ["scenario", "attackers", "CrowdSec recall", "CrowdSec false bans", "CrowdSec s",
            "anomaly-detect recall", "false bans", "s"]
    body = []
    for name, labels, cs, ad in rows:
        body.append([name, str(len(labels.get("attackers", {}))),
                     fmt_recall(cs), fmt(cs, "false_bans"), fmt(cs, "seconds", "%.1f"),
                     fmt_recall(ad), fmt(ad, "false_bans"), fmt(ad, "seconds", "%.2f")])
    lines = []
    if markdown:
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
        for r in body:
            lines.append("| " + " | ".join(r) + " |")
    else:
        w = [max(len(head[i]), *(len(r[i]) for r in body)) for i in range(len(head))]
        lines.append("  ".join(h.ljust(w[i]) if i == 0 else h.rjust(w[i]) for i, h in enumerate(head)))
        for r in body:
            lines.append("  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r)))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", help="comma-separated scenario names")
    ap.add_argument("--seeds", default=DEFAULT_SEEDS, help="generated scenarios' seeds (%(default)s)")
    ap.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="rows per generated scenario (%(default)s)")
    ap.add_argument("--no-generated", action="store_true")
    ap.add_argument("--no-shared", action="store_true")
    ap.add_argument("--regen", action="store_true", help="generate the scenarios again")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per CrowdSec replay (%(default)s)")
    ap.add_argument("--eval-timeout", type=int, default=300)
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    ap.add_argument("--json", metavar="FILE", help="write every result there")
    args = ap.parse_args()

    ok, why = harness.ensure_crowdsec()
    version = harness.crowdsec_version() if ok else None
    if not ok:
        print("CrowdSec unavailable: %s" % why, file=sys.stderr)
    dirs = scenario_dirs(args)
    if not dirs:
        print("no scenarios to run", file=sys.stderr)
        return 2
    print("CrowdSec %s; anomaly-detect %s" % (version or "-", ad_binary() or "-"), file=sys.stderr)

    rows, reasons, results = [], {}, []
    for name, d in dirs:
        labels = json.load(open(os.path.join(d, "labels.json")))
        print("%s: %d rows ..." % (name, labels.get("rows", 0)), file=sys.stderr, flush=True)
        cs = crowdsec_replay(name, d, labels, args.timeout) if ok else {"ok": False, "why": why}
        ad = ad_eval(d, labels, args.eval_timeout)
        for who, r in (("CrowdSec", cs), ("anomaly-detect", ad)):
            if not r.get("ok"):
                reasons.setdefault("%s: %s" % (who, r.get("why")), []).append(name)
        rows.append((name, labels, cs, ad))
        results.append({"scenario": name, "dir": d, "rows": labels.get("rows"),
                        "crowdsec": cs, "anomaly_detect": ad})

    print(table(rows, args.markdown))
    print()
    for name, labels, cs, _ in rows:
        if not cs.get("ok"):
            continue
        lps = labels.get("rows", 0) / cs["seconds"] if cs.get("seconds") else 0
        fired = ", ".join("%s %d" % (k.split("/")[-1], v) for k, v in
                          sorted(cs["fired"].items(), key=lambda kv: -kv[1]))
        print("%s: CrowdSec %d alerts, %d bans (%d unlabeled), %.0f lines/s; fired: %s"
              % (name, cs["alerts"], len(cs["bans"]), cs["unlabeled_bans"], lps, fired or "none"))
        if cs["false_banned"]:
            inn = labels.get("innocents", {})
            print("    false bans: " + "; ".join("%s (%s)" % (a, inn.get(a, "?"))
                                               for a in cs["false_banned"]))
        if cs["alerts"] != cs["overflows_logged"]:
            print("    warning: %d alerts in LAPI but %d overflows logged by the replay"
                  % (cs["alerts"], cs["overflows_logged"]))
        if cs.get("missing_data"):
            print("    data files missing: " + ", ".join(cs["missing_data"]))
    for name, labels, _, ad in rows:
        if ad.get("ok") and (ad["false_banned"] or ad["unlabeled_bans"]):
            print("%s: anomaly-detect %s bans, %d unlabeled%s"
                  % (name, ad.get("bans", "?"), ad["unlabeled_bans"],
                     ("; false bans: " + "; ".join(ad["false_banned"])) if ad["false_banned"] else ""))
    for why_, names in reasons.items():
        print("- %s [%s]" % (why_, ", ".join(names)))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"crowdsec_version": version, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
