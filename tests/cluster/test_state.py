#!/usr/bin/env python3
"""`trellisd state export|import|cleanup` and the data folder's lock, on real
trellisd processes.

  test_state.py TRELLISD [TEST...]

Tests: roundtrip (pins imported on one peer reach the other; its export
survives cleanup + re-sync and cleanup + import unchanged), malformed (an
import with a bad line in the middle writes nothing and names the line),
lock (a second daemon, an import and a cleanup on a running peer's folder
fail and name the holder's PID)."""

import base64
import hashlib
import json
import os
import subprocess
import sys

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
    print("malformed: a bad line 3 is named and nothing is written")


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


TESTS = {"roundtrip": roundtrip, "malformed": malformed, "lock": lock}

if __name__ == "__main__":
    binary = sys.argv[1]
    names = sys.argv[2:] or list(TESTS)
    for name in names:
        TESTS[name](binary)
    print("state tests passed: %s" % ", ".join(names))
