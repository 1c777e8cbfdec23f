#!/usr/bin/env python3
"""The chaos suite's network client: runs inside a network namespace (the
suite's client namespace, or a peer's own), never in the root one.

  client.py content API COUNT SEED OUT
      puts COUNT random blocks (64 bytes each, seeded) into the js-ipfs
      daemon at API without pinning them, in one request; writes their CIDs to OUT, one per
      line. Run with the same seed against every daemon: same bytes, same CIDs.
  client.py write CONFIG
      the writer load: pins and unpins through the REST API of the peers in
      CONFIG (a JSON file: peers, user, password, cids, log, stop, seed, rate,
      workers) until the file CONFIG["stop"] exists. Every operation and its
      outcome is appended to CONFIG["log"] as one JSON object per line.
  client.py ipfs-pins API OUT
      the recursive pins of the js-ipfs daemon at API, as a JSON list.
  client.py allocations URL USER PASSWORD OUT
      GET URL/allocations?filter=all: {cid: allocations} as JSON.

Each CID is pinned at most once and unpinned at most once (after its pin was
acknowledged), so the checker can tell exactly what must be present and what
must be absent. Python stdlib only."""

import base64
import http.client
import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ipfs"))
import ipfsd  # noqa: E402

REQUEST_TIMEOUT = 8.0   # seconds; a POST that takes longer counts as not acknowledged


def content(api, count, seed, out):
    """One multipart `add` of every block (one request instead of COUNT)."""
    rng = random.Random(seed)
    boundary = "chaos-%d" % seed
    parts = []
    for i in range(count):
        parts.append(("--%s\r\nContent-Disposition: form-data; name=\"file\"; "
                      "filename=\"b%d\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                      % (boundary, i)).encode() + rng.randbytes(64) + b"\r\n")
    body = b"".join(parts) + ("--%s--\r\n" % boundary).encode()
    host, port = api.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    conn.request("POST", "/api/v0/add?pin=false&cid-version=0", body=body,
                 headers={"Content-Type": "multipart/form-data; boundary=" + boundary})
    r = conn.getresponse()
    text = r.read().decode()
    if r.status != 200:
        raise SystemExit("add: HTTP %d %s" % (r.status, text[:300]))
    by_name = {}
    for line in text.splitlines():
        if line.strip():
            e = json.loads(line)
            by_name[e["Name"]] = e["Hash"]
    cids = [by_name["b%d" % i] for i in range(count)]
    with open(out, "w") as f:
        f.write("\n".join(cids) + "\n")


def ipfs_pins(api, out):
    lines = ipfsd.call(api, "pin/ls", type="recursive", stream=True, http_timeout=60) or []
    lines = [lines] if isinstance(lines, dict) else lines
    with open(out, "w") as f:
        json.dump(sorted(e["Cid"] for e in lines), f)


def auth_header(user, password):
    token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    return {"Authorization": "Basic " + token}


def split_url(url):
    hostport = url.split("://", 1)[1].rstrip("/")
    host, port = hostport.rsplit(":", 1)
    return host, int(port)


def allocations(url, user, password, out):
    host, port = split_url(url)
    conn = http.client.HTTPConnection(host, port, timeout=60)
    conn.request("GET", "/allocations?filter=all", headers=auth_header(user, password))
    r = conn.getresponse()
    body = r.read()
    if r.status not in (200, 204):
        raise SystemExit("GET %s/allocations: HTTP %d %s" % (url, r.status, body[:200]))
    pins = {}
    for line in body.splitlines():
        if line.strip():
            p = json.loads(line)
            pins[p["cid"]] = sorted(p.get("allocations") or [])
    with open(out, "w") as f:
        json.dump(pins, f)


class Writer:
    """Worker threads sharing a pool of fresh CIDs and a list of CIDs whose
    pin was acknowledged (candidates for an unpin)."""

    def __init__(self, cfg):
        self.cfg = cfg
        self.rng = random.Random(cfg["seed"])
        self.lock = threading.Lock()
        with open(cfg["cids"]) as f:
            self.fresh = [line.strip() for line in f if line.strip()]
        self.rng.shuffle(self.fresh)
        self.pinned = []
        self.log = open(cfg["log"], "a", buffering=1)
        self.headers = auth_header(cfg["user"], cfg["password"])
        self.interval = cfg["workers"] / float(cfg["rate"])

    def next_op(self):
        """(op, cid, peer index, query) or None when the CIDs ran out."""
        with self.lock:
            peer = self.rng.randrange(len(self.cfg["peers"]))
            if self.pinned and self.rng.random() < 0.3:
                cid = self.pinned.pop(self.rng.randrange(len(self.pinned)))
                return "unpin", cid, peer, ""
            if not self.fresh:
                return None
            cid = self.fresh.pop()
            replication = self.rng.choice([-1, 1, 2, 2, 3])
            return "pin", cid, peer, "?replication=%d" % replication

    def record(self, op, cid, peer, status, error, started):
        entry = {"op": op, "cid": cid, "peer": peer, "status": status, "error": error,
                 "ok": status == 200, "t": round(started, 3),
                 "ms": round((time.time() - started) * 1000, 1)}
        with self.lock:
            self.log.write(json.dumps(entry) + "\n")
            if op == "pin" and status == 200:
                self.pinned.append(cid)

    def request(self, conns, peer, method, path):
        """One request on a kept-alive connection; (status, error)."""
        conn = conns.get(peer)
        if conn is None:
            host, port = split_url(self.cfg["peers"][peer])
            conn = conns[peer] = http.client.HTTPConnection(host, port, timeout=REQUEST_TIMEOUT)
        try:
            conn.request(method, path, headers=self.headers)
            r = conn.getresponse()
            body = r.read()
            return r.status, None if r.status == 200 else body[:200].decode("utf-8", "replace")
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            conns.pop(peer, None)
            return None, "%s: %s" % (type(e).__name__, e)

    def work(self):
        conns = {}
        while not os.path.exists(self.cfg["stop"]):
            t = time.time()
            op = self.next_op()
            if op is None:
                break
            kind, cid, peer, query = op
            method = "POST" if kind == "pin" else "DELETE"
            status, error = self.request(conns, peer, method, "/pins/%s%s" % (cid, query))
            self.record(kind, cid, peer, status, error, t)
            time.sleep(max(0.0, self.interval - (time.time() - t)))

    def run(self):
        threads = [threading.Thread(target=self.work) for _ in range(self.cfg["workers"])]
        for th in threads:
            th.start()
        for th in threads:
            th.join()


def main(argv):
    cmd = argv[1] if len(argv) > 1 else ""
    if cmd == "content" and len(argv) == 6:
        content(argv[2], int(argv[3]), int(argv[4]), argv[5])
    elif cmd == "write" and len(argv) == 3:
        with open(argv[2]) as f:
            Writer(json.load(f)).run()
    elif cmd == "ipfs-pins" and len(argv) == 4:
        ipfs_pins(argv[2], argv[3])
    elif cmd == "allocations" and len(argv) == 6:
        allocations(*argv[2:6])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
