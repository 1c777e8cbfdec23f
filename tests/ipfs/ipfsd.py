#!/usr/bin/env python3
"""Throwaway js-ipfs daemons on loopback, for tests (Python 3 stdlib only).

As a module:

    import ipfsd
    ports = ipfsd.init("/tmp/node1")          # jsipfs init (empty repo) + loopback config
    d = ipfsd.Daemon("/tmp/node1")
    d.start()                                 # waits until POST /api/v0/id answers
    d.call("pin/add", arg=cid, timeout="2s")  # -> parsed JSON
    d.kill(); d.start()                       # a stale repo.lock is removed
    d.stop()

As a command (what the C++ tests spawn):

    python3 tests/ipfs/ipfsd.py run DIR [--api-port N] [--swarm-port N]
                                        [--gateway-port N] [--timeout S]

initialises DIR when it has no config, starts the daemon, prints exactly one
line "API 127.0.0.1:PORT" on stdout once it answers, and stays in the
foreground until SIGTERM/SIGINT/SIGHUP, which stop the daemon cleanly. The
daemon dies with this process even on SIGKILL (PR_SET_PDEATHSIG). The
daemon's output goes to DIR/daemon.log.

The jsipfs script is $TRELLIS_JSIPFS, else
$REPO/.cache/js-ipfs/node_modules/.bin/jsipfs (installed by tools/ipfs-install).

Note: js-ipfs sets its process title to "ipfs", so the node process shows up
as "ipfs" in ps/pgrep (its command line is rewritten too), not as "node".
"""

import argparse
import ctypes
import fcntl
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_JSIPFS = REPO / ".cache" / "js-ipfs" / "node_modules" / ".bin" / "jsipfs"
LOG_NAME = "daemon.log"


class IpfsdError(Exception):
    """Setting up or running a daemon failed."""


class IpfsApiError(Exception):
    """An RPC call answered with an HTTP error status, or with status 200 and
    an X-Stream-Error trailer (an error in the middle of a stream)."""

    def __init__(self, path, status, message, body):
        super().__init__(f"{path}: HTTP {status}: {message}")
        self.path = path
        self.status = status
        self.message = message
        self.body = body


def jsipfs_path():
    """The jsipfs entry script; raises IpfsdError when it is not installed."""
    env = os.environ.get("TRELLIS_JSIPFS")
    path = Path(env) if env else DEFAULT_JSIPFS
    if not path.exists():
        where = f"TRELLIS_JSIPFS={env}" if env else str(path)
        raise IpfsdError(f"js-ipfs not found ({where}): run tools/ipfs-install first")
    return path


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _addr(port):
    return f"/ip4/127.0.0.1/tcp/{port}"


def _port_of(multiaddr):
    parts = multiaddr.split("/")
    return int(parts[parts.index("tcp") + 1])


def _env(repo_dir):
    env = dict(os.environ)
    env["IPFS_PATH"] = str(repo_dir)
    return env


def configure(repo_dir, api_port=0, swarm_port=0, gateway_port=0, rpc_port=0):
    """Rewrites repo_dir/config so the node stays on loopback (see
    /work/shared/IPFS.md). Port 0 picks a free port. Returns the ports."""
    path = Path(repo_dir) / "config"
    cfg = json.loads(path.read_text())
    ports = {
        "api": api_port or free_port(),
        "swarm": swarm_port or free_port(),
        "gateway": gateway_port or free_port(),
        "rpc": rpc_port or free_port(),
    }
    addrs = cfg.setdefault("Addresses", {})
    addrs["API"] = _addr(ports["api"])
    addrs["Gateway"] = _addr(ports["gateway"])
    addrs["RPC"] = _addr(ports["rpc"])  # js-ipfs' gRPC-over-websocket server
    addrs["Swarm"] = [_addr(ports["swarm"])]
    addrs["Delegates"] = []
    addrs["Announce"] = []
    cfg["Bootstrap"] = []
    cfg["Routing"] = {"Type": "none"}
    disc = cfg.setdefault("Discovery", {})
    disc.setdefault("MDNS", {})["Enabled"] = False
    disc.setdefault("webRTCStar", {})["Enabled"] = False
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(cfg, indent=2) + "\n")
    os.replace(tmp, path)
    return ports


def init(repo_dir, api_port=0, swarm_port=0, gateway_port=0, rpc_port=0,
         empty_repo=True):
    """`jsipfs init --profile test` in repo_dir, then configure() it.
    Returns {"api", "swarm", "gateway", "rpc"} ports.

    empty_repo (default) adds --empty-repo: without it js-ipfs pins two
    CIDs recursively at init (its readme folder QmRaaUwT... and the empty
    folder QmUNLLsP...), so a new node's pin set would not be empty."""
    repo_dir = Path(repo_dir)
    if (repo_dir / "config").exists():
        raise IpfsdError(f"{repo_dir} is already an IPFS repository")
    repo_dir.mkdir(parents=True, exist_ok=True)
    cmd = ["node", str(jsipfs_path()), "init", "--profile", "test"]
    if empty_repo:
        cmd.append("--empty-repo")
    res = subprocess.run(cmd, env=_env(repo_dir), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, timeout=120)
    if res.returncode != 0 or not (repo_dir / "config").exists():
        raise IpfsdError(f"jsipfs init {repo_dir} failed (exit {res.returncode}):\n"
                         f"{res.stdout.strip()}")
    return configure(repo_dir, api_port, swarm_port, gateway_port, rpc_port)


def _encode_multipart(data, filename="data"):
    boundary = uuid.uuid4().hex
    head = (f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()
    body = head + data + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def _query(args):
    items = []
    for key, value in args.items():
        key = key.replace("_", "-")  # size_only= -> size-only=
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if isinstance(v, bool):
                v = "true" if v else "false"
            items.append((key, str(v)))
    return urllib.parse.urlencode(items)


def _http_post(host, port, url, body, headers, timeout):
    """One POST on its own connection (Connection: close). Returns
    (status, headers, body, trailers); header names are lower-case.
    Hand-rolled because http.client drops chunked trailers, and js-ipfs
    reports errors inside a stream in the trailer X-Stream-Error."""
    body = body or b""
    head = [f"POST {url} HTTP/1.1", f"Host: {host}:{port}", "Connection: close",
            f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(head) + "\r\n\r\n").encode() + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        raise http.client.HTTPException(f"truncated HTTP response from {host}:{port}")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    trailers = {}
    if hdrs.get("transfer-encoding", "").lower() == "chunked":
        data = bytearray()
        pos = 0
        while True:
            eol = rest.index(b"\r\n", pos)
            size = int(rest[pos:eol].split(b";")[0], 16)
            pos = eol + 2
            if size == 0:
                break
            data += rest[pos:pos + size]
            pos += size + 2
        for line in rest[pos:].decode("utf-8", "replace").split("\r\n"):
            if ":" in line:
                k, _, v = line.partition(":")
                trailers[k.strip().lower()] = v.strip()
        rest = bytes(data)
    elif "content-length" in hdrs:
        rest = rest[:int(hdrs["content-length"])]
    return status, hdrs, rest, trailers


def _message(text):
    try:
        return json.loads(text).get("Message", text.strip())
    except (ValueError, AttributeError):
        return text.strip()


def call(api, path, data=None, http_timeout=60, **args):
    """POST http://API/api/v0/PATH?args. Repeated arguments: pass a list
    (arg=[old, new]); `data` (bytes) is sent as the multipart file (add,
    block/put); underscores in names become dashes (size_only=True).
    Returns the parsed JSON body; a streamed answer (X-Chunked-Output:
    pin/ls?stream=true, add, block/rm) as a list of its JSON lines. Raises
    IpfsApiError for an HTTP error status, and for an error reported in the
    X-Stream-Error trailer of a streamed answer (status 200)."""
    host, port = api.rsplit(":", 1)
    url = f"/api/v0/{path}"
    q = _query(args)
    if q:
        url += "?" + q
    headers = {}
    body = None
    if data is not None:
        body, headers["Content-Type"] = _encode_multipart(data)
    status, hdrs, raw, trailers = _http_post(host, int(port), url, body, headers, http_timeout)
    text = raw.decode("utf-8", "replace")
    if status >= 400:
        raise IpfsApiError(path, status, _message(text), text)
    if "x-stream-error" in trailers:
        err = trailers["x-stream-error"]
        raise IpfsApiError(path, status, _message(err), text + err)
    if "x-chunked-output" in hdrs:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    if not text.strip():
        return None
    return json.loads(text)


def _pdeathsig_preexec(parent_pid):
    """Child side of fork: die with SIGKILL when the parent dies."""
    try:  # loaded before fork: no dlopen in the child
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        prctl = None

    def preexec():
        if prctl is not None:
            prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
        if os.getppid() != parent_pid:  # the parent died before prctl
            os._exit(1)
    return preexec


class Daemon:
    """One js-ipfs daemon on an initialised repository (see init()).

    The daemon is started in its own session (so a terminal's Ctrl-C reaches
    only this process, which then stops it) and is SIGKILLed by the kernel
    when the thread that started it dies (PR_SET_PDEATHSIG): start it from a
    thread that lives as long as the daemon should, e.g. the main thread."""

    def __init__(self, repo_dir, ready_timeout=60.0, log_path=None):
        self.dir = Path(repo_dir).resolve()
        if not (self.dir / "config").exists():
            raise IpfsdError(f"{self.dir} has no config: call init() first")
        self.ready_timeout = ready_timeout
        self.log_path = Path(log_path) if log_path else self.dir / LOG_NAME
        self.proc = None
        self._log_offset = 0
        self._read_config()

    def _read_config(self):
        cfg = json.loads((self.dir / "config").read_text())
        self.api_port = _port_of(cfg["Addresses"]["API"])
        self.swarm_port = _port_of(cfg["Addresses"]["Swarm"][0])
        self.peer_id = cfg["Identity"]["PeerID"]

    @property
    def api(self):
        """"127.0.0.1:PORT" of the RPC API."""
        return f"127.0.0.1:{self.api_port}"

    @property
    def swarm_addr(self):
        """Multiaddr other nodes can swarm/connect to."""
        return f"/ip4/127.0.0.1/tcp/{self.swarm_port}/p2p/{self.peer_id}"

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def call(self, path, data=None, http_timeout=60, **args):
        """call() against this daemon's API."""
        return call(self.api, path, data=data, http_timeout=http_timeout, **args)

    def log_tail(self, lines=40):
        """The last lines the daemon wrote in its current (or last) run."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _answers(self):
        """The daemon on our API port answers /id with our peer id."""
        try:
            out = call(self.api, "id", http_timeout=2)
        except (OSError, http.client.HTTPException, IpfsApiError, ValueError, IndexError):
            return False
        return isinstance(out, dict) and out.get("ID") == self.peer_id

    def _datastore_in_use(self):
        """Some live process holds the LevelDB lock (an fcntl lock, released
        by the kernel when its holder dies) of this repository's datastore."""
        try:
            fd = os.open(self.dir / "datastore" / "LOCK", os.O_RDWR)
        except OSError:
            return False
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False
        except OSError:
            return True
        finally:
            os.close(fd)  # drops our lock, if we got it

    def _clear_stale_lock(self):
        # After kill -9, js-ipfs leaves repo.lock (a proper-lockfile
        # directory, refreshed every 10 s, stale only after 20 s): a new
        # daemon fails with "Lock already being held" until then. Also the
        # "api" file, which would make jsipfs CLI commands use this API.
        if self._answers() or self._datastore_in_use():
            raise IpfsdError(f"a daemon for {self.dir} is already running (API {self.api})")
        lock = self.dir / "repo.lock"
        if lock.is_dir():
            for child in lock.iterdir():
                child.unlink()
            lock.rmdir()
        elif lock.exists():
            lock.unlink()
        api_file = self.dir / "api"
        if api_file.exists():
            api_file.unlink()

    def start(self):
        """Starts the daemon; returns once POST /api/v0/id answers.
        Raises IpfsdError (with the log tail) if it dies or times out."""
        if self.running():
            raise IpfsdError(f"daemon for {self.dir} already started (pid {self.proc.pid})")
        self._read_config()
        self._clear_stale_lock()
        cmd = ["node", str(jsipfs_path()), "daemon", "--enable-preload=false"]
        log = open(self.log_path, "ab")
        self._log_offset = log.tell()
        started = time.monotonic()
        try:
            self.proc = subprocess.Popen(
                cmd, env=_env(self.dir), cwd=str(self.dir), stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=_pdeathsig_preexec(os.getpid()))
        finally:
            log.close()
        deadline = started + self.ready_timeout
        while True:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                raise IpfsdError(f"js-ipfs daemon for {self.dir} exited with {rc} while "
                                 f"starting; log tail:\n{self.log_tail()}")
            if self._answers():
                self.startup_seconds = time.monotonic() - started
                return self
            if time.monotonic() > deadline:
                self.kill()
                raise IpfsdError(f"js-ipfs daemon for {self.dir} not ready on {self.api} "
                                 f"after {self.ready_timeout:.0f} s; log tail:\n{self.log_tail()}")
            time.sleep(0.1)

    def stop(self, grace=5.0):
        """SIGTERM, then SIGKILL after `grace` seconds. Returns the exit code."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            try:
                proc.terminate()
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def kill(self):
        """SIGKILL (leaves a stale repo.lock, which start() removes)."""
        if self.proc is None:
            return None
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        return proc.returncode

    def restart(self):
        self.stop()
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class _Stop(Exception):
    pass


def _run(args):
    repo_dir = Path(args.dir)
    if (repo_dir / "config").exists():
        if args.api_port or args.swarm_port or args.gateway_port:
            cfg = json.loads((repo_dir / "config").read_text())
            a = cfg["Addresses"]
            configure(repo_dir,
                      args.api_port or _port_of(a["API"]),
                      args.swarm_port or _port_of(a["Swarm"][0]),
                      args.gateway_port or _port_of(a["Gateway"]),
                      _port_of(a.get("RPC", _addr(free_port()))))
    else:
        init(repo_dir, args.api_port, args.swarm_port, args.gateway_port)

    def on_signal(signum, frame):
        raise _Stop()

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)

    daemon = Daemon(repo_dir, ready_timeout=args.timeout)
    try:
        daemon.start()
        sys.stdout.write(f"API {daemon.api}\n")
        sys.stdout.flush()
        while daemon.running():
            time.sleep(0.2)
        print(f"ipfsd: js-ipfs daemon exited unexpectedly with {daemon.proc.returncode}; "
              f"log tail:\n{daemon.log_tail()}", file=sys.stderr)
        daemon.proc = None
        return 1
    except _Stop:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        daemon.stop()
        return 0
    finally:
        daemon.kill()  # no-op after stop(); covers errors and a late signal


def main(argv=None):
    parser = argparse.ArgumentParser(description="Run throwaway js-ipfs daemons on loopback.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="init DIR if needed, run its daemon in the foreground")
    run.add_argument("dir")
    run.add_argument("--api-port", type=int, default=0)
    run.add_argument("--swarm-port", type=int, default=0)
    run.add_argument("--gateway-port", type=int, default=0)
    run.add_argument("--timeout", type=float, default=60.0,
                     help="seconds to wait for the daemon to answer (default 60)")
    ini = sub.add_parser("init", help="init DIR (loopback config) and print its API address")
    ini.add_argument("dir")
    ini.add_argument("--api-port", type=int, default=0)
    ini.add_argument("--swarm-port", type=int, default=0)
    ini.add_argument("--gateway-port", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        if args.command == "init":
            ports = init(args.dir, args.api_port, args.swarm_port, args.gateway_port)
            print(f"API 127.0.0.1:{ports['api']}")
            return 0
        return _run(args)
    except (IpfsdError, IpfsApiError, OSError, subprocess.SubprocessError) as e:
        print(f"ipfsd: {e}", file=sys.stderr)
        return 1
    except _Stop:
        return 0  # a signal while initialising


if __name__ == "__main__":
    sys.exit(main())
