#!/usr/bin/env python3
"""A fake VictoriaLogs for tests (python3 standard library only).

    fake_vlogs.py [--data FILE.jsonl] [--bearer TOKEN | --basic USER:PASS]
                  [--port N] [--stream-fields a,b] [--time-format trim|nano]
                  [--tenant ACCOUNT:PROJECT]
                  [--max-seconds S] [--no-stdin-watch] [--verbose]

It binds 127.0.0.1 (port 0 = an ephemeral one), prints the port as the
first line of stdout, and serves until its standard input closes, SIGTERM,
or --max-seconds (default 600) have passed.

It answers as /work/shared/docs/victorialogs-api.md describes VictoriaLogs
(v1.26):

  /select/logsql/query   GET arguments or a POST form (query, limit, start,
                         end, timeout); 200 application/stream+json, chunked,
                         one compact JSON object per line, every value a
                         string, empty fields left out, _msg, _time, _stream
                         first; with limit=N the N newest rows, newest first.
  /select/logsql/hits    {"hits":[{"fields":{},"timestamps":[...],
                         "values":[...],"total":N}]} (step, default 1d;
                         field=F args group)
  /select/logsql/field_names, /select/logsql/field_values?field=F&limit=N
                         {"values":[{"value":"...","hits":N},...]}
  /health                200 "OK"

Errors are written the way VictoriaLogs' httpserver.Errorf writes them:
status 400, "Content-Type: text/plain; charset=utf-8", the text and a
newline ("cannot parse query [Q]: ...").  An error after streaming began
is written as VictoriaLogs does: a chunk holding "\\n<error text>\\n", then,
outside the chunked framing, "\\nthe connection has been aborted; see the
last line in the response and/or in the server log for the reason\\n", and
the connection is closed.

Without a script (below) queries are answered from --data, a JSON-lines
file shaped for /insert/jsonline (_time and _msg fields; nested keys are
flattened with dots; numbers keep their text).  Only simple LogsQL is
evaluated: "*", words and "phrases" on _msg, field:value (word/phrase),
field:"value", field:=value (exact), field:* (present), field:"" (empty or
missing), all ANDed (an explicit AND is allowed).  Anything else (pipes,
OR, NOT, parentheses, ranges, regexps, _time filters) gets a real-looking
400 "cannot parse query [Q]: unsupported syntax (fake_vlogs): ...".

Test control (never behind auth, never recorded):
  POST /fake/script     a JSON list of responses (or one object), played in
                        order by the next /select/ requests:
      {"status":200,"lines":["{...}",...]}   lines written as given, each
            followed by "\\n"; options: "no_final_newline":true,
            "content_type":"...", "repeat":K (the lines K times),
            "headers":{...}, "chunk_lines":K (lines per chunk)
      {"status":400,"text":"cannot parse query [...]: ..."}
      {"status":503} / {"status":502} / any status; "text" and "headers"
            (e.g. {"Retry-After":"1"}) optional
      {"abort_after_lines":N} N lines ("lines" or the data answer), then the
            error text ("error" or a default) and the abort described
            above; "silent":true closes without the error text; "rst":true
            resets the connection instead of closing it
      {"close":true}   closes the connection without any answer
      {"delay":S}      sleeps S seconds first; with no other key, then
            answers as without a script.  Like the real server, it does
            not wait past the query's timeout (timeout=, at most 30 s):
            when S is longer it answers 503 at the timeout instead;
            "ignore_timeout":true makes it wait (a hung server or proxy)
  GET  /fake/requests   every recorded request as JSON lines
                        (application/stream+json, all values strings):
                        {"method":..,"path":..,"args":{..},"headers":{..},
                        "body":..}; header names lower-cased; for each
                        argument its first value.
  POST /fake/reset      forget the script and the recorded requests.

Tenancy: the data belongs to tenant --tenant (default 0:0); a request
for another tenant (AccountID / ProjectID headers, default 0) sees no
rows, as in VictoriaLogs.  A header that is not a 32-bit number gets 400.

Auth (chosen to look like VictoriaLogs behind vmauth): with --bearer or
--basic, a /select/ or /health request without exactly that Authorization
header gets 401, "WWW-Authenticate: Bearer realm=..." or "Basic
realm=...", and a text/plain body that ECHOES the Authorization header it
received ('cannot authorize request with auth tokens ["..."]').  Some
proxies do echo credentials; the echo is deliberate, so tests can check
that the client keeps such text out of its messages.
"""
import argparse
import base64
import collections
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_BODY = 1 << 20          # request bodies
MAX_RECORDED = 10000        # requests kept for /fake/requests
MAX_SCRIPT = 10000          # queued responses
ABORT_TRAILER = (b"\nthe connection has been aborted; see the last line in "
                 b"the response and/or in the server log for the reason\n")
MAX_QUERY_DURATION = 30.0   # -search.maxQueryDuration
DEFAULT_ABORT_ERROR = ("error during query execution: cannot read block: "
                       "unexpected EOF")
DEFAULT_TEXT = {
    400: "cannot parse query []: missing query",
    502: "cannot fetch query results from vlstorage nodes: cannot connect "
         "to vlstorage node \"vlstorage-1:9491\": dial tcp 10.0.0.7:9491: "
         "connect: connection refused",
    503: "couldn't start executing the request in 10.000 seconds, since "
         "-search.maxConcurrentRequests=16 concurrent requests are executed; "
         "possible solutions: to reduce query load; to add more compute "
         "resources to the server; to increase -search.maxQueueDuration=10s; "
         "to increase -search.maxConcurrentRequests",
}
STATUS_TEXT = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
               404: "Not Found", 405: "Method Not Allowed",
               411: "Length Required", 413: "Request Entity Too Large",
               429: "Too Many Requests", 500: "Internal Server Error",
               502: "Bad Gateway", 503: "Service Unavailable",
               504: "Gateway Timeout"}


class Unsupported(Exception):
    pass


class BadArg(Exception):
    pass


# ---- time

RFC3339_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"(Z|[+-]\d{2}:\d{2})?)?$")
DUR_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
DUR_NS = {"ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9,
          "d": 86400 * 10**9, "w": 7 * 86400 * 10**9,
          "y": 365 * 86400 * 10**9}


def days_from_civil(y, m, d):
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return y + (m <= 2), m, d


def parse_rfc3339(s):
    m = RFC3339_RE.match(s)
    if not m:
        return None
    y, mo, d, hh, mi, ss, frac, tz = m.groups()
    secs = days_from_civil(int(y), int(mo), int(d)) * 86400
    secs += int(hh or 0) * 3600 + int(mi or 0) * 60 + int(ss or 0)
    if tz and tz != "Z":
        off = int(tz[1:3]) * 3600 + int(tz[4:6]) * 60
        secs -= off if tz[0] == "+" else -off
    ns = int((frac or "").ljust(9, "0")) if frac else 0
    return secs * 10**9 + ns


def parse_duration(s):
    pos, total = 0, 0
    if not s:
        return None
    while pos < len(s):
        m = DUR_RE.match(s, pos)
        if not m:
            return None
        total += int(float(m.group(1)) * DUR_NS[m.group(2)])
        pos = m.end()
    return total


def parse_time_arg(name, s):
    """Unix seconds (with a fraction), RFC 3339, or a duration back from
    now, as VictoriaLogs' start/end take them."""
    if re.fullmatch(r"-?\d+(\.\d+)?", s):
        return int(round(float(s) * 10**9))
    t = parse_rfc3339(s)
    if t is not None:
        return t
    d = parse_duration(s)
    if d is not None:
        return time.time_ns() - d
    raise BadArg("cannot parse %s=%s: unsupported time format" % (name, s))


def format_time(ns, mode):
    secs, frac = divmod(ns, 10**9)
    days, rem = divmod(secs, 86400)
    y, m, d = civil_from_days(days)
    s = "%04d-%02d-%02dT%02d:%02d:%02d" % (y, m, d, rem // 3600,
                                           rem // 60 % 60, rem % 60)
    if mode == "nano":
        return s + ".%09dZ" % frac
    if frac:
        s += ("." + "%09d" % frac).rstrip("0")
    return s + "Z"


# ---- data

def flatten(prefix, v, out):
    if isinstance(v, dict):
        for k, x in v.items():
            flatten(prefix + "." + k if prefix else k, x, out)
    elif isinstance(v, list):
        out.append((prefix, json.dumps(v, separators=(",", ":"),
                                       ensure_ascii=False)))
    elif v is None:
        out.append((prefix, ""))
    elif isinstance(v, bool):
        out.append((prefix, "true" if v else "false"))
    else:
        out.append((prefix, str(v)))


class Row:
    __slots__ = ("t", "fields", "line")

    def __init__(self, t, fields):
        self.t = t
        self.fields = fields   # [(name, value)], output order, no empties
        self.line = None

    def get(self, name):
        for k, v in self.fields:
            if k == name:
                return v
        return ""


def load_data(path, stream_fields, time_mode):
    rows = []
    with open(path, "r", encoding="utf-8", errors="surrogateescape") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                obj = json.loads(line, parse_int=str, parse_float=str)
            except ValueError:
                continue        # bad lines are skipped, as on ingestion
            if not isinstance(obj, dict):
                continue
            flat = []
            flatten("", obj, flat)
            t = None
            msg = ""
            rest = []
            for k, v in flat:
                if k == "_time":
                    t = parse_rfc3339(v)
                elif k == "_msg":
                    msg = v
                else:
                    rest.append((k, v))
            if t is None:
                t = time.time_ns()
            stream = "{" + ",".join(
                '%s=%s' % (k, json.dumps(v, ensure_ascii=False))
                for k, v in rest if k in stream_fields and v != "") + "}"
            fields = [("_msg", msg), ("_time", format_time(t, time_mode)),
                      ("_stream", stream)] + rest
            rows.append(Row(t, [(k, v) for k, v in fields if v != ""]))
    return rows


def row_line(row):
    if row.line is None:
        row.line = json.dumps(dict(row.fields), separators=(",", ":"),
                              ensure_ascii=False).encode("utf-8",
                                                         "surrogateescape")
    return row.line


# ---- a little LogsQL

def is_word_char(c):
    return c.isalnum() or c == "_"


def phrase_match(value, phrase):
    if phrase == "":
        return value == ""
    start = 0
    while True:
        i = value.find(phrase, start)
        if i < 0:
            return False
        j = i + len(phrase)
        ok = True
        if is_word_char(phrase[0]) and i > 0 and is_word_char(value[i - 1]):
            ok = False
        if (is_word_char(phrase[-1]) and j < len(value)
                and is_word_char(value[j])):
            ok = False
        if ok:
            return True
        start = i + 1


def read_quoted(s, i):
    """s[i] is '"': returns (text, index after the closing quote)."""
    out = []
    i += 1
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            out.append(s[i + 1])
            i += 2
        elif c == '"':
            return "".join(out), i + 1
        else:
            out.append(c)
            i += 1
    raise Unsupported("unterminated quoted string")


def tokenize(q):
    """Splits on white space; a term is (raw text, pieces) where quoted
    parts are kept apart so their contents are not taken for syntax."""
    terms = []
    i = 0
    while i < len(q):
        if q[i].isspace():
            i += 1
            continue
        raw_start = i
        parts = []          # (is_quoted, text)
        while i < len(q) and not q[i].isspace():
            if q[i] == '"':
                text, i = read_quoted(q, i)
                parts.append((True, text))
            else:
                j = i
                while j < len(q) and not q[j].isspace() and q[j] != '"':
                    j += 1
                parts.append((False, q[i:j]))
                i = j
        terms.append((q[raw_start:i], parts))
    return terms


SPECIAL = set("|()!~<>,{}[]")


def compile_query(q):
    """A list of predicates over a Row, all of which must hold."""
    if q.strip() == "":
        raise Unsupported("missing query")
    preds = []
    for raw, parts in tokenize(q):
        plain = "".join(t for quoted, t in parts if not quoted)
        if any(c in SPECIAL for c in plain):
            raise Unsupported(raw)
        if len(parts) == 1 and not parts[0][0]:
            word = parts[0][1]
            if word.upper() == "AND":
                continue
            if word.upper() in ("OR", "NOT") or word[0] in "-!":
                raise Unsupported(raw)
            if word == "*":
                continue
        if len(parts) == 1 and parts[0][0]:
            preds.append(lambda r, p=parts[0][1]: phrase_match(r.get("_msg"), p))
            continue
        first = parts[0]
        if first[0] or ":" not in first[1]:
            if len(parts) == 1 and "*" not in first[1] and ":" not in first[1]:
                preds.append(lambda r, p=first[1]: phrase_match(r.get("_msg"), p))
                continue
            raise Unsupported(raw)
        name, _, rest = first[1].partition(":")
        if name == "" or name == "_time" or name == "_stream":
            raise Unsupported(raw)
        exact = rest.startswith("=")
        if exact:
            rest = rest[1:]
        if len(parts) == 1:
            if rest == "":
                raise Unsupported(raw)
            if rest == "*" and not exact:
                preds.append(lambda r, n=name: r.get(n) != "")
                continue
            if "*" in rest or rest.startswith("in("):
                raise Unsupported(raw)
            value = rest
        elif len(parts) == 2 and parts[1][0] and rest == "":
            value = parts[1][1]
        else:
            raise Unsupported(raw)
        if exact:
            preds.append(lambda r, n=name, v=value: r.get(n) == v)
        else:
            preds.append(lambda r, n=name, v=value: phrase_match(r.get(n), v))
    return preds


# ---- the server

class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.script = collections.deque()
        self.requests = []
        self.rows = []
        a, _, p = args.tenant.partition(":")
        self.tenant = (int(a or 0), int(p or 0))
        if args.data:
            sf = set(x for x in args.stream_fields.split(",") if x)
            self.rows = load_data(args.data, sf, args.time_format)

    def next_item(self):
        with self.lock:
            return self.script.popleft() if self.script else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send_response(self, code, message=None):
        # Go's net/http sends Date but no Server header.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def log_message(self, fmt, *a):
        if self.server.state.args.verbose:
            sys.stderr.write("fake_vlogs: " + (fmt % a) + "\n")

    # -- plumbing

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            raise BadArg("chunked request bodies are not supported")
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise BadArg("request body too large")
        return self.rfile.read(n) if n > 0 else b""

    def send_text(self, status, text, headers=None):
        body = (text + "\n").encode("utf-8", "surrogateescape")
        self.send_response(status, STATUS_TEXT.get(status))
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("X-Content-Type-Options", "nosniff")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_json(self, obj, ctype="application/json"):
        body = json.dumps(obj, separators=(",", ":"),
                          ensure_ascii=False).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def start_chunked(self, ctype, headers=None):
        self.send_response(200)
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def chunk(self, data):
        if data:
            self.wfile.write(b"%x\r\n" % len(data) + data + b"\r\n")

    def end_chunked(self):
        self.wfile.write(b"0\r\n\r\n")

    def hard_close(self, rst):
        """Drop the connection now, mid-response."""
        try:
            self.wfile.flush()
        except OSError:
            pass
        if rst:
            # Let the client read what was sent: a reset makes the
            # peer's kernel drop data still unread.
            time.sleep(0.2)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        self.close_connection = True
        try:
            self.rfile.close()
            self.connection.close()
        except OSError:
            pass

    # -- requests

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def dispatch(self, method):
        st = self.server.state
        u = urlsplit(self.path)
        path = u.path
        try:
            body = self.read_body()
        except (BadArg, ValueError) as e:
            self.close_connection = True
            self.send_text(413 if "large" in str(e) else 400, str(e))
            return
        if path.startswith("/fake/"):
            self.control(method, path, body)
            return
        args = parse_qs(u.query, keep_blank_values=True)
        ctype = self.headers.get("Content-Type", "")
        if method == "POST" and ctype.split(";")[0].strip().lower() == \
                "application/x-www-form-urlencoded":
            for k, v in parse_qs(body.decode("utf-8", "surrogateescape"),
                                 keep_blank_values=True).items():
                args.setdefault(k, []).extend(v)
        rec = {"method": method, "path": path,
               "args": {k: v[0] for k, v in args.items()},
               "headers": {k.lower(): v for k, v in self.headers.items()},
               "body": body.decode("utf-8", "replace")}
        with st.lock:
            if len(st.requests) < MAX_RECORDED:
                st.requests.append(rec)
        if not self.authorized():
            return
        if path == "/health":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")
            return
        if not path.startswith("/select/"):
            self.send_text(404, "unsupported path requested: %s" % path)
            return
        try:
            tenant = self.tenant()
            timeout = self.timeout_arg(args)
        except BadArg as e:
            self.send_text(400, str(e))
            return
        item = st.next_item()
        if item is not None:
            delay = float(item.get("delay", 0))
            if delay > 0:
                if delay > timeout and not item.get("ignore_timeout"):
                    time.sleep(timeout)
                    self.send_text(503, "cannot execute query: the query "
                                   "did not finish in timeout=%gs; increase "
                                   "the timeout or narrow the query"
                                   % timeout)
                    return
                time.sleep(min(delay, 60))
            if set(item) - {"delay", "ignore_timeout"}:
                self.play(item, path, args)
                return
        self.answer(path, args, tenant)

    def tenant(self):
        out = []
        for h in ("AccountID", "ProjectID"):
            v = self.headers.get(h)
            if v is None or v == "":
                out.append(0)
                continue
            if not re.fullmatch(r"\d{1,10}", v) or int(v) > 0xffffffff:
                raise BadArg("cannot obtain tenantID: cannot parse %s "
                             "header %s" % (h, json.dumps(v)))
            out.append(int(v))
        return tuple(out)

    @staticmethod
    def timeout_arg(args):
        v = args.get("timeout", [""])[0]
        if v == "":
            return MAX_QUERY_DURATION
        d = parse_duration(v)
        if d is None:
            if re.fullmatch(r"\d+(\.\d+)?", v):
                d = int(float(v) * 10**9)
            else:
                raise BadArg("cannot parse timeout=%s: unsupported "
                             "duration" % v)
        return min(d / 1e9, MAX_QUERY_DURATION)

    def authorized(self):
        a = self.server.state.args
        if not a.bearer and not a.basic:
            return True
        got = self.headers.get("Authorization")
        if a.bearer:
            want, scheme = "Bearer " + a.bearer, "Bearer"
        else:
            want = "Basic " + base64.b64encode(a.basic.encode()).decode()
            scheme = "Basic"
        if got == want:
            return True
        if got is None:
            text = "missing `Authorization` request header"
        else:
            text = "cannot authorize request with auth tokens [%s]" % \
                json.dumps(got)
        self.send_text(401, text, {"WWW-Authenticate":
                                   '%s realm="Restricted"' % scheme})
        return False

    def control(self, method, path, body):
        st = self.server.state
        if path == "/fake/script" and method == "POST":
            try:
                items = json.loads(body.decode("utf-8") or "[]")
            except ValueError as e:
                self.send_text(400, "bad script: %s" % e)
                return
            if isinstance(items, dict):
                items = [items]
            if not isinstance(items, list) or not all(
                    isinstance(x, dict) for x in items):
                self.send_text(400, "bad script: want a list of objects")
                return
            with st.lock:
                if len(st.script) + len(items) > MAX_SCRIPT:
                    self.send_text(400, "script too long")
                    return
                st.script.extend(items)
                n = len(st.script)
            self.send_json({"queued": n})
        elif path == "/fake/requests" and method == "GET":
            with st.lock:
                reqs = list(st.requests)
            body = b"".join(json.dumps(r, separators=(",", ":"),
                                       ensure_ascii=False).encode() + b"\n"
                            for r in reqs)
            self.send_response(200)
            self.send_header("Content-Type", "application/stream+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif path == "/fake/reset" and method == "POST":
            with st.lock:
                st.script.clear()
                st.requests.clear()
            self.send_json({"ok": "true"})
        else:
            self.send_text(404, "unknown control endpoint %s" % path)

    # -- scripted answers

    def play(self, item, path, args):
        if item.get("close"):
            self.hard_close(bool(item.get("rst")))
            return
        if "abort_after_lines" in item:
            self.play_abort(item, path, args)
            return
        status = int(item.get("status", 200))
        headers = item.get("headers") or {}
        if status != 200:
            text = item.get("text")
            if text is None:
                text = DEFAULT_TEXT.get(status, STATUS_TEXT.get(status,
                                                                "error"))
            self.send_text(status, text, headers)
            return
        lines = [l.encode("utf-8", "surrogateescape")
                 for l in item.get("lines", [])]
        lines = lines * int(item.get("repeat", 1))
        self.start_chunked(item.get("content_type", "application/stream+json"),
                           headers)
        per = max(1, int(item.get("chunk_lines", len(lines) or 1)))
        for i in range(0, len(lines), per):
            part = lines[i:i + per]
            data = b"\n".join(part)
            last = i + per >= len(lines)
            if not (last and item.get("no_final_newline")):
                data += b"\n"
            self.chunk(data)
        self.end_chunked()

    def play_abort(self, item, path, args):
        n = int(item["abort_after_lines"])
        if "lines" in item:
            src = [l.encode("utf-8", "surrogateescape") for l in item["lines"]]
        else:
            try:
                src = [row_line(r) for r in self.select_rows(args)]
            except (Unsupported, BadArg):
                src = []
        out = [src[i % len(src)] for i in range(n)] if src else []
        self.start_chunked("application/stream+json")
        if out:
            self.chunk(b"\n".join(out) + b"\n")
        if not item.get("silent"):
            err = item.get("error", DEFAULT_ABORT_ERROR)
            self.chunk(b"\n" + err.encode("utf-8", "surrogateescape") + b"\n")
            self.wfile.write(ABORT_TRAILER)
        self.hard_close(bool(item.get("rst")))

    # -- answers from the data file

    def query_error(self, q, why):
        self.send_text(400, "cannot parse query [%s]: %s" % (q, why))

    def select_rows(self, args, tenant=None):
        q = args.get("query", [""])[0]
        preds = compile_query(q)
        if tenant is not None and tenant != self.server.state.tenant:
            return []
        start = end = None
        if args.get("start", [""])[0] != "":
            start = parse_time_arg("start", args["start"][0])
        if args.get("end", [""])[0] != "":
            end = parse_time_arg("end", args["end"][0])
        rows = []
        for r in self.server.state.rows:
            if start is not None and r.t < start:
                continue
            if end is not None and r.t > end:
                continue
            if all(p(r) for p in preds):
                rows.append(r)
        return rows

    def answer(self, path, args, tenant):
        q = args.get("query", [""])[0]
        try:
            for name in ("limit",):
                v = args.get(name, [""])[0]
                if v != "" and not re.fullmatch(r"\d+", v):
                    raise BadArg("cannot parse %s=%s: not a non-negative "
                                 "integer" % (name, v))
            rows = self.select_rows(args, tenant)
        except Unsupported as e:
            why = str(e)
            if why != "missing query":
                why = "unsupported syntax (fake_vlogs): [%s]" % why
            self.query_error(q, why)
            return
        except BadArg as e:
            self.send_text(400, str(e))
            return
        if path == "/select/logsql/query":
            limit = int(args.get("limit", ["0"])[0] or 0)
            if limit > 0:
                rows = sorted(rows, key=lambda r: r.t, reverse=True)[:limit]
            self.start_chunked("application/stream+json")
            buf = []
            size = 0
            for r in rows:
                line = row_line(r)
                buf.append(line)
                size += len(line) + 1
                if size >= 65536:
                    self.chunk(b"\n".join(buf) + b"\n")
                    buf, size = [], 0
            if buf:
                self.chunk(b"\n".join(buf) + b"\n")
            self.end_chunked()
        elif path == "/select/logsql/hits":
            self.answer_hits(rows, args)
        elif path == "/select/logsql/field_names":
            counts = collections.Counter()
            for r in rows:
                for k, _ in r.fields:
                    counts[k] += 1
            self.send_json({"values": [{"value": k, "hits": counts[k]}
                                       for k in sorted(counts)]})
        elif path == "/select/logsql/field_values":
            field = args.get("field", [""])[0]
            if field == "":
                self.send_text(400, "missing `field` query arg")
                return
            counts = collections.Counter(r.get(field) for r in rows)
            vals = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            lim = args.get("limit", ["0"])[0]
            if lim.isdigit() and int(lim) > 0:
                vals = vals[:int(lim)]
            self.send_json({"values": [{"value": v, "hits": n}
                                       for v, n in vals]})
        else:
            self.send_text(400, "unsupported path requested: %s" % path)

    def answer_hits(self, rows, args):
        step = parse_duration(args.get("step", ["1d"])[0] or "1d")
        if not step:
            self.send_text(400, "cannot parse step=%s"
                           % args.get("step", [""])[0])
            return
        fields = args.get("field", [])
        groups = collections.OrderedDict()
        for r in rows:
            key = tuple(r.get(f) for f in fields)
            b = r.t - r.t % step
            groups.setdefault(key, collections.Counter())[b] += 1
        hits = []
        for key, buckets in groups.items():
            ts = sorted(buckets)
            hits.append({"fields": {f: v for f, v in zip(fields, key)},
                         "timestamps": [format_time(t, "trim") for t in ts],
                         "values": [buckets[t] for t in ts],
                         "total": sum(buckets.values())})
        self.send_json({"hits": hits})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # Clients that time out or hang up are part of the tests.
        if self.state.args.verbose:
            super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data")
    ap.add_argument("--bearer")
    ap.add_argument("--basic")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--stream-fields", default="")
    ap.add_argument("--tenant", default="0:0",
                    help="AccountID:ProjectID the --data rows belong to")
    ap.add_argument("--time-format", choices=("trim", "nano"),
                    default="trim")
    ap.add_argument("--max-seconds", type=float, default=600)
    ap.add_argument("--no-stdin-watch", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    if args.bearer and args.basic:
        ap.error("--bearer and --basic are exclusive")
    if args.basic and ":" not in args.basic:
        ap.error("--basic wants USER:PASS")
    if not re.fullmatch(r"\d+(:\d+)?", args.tenant):
        ap.error("--tenant wants ACCOUNT:PROJECT")

    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.state = State(args)
    sys.stdout.write("%d\n" % srv.server_address[1])
    sys.stdout.flush()

    def stdin_watch():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except OSError:
            pass
        os._exit(0)

    if not args.no_stdin_watch:
        threading.Thread(target=stdin_watch, daemon=True).start()
    t = threading.Timer(args.max_seconds, lambda: os._exit(0))
    t.daemon = True
    t.start()
    srv.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()
