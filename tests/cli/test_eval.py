#!/usr/bin/env python3
"""anomaly-detect eval: the built-in analyst scored on labeled scenarios.

The targets: every attacker banned, no innocent banned, nothing banned
where nothing happens.  Checked on every shared scenario (when ../shared
is there, in its three formats), on scenarios made by `generate` with
other seeds, sizes, mixes and formats (always: the core tests without
../shared), and on a hand-made scenario of the cohorts the generator does
not make (distributed brute force, a /24 probing together, a /64
flooding).  Then the command itself: its table, its JSON, its exit
status, its errors.
"""
import datetime
import json
import os
import random
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adtest  # noqa: E402
from adtest import case, eq, run, run_json, Skip  # noqa: E402

TMP = adtest.tmpdir()
SHARED = adtest.shared_dir()

BROWSER = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
           "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")


def cohort_scenario(d, seed=1):
    """A scenario of the cohorts `generate` does not make, with the
    innocents most likely to be caught with them.  Returns the labels."""
    rnd = random.Random(seed)
    os.makedirs(d, exist_ok=True)
    t0 = datetime.datetime(2026, 11, 20, 9, 0, 0)
    rows, att, inn = [], {}, {}

    def add(t, ip, method, uri, status, ua, ref="-"):
        rows.append((t, ip, method, uri, status, ua, ref))

    def public(firsts):
        while True:
            ip = "%d.%d.%d.%d" % (rnd.choice(firsts), rnd.randrange(256),
                                  rnd.randrange(256), rnd.randrange(1, 255))
            if ip not in att and ip not in inn:
                return ip

    # Visitors: pages, their assets, referers, a login now and then
    # (sometimes mistyped once).
    for _ in range(60):
        ip = public([81, 82, 90, 91, 176, 188])
        inn[ip] = "ordinary visitor"
        t = rnd.uniform(0, 800)
        for _ in range(rnd.randrange(3, 8)):
            page = rnd.choice(["/", "/products/", "/about", "/login", "/docs/",
                               "/search?q=router"])
            add(t, ip, "GET", page, 200, BROWSER, "https://www.google.com/")
            for _ in range(rnd.randrange(2, 6)):
                t += 0.1
                add(t, ip, "GET", rnd.choice(["/static/app.js", "/static/style.css",
                                              "/img/a.webp", "/favicon.ico"]),
                    200, BROWSER, "https://shop.example.com" + page)
            if page == "/login":
                t += 3
                add(t, ip, "POST", "/login", rnd.choice([302, 302, 401]), BROWSER,
                    "https://shop.example.com/login")
            t += rnd.uniform(5, 40)
    # Distributed brute force: 30 addresses, two or three failing POSTs
    # each, nothing else.
    for _ in range(30):
        ip = public([45, 46, 77, 78])
        att[ip] = "distributed brute force"
        t = rnd.uniform(200, 500)
        for _ in range(rnd.randrange(2, 4)):
            add(t, ip, "POST", "/wp-login.php", rnd.choice([401, 401, 401, 429]),
                rnd.choice([BROWSER, "python-requests/2.31.0"]))
            t += rnd.uniform(10, 60)
    # Five addresses of one /24, one sensitive path and one miss each:
    # each under every per-address limit.
    paths = ["/.env", "/.git/config", "/wp-config.php.bak", "/phpinfo.php",
             "/backup.sql"]
    for i in range(5):
        ip = "203.0.113.%d" % (10 + i)
        att[ip] = "part of a /24 probing together"
        t = rnd.uniform(100, 700)
        add(t, ip, "GET", paths[i], 404, "curl/8.5.0")
        add(t + 1, ip, "GET", "/nothing-%d" % i, 404, "curl/8.5.0")
    # ... and an innocent neighbour in the same /24.
    inn["203.0.113.77"] = "ordinary visitor in the probers' /24"
    t = 300
    for p in ["/", "/about", "/products/"]:
        add(t, "203.0.113.77", "GET", p, 200, BROWSER, "https://www.google.com/")
        add(t + 0.1, "203.0.113.77", "GET", "/static/app.js", 200, BROWSER,
            "https://shop.example.com/")
        t += 20
    # A /64 flooding one URL, eight requests per address, the server
    # failing; an innocent in the next /64.
    for _ in range(40):
        ip = "2001:db8:77:1:%x:%x:%x:%x" % tuple(rnd.randrange(1, 65536) for _ in range(4))
        att[ip] = "IPv6 /64 flood"
        for _ in range(8):
            add(rnd.uniform(600, 660), ip, "GET", "/api/v1/products",
                rnd.choice([200, 200, 503, 499]), BROWSER)
    inn["2001:db8:77:2::5"] = "visitor in the next /64"
    add(610, "2001:db8:77:2::5", "GET", "/", 200, BROWSER, "https://www.google.com/")
    # A heavy, healthy API client: 250 a minute, all answered well.
    for _ in range(2500):
        add(rnd.uniform(0, 600), "185.60.1.20", "GET",
            "/api/v1/products?page=%d" % rnd.randrange(1, 40), 200, "acme-sync/1.0")
    inn["185.60.1.20"] = "heavy but healthy API integration"
    rows.sort(key=lambda r: r[0])
    with open(os.path.join(d, "access.log"), "w") as f:
        for t, ip, m, u, st, ua, ref in rows:
            ts = (t0 + datetime.timedelta(seconds=t)).strftime("%d/%b/%Y:%H:%M:%S +0000")
            f.write('%s - - [%s] "%s %s HTTP/1.1" %d 512 "%s" "%s" "-" 0.010\n'
                    % (ip, ts, m, u, st, ref, ua))
    labels = {"scenario": "cohorts", "attackers": att, "innocents": inn,
              "prefixes": {"2001:db8:77:1::/64": "one attacker's /64"},
              "trusted_proxies": [], "rows": len(rows)}
    with open(os.path.join(d, "labels.json"), "w") as f:
        json.dump(labels, f, indent=1)
    return labels


def innocents_scenario(d, seed=1):
    """Innocents that look the most like attackers: broken links, admins
    refused now and then, a crawler re-checking removed pages, a partner
    polling with fresh timestamps from a dozen servers, monitors with
    cache busting, a partner rate limited with 429s, app users mistyping
    their password, an office NAT.  Nothing here may be banned."""
    rnd = random.Random(seed)
    os.makedirs(d, exist_ok=True)
    t0 = datetime.datetime(2026, 11, 20, 9, 0, 0)
    rows, inn, used = [], {}, set()

    def add(t, ip, m, u, st, ua, ref="-"):
        rows.append((t, ip, m, u, st, ua, ref))

    def public(firsts):
        while True:
            ip = "%d.%d.%d.%d" % (rnd.choice(firsts), rnd.randrange(256),
                                  rnd.randrange(256), rnd.randrange(1, 255))
            if ip not in used:
                used.add(ip)
                return ip

    site = "https://shop.example.com"
    # Visitors of a page with three missing images and a dead link, some
    # searching for text with odd characters.
    for _ in range(80):
        ip = public([81, 82, 90, 91])
        inn[ip] = "visitor meeting broken images"
        t = rnd.uniform(0, 800)
        for _ in range(rnd.randrange(3, 7)):
            page = rnd.choice(["/", "/products/", "/about", "/search?q=c%2B%2B",
                               "/search?q=rock+%26+roll", "/old-link"])
            add(t, ip, "GET", page, 404 if page == "/old-link" else 200, BROWSER,
                "https://www.google.com/")
            for a in ("/img/missing-1.png", "/img/missing-2.png",
                      "/wp-content/uploads/gone.jpg", "/static/app.js"):
                t += 0.1
                add(t, ip, "GET", a, 200 if a.endswith(".js") else 404, BROWSER,
                    site + page)
            t += rnd.uniform(5, 40)
    # Someone who tried /wp-login.php once.
    ip = public([93])
    inn[ip] = "curious visitor"
    add(100, ip, "GET", "/wp-login.php", 404, BROWSER)
    add(101, ip, "GET", "/", 200, BROWSER)
    # Admins of the site's own /admin/, refused before they log in.
    for _ in range(3):
        ip = public([94])
        inn[ip] = "site admin"
        t = rnd.uniform(0, 600)
        add(t, ip, "GET", "/admin/", 403, BROWSER)
        add(t + 1, ip, "GET", "/admin/login", 200, BROWSER)
        add(t + 2, ip, "GET", "/admin/users", 403, BROWSER)
        add(t + 5, ip, "POST", "/admin/login", 302, BROWSER)
        for k in range(20):
            add(t + 6 + k, ip, "GET", "/admin/orders?page=%d" % k, 200, BROWSER,
                site + "/admin/")
            add(t + 6.1 + k, ip, "GET", "/static/admin.js", 200, BROWSER, site + "/admin/")
    # A crawler re-checking pages that were removed: 70% answered 404.
    ip = "157.55.39.%d" % rnd.randrange(1, 255)
    inn[ip] = "crawler re-checking dead pages"
    for k in range(90):
        gone = k < 63
        add(rnd.uniform(0, 880), ip, "GET",
            "/products/old-%d" % k if gone else "/docs/p%d" % k, 404 if gone else 200,
            "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)")
    # A partner polling with a fresh timestamp from twelve servers.
    for i in range(12):
        ip = "185.70.2.%d" % (10 + i)
        inn[ip] = "partner poller (cache-busting timestamps)"
        for k in range(150):
            add(k * 6 + rnd.uniform(0, 1), ip, "GET",
                "/api/v1/orders?since=%d" % (1795165200 + k * 6 + i), 200, "acme-orders/2.0")
    # An uptime monitor from ten addresses, cache busting too.
    for i in range(10):
        ip = "216.144.251.%d" % (10 + i)
        inn[ip] = "uptime monitor"
        for k in range(15):
            add(k * 60 + i, ip, "GET", "/health?t=%d" % (k * 60 + i), 200,
                "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)")
    # A heavy partner at 250 a minute, rate limited now and then.
    ip = "185.60.1.20"
    inn[ip] = "heavy API client, rate limited at times"
    for k in range(2500):
        add(rnd.uniform(0, 600), ip, "GET", "/api/v1/products?page=%d" % rnd.randrange(1, 40),
            429 if rnd.random() < 0.15 else 200, "acme-sync/1.0")
    # App users: a mistyped password now and then, then in.
    for _ in range(25):
        ip = public([110, 111, 112])
        inn[ip] = "mobile app user"
        t = rnd.uniform(0, 800)
        if rnd.random() < 0.5:
            add(t, ip, "POST", "/api/v1/session", 401, "ShopApp/3.1 (iOS)")
            t += 5
        add(t, ip, "POST", "/api/v1/session", 200, "ShopApp/3.1 (iOS)")
        for k in range(5):
            add(t + k, ip, "GET", "/api/v1/cart", 200, "ShopApp/3.1 (iOS)")
    # An office NAT: many people, a quarter of their logins mistyped.
    ip = "91.200.10.5"
    inn[ip] = "office NAT"
    for k in range(1500):
        add(rnd.uniform(0, 880), ip, "GET",
            rnd.choice(["/", "/docs/", "/static/app.js", "/img/a.webp", "/search?q=x"]),
            200, BROWSER, site + "/")
    for k in range(60):
        add(rnd.uniform(0, 880), ip, "POST", "/login", 401 if k % 4 == 0 else 302, BROWSER,
            site + "/login")
    rows.sort(key=lambda r: r[0])
    with open(os.path.join(d, "access.log"), "w") as f:
        for t, ip, m, u, st, ua, ref in rows:
            ts = (t0 + datetime.timedelta(seconds=t)).strftime("%d/%b/%Y:%H:%M:%S +0000")
            f.write('%s - - [%s] "%s %s HTTP/1.1" %d 512 "%s" "%s" "-" 0.010\n'
                    % (ip, ts, m, u, st, ref, ua))
    labels = {"scenario": "innocents", "attackers": {}, "innocents": inn,
              "trusted_proxies": [], "rows": len(rows)}
    with open(os.path.join(d, "labels.json"), "w") as f:
        json.dump(labels, f, indent=1)
    return labels


GEN = {}


def generated(name, rows, seed, fmt="nginx", extra=()):
    """A folder with a generated log and its labels (made once)."""
    d = os.path.join(TMP, name)
    if name in GEN:
        return d
    os.makedirs(d, exist_ok=True)
    ext = {"traefik": "json", "caddy": "json", "apisix": "json",
           "vlogs": "jsonl"}.get(fmt, "log")
    p = run(["generate", "--rows", str(rows), "--seed", str(seed), "--format", fmt,
             "--output", os.path.join(d, "traffic." + ext),
             "--labels", os.path.join(d, "labels.json"), "--scenario", name]
            + list(extra))
    if p.returncode != 0:
        raise AssertionError("generate failed: " + p.err)
    GEN[name] = d
    return d


def evaluate(dirs, *extra):
    p = run_json(["eval", "--json"] + list(extra) + list(dirs))
    return p.json, p


def check_targets(doc, p, quiet=()):
    """Full recall, no false ban, no unlabeled ban; nothing at all on the
    quiet ones; exit 0."""
    for s in doc["scenarios"]:
        n = s["name"]
        eq(s["error"], None, n + " error")
        eq(s["false_bans"], [], n + " false bans")
        eq(s["unlabeled_bans"], [], n + " unlabeled bans")
        eq(s["banned"], s["attackers"], n + " attackers banned")
        if s["attackers"]:
            eq(s["recall"], 1.0, n + " recall")
        else:
            eq(s["recall"], None, n + " recall without attackers")
        if n in quiet:
            eq(s["bans"], 0, n + " bans on a quiet scenario")
        if s["rows"] <= 0:
            raise AssertionError(n + ": no rows")
        if s["queries"] > 80:
            raise AssertionError("%s: %d queries; tens, not more" % (n, s["queries"]))
    eq(p.returncode, 0, "exit status")


# ---- the shared scenarios

def shared_dirs():
    if SHARED is None:
        raise Skip("../shared is absent; the generated scenarios below carry the tests")
    d = os.path.join(SHARED, "scenarios")
    return [os.path.join(d, n) for n in sorted(os.listdir(d))
            if os.path.isfile(os.path.join(d, n, "labels.json"))]


def shared_targets(fmt):
    dirs = shared_dirs()
    doc, p = evaluate(dirs, "--file", fmt)
    check_targets(doc, p, quiet=("quiet",))
    by = {s["name"]: s for s in doc["scenarios"]}
    for name, n in (("botnet", 200), ("ipv6", 40), ("seed_e2e", 31)):
        if name in by:
            eq((by[name]["attackers"], by[name]["banned"]), (n, n), name)
    for s in doc["scenarios"]:
        eq(s["file"], fmt, s["name"] + " file")
        labels = json.load(open(os.path.join(s["dir"], "labels.json")))
        eq(s["rows"], labels["rows"], s["name"] + " rows")


def shared_ipv6_as_a_range():
    dirs = [d for d in shared_dirs() if os.path.basename(d) == "ipv6"]
    if not dirs:
        raise Skip("no ipv6 scenario")
    p = run_json(["scan", "--json", "--trusted-proxy", "10.0.0.2",
                  os.path.join(dirs[0], "access.log")])
    ranges = [b for b in p.json["bans"] if b["scope"] == "Range"]
    eq([b["value"] for b in ranges], ["2001:db8:4a1:7c::/64"], "the /64 banned whole")
    eq(len(p.json["bans"]), 1, "no address of it banned besides")
    # With IPv6 ranges off, the 40 addresses go one by one.
    p = run_json(["scan", "--json", "--trusted-proxy", "10.0.0.2",
                  "--guard-range-ipv6", "0", os.path.join(dirs[0], "access.log")])
    eq(sorted(b["scope"] for b in p.json["bans"]), ["Ip"] * 40, "members one by one")


# ---- generated scenarios: other seeds, sizes, mixes, formats

GENERATED = [
    ("gen-default-nginx", 20000, 101, "nginx", ()),
    ("gen-small", 3000, 102, "nginx", ()),
    ("gen-traefik", 8000, 103, "traefik", ()),
    ("gen-vlogs", 12000, 104, "vlogs", ()),
    ("gen-caddy", 6000, 105, "caddy", ()),
    ("gen-apisix", 6000, 106, "apisix", ()),
    ("gen-combined", 5000, 107, "combined", ()),
    ("gen-behind-proxy", 8000, 108, "nginx", ("--behind-proxy", "10.0.0.2")),
    ("gen-proxy-range", 8000, 109, "traefik", ("--behind-proxy", "10.9.0.0/29")),
    ("gen-hour", 15000, 110, "nginx", ("--duration", "1h")),
    ("gen-five-minutes", 10000, 111, "nginx", ("--duration", "5m")),
    ("gen-cohorts", 12000, 112, "nginx", ("--mix", "normal=200,botnet=80,ipv6=3,nat=1")),
    ("gen-floods", 12000, 113, "nginx",
     ("--mix", "normal=150,api=2,nat=1,flood=4,bruteforce=4")),
    # Credential stuffing: every address below every per-address limit,
    # on the login form real users use, next to users who forgot theirs.
    ("gen-stuffing", 40000, 114, "nginx",
     ("--mix", "normal=600,nat=1,crawler=2,stuffing=120,forgot=15")),
    ("gen-stuffing-busy", 60000, 115, "nginx",
     ("--mix", "normal=2000,nat=3,stuffing=60,forgot=40")),
    ("gen-scanners", 8000, 114, "nginx",
     ("--mix", "normal=250,crawler=4,scanner=15,injection=4,prompt=2,internal=3")),
    ("gen-big-botnet", 12000, 115, "vlogs", ("--mix", "normal=80,botnet=400")),
]
QUIET = [
    ("gen-quiet", 12000, 120, "nginx",
     ("--mix", "normal=400,nat=2,api=3,crawler=6,monitor=4,internal=4")),
    ("gen-quiet-traefik", 6000, 121, "traefik",
     ("--mix", "normal=150,nat=1,api=2,crawler=3,monitor=2,internal=2")),
    # Many who forgot their password, and no attack: nobody is banned.
    ("gen-forgot", 40000, 122, "nginx",
     ("--mix", "normal=800,nat=2,forgot=80")),
]


def generated_targets():
    dirs = [generated(*g) for g in GENERATED]
    doc, p = evaluate(dirs)
    check_targets(doc, p)
    eq(len(doc["scenarios"]), len(GENERATED), "scenarios scored")
    # Each scored with its own log and trusted proxies.
    for s, g in zip(doc["scenarios"], GENERATED):
        eq(s["name"], g[0], "order")
        if s["attackers"] < 1:
            raise AssertionError(g[0] + ": no attackers to find")


def generated_quiet():
    dirs = [generated(*g) for g in QUIET]
    doc, p = evaluate(dirs)
    check_targets(doc, p, quiet=[g[0] for g in QUIET])
    for s in doc["scenarios"]:
        eq(s["attackers"], 0, "attackers in a quiet mix")


def hard_innocents():
    for seed in (1, 2):
        d = os.path.join(TMP, "innocents-%d" % seed)
        innocents_scenario(d, seed=seed)
        doc, p = evaluate([d])
        check_targets(doc, p, quiet=["innocents-%d" % seed])
        eq(doc["scenarios"][0]["attackers"], 0, "attackers")
        q = run_json(["scan", "--json", os.path.join(d, "access.log")])
        eq(q.json["findings"], [], "findings on innocents only")


def cohorts_targets():
    d = os.path.join(TMP, "cohorts")
    labels = cohort_scenario(d, seed=1)
    doc, p = evaluate([d])
    check_targets(doc, p)
    eq(doc["scenarios"][0]["attackers"], len(labels["attackers"]), "attackers")
    for seed in (2, 3):
        d = os.path.join(TMP, "cohorts-%d" % seed)
        cohort_scenario(d, seed=seed)
        doc, p = evaluate([d])
        check_targets(doc, p)


# ---- the command

def table():
    d1 = generated(*GENERATED[1])
    d2 = generated(*QUIET[1])
    p = run(["eval", d1, d2 + "/"])
    eq(p.returncode, 0, "exit status: " + p.err)
    lines = p.out.splitlines()
    head = [l for l in lines if l.startswith("scenario")]
    if not head:
        raise AssertionError("no table header: " + p.out)
    eq(head[0].split(), ["scenario", "attackers", "banned", "recall", "false",
                         "unlabeled", "rows", "seconds"], "columns")
    rows = {l.split()[0]: l.split() for l in lines if l.split() and
            l.split()[0] in ("gen-small", "gen-quiet-traefik", "total")}
    eq(sorted(rows), ["gen-quiet-traefik", "gen-small", "total"], "rows")
    eq(rows["gen-small"][3], "100.0%", "recall shown")
    eq(rows["gen-quiet-traefik"][3], "-", "no recall without attackers")
    if "analyst stats" not in p.out:
        raise AssertionError("the analyst is not named: " + p.out)


def false_ban_named():
    src = generated(*GENERATED[1])
    d = os.path.join(TMP, "mislabeled")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(src, d)
    lp = os.path.join(d, "labels.json")
    labels = json.load(open(lp))
    # An attacker the analyst bans, labeled innocent: a false ban.
    doc, _ = evaluate([src])
    victim = None
    for ip, what in sorted(labels["attackers"].items()):
        if "scanner" in what and ":" not in ip:
            victim = ip
            break
    if victim is None:
        raise AssertionError("no scanner among the attackers")
    del labels["attackers"][victim]
    labels["innocents"][victim] = "a partner, by this label"
    json.dump(labels, open(lp, "w"))
    doc, p = evaluate([d])
    eq(p.returncode, 1, "exit status with a false ban")
    eq(doc["scenarios"][0]["false_bans"], ["%s (a partner, by this label)" % victim],
       "false ban named")
    p = run(["eval", d])
    eq(p.returncode, 1, "text: exit status")
    if victim not in p.out or "false bans" not in p.out:
        raise AssertionError("false ban not named in the text: " + p.out)
    # And an address in neither list: unlabeled, counted, not an error.
    del labels["innocents"][victim]
    json.dump(labels, open(lp, "w"))
    doc, p = evaluate([d])
    eq(p.returncode, 0, "exit status with an unlabeled ban")
    eq(doc["scenarios"][0]["unlabeled_bans"], [victim], "unlabeled")


def llm_not_configured():
    d = generated(*GENERATED[1])
    p = run(["eval", "--analyst", "llm", d],
            env={"LLM_API_KEY": "", "OPENROUTER_API_KEY": ""})
    eq(p.returncode, 2, "exit status")
    if "no model configured" not in p.err:
        raise AssertionError("message: " + p.err)
    p = run(["eval", "--analyst", "llm", "--llm-model", "x/y", d],
            env={"LLM_API_KEY": "", "OPENROUTER_API_KEY": ""})
    eq(p.returncode, 2, "exit status without a key for OpenRouter")
    if "no API key" not in p.err:
        raise AssertionError("message: " + p.err)
    eq(p.out, "", "nothing on stdout")
    p = run(["eval", "--analyst", "oracle", d])
    eq(p.returncode, 2, "unknown analyst")
    if "oracle" not in p.err:
        raise AssertionError("unknown analyst not named: " + p.err)


def bad_folders():
    good = generated(*GENERATED[1])
    # No labels.json.
    d = os.path.join(TMP, "nolabels")
    os.makedirs(d, exist_ok=True)
    shutil.copy(os.path.join(good, "traffic.log"), d)
    p = run(["eval", d])
    eq(p.returncode, 2, "no labels: exit status")
    if "labels.json" not in p.err:
        raise AssertionError("message: " + p.err)
    # Broken labels.json.
    for text, why in (('{"attackers": ', "JSON"), ('{"attackers": {"1.2.3": "x"}}', "1.2.3"),
                      ("[1, 2]", "object"), ('{"prefixes": {"10.0.0.1/8": ""}}', "10.0.0.1/8")):
        open(os.path.join(d, "labels.json"), "w").write(text)
        p = run(["eval", d])
        eq(p.returncode, 2, "bad labels %r: exit status" % text)
        if "labels.json" not in p.err:
            raise AssertionError("bad labels %r: %s" % (text, p.err))
    # No log at all; a --file that is not there; a --file with a path.
    d2 = os.path.join(TMP, "nolog")
    os.makedirs(d2, exist_ok=True)
    shutil.copy(os.path.join(good, "labels.json"), d2)
    p = run(["eval", d2])
    eq(p.returncode, 2, "no log: exit status")
    if "no log file" not in p.err:
        raise AssertionError("message: " + p.err)
    p = run(["eval", "--file", "missing.log", good])
    eq(p.returncode, 2, "missing --file: exit status")
    p = run(["eval", "--file", "../x", good])
    eq(p.returncode, 2, "--file with a path")
    # One good folder among bad ones is still scored.
    doc, p = evaluate([good, d2])
    eq(p.returncode, 2, "mixed: exit status")
    eq(doc["scenarios"][0]["error"], None, "the good one")
    eq(doc["scenarios"][0]["banned"], doc["scenarios"][0]["attackers"], "good one scored")
    if not doc["scenarios"][1]["error"]:
        raise AssertionError("the bad one has no error")
    # Usage.
    eq(run(["eval"]).returncode, 2, "no folders")
    eq(run(["eval", "--bogus", good]).returncode, 2, "unknown option")
    p = run(["eval", "--analyst-probe-ratio", "2", good])
    eq(p.returncode, 2, "bad threshold")
    if "ratio" not in p.err:
        raise AssertionError("bad threshold message: " + p.err)
    p = run(["eval", "--help"])
    eq(p.returncode, 0, "--help")
    if "--analyst-flood-per-minute" not in p.out:
        raise AssertionError("--help lacks the thresholds")


def file_choice_and_config():
    # The same traffic in another format, chosen with --file; settings
    # from a config file reach the analyst.
    d = os.path.join(TMP, "twoformats")
    os.makedirs(d, exist_ok=True)
    for fmt, name in (("nginx", "access.log"), ("vlogs", "vlogs.jsonl")):
        p = run(["generate", "--rows", "4000", "--seed", "131", "--format", fmt,
                 "--output", os.path.join(d, name),
                 "--labels", os.path.join(d, "labels.json")])
        eq(p.returncode, 0, "generate")
    a, _ = evaluate([d])
    b, _ = evaluate([d], "--file", "vlogs.jsonl")
    eq(a["scenarios"][0]["file"], "access.log", "default file")
    eq(b["scenarios"][0]["file"], "vlogs.jsonl", "--file")
    for k in ("attackers", "banned", "rows", "false_bans"):
        eq(b["scenarios"][0][k], a["scenarios"][0][k], k + " across formats")
    conf = os.path.join(TMP, "strict.conf")
    open(conf, "w").write("analyst_sensitive_min = 1000\nanalyst_probe_min_paths = 1000\n"
                          "analyst_scanner_ua_min = 1000\nanalyst_injection_min = 1000\n")
    c, _ = evaluate([d], "-c", conf)
    if c["scenarios"][0]["banned"] >= a["scenarios"][0]["banned"]:
        raise AssertionError("config thresholds had no effect")
    eq(c["scenarios"][0]["false_bans"], [], "still no false ban")


def main():
    for f in ("access.log", "traefik.json", "vlogs.jsonl"):
        case("shared scenarios (%s): every attacker, no innocent, nothing on quiet" % f,
             lambda f=f: shared_targets(f))
    case("shared ipv6: the /64 is one Range ban, or its 40 members", shared_ipv6_as_a_range)
    case("generated scenarios (15 seeds, mixes, formats, windows): full recall, "
         "no false ban", generated_targets)
    case("generated quiet traffic (API, NAT, crawlers, monitors, internal "
         "scanners): nothing banned", generated_quiet)
    case("cohorts: distributed brute force, a /24 together, a /64 flood",
         cohorts_targets)
    case("innocents that look like attackers (broken links, admins, dead-link "
         "crawler, pollers, monitors, 429s, typos, NAT): nothing", hard_innocents)
    case("text table: a row per scenario, the columns, a total", table)
    case("a false ban is named and makes the exit status 1", false_ban_named)
    case("--analyst llm without a model or key: named, exit 2", llm_not_configured)
    case("bad folders and usage: named, exit 2, the good ones still scored", bad_folders)
    case("--file picks the log; config thresholds reach the analyst", file_choice_and_config)
    adtest.finish()


if __name__ == "__main__":
    main()
