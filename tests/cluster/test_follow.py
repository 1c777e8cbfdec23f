#!/usr/bin/env python3
"""Collaborative clusters on real processes: 3 trusted trellisd peers, 2
read-only followers and a rogue peer, on loopback.

  test_follow.py TRELLISD TRELLIS_FOLLOW ROGUE_PEER

  - T0, T1, T2 trust each other (cluster.trusted_peers); T0 pins through its
    js-ipfs daemon, T1 and T2 run without IPFS.
  - F1 follows through `trellis-follow f1 init URL` (the follower config
    that `trellisd follower-config` printed, served over HTTP by this test)
    and `trellis-follow f1 run`, with its own js-ipfs daemon.
  - F2 is `trellisd init --follower`, with its own js-ipfs daemon and a REST
    API, and at first knows only the rogue peer.
  - The rogue peer has the cluster secret but is trusted by no one: it
    publishes heads of its own pins, relays the trusted heads and forged
    copies of them, and serves tampered blocks (tests/cluster/rogue_peer.cc).

Checked: F2, fed only by the rogue, rejects its heads, the forged heads and
the tampered blocks and holds nothing; F1 and (once it can reach T1) F2
converge on exactly the trusted state and pin the pin-everywhere CIDs on
their own daemons, not the ones allocated to T0; every write to a follower
(REST, control socket, state import) is refused with "follower mode" and a
follower publishes nothing; `trellis-follow` init (URL and file), run, list
(online and offline), info and the cluster listing."""

import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

import harness
from ipfs_cluster_harness import POOL, PinPeer, _die_with_parent, jsipfs_problem, log, wait

EVERYWHERE = 3  # pins with replication -1 (followers pin them)
ON_T0 = 2       # pins with replication 1 (allocated to T0, the only peer with IPFS)
# Keys in the state once one pin is removed: the pins left, plus the removal
# marker (/removed/<cid>) the unpin writes.
KEYS_LEFT = EVERYWHERE + ON_T0 - 1 + 1


class Setup:
    def __init__(self, trellisd, follow, rogue):
        self.trellisd, self.follow_bin, self.rogue_bin = trellisd, follow, rogue
        self.root = tempfile.mkdtemp(prefix="trellis-follow-test-")
        self.ipfs = POOL.get(3)  # T0, F1, F2
        self.procs = []
        self.trusted = []
        self.env = dict(os.environ, TRELLIS_FOLLOW_HOME=os.path.join(self.root, "follow"))

    def cleanup(self):
        for p in self.trusted + [getattr(self, "f2", None)]:
            if p:
                p.kill()
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if not os.environ.get("TRELLIS_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)

    def init_peer(self, name, ipfs_api, extra, rest=False):
        d = os.path.join(self.root, name)
        port = harness.free_port()
        subprocess.run([self.trellisd, "init", "--dir", d, "--listen", "/ip4/127.0.0.1/tcp/%d" % port,
                        "--rebroadcast-ms", "1000", "--no-sync", "--ipfs-api", ipfs_api,
                        "--name", "followtest"] + extra, check=True, stdout=subprocess.DEVNULL)
        path = os.path.join(d, "config.json")
        with open(path) as f:
            cfg = json.load(f)
        cfg["metrics"]["listen"] = ""
        rest_port, pinsvc_port = harness.free_port(), harness.free_port()
        cfg["restapi"]["listen"] = "/ip4/127.0.0.1/tcp/%d" % rest_port if rest else ""
        cfg["pinsvcapi"]["listen"] = "/ip4/127.0.0.1/tcp/%d" % pinsvc_port if rest else ""
        cfg["pinning"]["metrics_ttl_ms"] = 2000
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2)
        p = PinPeer(self, len(self.trusted), d, "127.0.0.1", port)
        p.rest = "http://127.0.0.1:%d" % rest_port
        p.pinsvc = "http://127.0.0.1:%d" % pinsvc_port
        p.id = subprocess.run([self.trellisd, "id", "--dir", d], check=True,
                              capture_output=True, text=True).stdout.strip()
        return p

    @property
    def binary(self):  # PinPeer runs cluster.binary
        return self.trellisd

    def set_config(self, peer, section, field, value):
        path = os.path.join(peer.dir, "config.json")
        with open(path) as f:
            cfg = json.load(f)
        cfg[section][field] = value
        with open(path, "w") as f:
            json.dump(cfg, f, indent=2)

    def start_trusted(self):
        t0 = self.init_peer("t0", "/ip4/127.0.0.1/tcp/%d" % self.ipfs[0].daemon.api_port, [])
        self.trusted = [t0]
        self.secret = json.load(open(os.path.join(t0.dir, "config.json")))["cluster"]["secret"]
        for i in (1, 2):
            self.trusted.append(self.init_peer("t%d" % i, "", ["--secret", self.secret,
                                                               "--bootstrap", t0.addr]))
        ids = ",".join(p.id for p in self.trusted)
        for p in self.trusted:
            self.set_config(p, "cluster", "trusted_peers", ids.split(","))
            p.start()
        wait(lambda: (all(len(p.info()["peers"]) == 2 for p in self.trusted),
                      [len(p.info()["peers"]) for p in self.trusted]), 30, "the trusted mesh")

    def start_rogue(self):
        port = harness.free_port()
        self.rogue_addr_port = port
        proc = subprocess.Popen([self.rogue_bin, self.secret, os.path.join(self.root, "rogue"),
                                 str(port)] + [p.addr for p in self.trusted],
                                stdout=subprocess.PIPE, stderr=open(os.path.join(self.root, "rogue.log"), "ab"),
                                preexec_fn=_die_with_parent())
        self.procs.append(proc)
        line = proc.stdout.readline().decode()
        assert line.startswith("ready "), "rogue-peer did not start: %r" % line
        self.rogue_id = line.split()[1]
        self.rogue = proc
        return "/ip4/127.0.0.1/tcp/%d/p2p/%s" % (port, self.rogue_id)

    def follow(self, *args, check=True, timeout=60):
        r = subprocess.run([self.follow_bin] + list(args), env=self.env, capture_output=True,
                           text=True, timeout=timeout)
        if check and r.returncode != 0:
            raise AssertionError("trellis-follow %s: exit %d\n%s%s" % (" ".join(args), r.returncode,
                                                                      r.stdout, r.stderr))
        return r

    def pin(self, cid, options):
        deadline = time.monotonic() + 40
        while True:
            try:
                return self.trusted[0].ctl("pin %s %s" % (cid, options))
            except RuntimeError as e:
                if "not enough peers" not in str(e) or time.monotonic() > deadline:
                    raise
            time.sleep(0.25)


def serve_file(path):
    """Serves `path` over HTTP on loopback; returns (URL, server)."""
    directory, name = os.path.split(path)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=directory, **kw)

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return "http://127.0.0.1:%d/%s" % (server.server_address[1], name), server


def states(peers):
    infos = [p.info() for p in peers]
    return {(i["state"], tuple(sorted(i["heads"]))) for i in infos}, infos


def follower_config(s):
    r = subprocess.run([s.trellisd, "follower-config", "--dir", s.trusted[0].dir],
                       capture_output=True, text=True, check=True)
    fc = json.loads(r.stdout)
    assert fc["cluster_name"] == "followtest", fc
    assert sorted(fc["trusted_peers"]) == sorted(p.id for p in s.trusted), fc
    assert fc["bootstrap"] == [s.trusted[0].addr], fc
    path = os.path.join(s.root, "follower.json")
    with open(path, "w") as f:
        f.write(r.stdout)
    return path


def check_refusals(s, f2, cid):
    """Every write path of a follower says "follower mode"."""
    for method, url in (("POST", "/pins/%s" % cid), ("DELETE", "/pins/%s" % cid),
                        ("DELETE", "/peers/%s" % s.trusted[1].id)):
        req = urllib.request.Request(f2.rest + url, method=method, data=b"" if method == "POST" else None)
        try:
            urllib.request.urlopen(req, timeout=10)
            raise AssertionError("%s %s on a follower succeeded" % (method, url))
        except urllib.error.HTTPError as e:
            body = e.read().decode()
            assert e.code == 403 and "follower mode" in body, (method, url, e.code, body)
    req = urllib.request.Request(f2.pinsvc + "/pins", method="POST",
                                 data=json.dumps({"cid": cid}).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("Pinning Service API add on a follower succeeded")
    except urllib.error.HTTPError as e:
        body = json.loads(e.read())
        assert e.code == 403 and body["error"]["reason"] == "FORBIDDEN", (e.code, body)
        assert "follower mode" in body["error"]["details"], body
    for line in ("pin %s" % cid, "unpin %s" % cid, "put k v", "del k"):
        try:
            f2.ctl(line)
            raise AssertionError("ctl %s on a follower succeeded" % line)
        except RuntimeError as e:
            assert "follower mode" in str(e), e
    log("follower refuses REST pin/unpin/peer rm, Pinning Service API add and control writes "
        "with \"follower mode\"")


def run(s):
    s.start_trusted()
    rogue_addr = s.start_rogue()
    fc_path = follower_config(s)
    url, server = serve_file(fc_path)

    # F1: trellis-follow from the URL; f3 from the file, with no IPFS.
    f1_api = "/ip4/127.0.0.1/tcp/%d" % s.ipfs[1].daemon.api_port
    out = s.follow("f1", "init", url, "--ipfs-api", f1_api, "--listen", "/ip4/127.0.0.1/tcp/0").stdout
    assert "following cluster \"followtest\"" in out, out
    server.shutdown()
    dead_api = "/ip4/127.0.0.1/tcp/%d" % harness.free_port()
    s.follow("f3", "init", fc_path, "--ipfs-api", dead_api)
    again = s.follow("f3", "init", fc_path, check=False)
    assert again.returncode == 1 and "already follows" in again.stderr, again
    f1_out = os.path.join(s.root, "f1.out")
    f1 = subprocess.Popen([s.follow_bin, "f1", "run"], env=s.env, stdout=open(f1_out, "wb"),
                          stderr=open(os.path.join(s.root, "f1.log"), "ab"),
                          preexec_fn=_die_with_parent())
    s.procs.append(f1)
    f1_lines = lambda: open(f1_out).read().splitlines()  # noqa: E731
    f1_dir = os.path.join(s.root, "follow", "f1")
    f1_peer = harness.Peer(s, 10, f1_dir, "127.0.0.1", 0)
    wait(lambda: (os.path.exists(os.path.join(f1_dir, "control.sock")) and f1_peer.info()["ok"],
                  f1_lines()[-3:]), 60, "trellis-follow f1 run to serve")

    # F2: a trellisd follower that knows only the rogue.
    f2 = s.init_peer("f2", "/ip4/127.0.0.1/tcp/%d" % s.ipfs[2].daemon.api_port,
                     ["--follower", "--secret", s.secret, "--bootstrap", rogue_addr,
                      "--trusted", ",".join(p.id for p in s.trusted)], rest=True)
    s.f2 = f2
    f2.start()

    # Content in all three daemons; T0 writes every pin.
    cids = []
    for i in range(EVERYWHERE + ON_T0):
        data = os.urandom(2048 + i)
        got = {node.add(data) for node in s.ipfs}
        assert len(got) == 1, got
        cids.append(got.pop())
    everywhere, on_t0 = cids[:EVERYWHERE], cids[EVERYWHERE:]
    for c in everywhere:
        s.pin(c, "replication=-1 name=all")
    for c in on_t0:
        s.pin(c, "replication=1 name=t0")
    removed = everywhere.pop()
    s.trusted[0].ctl("unpin %s" % removed)

    # F2 hears the trusted heads only through the rogue, which serves
    # tampered blocks: nothing may land.
    wait(lambda: ((lambda i: (i["rejected_blocks"] > 0 and i["pubsub_rejected"] > 0, i))(f2.info())),
         60, "F2 to reject the rogue's blocks and heads")
    info = f2.info()
    assert info["keys"] == 0 and info["merged"] == 0, info
    assert s.ipfs[2].recursive_pins().isdisjoint(set(cids)), "F2's daemon pinned something"
    log("F2 (fed only by the rogue): %d blocks rejected, %d pubsub messages rejected, 0 keys"
        % (info["rejected_blocks"], info["pubsub_rejected"]))
    check_refusals(s, f2, cids[0])

    # F1 converges on the trusted state and pins the everywhere pins.
    wait(lambda: (lambda st: (len(st[0]) == 1 and st[1][-1]["wants"] == 0, [i["keys"] for i in st[1]]))(
        states(s.trusted + [f1_peer])), 60, "F1 to converge with the trusted peers")
    want = set(everywhere)
    log("everywhere %s, removed %s, on T0 %s" % (everywhere, removed, on_t0))
    wait(lambda: (s.ipfs[1].recursive_pins() & set(cids) == want,
                  sorted(s.ipfs[1].recursive_pins() & set(cids))), 60, "F1's daemon to pin exactly the everywhere pins")
    assert f1_peer.info()["keys"] == KEYS_LEFT
    assert f1_peer.info()["pubsub_published"] == 0, "a follower published"
    assert f1_peer.info()["follower"] is True

    # trellis-follow list (online) and info.
    # The follower's tracker also sends IPFS an unpin for every pin that is
    # not its own (a no-op there); on a loaded machine such a CID can show
    # "unpinning" for a moment before "remote".
    def f1_listing():
        listed = [json.loads(line) for line in s.follow("f1", "list", "--json").stdout.splitlines()]
        by_cid = {e["cid"]: e["status"] for e in listed}
        ok = (all(by_cid.get(c) == "pinned" for c in everywhere)
              and all(by_cid.get(c) == "remote" for c in on_t0))
        return ok, by_cid
    wait(f1_listing, 30, "trellis-follow f1 list: everywhere pins pinned, T0's remote")
    info_out = s.follow("f1", "info").stdout
    assert "running" in info_out and "IPFS:           up" in info_out and url in info_out, info_out
    wait(lambda: (any(l.startswith("in sync:") for l in f1_lines()), f1_lines()[-3:]), 10,
         "trellis-follow run to say it is in sync")
    assert any("IPFS daemon" in l and "is up" in l for l in f1_lines()), f1_lines()

    # F2, once it can reach a trusted peer, converges too; the rogue is gone.
    s.rogue.kill()
    f2.kill(signal.SIGTERM)
    imp = os.path.join(s.root, "import.ndjson")
    with open(imp, "w") as f:
        f.write(json.dumps({"cid": cids[0], "replication_factor_min": -1,
                            "replication_factor_max": -1}) + "\n")
    r = subprocess.run([s.trellisd, "state", "import", "--dir", f2.dir, imp], capture_output=True, text=True)
    assert r.returncode != 0 and "follower mode" in r.stderr, r
    s.set_config(f2, "cluster", "bootstrap", [s.trusted[1].addr])
    f2.start()
    wait(lambda: (lambda st: (len(st[0]) == 1 and st[1][-1]["wants"] == 0, [i["keys"] for i in st[1]]))(
        states(s.trusted + [f1_peer, f2])), 60, "F2 to converge once it reaches T1")
    wait(lambda: (s.ipfs[2].recursive_pins() & set(cids) == want,
                  sorted(s.ipfs[2].recursive_pins() & set(cids))), 60, "F2's daemon to pin exactly the everywhere pins")
    keys = [p.info()["keys"] for p in s.trusted]
    assert keys == [KEYS_LEFT] * 3, "trusted peers hold %s keys (rogue pins?)" % keys
    wait(lambda: (removed not in s.ipfs[0].recursive_pins(), s.trusted[0].ctl("status %s" % removed)),
         30, "T0's daemon to drop the removed pin")

    # trellis-follow offline: list from the local copy, status from IPFS.
    f1.send_signal(signal.SIGINT)
    assert f1.wait(timeout=30) == 0
    r = s.follow("f1", "list")
    assert "not running" in r.stderr, r.stderr
    for c in everywhere:
        assert "%s  pinned" % c in r.stdout, r.stdout
    for c in on_t0:
        assert "%s  remote" % c in r.stdout, r.stdout
    assert "stopped" in s.follow("f1", "info").stdout
    listing = s.follow().stdout
    assert "f1 " in listing and "f3 " in listing and fc_path in listing, listing
    info3 = s.follow("f3", "info").stdout
    assert "IPFS:           down" in info3 and fc_path in info3, info3

    # run waits for IPFS and says so; Ctrl-C ends the wait.
    f3 = subprocess.Popen([s.follow_bin, "f3", "run"], env=s.env, stdout=subprocess.PIPE, text=True,
                          preexec_fn=_die_with_parent())
    s.procs.append(f3)
    first = f3.stdout.readline()
    assert "waiting for the IPFS daemon" in first, first
    f3.send_signal(signal.SIGINT)
    assert f3.wait(timeout=10) == 1
    log("trellis-follow: init (URL, file), run, list (online, offline), info, listing")


def main(argv):
    if len(argv) != 4:
        print(__doc__)
        return 2
    problem = jsipfs_problem()
    if problem:
        if os.environ.get("TRELLIS_ALLOW_SKIP") == "1":
            print("SKIP: %s" % problem)
            return 77
        print("FAIL: js-ipfs is needed: %s" % problem)
        return 1
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    s = None
    try:
        s = Setup(*[os.path.abspath(a) for a in argv[1:]])
        t = time.monotonic()
        run(s)
        log("passed in %.1f s" % (time.monotonic() - t))
        return 0
    except Exception:  # noqa: BLE001 - report and clean up
        traceback.print_exc()
        if s:
            for p in s.trusted + [getattr(s, "f2", None)]:
                if p:
                    print("--- %s log ---\n%s" % (p.dir, p.tail(30)))
            for name in ("f1.log", "rogue.log"):
                try:
                    print("--- %s ---\n%s" % (name, open(os.path.join(s.root, name)).read()[-3000:]))
                except OSError:
                    pass
        return 1
    finally:
        if s:
            s.cleanup()
        POOL.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
