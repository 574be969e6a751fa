#!/usr/bin/env python3
"""A throwaway CrowdSec LAPI for tests written in other languages.

    tests/lapi/serve.py

Starts a LAPI through harness.LapiServer and prints one JSON line:

    {"url": "http://127.0.0.1:PORT", "machine_id": "...",
     "password_file": "/tmp/.../watcher.password", "bouncer_key": "...",
     "port": PORT}

or, when crowdsec is not available, {"skip": "why"} (exit status 0 once
stdin closes).  It then serves until standard input closes, answering
commands, one per line, each with one JSON line {"ok": true, ...} or
{"ok": false, "error": "..."}:

    stop                  stop LAPI (port closed when answered)
    start                 start it again: same port, same database
    decisions [IP]        the bouncer's GET /v1/decisions[?ip=IP]
    decisions-range CIDR  the bouncer's GET /v1/decisions?range=CIDR
    alerts [QUERY]        the watcher's GET /v1/alerts[?QUERY]
                          (QUERY as in a URL: ip=1.2.3.4&limit=0)

The bouncer key is printed because the caller needs it and the server is
thrown away at exit; the watcher password is only in the 0600 file.
"""
import json
import os
import signal
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def command(lapi, line):
    words = line.split(None, 1)
    if not words:
        return {"ok": False, "error": "empty command"}
    cmd, arg = words[0], (words[1].strip() if len(words) > 1 else "")
    if cmd == "stop":
        lapi.stop()
        return {"ok": True}
    if cmd == "start":
        lapi.start()
        return {"ok": True}
    if cmd == "decisions":
        return {"ok": True, "decisions": lapi.decisions(arg or None)}
    if cmd == "decisions-range":
        return {"ok": True, "decisions": lapi.decisions(range=arg)}
    if cmd == "alerts":
        params = dict(urllib.parse.parse_qsl(arg)) if arg else {}
        return {"ok": True, "alerts": lapi.alerts(**params)}
    return {"ok": False, "error": "unknown command %r" % cmd}


def main():
    # A signal from the test runner still tears LAPI down (atexit).
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, lambda *_: sys.exit(1))
    try:
        lapi = harness.LapiServer()
        lapi.setup()
    except harness.Skip as e:
        say({"skip": str(e)})
        sys.stdin.read()
        return 0
    except Exception as e:  # noqa: BLE001 - the caller reads the reason
        say({"error": "LAPI did not start: %s" % e})
        return 1
    try:
        say({"url": lapi.url, "machine_id": lapi.machine_id,
             "password_file": lapi.password_file,
             "bouncer_key": lapi.bouncer_key, "port": lapi.port})
        for line in sys.stdin:
            try:
                say(command(lapi, line.strip()))
            except Exception as e:  # noqa: BLE001 - reported, not fatal
                say({"ok": False, "error": "%s: %s" % (type(e).__name__, e)})
    finally:
        lapi.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
