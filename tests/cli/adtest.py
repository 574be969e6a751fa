"""Helpers for the CLI tests: run the real binary, report cases.

Each test script imports this, calls case() for every check and finish()
at the end.  Output lines are "ok NAME", "not ok NAME: why" or
"skip NAME: why"; tests/run counts them.
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("AD_BIN") or os.path.join(ROOT, "build", "release", "anomaly-detect")
_failed = 0


def shared_dir():
    """../shared beside the checkout, or None when it is absent."""
    d = os.environ.get("AD_SHARED_DIR") or os.path.join(os.path.dirname(ROOT), "shared")
    return d if os.path.isfile(os.path.join(d, "scenarios", "README.md")) else None


def run(args, stdin=None, timeout=300, env=None, check=False):
    """Run the binary; returns CompletedProcess with text stdout/stderr."""
    e = dict(os.environ)
    if env:
        e.update(env)
    p = subprocess.run([BIN] + list(args), input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout, env=e)
    p.out = p.stdout.decode("utf-8", "replace")
    p.err = p.stderr.decode("utf-8", "replace")
    if check and p.returncode != 0:
        raise AssertionError("exit %d: %s" % (p.returncode, p.err[-2000:]))
    return p


def run_json(args, **kw):
    p = run(list(args), **kw)
    try:
        p.json = json.loads(p.out)
    except ValueError as e:
        raise AssertionError("not JSON (%s); exit %d; stderr: %s; stdout: %s"
                             % (e, p.returncode, p.err[-1000:], p.out[:500]))
    return p


def case(name, fn):
    """Run fn(); an AssertionError or any exception fails the case."""
    global _failed
    try:
        r = fn()
    except Skip as s:
        print("skip %s: %s" % (name, s), flush=True)
        return
    except Exception as e:  # noqa: BLE001 - report every failure
        _failed += 1
        msg = ("%s: %s" % (type(e).__name__, e)).replace("\n", "\n    ")
        print("not ok %s: %s" % (name, msg), flush=True)
        return
    print("ok %s" % name, flush=True)
    return r


class Skip(Exception):
    pass


def eq(got, want, what=""):
    if got != want:
        raise AssertionError("%s: got %r, want %r" % (what, got, want))


def tmpdir():
    return tempfile.mkdtemp(prefix="adtest-")


def finish():
    sys.exit(1 if _failed else 0)
