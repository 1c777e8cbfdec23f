#!/usr/bin/env python3
"""End-to-end checks of the `trellis` CLI against a running peer (stdlib only).

    python3 tests/cluster/test_cli.py TRELLIS_BIN REST_URL [--ipfs-api URL] [--basic-auth USER:PW]

TRELLIS_BIN is the built CLI, REST_URL a running peer's REST API (e.g.
http://127.0.0.1:9094) whose IPFS daemon answers at --ipfs-api (default
http://127.0.0.1:5001; content to pin is added there with pin=false).
The peer must have pinning on; --basic-auth is for a peer with
restapi.basic_auth_credentials (then a request without them must get 401). Also starts a small in-process HTTP server on
loopback for what a healthy peer never does (an X-Stream-Error trailer, a
204 list, checking the Authorization header).

Prints "ok NAME" or "FAIL NAME: why" per check; exits 1 if any failed.
"""

import argparse
import base64
import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import urllib.request
import uuid

FAILED = []


def check(name, cond, why=""):
    if cond:
        print(f"ok   {name}")
    else:
        print(f"FAIL {name}: {why}")
        FAILED.append(name)
    return cond


class Cli:
    def __init__(self, binary, url, auth=None):
        self.binary = binary
        self.url = url
        self.auth = auth

    def run(self, *args, host=True, timeout=120, auth=True):
        cmd = [self.binary] + (["--host", self.url] if host else [])
        cmd += ["--basic-auth", self.auth] if self.auth and auth else []
        cmd += list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr


def describe(r):
    return f"exit {r[0]}, stdout {r[1][-600:]!r}, stderr {r[2][-600:]!r}"


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return port


AUTH = {}


def api(url, path, method="GET"):
    req = urllib.request.Request(url + path, method=method, headers=AUTH)
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def ipfs_add(ipfs_api, data):
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + \
        f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(ipfs_api + "/api/v0/add?pin=false&cid-version=1", data=body,
                                 method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read().decode().strip().splitlines()[-1])["Hash"]


def missing_cid():
    """A CIDv1 (raw, sha256) of random bytes that no IPFS node has."""
    digest = hashlib.sha256(os.urandom(32)).digest()
    raw = bytes([0x01, 0x55, 0x12, 0x20]) + digest
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def json_lines(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def real_peer_checks(cli, url, ipfs_api):
    peer = api(url, "/id")
    pid = peer["id"]
    if cli.auth:
        r = cli.run("id", auth=False)
        check("no credentials: exit 1, HTTP 401", r[0] == 1 and "(HTTP 401)" in r[2], describe(r))

    r = cli.run("id")
    check("id", r[0] == 0 and pid in r[1], describe(r))
    r = cli.run("id", "--json")
    check("id --json parses", r[0] == 0 and json.loads(r[1])["id"] == pid, describe(r))

    version = api(url, "/version")["version"]
    r = cli.run("version")
    check("version", r[0] == 0 and "trellis CLI" in r[1] and version in r[1], describe(r))
    r = cli.run("--version", host=False)
    check("--version", r[0] == 0 and r[1].startswith("trellis CLI"), describe(r))

    r = cli.run("peers", "ls", "--json")
    check("peers ls --json", r[0] == 0 and pid in [p["id"] for p in json_lines(r[1])], describe(r))
    r = cli.run("peers", "rm", pid)
    check("peers rm of the answering peer: exit 1, says what to do",
          r[0] == 1 and "stop trellisd on it" in r[2], describe(r))

    cid = ipfs_add(ipfs_api, os.urandom(20000))
    r = cli.run("pin", "add", cid, "--name", "test cli", "--replication", "1",
                "--metadata", "app=cli", "--metadata", "k=v", "--expire-in", "1h",
                "--mode", "recursive", "--wait", "--wait-timeout", "60s")
    check("pin add --wait", r[0] == 0 and "PINNED" in r[1] and "test cli" in r[1], describe(r))
    stored = api(url, "/allocations/" + cid)
    cid = stored["cid"]  # the peer may normalise the CID's text
    check("pin add options reached the peer",
          stored["name"] == "test cli" and stored["metadata"] == {"app": "cli", "k": "v"}
          and stored["replication_factor_min"] == 1 and stored["replication_factor_max"] == 1
          and not stored["expire_at"].startswith("0001"), json.dumps(stored))

    r = cli.run("status", cid)
    check("status CID", r[0] == 0 and cid in r[1] and "PINNED" in r[1] and "test cli" in r[1],
          describe(r))
    r = cli.run("status", cid, "--json")
    ok = r[0] == 0 and any(v["status"] == "pinned" for v in json.loads(r[1])["peer_map"].values())
    check("status CID --json", ok, describe(r))
    r = cli.run("status", "--filter", "pinned", "--json")
    check("status --filter pinned", r[0] == 0 and cid in [g["cid"] for g in json_lines(r[1])],
          describe(r))
    r = cli.run("status", "--local")
    check("status --local", r[0] == 0 and cid in r[1], describe(r))

    r = cli.run("pin", "ls")
    check("pin ls", r[0] == 0 and cid in r[1] and "test cli" in r[1], describe(r))
    r = cli.run("pin", "ls", "--json")
    check("pin ls --json (one object per line)",
          r[0] == 0 and cid in [p["cid"] for p in json_lines(r[1])], describe(r))
    r = cli.run("pin", "ls", cid, "--json")
    check("pin ls CID --json", r[0] == 0 and json.loads(r[1])["name"] == "test cli", describe(r))

    r = cli.run("recover", cid)
    check("recover CID", r[0] == 0 and cid in r[1], describe(r))
    r = cli.run("recover", "--json")
    check("recover (all)", r[0] == 0 and all(isinstance(x, dict) for x in json_lines(r[1])),
          describe(r))

    r = cli.run("pin", "rm", cid, "--wait", "--wait-timeout", "60s")
    check("pin rm --wait", r[0] == 0, describe(r))
    gpi = api(url, "/pins/" + cid)
    check("pin rm --wait left nothing pinned",
          all(v["status"] not in ("pinned", "unpinning") for v in gpi["peer_map"].values()),
          json.dumps(gpi))

    r = cli.run("pin", "rm", cid)
    check("error: exit 1 with the API's message",
          r[0] == 1 and "pin is not part of the pinset" in r[2] and "(HTTP 404)" in r[2],
          describe(r))
    r = cli.run("pin", "add", "not-a-cid")
    check("error: bad CID is HTTP 400", r[0] == 1 and "(HTTP 400)" in r[2], describe(r))

    gone = missing_cid()
    r = cli.run("pin", "add", gone, "--wait", "--wait-timeout", "1500ms")
    check("--wait-timeout: exit 4", r[0] == 4 and "timed out" in r[2], describe(r))
    cli.run("pin", "rm", gone)

    bad = f"http://127.0.0.1:{closed_port()}"
    r = cli.run("--host", bad, "--host", url, "id", host=False)
    check("failover to the second --host", r[0] == 0 and pid in r[1], describe(r))
    r = cli.run("--host", bad, "--host", f"/ip4/127.0.0.1/tcp/{closed_port()}", "id", host=False)
    check("no host reachable: exit 3", r[0] == 3, describe(r))

    r = cli.run("health", "graph")
    out = r[1].strip()
    check("health graph is DOT",
          r[0] == 0 and out.startswith("digraph") and out.endswith("}") and pid in out, describe(r))
    r = cli.run("health", "metrics", "--json")
    check("health metrics", r[0] == 0 and all(isinstance(n, str) for n in json_lines(r[1])),
          describe(r))
    r = cli.run("health", "alerts")
    check("health alerts", r[0] == 0, describe(r))


def usage_checks(cli):
    for args in (["bogus"], ["pin"], ["pin", "add"], ["pin", "add", "X", "--replication", "two"],
                 ["pin", "add", "X", "--replication", "1", "--replication-min", "1"],
                 ["pin", "add", "X", "--metadata", "novalue"], ["status", "--frob"],
                 ["--timeout", "soon", "id"], ["--host", "ftp://x", "id"]):
        r = cli.run(*args)
        check("usage error: trellis " + " ".join(args), r[0] == 2, describe(r))
    r = cli.run("pin", "add", "--help")
    check("pin add --help", r[0] == 0 and "Example" in r[1] and "Exit codes" in r[1], describe(r))


class Mock(http.server.BaseHTTPRequestHandler):
    """What a healthy peer never does: a stream that fails half-way."""
    protocol_version = "HTTP/1.1"
    seen_auth = []

    def log_message(self, *args):
        pass

    def reply(self, status, obj):
        body = (json.dumps(obj) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        self.reply(200, {"cid": "bafyfail", "name": "", "type": "pin", "allocations": ["P1"]})

    def do_GET(self):
        Mock.seen_auth.append(self.headers.get("Authorization"))
        if self.path.startswith("/allocations"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Trailer", "X-Stream-Error")
            self.send_header("X-Chunked-Output", "1")
            self.end_headers()
            for i in range(2):
                line = json.dumps({"cid": f"bafy{i}", "name": f"n{i}", "type": "pin"}) + "\n"
                self.wfile.write(f"{len(line):x}\r\n{line}\r\n".encode())
            # As IPFS Cluster does: an empty value, then one per error.
            self.wfile.write(b"0\r\nX-Stream-Error: \r\nX-Stream-Error: state read failed\r\n\r\n")
        elif self.path.startswith("/pins/bafyfail"):
            self.reply(200, {"cid": "bafyfail", "name": "", "allocations": ["P1"], "peer_map": {
                "P1": {"peername": "p1", "status": "pin_error", "timestamp": "", "error": "no space"}}})
        elif self.path.startswith("/peers"):
            self.send_response(204)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
        else:
            body = b'{"code":404,"message":"not found"}\n'
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


def mock_checks(binary):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Mock)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        cli = Cli(binary, f"http://127.0.0.1:{server.server_address[1]}")
        r = cli.run("pin", "ls", "--json", "--basic-auth", "alice:s3cret")
        check("X-Stream-Error trailer: items, then exit 1",
              r[0] == 1 and len(json_lines(r[1])) == 2 and "state read failed" in r[2], describe(r))
        want = "Basic " + base64.b64encode(b"alice:s3cret").decode()
        check("--basic-auth sends Basic credentials", want in Mock.seen_auth, str(Mock.seen_auth))
        r = cli.run("peers", "ls")
        check("204 is an empty list", r[0] == 0 and r[1] == "", describe(r))
        r = cli.run("pin", "add", "bafyfail", "--wait")
        check("--wait on pin_error: exit 4 with the peer's error",
              r[0] == 4 and "pin_error" in r[2] and "no space" in r[2], describe(r))
        # A host that accepts connections but never answers: --timeout, then the next host.
        silent = socket.socket()
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        try:
            r = cli.run("--host", f"http://127.0.0.1:{silent.getsockname()[1]}", "--host", cli.url,
                        "--timeout", "1s", "peers", "ls", host=False)
            check("--timeout on a silent host, then failover", r[0] == 0, describe(r))
            r = cli.run("--host", f"http://127.0.0.1:{silent.getsockname()[1]}",
                        "--timeout", "1s", "id", host=False)
            check("silent host alone: exit 3", r[0] == 3 and "timed out" in r[2], describe(r))
        finally:
            silent.close()
    finally:
        server.shutdown()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("rest_url")
    ap.add_argument("--ipfs-api", default="http://127.0.0.1:5001")
    ap.add_argument("--basic-auth", help="USER:PASSWORD for the peer")
    a = ap.parse_args()
    url = a.rest_url.rstrip("/")
    if a.basic_auth:
        AUTH["Authorization"] = "Basic " + base64.b64encode(a.basic_auth.encode()).decode()
    cli = Cli(a.binary, url, a.basic_auth)
    usage_checks(cli)
    mock_checks(a.binary)
    real_peer_checks(cli, url, a.ipfs_api.rstrip("/"))
    print(f"{'FAILED' if FAILED else 'passed'}: {len(FAILED)} failed")
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
