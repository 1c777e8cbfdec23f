#!/usr/bin/env python3
"""IPFS Cluster's REST API on 3 trellisd peers, each with its own js-ipfs
daemon (tests/ipfs/ipfsd.py; install with tools/ipfs-install).

  test_rest.py TRELLISD [CASE...]      (default: every case)

Cases:
  routes  every route against the running cluster: /id, /version, /peers
          (NDJSON with X-Chunked-Output), /allocations (204 when empty),
          POST /pins/{cid} with options (both spellings of the replication
          factors), GET /pins global and local with filters, recover,
          DELETE, /health, /health/graph, /health/alerts, /monitor/metrics,
          DELETE /peers/{id} (a stopped peer's pins move to the others),
          Prometheus /metrics (checked with promtool);
          and the errors: bad CIDs, bad options, unknown pins and routes.
  clients the published JavaScript clients against the cluster, as their
          users call them: ipfs-cluster-api 0.0.9 (id, peers.ls, pin.add with
          options, pin.ls, status, recover, pin.rm) on the REST API and
          @ipfs-shipyard/pinning-service-client (add, list by meta, get,
          replace, remove) on the Pinning Service API.
  limits  3,000 connections at once (past max_connections they get 503 and
          memory stays bounded), a 100 MB body (413 unread), headers trickled
          a byte at a time (cut off at read_header_timeout) while the API keeps
          answering.
  cli     the `trellis` CLI (tests/cluster/test_cli.py) against one peer.
  tls     the REST API with ssl_cert_file/ssl_key_file: a client that checks
          the certificate gets /id, a pin, a stream, keep-alive; plain HTTP
          on the TLS port gets no answer and does no harm; the trellis CLI
          over https:// checks the certificate (SSL_CERT_FILE) or not
          (--no-check-certificate).
  auth    a peer with basic_auth_credentials: 401 without or with wrong
          credentials (with IPFS Cluster's WWW-Authenticate headers), Basic
          works, POST /token gives a JWT that works as a Bearer token, a
          tampered token is refused, GET /health needs no auth.

Exit 77 (skip) when js-ipfs is missing and TRELLIS_ALLOW_SKIP=1."""

import base64
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import traceback

from ipfs_cluster_harness import POOL, PinningSetup, jsipfs_problem, log, wait

CONFIG = {"pinning": {"metrics_ttl_ms": 1000}}


class Reply:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)

    def lines(self):
        return [json.loads(line) for line in self.body.splitlines() if line.strip()]


def call(peer, method, path, headers=None, body=None, api="rest"):
    host, port = getattr(peer, api)[len("http://"):].split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=30)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    body = r.read().decode()
    out = Reply(r.status, r.getheaders(), body)
    c.close()
    return out


def header(reply, name):
    return [v for k, v in reply.headers if k.lower() == name.lower()]


def expect(reply, status, what):
    assert reply.status == status, "%s: HTTP %d, want %d: %s" % (what, reply.status, status,
                                                                 reply.body[:300])
    return reply


def error_says(reply, status, text, what):
    expect(reply, status, what)
    msg = reply.json()
    assert msg["code"] == status and text in msg["message"], "%s: %s" % (what, msg)


def case_routes(binary):
    with PinningSetup(binary, 3, config=CONFIG, name="rest") as s:
        s.start()
        s.wait_mesh()
        p0 = s.peers[0]
        ids = {p.id for p in s.peers}

        info = expect(call(p0, "GET", "/id"), 200, "GET /id").json()
        assert info["id"] == p0.id and info["peername"] and info["ipfs"].get("id"), info
        assert set(info["cluster_peers"]) == ids, info["cluster_peers"]
        assert expect(call(p0, "GET", "/version"), 200, "version").json()["version"]

        peers = expect(call(p0, "GET", "/peers"), 200, "GET /peers")
        assert header(peers, "X-Chunked-Output") == ["1"], peers.headers
        assert {p["id"] for p in peers.lines()} == ids, peers.body
        expect(call(p0, "GET", "/allocations"), 204, "empty /allocations")
        expect(call(p0, "GET", "/pins"), 204, "empty /pins")

        cids = s.add_content(3, sizes=[2048, 4096, 8192])
        # The allocator needs every peer's metrics first.
        pin = None

        def pinned():
            nonlocal pin
            r = call(p0, "POST", "/pins/%s?replication=2&name=first&meta-app=demo&"
                     "stream-channels=true" % cids[0])
            if r.status == 200:
                pin = r.json()
            return r.status == 200, r.body[:200]
        wait(pinned, 30, "POST /pins/{cid} accepted (metrics from every peer)")
        assert pin["cid"] == cids[0] and pin["name"] == "first", pin
        assert pin["metadata"] == {"app": "demo"} and pin["type"] == "pin", pin
        assert pin["replication_factor_min"] == 2 and len(pin["allocations"]) == 2, pin
        assert pin["expire_at"] == "0001-01-01T00:00:00Z" and pin["mode"] == "recursive", pin

        old = expect(call(p0, "POST", "/pins/%s?replication_factor_min=1&"
                          "replication_factor_max=1&expire-in=1h" % cids[1]), 200,
                     "old spellings").json()
        assert old["replication_factor_min"] == 1 and old["replication_factor_max"] == 1, old
        assert len(old["allocations"]) == 1 and old["expire_at"].startswith("20"), old
        every = expect(call(p0, "POST", "/pins/ipfs/%s?replication=-1&mode=direct" % cids[2]),
                       200, "/pins/ipfs/{cid}").json()
        assert every["allocations"] == [] and every["mode"] == "direct", every

        alloc = set(pin["allocations"])

        def statuses():
            g = call(s.peers[2], "GET", "/pins/%s" % cids[0]).json()
            got = {peer: e["status"] for peer, e in g["peer_map"].items()}
            want = {p: ("pinned" if p in alloc else "remote") for p in ids}
            return got == want, got
        wait(statuses, 60, "GET /pins/{cid} on peer 2 shows pinned on the 2 allocations")

        allocs = expect(call(p0, "GET", "/allocations"), 200, "GET /allocations")
        assert {p["cid"] for p in allocs.lines()} == set(cids), allocs.body
        assert expect(call(p0, "GET", "/allocations/%s" % cids[0]), 200,
                      "allocation").json()["allocations"] == pin["allocations"]
        allp = expect(call(p0, "GET", "/pins"), 200, "GET /pins")
        assert header(allp, "X-Chunked-Output") == ["1"]
        lines = allp.lines()
        assert len(lines) == 3 and all(set(g["peer_map"]) == ids for g in lines), allp.body
        local = expect(call(p0, "GET", "/pins?local=true"), 200, "local").lines()
        assert all(list(g["peer_map"]) == [p0.id] for g in local), local
        def all_pinned():
            got = call(p0, "GET", "/pins?filter=pinned")
            return got.status == 200 and len(got.lines()) == 3, got.body[:200]
        wait(all_pinned, 60, "filter=pinned lists the 3 pins")
        some = expect(call(p0, "GET", "/pins?cids=%s,%s" % (cids[0], cids[1])), 200, "cids").lines()
        assert [g["cid"] for g in some] == cids[:2], some
        expect(call(p0, "GET", "/pins?filter=error"), 204, "no errors")

        rec = expect(call(p0, "POST", "/pins/%s/recover" % cids[0]), 200, "recover").json()
        assert rec["cid"] == cids[0] and set(rec["peer_map"]) == ids, rec
        expect(call(p0, "POST", "/pins/recover?local=true"), 204, "recover all: nothing to do")

        # Errors.
        error_says(call(p0, "POST", "/pins/notacid"), 400, "error decoding Cid", "bad CID")
        error_says(call(p0, "POST", "/pins/%s?mode=sideways" % cids[0]), 400, "mode", "bad mode")
        error_says(call(p0, "POST", "/pins/%s?replication-min=x" % cids[0]), 400,
                   "replication-min", "bad factor")
        error_says(call(p0, "POST", "/pins/%s?expire-in=10ms" % cids[0]), 400, "too short",
                   "short expiry")
        error_says(call(p0, "POST", "/pins/%s?expire-at=tomorrow" % cids[0]), 400, "RFC 3339",
                   "bad expire-at")
        r = call(p0, "POST", "/pins/%s?replication=7" % cids[0])
        assert r.status >= 400 and "need 7" in r.json()["message"], r.body
        error_says(call(p0, "GET", "/pins?filter=bogus"), 400, "invalid filter", "bad filter")
        unknown = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
        error_says(call(p0, "DELETE", "/pins/%s" % unknown), 404, "not part of the pinset",
                   "unknown pin")
        error_says(call(p0, "GET", "/allocations/%s" % unknown), 404, "not part of the pinset",
                   "unknown allocation")
        error_says(call(p0, "GET", "/nowhere"), 404, "not found", "unknown route")
        g = expect(call(p0, "GET", "/pins/%s" % unknown), 200, "status of unknown").json()
        assert {e["status"] for e in g["peer_map"].values()} == {"unpinned"}, g

        # The Pinning Service API's errors: {"error": {"reason", "details"}}.
        def svc_error(reply, status, reason, text, what):
            expect(reply, status, what)
            e = reply.json()["error"]
            assert e["reason"] == reason and text in e["details"], "%s: %s" % (what, e)
        svc_error(call(p0, "POST", "/pins", body="{\"name\": 1}", api="pinsvc"), 400,
                  "BAD_REQUEST", "pin.cid is missing", "no cid")
        svc_error(call(p0, "POST", "/pins", body="not json", api="pinsvc"), 400, "BAD_REQUEST",
                  "JSON", "bad body")
        svc_error(call(p0, "GET", "/pins?limit=5000", api="pinsvc"), 400, "BAD_REQUEST",
                  "limit", "bad limit")
        svc_error(call(p0, "GET", "/pins/notacid", api="pinsvc"), 400, "BAD_REQUEST",
                  "requestid", "bad requestid")
        svc_error(call(p0, "GET", "/pins/%s" % unknown, api="pinsvc"), 404, "NOT_FOUND",
                  "requestid", "unknown requestid")
        listed = expect(call(p0, "GET", "/pins?status=pinned,queued,pinning,failed&limit=2",
                             api="pinsvc"), 200, "pinsvc list").json()
        assert listed["count"] == 3 and len(listed["results"]) == 2, listed
        newest = [r["created"] for r in listed["results"]]
        assert newest == sorted(newest, reverse=True), newest

        # Health and metrics.
        expect(call(p0, "GET", "/health"), 204, "health")
        graph = expect(call(p0, "GET", "/health/graph"), 200, "graph").json()
        assert set(graph["cluster_links"]) == ids and graph["cluster_id"] == p0.id, graph
        assert all(len(v) == 2 for v in graph["cluster_links"].values()), graph
        names = expect(call(p0, "GET", "/monitor/metrics"), 200, "metric names").json()
        assert "ping" in names and "freespace" in names, names
        free = expect(call(p0, "GET", "/monitor/metrics/freespace"), 200, "freespace").json()
        assert {m["peer"] for m in free} == ids and all(m["valid"] for m in free), free
        assert expect(call(p0, "GET", "/health/alerts"), 200, "alerts").json() == []

        # Prometheus: the families the issue names, in a format promtool accepts.
        text = expect(call(p0, "GET", "/metrics", api="metrics"), 200, "/metrics").body
        for family in ["trellis_pins{status=\"pinned\"}", "trellis_ipfs_operations_total",
                       "trellis_pin_queue_operations", "trellis_crdt_heads", "trellis_dag_height",
                       "trellis_dag_blocks", "trellis_blocks_fetched_total",
                       "trellis_blocks_served_total", "trellis_sync_wanted_blocks",
                       "trellis_peers_connected 2", "trellis_http_requests_total{api=\"restapi\"",
                       "process_resident_memory_bytes", "process_cpu_seconds_total"]:
            assert family in text, "/metrics lacks %s:\n%s" % (family, text)
        promtool = shutil.which("promtool")
        assert promtool, "promtool is missing (Debian package prometheus; tools/test installs it)"
        check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                               text=True)
        assert check.returncode == 0 and not check.stdout.strip() and not check.stderr.strip(), \
            "promtool check metrics: %s%s" % (check.stdout, check.stderr)

        # Unpin through the API: gone from every daemon.
        gone = expect(call(p0, "DELETE", "/pins/%s" % cids[0]), 200, "DELETE").json()
        assert gone["cid"] == cids[0], gone
        wait(lambda: (not s.pinned_on(cids[0]), s.pinned_on(cids[0])), 60,
             "the unpinned CID leaves every daemon")

        # DELETE /peers/{id}: a stopped peer is removed and its pins move.
        p2 = s.peers[2]
        on2 = expect(call(p0, "POST", "/pins/%s?replication=1&user-allocations=%s"
                          % (cids[0], p2.id)), 200, "pin allocated to peer 2").json()
        assert on2["allocations"] == [p2.id], on2
        error_says(call(p0, "DELETE", "/peers/notapeer"), 400, "peer ID", "bad peer ID")
        error_says(call(p0, "DELETE", "/peers/%s" % p0.id), 400, "stop trellisd on it", "self")
        stranger = os.path.join(s.root, "stranger")
        subprocess.run([binary, "init", "--dir", stranger], check=True, stdout=subprocess.DEVNULL)
        stranger_id = subprocess.run([binary, "id", "--dir", stranger], check=True,
                                     capture_output=True, text=True).stdout.strip()
        error_says(call(p0, "DELETE", "/peers/%s" % stranger_id), 404, "not part of the cluster",
                   "unknown peer")
        p2.kill()
        expect(call(p0, "DELETE", "/peers/%s" % p2.id), 204, "DELETE /peers/{id}")
        moved = expect(call(p0, "GET", "/allocations/%s" % cids[0]), 200, "moved").json()
        assert len(moved["allocations"]) == 1 and p2.id not in moved["allocations"], moved
        assert p2.id not in moved["user_allocations"], moved
        pings = expect(call(p0, "GET", "/monitor/metrics/ping"), 200, "pings").json()
        assert p2.id not in {m["peer"] for m in pings}, pings
        target = s.index_of[moved["allocations"][0]]
        wait(lambda: (target in s.pinned_on(cids[0]), s.pinned_on(cids[0])), 60,
             "the re-allocated pin is pinned on its new peer")
        log("routes: ok")


def case_tls(binary):
    with PinningSetup(binary, 1, config=CONFIG, name="rest-tls") as s:
        p = s.peers[0]
        cert, key = os.path.join(s.root, "cert.pem"), os.path.join(s.root, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], check=True, capture_output=True)
        path = os.path.join(p.dir, "config.json")
        with open(path) as f:
            cfg = json.load(f)
        cfg["restapi"].update({"ssl_cert_file": cert, "ssl_key_file": key})
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2)
        s.start()
        host, port = p.rest[len("http://"):].split(":")
        ctx = ssl.create_default_context(cafile=cert)  # verifies the certificate and the IP
        c = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=30)
        c.request("GET", "/id")
        r = c.getresponse()
        info = json.loads(r.read())
        assert r.status == 200 and info["id"] == p.id, (r.status, info)
        cid = s.add_content(1)[0]
        c.request("POST", "/pins/%s?replication=-1" % cid)  # same connection: keep-alive
        r = c.getresponse()
        assert r.status == 200 and json.loads(r.read())["cid"] == cid, r.status
        c.request("GET", "/allocations")
        r = c.getresponse()
        lines = r.read().decode().splitlines()
        assert r.status == 200 and r.getheader("X-Chunked-Output") == "1", r.getheaders()
        assert [json.loads(line)["cid"] for line in lines] == [cid], lines
        c.close()
        # Plain HTTP on the TLS port gets no HTTP answer; TLS keeps working.
        try:
            plain = call(p, "GET", "/id")
            assert plain.status != 200, plain.body
        except (OSError, http.client.HTTPException):
            pass
        c = http.client.HTTPSConnection(host, int(port), context=ctx, timeout=30)
        c.request("GET", "/version")
        assert c.getresponse().status == 200
        c.close()
        # The trellis CLI over HTTPS: verified with SSL_CERT_FILE, refused
        # without it (exit 3, with the way out), or told not to check.
        cli = os.environ.get("TRELLIS_CLI") or os.path.join(
            os.path.dirname(os.path.dirname(binary)), "tools", "cli", "trellis")
        url = "https://%s:%s" % (host, port)
        env = dict(os.environ, SSL_CERT_FILE=cert)
        r = subprocess.run([cli, "--host", url, "id"], env=env, capture_output=True, text=True)
        assert r.returncode == 0 and p.id in r.stdout, r
        env.pop("SSL_CERT_FILE")
        r = subprocess.run([cli, "--host", url, "id"], env=env, capture_output=True, text=True)
        assert r.returncode == 3 and "--no-check-certificate" in r.stderr, r
        r = subprocess.run([cli, "--host", url, "--no-check-certificate", "pin", "ls"], env=env,
                           capture_output=True, text=True)
        assert r.returncode == 0 and cid in r.stdout, r
        log("tls: ok")


def case_auth(binary):
    creds = {"restapi_user": "s3cret"}
    with PinningSetup(binary, 1, config=CONFIG, name="rest-auth") as s:
        path = os.path.join(s.peers[0].dir, "config.json")
        with open(path) as f:
            cfg = json.load(f)
        cfg["restapi"]["basic_auth_credentials"] = creds
        cfg["pinsvcapi"]["basic_auth_credentials"] = creds
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2)
        s.start()
        p = s.peers[0]
        basic = "Basic " + base64.b64encode(b"restapi_user:s3cret").decode()
        wrong = "Basic " + base64.b64encode(b"restapi_user:guess").decode()

        r = call(p, "GET", "/id")
        error_says(r, 401, "no auth provided", "no credentials")
        assert header(r, "WWW-Authenticate") == [
            'Bearer realm="Restricted IPFS Cluster API"',
            'Basic realm="Restricted IPFS Cluster API"'], r.headers
        error_says(call(p, "GET", "/id", {"Authorization": wrong}), 401, "access denied", "wrong")
        assert expect(call(p, "GET", "/id", {"Authorization": basic}), 200, "basic").json()["id"] == p.id
        expect(call(p, "GET", "/health"), 204, "health needs no auth")

        token = expect(call(p, "POST", "/token", {"Authorization": basic}), 200, "token").json()["token"]
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        assert claims == {"iss": "restapi_user"}, claims
        bearer = {"Authorization": "Bearer " + token}
        expect(call(p, "GET", "/version", bearer), 200, "bearer")
        tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        r = call(p, "GET", "/version", {"Authorization": "Bearer " + tampered})
        error_says(r, 401, "invalid token", "tampered token")
        assert 'error="invalid_token"' in header(r, "WWW-Authenticate")[0], r.headers
        r = call(p, "GET", "/pins", api="pinsvc")
        expect(r, 401, "pinsvc without a token")
        assert r.json()["error"]["reason"] == "UNAUTHORIZED", r.body
        token = expect(call(p, "POST", "/token", {"Authorization": basic}, api="pinsvc"), 200,
                       "pinsvc token").json()["token"]
        listed = expect(call(p, "GET", "/pins", {"Authorization": "Bearer " + token},
                             api="pinsvc"), 200, "pinsvc with a token").json()
        assert listed == {"count": 0, "results": []}, listed
        log("auth: ok")


def run_js(mode, url, *cids):
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "js_clients.js")
    r = subprocess.run(["node", script, mode, url] + list(cids), capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, "%s client: %s%s" % (mode, r.stdout, r.stderr[-3000:])
    log("%s client: %s" % (mode, r.stdout.strip()))
    return json.loads(r.stdout)


def case_clients(binary):
    with PinningSetup(binary, 3, config=CONFIG, name="rest-clients") as s:
        s.start()
        s.wait_mesh()
        p0 = s.peers[0]
        ids = {p.id for p in s.peers}
        wait(lambda: ({m["peer"] for m in call(p0, "GET", "/monitor/metrics/freespace").json()}
                      == ids, "metrics"), 30, "freespace metrics from every peer")
        cids = s.add_content(3, sizes=[1500, 2500, 3500])
        got = run_js("cluster-api", p0.rest, cids[0])
        assert got["peers"] == 3 and len(got["allocations"]) == 2, got
        got = run_js("pinning-service", p0.pinsvc, cids[1], cids[2])
        assert got["requestid"] == cids[1] and got["replaced"] == cids[2], got
        wait(lambda: (not s.pinned_on(cids[2]), s.pinned_on(cids[2])), 60,
             "the pin removed through the Pinning Service API leaves every daemon")
        log("clients: ok")


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def case_limits(binary):
    """Abusive clients cannot exhaust the daemon: thousands of connections,
    an oversized body, headers trickled a byte at a time."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with PinningSetup(binary, 1, config=CONFIG, name="rest-limits") as s:
        path = os.path.join(s.peers[0].dir, "config.json")
        with open(path) as f:
            cfg = json.load(f)
        cfg["restapi"].update(max_connections=256, read_header_timeout_ms=1000)
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2)
        s.start()
        p = s.peers[0]
        host, port = p.rest[len("http://"):].split(":")
        port = int(port)
        before = rss_kb(p.proc.pid)

        # 3,000 connections at once: 256 are served, the rest get 503.
        socks = []
        for _ in range(min(3000, hard - 200)):
            c = socket.create_connection((host, port), timeout=10)
            socks.append(c)
        busy = 0
        for c in socks[256:]:
            try:
                c.settimeout(5)
                busy += c.recv(64).startswith(b"HTTP/1.1 503")
            except OSError:
                pass
        held_rss = rss_kb(p.proc.pid)
        for c in socks:
            c.close()
        assert busy >= len(socks) - 256 - 5, "%d of %d extra connections got 503" % (
            busy, len(socks) - 256)
        wait(lambda: (call(p, "GET", "/id").status == 200, "id"), 10,
             "the API answers again once the flood is closed")

        # A 100 MB body is refused from its Content-Length, unread.
        c = socket.create_connection((host, port), timeout=10)
        c.sendall(("POST /pins/QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG HTTP/1.1\r\n"
                   "Host: x\r\nContent-Length: 100000000\r\n\r\n").encode())
        assert c.recv(4096).startswith(b"HTTP/1.1 413"), "oversized body not refused"
        c.close()

        # Headers trickled a byte every 200 ms: cut off after read_header_timeout (1 s),
        # while other clients are served.
        c = socket.create_connection((host, port), timeout=10)
        t = time.monotonic()
        c.sendall(b"GET /id HTTP/1.1\r\n")
        closed = False
        for _ in range(50):
            time.sleep(0.2)
            assert call(p, "GET", "/version").status == 200
            try:
                c.sendall(b"X")
                c.setblocking(False)
                if c.recv(1) == b"":
                    closed = True
                    break
            except BlockingIOError:
                pass
            except OSError:
                closed = True
                break
            finally:
                c.setblocking(True)
        took = time.monotonic() - t
        assert closed and took < 4, "a trickling client held its connection %.1f s" % took
        after = rss_kb(p.proc.pid)
        log("limits: %d × 503, RSS %d kB before, %d kB with 3,000 connections held, %d kB after; "
            "trickler cut after %.1f s" % (busy, before, held_rss, after, took))
        assert held_rss - before < 64 * 1024, "3,000 connections cost %d kB" % (held_rss - before)
        log("limits: ok")


def case_cli(binary):
    """tests/cluster/test_cli.py (every `trellis` command, exit codes,
    failover, streams) against one peer with its js-ipfs daemon."""
    cli = os.environ.get("TRELLIS_CLI") or os.path.join(
        os.path.dirname(os.path.dirname(binary)), "tools", "cli", "trellis")
    with PinningSetup(binary, 1, config=CONFIG, name="rest-cli") as s:
        s.start()
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "test_cli.py")
        r = subprocess.run([sys.executable, script, cli, s.peers[0].rest, "--ipfs-api",
                            "http://%s" % s.ipfs[0].api], capture_output=True, text=True,
                           timeout=240)
        print(r.stdout[-4000:], r.stderr[-2000:])
        assert r.returncode == 0, "test_cli.py failed"
        log("cli: ok")


CASES = {"cli": case_cli, "routes": case_routes, "auth": case_auth, "clients": case_clients,
         "limits": case_limits, "tls": case_tls}


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    problem = jsipfs_problem()
    if problem:
        print("js-ipfs is not installed: %s (run tools/ipfs-install)" % problem)
        return 77 if os.environ.get("TRELLIS_ALLOW_SKIP") == "1" else 1
    names = sys.argv[2:] or list(CASES)
    binary = os.path.abspath(sys.argv[1])
    # SIGTERM (a meson timeout) unwinds like an exception: every process stops.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    failed = 0
    try:
        for name in names:
            try:
                CASES[name](binary)
            except Exception:  # noqa: BLE001 - report every case
                traceback.print_exc()
                print("case %s: FAILED" % name)
                failed += 1
    finally:
        POOL.close()
    print("%d of %d cases passed" % (len(names) - failed, len(names)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
