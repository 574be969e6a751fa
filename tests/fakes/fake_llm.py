#!/usr/bin/env python3
"""A fake OpenAI-compatible chat completions server for tests (python3
standard library only).

    fake_llm.py [--key K] [--echo-auth] [--reject-tool-choice]
                [--strict-fields] [--max-seconds S] [--no-stdin-watch]

It binds 127.0.0.1 on an ephemeral port, prints the port as the first
line of stdout, and serves until its standard input closes, SIGTERM, or
--max-seconds (default 120) have passed.

It answers as /work/shared/docs/llm-tool-calling.md describes the
providers (OpenRouter's error bodies):

  POST .../chat/completions   any path ending so (/v1/..., /api/v1/...).
      Validated the way real providers do, each failure a 400
      {"error":{"code":400,"message":"..."}}:
        - a body that is not a JSON object; model missing or not a
          non-empty string; messages missing, not a list, or empty;
        - tools not a list; a message without a known role;
        - an assistant message with tool_calls not followed by one tool
          message per id, in order, each with the matching tool_call_id;
          a tool message anywhere else (an unknown tool_call_id);
        - with --reject-tool-choice (vLLM without
          --enable-auto-tool-choice): any "tool_choice";
        - with --strict-fields (hosts that refuse unknown fields): any
          top-level field outside the OpenAI set (e.g. "usage",
          "provider", "reasoning").
      With --key K, "Authorization: Bearer K" is required, else 401
      {"error":{"code":401,"message":"No auth credentials found"}}
      (OpenRouter's text); --echo-auth puts the Authorization header it
      got into that message, as a careless proxy would.
      Then the next scripted answer is played; with none left, a plain
      assistant message "done", finish_reason "stop".
  GET /models   {"data":[{"id":"test/model","pricing":{"prompt":
                "0.0000002","completion":"0.0000005"}}]}

Test control (never behind auth, never recorded):
  POST /fake/script   a JSON list of answers (or one object), queued:
      {"body":{...}|"raw_body":"text", "status":N, "headers":{...}}
            returned as is (raw_body is sent as UTF-8; with "bytes":true
            as latin-1, so \\u0080-\\u00ff become single bytes: invalid
            UTF-8)
      shorthand: {"content":"..."|null, "tool_calls":[{"name":..,
            "arguments":"..."|{...}, "id":".."|null}], "finish_reason":..,
            "usage":{...}, "reasoning":.., "reasoning_content":..,
            "error":{...} (an error object inside a 200 body),
            "status":N, "headers":{...}}.  A tool call without "id" gets
            "call_fake_<n>"; "id": null leaves it out.  Status >= 400
            without a body: OpenRouter's {"error":{"code":N,"message"}}.
      common: "delay":S sleeps first; "close":true closes the connection
            without an answer; "repeat":K plays the item K times.
  GET /fake/requests  every recorded request, one JSON object per line:
            {"path","method","headers":{...},"body":<parsed or null>,
             "raw":"<text>"}
  POST /fake/reset    forgets the script and the recorded requests.
"""

import argparse
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 16 * 1024 * 1024
MAX_RECORDS = 1000
ROLES = {"system", "user", "assistant", "tool", "developer"}
OPENAI_FIELDS = {
    "model", "messages", "tools", "tool_choice", "temperature", "max_tokens",
    "top_p", "stop", "stream", "n", "seed", "response_format",
    "presence_penalty", "frequency_penalty", "user", "logprobs",
    "parallel_tool_calls", "max_completion_tokens",
}


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.script = []
        self.records = []
        self.ids = 0
        self.gens = 0


STATE = State()
ARGS = None


def err_body(code, message):
    return {"error": {"code": code, "message": message}}


def validate(req):
    """The message a real provider would give with its 400, or None."""
    if not isinstance(req, dict):
        return "request body must be a JSON object"
    model = req.get("model")
    if not isinstance(model, str) or model == "":
        return "model is required"
    msgs = req.get("messages")
    if not isinstance(msgs, list) or len(msgs) == 0:
        return "messages is required and must be a non-empty array"
    if "tools" in req and not isinstance(req["tools"], list):
        return "tools must be an array"
    if ARGS.reject_tool_choice and "tool_choice" in req:
        return ('"auto" tool choice requires --enable-auto-tool-choice '
                'and --tool-call-parser to be set')
    if ARGS.strict_fields:
        for k in req:
            if k not in OPENAI_FIELDS:
                return "Unrecognized request argument supplied: %s" % k
    i = 0
    while i < len(msgs):
        m = msgs[i]
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            return "messages[%d]: unknown or missing role" % i
        role = m["role"]
        if role == "tool":
            return ("messages[%d]: a tool message must answer a tool call "
                    "of the assistant message before it (tool_call_id %r)"
                    % (i, m.get("tool_call_id")))
        if role == "assistant" and m.get("tool_calls"):
            tcs = m["tool_calls"]
            if not isinstance(tcs, list):
                return "messages[%d].tool_calls must be an array" % i
            for k, tc in enumerate(tcs):
                if (not isinstance(tc, dict) or
                        not isinstance(tc.get("id"), str) or
                        not isinstance(tc.get("function"), dict) or
                        not isinstance(tc["function"].get("name"), str) or
                        not isinstance(tc["function"].get("arguments"),
                                       str)):
                    return ("messages[%d].tool_calls[%d]: id, function.name "
                            "and function.arguments (a string) are "
                            "required" % (i, k))
            for k, tc in enumerate(tcs):
                j = i + 1 + k
                if j >= len(msgs) or not isinstance(msgs[j], dict) or \
                        msgs[j].get("role") != "tool":
                    return ("An assistant message with 'tool_calls' must be "
                            "followed by tool messages responding to each "
                            "'tool_call_id'. The following tool_call_ids did "
                            "not have response messages: %s" % tc["id"])
                if msgs[j].get("tool_call_id") != tc["id"]:
                    return ("messages[%d]: tool_call_id %r does not match "
                            "the tool call %r it answers" %
                            (j, msgs[j].get("tool_call_id"), tc["id"]))
            i += 1 + len(tcs)
            continue
        i += 1
    return None


def shorthand(item, req):
    with STATE.lock:
        STATE.gens += 1
        gen = STATE.gens
    if "error" in item:
        return {"id": "gen-%d" % gen, "object": "chat.completion",
                "error": item["error"]}
    msg = {"role": "assistant", "content": item.get("content")}
    if "content" not in item and not item.get("tool_calls"):
        msg["content"] = "done"
    for k in ("reasoning", "reasoning_content"):
        if k in item:
            msg[k] = item[k]
    tcs = []
    for tc in item.get("tool_calls") or []:
        out = {"type": "function",
               "function": {"name": tc.get("name"),
                            "arguments": tc.get("arguments", "{}")}}
        if "id" not in tc:
            with STATE.lock:
                STATE.ids += 1
                out["id"] = "call_fake_%d" % STATE.ids
        elif tc["id"] is not None:
            out["id"] = tc["id"]
        tcs.append(out)
    if tcs:
        msg["tool_calls"] = tcs
    fr = item.get("finish_reason", "tool_calls" if tcs else "stop")
    usage = item.get("usage", {"prompt_tokens": 10, "completion_tokens": 5,
                               "total_tokens": 15})
    body = {"id": "gen-%d" % gen, "object": "chat.completion",
            "created": int(time.time()),
            "model": req.get("model") if isinstance(req, dict) else None,
            "choices": [{"index": 0, "message": msg, "finish_reason": fr}]}
    if usage is not None:
        body["usage"] = usage
    return body


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake_llm/1"

    def log_message(self, fmt, *a):
        pass

    def send(self, status, body, headers=None, raw=None):
        if raw is None:
            raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(raw)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > MAX_BODY:
            return None
        return self.rfile.read(n)

    def do_GET(self):
        if self.path == "/fake/requests":
            with STATE.lock:
                lines = "".join(json.dumps(r) + "\n" for r in STATE.records)
            raw = lines.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
        elif self.path.endswith("/models"):
            self.send(200, {"data": [{"id": "test/model", "pricing": {
                "prompt": "0.0000002", "completion": "0.0000005"}}]})
        else:
            self.send(404, err_body(404, "not found"))

    def do_POST(self):
        raw = self.read_body()
        if raw is None:
            self.send(413, err_body(413, "request too large"))
            return
        if self.path == "/fake/script":
            items = json.loads(raw)
            if isinstance(items, dict):
                items = [items]
            with STATE.lock:
                for it in items:
                    for _ in range(int(it.get("repeat", 1))):
                        STATE.script.append(it)
            self.send(200, {"queued": len(items)})
            return
        if self.path == "/fake/reset":
            with STATE.lock:
                STATE.script.clear()
                STATE.records.clear()
            self.send(200, {})
            return
        if not self.path.endswith("/chat/completions"):
            self.send(404, err_body(404, "not found"))
            return
        text = raw.decode("utf-8", "replace")
        try:
            req = json.loads(text)
        except ValueError:
            req = None
        with STATE.lock:
            if len(STATE.records) < MAX_RECORDS:
                STATE.records.append({
                    "path": self.path, "method": "POST",
                    "headers": {k: v for k, v in self.headers.items()},
                    "body": req, "raw": text})
        if ARGS.key is not None:
            auth = self.headers.get("Authorization")
            if auth != "Bearer " + ARGS.key:
                m = "No auth credentials found"
                if ARGS.echo_auth:
                    m += " (got Authorization: %s)" % auth
                self.send(401, err_body(401, m))
                return
        if req is None:
            self.send(400, err_body(400, "request body is not valid JSON"))
            return
        why = validate(req)
        if why is not None:
            self.send(400, err_body(400, why))
            return
        with STATE.lock:
            item = STATE.script.pop(0) if STATE.script else {}
        if item.get("delay"):
            time.sleep(float(item["delay"]))
        if item.get("close"):
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        status = int(item.get("status", 200))
        headers = item.get("headers")
        if "raw_body" in item:
            self.send(status, None, headers,
                      raw=item["raw_body"].encode("latin-1"
                                                  if item.get("bytes")
                                                  else "utf-8",
                                                  "surrogateescape"))
        elif "body" in item:
            self.send(status, item["body"], headers)
        elif status >= 400:
            self.send(status, err_body(status, item.get(
                "message", "fake error %d" % status)), headers)
        else:
            self.send(status, shorthand(item, req), headers)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--key")
    ap.add_argument("--echo-auth", action="store_true")
    ap.add_argument("--reject-tool-choice", action="store_true")
    ap.add_argument("--strict-fields", action="store_true")
    ap.add_argument("--max-seconds", type=float, default=120)
    ap.add_argument("--no-stdin-watch", action="store_true")
    ARGS = ap.parse_args()
    serve(Server(("127.0.0.1", 0), Handler), ARGS.max_seconds,
          not ARGS.no_stdin_watch)


def serve(srv, max_seconds, watch_stdin=True):
    """Prints the port, then serves until stdin closes (the test is done)
    or max_seconds have passed, whichever comes first."""
    print(srv.server_address[1], flush=True)

    def stdin_watch():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except OSError:
            pass
        os._exit(0)

    if watch_stdin:
        threading.Thread(target=stdin_watch, daemon=True).start()
    t = threading.Timer(max_seconds, lambda: os._exit(0))
    t.daemon = True
    t.start()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
