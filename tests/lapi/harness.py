"""A throwaway CrowdSec Local API (LAPI) for tests, on 127.0.0.1.

    sys.path.insert(0, os.path.join(ROOT, "tests", "lapi"))
    import harness

    with harness.LapiServer() as lapi:       # raises adtest.Skip if no crowdsec
        token = lapi.login()
        lapi.post_alerts([harness.sample_alert("203.0.113.7")])
        assert lapi.decisions("203.0.113.7")[0]["origin"] == "anomaly-detect"
        lapi.stop(); ...; lapi.start()         # same port, same database

Each server lives in its own temporary directory (config.yaml,
profiles.yaml, simulation.yaml, console.yaml, an SQLite database, logs)
laid out as in ../shared/docs/crowdsec-lapi.md, with one watcher (machine)
whose random password is also written to a 0600 file for the program under
test, and one bouncer with a random key.  crowdsec runs as `crowdsec -c
D/config.yaml -no-cs` (LAPI only) in its own process group, which is killed
on exit.

When crowdsec is not installed the harness tries scripts/install-crowdsec
once (only as root or with password-less sudo; AD_LAPI_INSTALL=0 turns that
off); when that is impossible or fails it raises adtest.Skip, so the suite
skips rather than fails on a machine without crowdsec.

Secrets (the watcher password, the bouncer key, tokens) are never printed:
repr() leaves them out and error messages have them masked.

Python 3 standard library only.  Every wait is bounded.
"""
import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "cli"))
try:
    from adtest import Skip  # the same class the CLI tests report as "skip"
except ImportError:  # pragma: no cover - harness used outside the suite
    class Skip(Exception):
        pass

INSTALL_SCRIPT = os.path.join(ROOT, "scripts", "install-crowdsec")
READY_TIMEOUT = 15.0      # LAPI is ready in 1-3 s; 15 s covers a loaded CI box
STOP_TIMEOUT = 10.0
CSCLI_TIMEOUT = 30.0
HTTP_TIMEOUT = 10.0
INSTALL_TIMEOUT = 900.0

_install_result = None    # (ok, reason): install is tried once per process
_live = []                # servers to clean up at exit if a test forgot to


class LapiError(Exception):
    """The LAPI or cscli did something the harness did not expect."""


# ---------------------------------------------------------------- install

def _have_crowdsec():
    return shutil.which("crowdsec") is not None and shutil.which("cscli") is not None


def _can_escalate():
    if os.geteuid() == 0:
        return True
    if shutil.which("sudo") is None:
        return False
    try:
        p = subprocess.run(["sudo", "-n", "true"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return p.returncode == 0


def ensure_crowdsec():
    """(True, "") when crowdsec and cscli are usable, installing them if
    possible; otherwise (False, reason)."""
    global _install_result
    if _have_crowdsec():
        return True, ""
    if _install_result is not None:
        return _install_result
    if os.environ.get("AD_LAPI_INSTALL", "1") == "0":
        _install_result = (False, "crowdsec not installed (AD_LAPI_INSTALL=0)")
    elif not os.access(INSTALL_SCRIPT, os.X_OK):
        _install_result = (False, "crowdsec not installed and %s is missing" % INSTALL_SCRIPT)
    elif not _can_escalate():
        _install_result = (False, "crowdsec not installed; not root and no password-less sudo"
                                  " (run scripts/install-crowdsec)")
    else:
        try:
            p = subprocess.run([INSTALL_SCRIPT], stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=INSTALL_TIMEOUT)
            tail = p.stdout.decode("utf-8", "replace").strip().splitlines()[-3:]
            if p.returncode == 0 and _have_crowdsec():
                _install_result = (True, "")
            else:
                _install_result = (False, "crowdsec not installed; scripts/install-crowdsec"
                                          " exited %d (no network?): %s"
                                   % (p.returncode, " | ".join(tail)))
        except subprocess.TimeoutExpired:
            _install_result = (False, "crowdsec not installed; scripts/install-crowdsec"
                                      " timed out after %ds" % INSTALL_TIMEOUT)
        except OSError as e:
            _install_result = (False, "crowdsec not installed; %s" % e)
    return _install_result


def require_crowdsec():
    ok, why = ensure_crowdsec()
    if not ok:
        raise Skip(why)


def crowdsec_version():
    """"v1.4.6-6~deb12u1+b1-debian", or None."""
    if not _have_crowdsec():
        return None
    try:
        p = subprocess.run(["crowdsec", "-version"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        if "version:" in line:
            return line.split("version:", 1)[1].strip()
    return None


# ---------------------------------------------------------------- helpers

def _load_prctl():
    try:
        import ctypes
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError, ImportError):
        return None


_prctl = _load_prctl()


def die_with_parent():
    """preexec_fn: the child gets SIGKILL when this Python dies, even by
    SIGKILL (a test runner's timeout), so no LAPI outlives its test.
    Linux only; elsewhere atexit cleanup has to do."""
    if _prctl is not None:
        _prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG



def free_port():
    """A loopback port free right now.  Another process could take it
    before LAPI binds; start() retries with a new port in that case."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def port_open(port, host="127.0.0.1", timeout=1.0):
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def rfc3339(t=None):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if t is None else t))


def sample_alert(ip, scenario="anomaly-detect/test", duration="4h", events_count=3,
                 scope="Ip", origin="anomaly-detect", decision_type="ban", now=None):
    """One alert shaped as the doc says a ban client must send it: an
    explicit ban decision, bucket fields zeroed, a small event sample."""
    now = time.time() if now is None else now
    start, stop = rfc3339(now - 60), rfc3339(now)
    events = [{"timestamp": stop,
               "meta": [{"key": "http_path", "value": "/.env"},
                        {"key": "http_status", "value": "404"},
                        {"key": "http_verb", "value": "GET"},
                        {"key": "http_user_agent", "value": "adtest"}]}]
    return {
        "scenario": scenario, "scenario_hash": "", "scenario_version": "1",
        "message": "%s: %d requests probing sensitive files (test)" % (ip, events_count),
        "events_count": events_count, "events": events,
        "start_at": start, "stop_at": stop,
        "capacity": 0, "leakspeed": "0s",
        "simulated": False, "remediation": True,
        "source": ({"scope": scope, "value": ip, "ip": ip} if scope == "Ip"
                   else {"scope": scope, "value": ip}),
        "decisions": [{"duration": duration, "type": decision_type, "scope": scope,
                       "value": ip, "origin": origin, "scenario": scenario,
                       "simulated": False}],
        "meta": [{"key": "detector", "value": "anomaly-detect"}],
    }


class Response:
    """status, raw body bytes, parsed JSON (None when not JSON)."""

    def __init__(self, status, body, headers):
        self.status = status
        self.body = body
        self.headers = headers
        try:
            self.json = json.loads(body.decode("utf-8")) if body else None
            self.is_json = bool(body)
        except ValueError:
            self.json = None
            self.is_json = False

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<Response %d %s>" % (self.status, self.text[:200])


def http(method, url, body=None, headers=None, timeout=HTTP_TIMEOUT):
    """One request; answers with any HTTP status (no exception for 4xx /
    5xx).  body: bytes, str, or a JSON-able object.  Connection errors
    raise OSError (urllib.error.URLError is one)."""
    h = dict(headers or {})
    data = None
    if body is not None:
        if isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            data = body.encode("utf-8")
        else:
            data = json.dumps(body).encode("utf-8")
        h.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return Response(r.status, r.read(), dict(r.headers))
    except urllib.error.HTTPError as e:
        try:
            b = e.read()
        finally:
            e.close()
        return Response(e.code, b, dict(e.headers or {}))


# ---------------------------------------------------------------- server

PROFILES = """\
name: default_ip_remediation
filters:
 - Alert.Remediation == true && Alert.GetScope() == "Ip"
decisions:
 - type: ban
   duration: 4h
on_success: break
"""


def _config_yaml(d, port, extra="", hub_dir=None):
    hub = hub_dir.rstrip("/") if hub_dir else d + "/hub"
    return """\
common: {daemonize: false, log_media: file, log_level: info, log_dir: %(d)s/log/, working_dir: .}
config_paths: {config_dir: %(d)s/, data_dir: %(d)s/data/, simulation_path: %(d)s/simulation.yaml,
               hub_dir: %(hub)s/, index_path: %(hub)s/.index.json, notification_dir: %(d)s/notifications/,
               plugin_dir: /usr/lib/crowdsec/plugins/}
cscli: {output: human, color: "no", hub_branch: master}
db_config: {log_level: info, type: sqlite, db_path: %(d)s/data/crowdsec.db, use_wal: true}
api:
  client: {credentials_path: %(d)s/local_api_credentials.yaml}
  server: {log_level: info, listen_uri: 127.0.0.1:%(port)d, profiles_path: %(d)s/profiles.yaml, console_path: %(d)s/console.yaml}
prometheus: {enabled: false}
%(extra)s""" % {"d": d, "port": port, "extra": extra, "hub": hub}


class LapiServer:
    """A LAPI on 127.0.0.1 in a temp dir.  Use as a context manager (or
    call setup() and close()).  Attributes once set up:

      url            "http://127.0.0.1:PORT"
      port, dir, config_path
      machine_id     the watcher's login
      password       its password (never printed)
      password_file  a 0600 file holding exactly the password (no newline)
      bouncer_key    a bouncer API key (never printed)
    """

    def __init__(self, port=None, profiles=PROFILES, config_extra="", hub_dir=None,
                 machine_id="adtest-watcher", bouncer_name="adtest-bouncer"):
        """config_extra: YAML appended to config.yaml (e.g. a
        crowdsec_service section); hub_dir: a hub to use instead of the
        empty D/hub (e.g. Debian's offline hub, /usr/share/crowdsec/hub)."""
        self.port = port
        self._want_port = port
        self._profiles = profiles
        self._config_extra = config_extra
        self._hub_dir = hub_dir
        self.machine_id = machine_id
        self.bouncer_name = bouncer_name
        self.dir = None
        self.config_path = None
        self.url = None
        self.password = None
        self.password_file = None
        self.bouncer_key = None
        self._proc = None
        self._token = None
        self._out = None

    def __repr__(self):
        return "<LapiServer %s dir=%s running=%s>" % (self.url, self.dir, self.running)

    def __enter__(self):
        self.setup()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- set up / tear down

    def setup(self):
        require_crowdsec()
        self.dir = tempfile.mkdtemp(prefix="adtest-lapi-")
        _live.append(self)
        try:
            for sub in ("data", "log", "hub", "notifications"):
                os.makedirs(os.path.join(self.dir, sub))
            self.config_path = os.path.join(self.dir, "config.yaml")
            self._write("profiles.yaml", self._profiles)
            self._write("simulation.yaml", "simulation: off\n")
            self._write("console.yaml", "")
            attempts = 1 if self._want_port else 5
            last = None
            for _ in range(attempts):
                self.port = self._want_port or free_port()
                self.url = "http://127.0.0.1:%d" % self.port
                self._write("config.yaml", _config_yaml(self.dir, self.port, self._config_extra,
                                                         self._hub_dir))
                if self.password is None:
                    self._add_credentials()
                else:
                    self._set_credentials_url()
                try:
                    self.start()
                    return self
                except LapiError as e:
                    # most likely someone took the port between
                    # free_port() and LAPI's bind: try another
                    last = e
                    self._kill()
            raise last
        except BaseException:
            self.close()
            raise

    def close(self):
        self._kill()
        if self._out is not None:
            self._out.close()
            self._out = None
        if self.dir and os.path.isdir(self.dir) and not os.environ.get("AD_LAPI_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        if self in _live:
            _live.remove(self)

    def _write(self, name, text, mode=0o644):
        path = os.path.join(self.dir, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def _add_credentials(self):
        creds = os.path.join(self.dir, "local_api_credentials.yaml")
        # --auto: cscli makes the random password, so it never appears on
        # a command line (visible in ps) or in our output
        self.cscli("machines", "add", self.machine_id, "--auto", "-f", creds)
        os.chmod(creds, 0o600)
        pw = None
        with open(creds) as f:
            for line in f:
                if line.startswith("password:"):
                    pw = line.split(":", 1)[1].strip().strip("'\"")
        if not pw:
            raise LapiError("cscli machines add wrote no password to %s" % creds)
        self.password = pw
        self.password_file = self._write("watcher.password", pw, 0o600)
        p = self.cscli("bouncers", "add", self.bouncer_name, "-o", "raw")
        key = p.stdout.decode("utf-8", "replace").strip()
        if not key or any(c.isspace() for c in key):
            raise LapiError("cscli bouncers add -o raw printed no key")
        self.bouncer_key = key

    def _set_credentials_url(self):
        # cscli finds LAPI through the url in the credentials file
        creds = os.path.join(self.dir, "local_api_credentials.yaml")
        with open(creds) as f:
            lines = [("url: %s\n" % self.url) if l.startswith("url:") else l for l in f]
        with open(creds, "w") as f:
            f.writelines(lines)

    def _redact(self, text):
        for s in (self.password, self.bouncer_key, self._token):
            if s:
                text = text.replace(s, "***")
        return text

    def cscli(self, *args, check=True, timeout=CSCLI_TIMEOUT):
        """cscli -c CONFIG ARGS; stdout/stderr captured (never echoed)."""
        try:
            p = subprocess.run(["cscli", "-c", self.config_path] + list(args),
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise LapiError("cscli %s: timed out after %ds" % (args[0], timeout))
        if check and p.returncode != 0:
            raise LapiError("cscli %s: exit %d: %s" % (
                " ".join(args[:2]), p.returncode,
                self._redact(p.stderr.decode("utf-8", "replace"))[-1500:]))
        return p

    # -- process

    @property
    def running(self):
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout=READY_TIMEOUT):
        """Start LAPI (same port, same database as before) and wait until
        it answers HTTP."""
        if self.running:
            return
        if port_open(self.port):
            raise LapiError("port %d is already taken" % self.port)
        if self._out is None:
            self._out = open(os.path.join(self.dir, "log", "stdout.txt"), "ab")
        self._proc = subprocess.Popen(
            ["crowdsec", "-c", self.config_path, "-no-cs"],
            stdin=subprocess.DEVNULL, stdout=self._out, stderr=subprocess.STDOUT,
            cwd=self.dir, start_new_session=True, preexec_fn=die_with_parent)
        self._token = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise LapiError("crowdsec exited %d at start: %s"
                                % (self._proc.returncode, self.log_tail()))
            try:
                # without a token heartbeat answers 401: any HTTP answer
                # means the API is serving
                http("GET", self.url + "/v1/heartbeat", timeout=1.0)
                return
            except OSError:
                time.sleep(0.1)
        raise LapiError("LAPI not answering on %s after %.0fs: %s"
                        % (self.url, timeout, self.log_tail()))

    def stop(self, timeout=STOP_TIMEOUT):
        """Stop LAPI and wait until its port refuses connections."""
        self._kill(timeout)
        deadline = time.monotonic() + timeout
        while port_open(self.port, timeout=0.5):
            if time.monotonic() > deadline:
                raise LapiError("port %d still open %.0fs after stop" % (self.port, timeout))
            time.sleep(0.1)
        self._token = None

    def _kill(self, timeout=STOP_TIMEOUT):
        p, self._proc = self._proc, None
        if p is None:
            return
        if p.poll() is None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    p.wait(timeout=timeout)
                    break
                except subprocess.TimeoutExpired:
                    continue
        # the group may hold children (plugins) still
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass

    def log_tail(self, n=15):
        out = []
        for name in ("stdout.txt", "crowdsec_api.log", "crowdsec.log"):
            path = os.path.join(self.dir or "", "log", name)
            try:
                with open(path, "rb") as f:
                    lines = f.read()[-8192:].decode("utf-8", "replace").splitlines()
            except OSError:
                continue
            if lines:
                out.append("[%s] %s" % (name, " | ".join(lines[-n:])))
        return self._redact(" ".join(out)) or "(no log)"

    # -- API

    def request(self, method, path, body=None, token=None, api_key=None,
                headers=None, timeout=HTTP_TIMEOUT):
        """A raw request to this LAPI; path starts with /v1/."""
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        if api_key:
            h["X-Api-Key"] = api_key
        return http(method, self.url + path, body=body, headers=h, timeout=timeout)

    def login(self, password=None):
        """A fresh watcher JWT (raises LapiError when login fails)."""
        r = self.request("POST", "/v1/watchers/login",
                         {"machine_id": self.machine_id,
                          "password": self.password if password is None else password,
                          "scenarios": []})
        if r.status != 200 or not isinstance(r.json, dict) or not r.json.get("token"):
            raise LapiError("login: HTTP %d %s" % (r.status, self._redact(r.text)[:300]))
        self._token = r.json["token"]
        return self._token

    def _jwt_request(self, method, path, body=None):
        if self._token is None:
            self.login()
        r = self.request(method, path, body, token=self._token)
        if r.status == 401:     # expired: log in again once
            self.login()
            r = self.request(method, path, body, token=self._token)
        return r

    def post_alerts(self, alerts):
        """POST /v1/alerts as the watcher; the list of alert ids."""
        r = self._jwt_request("POST", "/v1/alerts", alerts)
        if r.status != 201:
            raise LapiError("POST /v1/alerts: HTTP %d %s" % (r.status, r.text[:300]))
        return r.json

    def alerts(self, **params):
        """GET /v1/alerts as the watcher (params e.g. ip=, scenario=)."""
        q = ("?" + urllib.parse.urlencode(params)) if params else ""
        r = self._jwt_request("GET", "/v1/alerts" + q)
        if r.status != 200:
            raise LapiError("GET /v1/alerts: HTTP %d %s" % (r.status, r.text[:300]))
        return r.json or []

    def decisions(self, ip=None, **params):
        """GET /v1/decisions with the bouncer key; LAPI's `null` -> []."""
        if ip is not None:
            params["ip"] = ip
        q = ("?" + urllib.parse.urlencode(params)) if params else ""
        r = self.request("GET", "/v1/decisions" + q, api_key=self.bouncer_key)
        if r.status != 200:
            raise LapiError("GET /v1/decisions: HTTP %d %s" % (r.status, r.text[:300]))
        return r.json or []

    def delete_decisions(self, ip):
        """DELETE /v1/decisions?ip= as the watcher; the number deleted."""
        r = self._jwt_request("DELETE", "/v1/decisions?" + urllib.parse.urlencode({"ip": ip}))
        if r.status != 200:
            raise LapiError("DELETE /v1/decisions: HTTP %d %s" % (r.status, r.text[:300]))
        return int(r.json["nbDeleted"])


@atexit.register
def _cleanup():
    for s in list(_live):
        try:
            s.close()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
