#!/usr/bin/env python3
"""`trellisd state export|import|cleanup` and the data folder's lock, on real
trellisd processes.

  test_state.py TRELLISD [TEST...]

Tests: roundtrip (pins imported on one peer reach the other; its export
survives cleanup + re-sync and cleanup + import unchanged), malformed (an
import with a bad line in the middle, or at the end of a file, writes
nothing and names the line),
lock (a second daemon, an import and a cleanup on a running peer's folder
fail and name the holder's PID), shutdown (SIGTERM while 32 keep-alive
clients POST pins: the daemon exits 0 within seconds, every pin it
acknowledged is in the state afterwards, and its log is one JSON object per
line with log.format = json)."""

import base64
import http.client
import hashlib
import json
import os
import subprocess
import signal
import sys
import threading
import time

import harness


def cid(text):
    """A CIDv1 (raw, sha2-256) in base32, as trellisd prints it."""
    digest = hashlib.sha256(text.encode()).digest()
    raw = bytes([0x01, 0x55, 0x12, 0x20]) + digest
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def pin_lines(n, tag):
    lines = []
    for i in range(n):
        pin = {"cid": cid("%s-%d" % (tag, i)), "name": "pin %d" % i,
               "replication_factor_min": -1, "replication_factor_max": -1,
               "metadata": {"i": str(i)}, "timestamp": "2030-01-02T15:04:05Z"}
        if i % 3 == 0:
            pin["mode"] = "direct"
        lines.append(json.dumps(pin))
    return lines


def run(binary, *args, stdin=None):
    return subprocess.run([binary] + list(args), input=stdin, capture_output=True, text=True)


def export(binary, peer):
    r = run(binary, "state", "export", "--dir", peer.dir)
    assert r.returncode == 0, r.stderr
    return sorted(r.stdout.splitlines())


def import_lines(binary, peer, lines):
    return run(binary, "state", "import", "--dir", peer.dir, "-", stdin="\n".join(lines) + "\n")


def pinset(lines):
    return {json.loads(line)["cid"]: json.loads(line) for line in lines}


def roundtrip(binary):
    with harness.Cluster(2, binary) as c:
        a, b = c.peers
        r = import_lines(binary, a, pin_lines(500, "rt"))
        assert r.returncode == 0 and "imported 500 pins" in r.stdout, r
        c.start()
        c.wait_converged(60)
        before = export(binary, b)  # while b runs
        assert len(before) == 500, len(before)
        assert pinset(before) == pinset(export(binary, a))
        path = os.path.join(c.root, "export.ndjson")
        r = run(binary, "state", "export", "--dir", b.dir, "-o", path)
        assert r.returncode == 0, r.stderr

        b.kill()
        r = run(binary, "state", "cleanup", "--dir", b.dir)
        assert r.returncode != 0 and "--force" in r.stderr, r
        r = run(binary, "state", "cleanup", "--dir", b.dir, "--force")
        assert r.returncode == 0, r.stderr
        assert export(binary, b) == []
        b.start()  # re-syncs from a
        c.wait_converged(60)
        assert export(binary, b) == before

        b.kill()
        r = run(binary, "state", "cleanup", "--dir", b.dir, "--force")
        assert r.returncode == 0, r.stderr
        r = run(binary, "state", "import", "--dir", b.dir, path)
        assert r.returncode == 0 and "imported 500 pins" in r.stdout, r
        assert export(binary, b) == before
        b.start()
        c.wait_converged(60)
        assert export(binary, b) == before and export(binary, a) == before
    print("roundtrip: 500 pins through export, cleanup, re-sync, import")


def malformed(binary):
    with harness.Cluster(1, binary) as c:
        p = c.peers[0]
        assert import_lines(binary, p, pin_lines(10, "ok")).returncode == 0
        before = export(binary, p)
        lines = pin_lines(5, "bad")
        lines[2] = lines[2].replace('"name"', '"nmae"')
        r = import_lines(binary, p, lines)
        assert r.returncode != 0 and "line 3" in r.stderr and "nmae" in r.stderr, r
        lines[2] = "{not json"
        r = import_lines(binary, p, lines)
        assert r.returncode != 0 and "line 3" in r.stderr, r
        assert export(binary, p) == before
        # From a file: a bad last line after 2,500 good ones writes nothing.
        path = os.path.join(c.root, "bad.ndjson")
        good = pin_lines(2500, "file")
        with open(path, "w") as f:
            f.write("\n".join(good + ["{not json"]) + "\n")
        r = run(binary, "state", "import", "--dir", p.dir, path)
        assert r.returncode != 0 and "line 2501" in r.stderr, r
        assert export(binary, p) == before
        with open(path, "w") as f:
            f.write("\n".join(good) + "\n")
        r = run(binary, "state", "import", "--dir", p.dir, path)
        assert r.returncode == 0, r.stderr
        assert set(pinset(export(binary, p))) == set(pinset(before)) | set(pinset(good))
        before = export(binary, p)
        # Past several commits' worth of pins (import streams them through a
        # temporary file, 5,000 a commit): still nothing written.
        files = sorted(os.listdir(p.dir))
        lines = pin_lines(12001, "many")
        lines[-1] = "{not json"
        r = import_lines(binary, p, lines)
        assert r.returncode != 0 and "line 12001" in r.stderr, r
        assert export(binary, p) == before
        assert sorted(os.listdir(p.dir)) == files, "import left files behind"
    print("malformed: a bad line 3, 2,501 of a file or 12,001 of a stream is named and nothing "
          "is written; a file of 2,500 pins imports")


def lock(binary):
    with harness.Cluster(1, binary) as c:
        p = c.peers[0]
        p.start()
        pid = str(p.proc.pid)
        r = subprocess.run([binary, "daemon", "--dir", p.dir], capture_output=True, text=True,
                           timeout=30)
        assert r.returncode != 0 and p.dir in r.stderr and pid in r.stderr, r
        for args in (["import", "-"], ["cleanup", "--force"]):
            r = run(binary, "state", *args, "--dir", p.dir, stdin="")
            assert r.returncode != 0 and "stop the daemon first" in r.stderr, r
            assert pid in r.stderr, r
        assert p.alive()
    print("lock: a second daemon, import and cleanup refused while the daemon runs")


def post_until_refused(port, tag, acked, stop):
    """POSTs pins on one keep-alive connection until the server goes away;
    records the CIDs answered 200."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    i = 0
    try:
        while not stop.is_set():
            c = cid("%s-%d" % (tag, i))
            i += 1
            conn.request("POST", "/pins/%s?replication=-1" % c)
            r = conn.getresponse()
            body = r.read()
            assert r.status == 200, (r.status, body)
            acked.append(c)
    except (OSError, http.client.HTTPException):
        pass  # the daemon closed the connection: shutting down


def shutdown(binary):
    with harness.Cluster(1, binary, sync=True) as c:
        p = c.peers[0]
        path = os.path.join(p.dir, "config.json")
        with open(path) as f:
            cfg = json.load(f)
        port = harness.free_port()
        cfg["restapi"]["listen"] = "/ip4/127.0.0.1/tcp/%d" % port
        # No IPFS daemon: pins are accepted and tracked, never pinned.
        cfg["ipfs"]["api"] = "/ip4/127.0.0.1/tcp/%d" % harness.free_port()
        cfg["log"] = {"level": "debug", "format": "json"}
        with open(path, "w") as f:
            json.dump(cfg, f)
        p.start()
        acked, stop = [], threading.Event()
        clients = [threading.Thread(target=post_until_refused, args=(port, "t%d" % t, acked, stop))
                   for t in range(32)]
        for t in clients:
            t.start()
        time.sleep(1.5)
        before = len(acked)
        t0 = time.monotonic()
        p.proc.send_signal(signal.SIGTERM)
        rc = p.proc.wait(timeout=30)
        took = time.monotonic() - t0
        stop.set()
        for t in clients:
            t.join(timeout=30)
        assert rc == 0, "exit status %d; log: %s" % (rc, p.tail())
        assert took < 10, "SIGTERM took %.1f s" % took
        assert before > 100, "only %d pins acknowledged in 1.5 s" % before
        state = {json.loads(line)["cid"] for line in export(binary, p)}
        lost = [x for x in acked if x not in state]
        assert not lost, "%d acknowledged pins missing after SIGTERM, e.g. %s" % (len(lost), lost[0])
        with open(os.path.join(p.dir, "trellisd.log")) as f:
            events = [json.loads(line) for line in f]
        assert all(set(e) == {"time", "level", "component", "msg"} for e in events), events[:3]
        assert any(e["msg"] == "shutting down (SIGTERM)" for e in events), events
        assert any(e["component"] == "restapi" or e["msg"].startswith("REST API on")
                   for e in events), events
        p.proc = None
    print("shutdown: SIGTERM with 32 clients posting: exit 0 after %.2f s; all %d acknowledged "
          "pins (of %d in the state) survive; %d JSON log lines" % (took, len(acked), len(state), len(events)))


TESTS = {"roundtrip": roundtrip, "malformed": malformed, "lock": lock, "shutdown": shutdown}

if __name__ == "__main__":
    binary = sys.argv[1]
    names = sys.argv[2:] or list(TESTS)
    for name in names:
        TESTS[name](binary)
    print("state tests passed: %s" % ", ".join(names))
