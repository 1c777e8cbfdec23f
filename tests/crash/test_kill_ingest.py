#!/usr/bin/env python3
"""kill -9 during batched REST ingest: acknowledged pins survive every crash.

  test_kill_ingest.py TRELLISD TRELLIS_DAG [--kills N] [--seed S] [--clients C]

One real trellisd (REST API on loopback, fsync on, IPFS address pointing at a
closed port so pins are accepted and tracked but never pinned) takes POST
/pins from C keep-alive clients at once, so its group commit batches them.
It is killed with SIGKILL N times at random moments, each kill in one of
three places chosen by the seed:

  startup  0-150 ms after exec, while the clients wait for the port;
  burst    10-800 ms into the clients' burst of POSTs;
  long     while the control socket's `load` runs one long commit (tens of
           thousands of keys, one transaction) with the POSTs queued behind it.

After each kill the daemon is restarted, and the test asserts that every pin
whose POST was answered 200 is in the state (`trellisd state export` on the
running daemon), that the state holds no pin nobody posted, and that
`trellis-dag DIR verify` passes. The seed is printed; `--seed S` reruns the
same schedule of places and delays (the moments a kill lands on still vary
with the machine's timing).
"""

import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cluster"))
import harness  # noqa: E402
from test_state import cid  # noqa: E402

LOAD_KEYS = 40000  # keys of one long commit (the `long` kill place)


class Clients:
    """C threads, each POSTing pins over one keep-alive connection, which it
    reopens (retrying while the port is closed) until stopped. Records every
    CID it sent (`attempted`) and every CID answered 200 (`acked`)."""

    def __init__(self, port, tag, n):
        self.port, self.tag = port, tag
        self.attempted, self.acked, self.errors = set(), [], []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(t,)) for t in range(n)]
        for t in self.threads:
            t.start()

    def run(self, t):
        i = 0
        while not self.stop.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            try:
                conn.connect()
            except OSError:
                time.sleep(0.005)  # not listening yet (or any more)
                continue
            try:
                while not self.stop.is_set():
                    c = cid("%s-%d-%d" % (self.tag, t, i))
                    i += 1
                    self.attempted.add(c)
                    conn.request("POST", "/pins/%s?replication=-1" % c)
                    r = conn.getresponse()
                    body = r.read()
                    if r.status != 200:
                        self.errors.append((r.status, body[:200]))
                        return
                    self.acked.append(c)
            except (OSError, http.client.HTTPException):
                pass  # killed mid-request: that pin's fate is unknown
            finally:
                conn.close()

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)
            assert not t.is_alive(), "a client thread hangs"


def start(peer):
    peer.log = open(os.path.join(peer.dir, "trellisd.log"), "ab")
    peer.proc = subprocess.Popen([peer.cluster.binary, "run", "--dir", peer.dir],
                                 stdout=subprocess.PIPE, stderr=peer.log)


def wait_ready(peer):
    for line in peer.proc.stdout:
        if line.startswith(b"ready "):
            return
    raise AssertionError("trellisd exited before it was ready; log:\n" + peer.tail())


def kill(peer):
    peer.proc.kill()
    peer.proc.wait(timeout=30)
    peer.proc.stdout.close()
    peer.log.close()
    peer.proc = None


def load(peer, prefix, result):
    """One commit of LOAD_KEYS keys through the control socket."""
    try:
        t0 = time.monotonic()
        peer.ctl("load %d %s %d" % (LOAD_KEYS, prefix, LOAD_KEYS))
        result.append(time.monotonic() - t0)
    except (OSError, RuntimeError, ValueError):
        pass  # killed mid-load


def state_pins(binary, peer):
    r = subprocess.run([binary, "state", "export", "--dir", peer.dir], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, "state export failed: %s" % r.stderr
    return {json.loads(line)["cid"] for line in r.stdout.splitlines()}


def main():
    args = sys.argv[1:]
    trellisd, dag = args[0], args[1]
    opts = dict(zip(args[2::2], args[3::2]))
    kills = int(opts.get("--kills", 100))
    seed = int(opts.get("--seed", random.randrange(1 << 32)))
    nclients = int(opts.get("--clients", 8))
    rng = random.Random(seed)
    # meson's timeout sends SIGTERM: unwind so that the daemon is killed and its folder removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("SIGTERM"))
    rerun = "rerun: %s %s %s --kills %d --seed %d" % (sys.argv[0], trellisd, dag, kills, seed)
    print("seed %d (%s)" % (seed, rerun), flush=True)

    with harness.Cluster(1, trellisd, sync=True) as c:
        p = c.peers[0]
        port = harness.free_port()
        cfg_path = os.path.join(p.dir, "config.json")
        with open(cfg_path) as f:
            cfg = json.load(f)
        cfg["restapi"]["listen"] = "/ip4/127.0.0.1/tcp/%d" % port
        cfg["ipfs"]["api"] = "/ip4/127.0.0.1/tcp/%d" % harness.free_port()  # nothing listens
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)

        # How long one `load` commit takes here, to aim the `long` kills inside it.
        start(p)
        wait_ready(p)
        took = []
        load(p, "/calibrate", took)
        assert took, "the calibration load failed; log:\n" + p.tail()
        load_s = took[0]
        kill(p)
        r = subprocess.run([trellisd, "state", "cleanup", "--dir", p.dir, "--force"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr

        acked, attempted = set(), set()
        places = {"startup": 0, "burst": 0, "long": 0}
        t_begin = time.monotonic()
        for k in range(kills):
            place = rng.choice(list(places))
            places[place] += 1
            start(p)
            clients = None
            try:
                if place == "startup":
                    clients = Clients(port, "k%d" % k, nclients)
                    time.sleep(rng.uniform(0, 0.15))
                else:
                    wait_ready(p)
                    clients = Clients(port, "k%d" % k, nclients)
                    if place == "burst":
                        time.sleep(rng.uniform(0.01, 0.8))
                    else:
                        time.sleep(rng.uniform(0, 0.2))  # a burst first, then the long commit
                        done = []
                        loader = threading.Thread(target=load, args=(p, "/load", done))
                        loader.start()
                        time.sleep(rng.uniform(0, 1.0) * load_s)
            finally:
                kill(p)
                if clients:
                    clients.join()
            if place == "long":
                loader.join(timeout=60)
            assert not clients.errors, "kill %d: POST answered %s" % (k, clients.errors[0])
            acked.update(clients.acked)
            attempted.update(clients.attempted)

            t_check = time.monotonic()
            start(p)
            wait_ready(p)
            verify = subprocess.Popen([dag, p.dir, "verify"], stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True)
            state = state_pins(trellisd, p)
            out = verify.communicate(timeout=120)[0]
            lost = [x for x in acked if x not in state]
            assert not lost, ("after kill %d (%s): %d of %d acknowledged pins are missing, e.g. %s\n%s"
                              % (k, place, len(lost), len(acked), lost[0], rerun))
            extra = state - attempted
            assert not extra, "after kill %d: %d pins nobody posted, e.g. %s" % (k, len(extra), min(extra))
            assert verify.returncode == 0, ("after kill %d (%s): trellis-dag verify exit %d:\n%s\n%s"
                                            % (k, place, verify.returncode, out[-3000:], rerun))
            kill(p)
            print("kill %d (%s): %d acknowledged so far, %d pins in the state; restart, export "
                  "and verify %.2f s" % (k, place, len(acked), len(state), time.monotonic() - t_check),
                  flush=True)

        elapsed = time.monotonic() - t_begin
        assert len(acked) > kills, "only %d pins acknowledged in %d runs" % (len(acked), kills)
    print("kill -9 ingest: %d kills (%s), seed %d, load commit %.2f s: all %d acknowledged pins "
          "survived, verify passed every time (%.0f s)"
          % (kills, ", ".join("%s %d" % kv for kv in places.items()), seed, load_s, len(acked),
             elapsed))


if __name__ == "__main__":
    main()
