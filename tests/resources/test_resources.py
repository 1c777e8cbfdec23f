#!/usr/bin/env python3
"""Memory bounds of trellisd with large pinsets, on real processes.

  test_resources.py TRELLISD TRELLIS_DAG [sync=N] [list=N[,N...]] [cap=MIB]

sync=N   peer A holds N pins (made by `trellisd state import` from IPFS
         Cluster JSON lines); peer B starts empty inside a cgroup v1 memory
         cap of MIB MiB (default 160: the pins' blocks alone are about 200
         MB per million, so a peer holding the DAG or the pinset in memory
         cannot fit) and syncs from A. It must reach A's state (control
         socket `info`: same state digest and heads) without being
         OOM-killed (progress is polled with trellis-dag, outside the cap).
         Prints B's peak usage (cgroup, page cache included),
         its peak RSS and its peak anonymous memory. Needs root (exit 77
         otherwise).
list=N   a peer holding N pins streams all of them through REST
         `GET /allocations` and `trellisd state export`, while the test
         samples the daemon's (and the export's) RSS every 50 ms: the growth
         of its anonymous memory (RssAnon: the heap; VmRSS also counts
         LMDB's mapped file pages, which the kernel reclaims at will)
         during the listing must stay under 64 MiB, and every pin must
         arrive exactly once (the lines come in key order: their CIDs are
         strictly increasing and there are N of them). Prints the RSS before
         and at the peak, and the rate. Each import is also checked: its
         anonymous memory must stay under 96 MiB whatever N.

Each size prints one line starting "resources:", for docs/RELIABILITY.md.
Default: sync=1000000 list=1000000,10000000. On the shared 2-core VM under
heavy load sync took 7.5 minutes and list about 50 (35 of them importing
10,000,000 pins); meson runs them as resources-sync and resources-list in
suite long. Processes and the cgroup are removed on every exit path,
SIGTERM (meson's timeout) included.
"""

import base64
import contextlib
import hashlib
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cluster"))
import harness  # noqa: E402

MIB = 1 << 20
IMPORT_ANON_BOUND = 96 * MIB
LIST_GROWTH_BOUND = 64 * MIB
CGROUP_ROOT = "/sys/fs/cgroup/memory"


def cids(n, tag):
    """n distinct CIDv1 (raw, sha2-256) strings, as trellisd prints them."""
    prefix = bytes([0x01, 0x55, 0x12, 0x20])
    for i in range(n):
        digest = hashlib.sha256(b"%s-%d" % (tag, i)).digest()
        yield "b" + base64.b32encode(prefix + digest).decode().lower().rstrip("=")


def import_pins(binary, peer, n, tag):
    """Imports n pins into the stopped peer, piping the JSON lines into
    `trellisd state import -`; asserts that its anonymous memory stays under
    IMPORT_ANON_BOUND."""
    t0 = time.monotonic()
    proc = subprocess.Popen([binary, "state", "import", "--dir", peer.dir, "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with sampled(proc) as sampler:
        chunk = []
        for i, c in enumerate(cids(n, tag)):
            chunk.append('{"cid":"%s","name":"pin %d","replication_factor_min":-1,'
                         '"replication_factor_max":-1,"timestamp":"2030-01-02T15:04:05Z"}\n' % (c, i))
            if len(chunk) == 10000:
                proc.stdin.write("".join(chunk).encode())
                chunk = []
        proc.stdin.write("".join(chunk).encode())
        out, err = proc.communicate(timeout=3600)
    took = time.monotonic() - t0
    assert proc.returncode == 0 and b"imported %d pins" % n in out, (proc.returncode, out, err)
    print("resources: state import of %d pins: %.0f s (%.0f pins/s); peak RSS %.0f MiB, peak "
          "anonymous %.0f MiB" % (n, took, n / took, sampler.peak_rss / MIB, sampler.peak_anon / MIB),
          flush=True)
    assert sampler.peak_anon < IMPORT_ANON_BOUND, (
        "trellisd state import of %d pins held %.0f MiB of anonymous memory (bound %d MiB)"
        % (n, sampler.peak_anon / MIB, IMPORT_ANON_BOUND // MIB))


def status_kib(pid, field):
    """A field of /proc/PID/status in bytes (VmRSS, VmHWM, RssAnon...), or 0 once it exited."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Sampler:
    """Samples a process's VmRSS and RssAnon every 50 ms in a thread."""

    def __init__(self, pid):
        self.pid, self.peak_rss, self.peak_anon = pid, 0, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run)
        self.thread.start()

    def run(self):
        while not self.stop.wait(0.05):
            self.peak_rss = max(self.peak_rss, status_kib(self.pid, "VmRSS"))
            self.peak_anon = max(self.peak_anon, status_kib(self.pid, "RssAnon"))

    def join(self):
        self.stop.set()
        self.thread.join()
        return self


@contextlib.contextmanager
def sampled(proc):
    """Samples proc's memory while the block runs; kills proc if the block
    leaves it running (a failure)."""
    sampler = Sampler(proc.pid)
    try:
        yield sampler
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        sampler.join()


def configure(peer, **sections):
    """Sets config.json fields: configure(p, restapi={"listen": ...})."""
    path = os.path.join(peer.dir, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    for section, fields in sections.items():
        cfg.setdefault(section, {}).update(fields)
    with open(path, "w") as f:
        json.dump(cfg, f)


class Cgroup:
    """A cgroup v1 memory cgroup of `limit` bytes, removed on exit (after
    the processes in it are gone)."""

    def __init__(self, limit):
        self.path = os.path.join(CGROUP_ROOT, "trellis-%d" % os.getpid())
        os.mkdir(self.path)
        try:
            self.write("memory.limit_in_bytes", str(limit))
        except OSError:
            os.rmdir(self.path)
            raise

    def write(self, name, value):
        with open(os.path.join(self.path, name), "w") as f:
            f.write(value)

    def read(self, name):
        with open(os.path.join(self.path, name)) as f:
            return f.read()

    def oom_kills(self):
        for line in self.read("memory.oom_control").splitlines():
            if line.startswith("oom_kill "):
                return int(line.split()[1])
        return 0

    def enter(self):
        """For preexec_fn: moves the calling (child) process in."""
        self.write("cgroup.procs", str(os.getpid()))

    def remove(self):
        for _ in range(100):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)  # a killed process is still leaving
        print("warning: cannot remove %s (processes: %s)"
              % (self.path, self.read("cgroup.procs").split()), file=sys.stderr)


def start(peer, preexec=None):
    """Starts the peer (inside a cgroup when preexec moves it) and waits for "ready"."""
    peer.log = open(os.path.join(peer.dir, "trellisd.log"), "ab")
    peer.proc = subprocess.Popen([peer.cluster.binary, "run", "--dir", peer.dir],
                                 stdout=subprocess.PIPE, stderr=peer.log, preexec_fn=preexec)
    for line in peer.proc.stdout:
        if line.startswith(b"ready "):
            return
    raise AssertionError("peer %d exited before it was ready; log:\n%s" % (peer.index, peer.tail()))


def dag_info(dag, peer):
    r = subprocess.run([dag, "--json", peer.dir, "info"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def wait_same_state(dag, a, b, n, timeout):
    """Polls both stores with trellis-dag (outside the cgroup, cheap) every
    2 s until B has A's heads, n keys and nothing left to fetch or merge;
    then compares the daemons' `info` (each digests its whole state)."""
    deadline = time.monotonic() + timeout
    heads = dag_info(dag, a)["heads"]
    last = None
    while True:
        assert b.alive(), "peer B died while syncing (exit %s); log:\n%s" % (b.proc.poll(), b.tail())
        ib = dag_info(dag, b)
        last = {k: ib[k] for k in ("keys", "blocks", "merged", "wants", "pending", "ready", "staged")}
        if ib["heads"] == heads and ib["keys"] == n and ib["merged"] == ib["blocks"] and \
                not any(ib[k] for k in ("wants", "pending", "ready", "staged")):
            break
        assert time.monotonic() < deadline, "B did not reach A's state in %d s; last: %s" % (timeout, last)
        time.sleep(2)
    ia, ib = a.ctl("info", timeout=600), b.ctl("info", timeout=600)
    assert (ia["state"], sorted(ia["heads"])) == (ib["state"], sorted(ib["heads"])), (
        "B's state digest or heads differ from A's: %s / %s" % (ia, ib))
    return ib


def sync(binary, dag, n, cap_mib):
    if os.geteuid() != 0 or not os.path.isdir(CGROUP_ROOT):
        print("sync: needs root and cgroup v1 memory at %s; skipped" % CGROUP_ROOT)
        sys.exit(77)
    with harness.Cluster(2, binary, sync=True) as c:
        a, b = c.peers
        for p in c.peers:
            configure(p, ipfs={"api": ""})  # replication only: no pinning
        import_pins(binary, a, n, b"sync")
        cg = Cgroup(cap_mib * MIB)
        try:
            start(a)
            t0 = time.monotonic()
            start(b, preexec=cg.enter)
            sampler = Sampler(b.proc.pid)
            try:
                info = wait_same_state(dag, a, b, n, timeout=1200)
            finally:
                sampler.join()
            took = time.monotonic() - t0
            hwm = status_kib(b.proc.pid, "VmHWM")
            usage = int(cg.read("memory.max_usage_in_bytes"))
            failcnt = int(cg.read("memory.failcnt"))
            assert cg.oom_kills() == 0, "B's cgroup saw %d OOM kills" % cg.oom_kills()
            assert b.alive(), "B died"
            print("resources: sync of %d pins (%d blocks) under a %d MiB cap: %.0f s; B's peak "
                  "cgroup usage %.0f MiB (page cache included, limit hit %d times), peak RSS %.0f MiB, "
                  "peak anonymous %.0f MiB; no OOM kill"
                  % (n, info["blocks"], cap_mib, took, usage / MIB, failcnt, hwm / MIB,
                     sampler.peak_anon / MIB), flush=True)
        finally:
            print("B's cgroup: peak usage %.0f MiB of %d MiB, limit hit %s times, %d OOM kills"
                  % (int(cg.read("memory.max_usage_in_bytes")) / MIB, cap_mib,
                     cg.read("memory.failcnt").strip(), cg.oom_kills()), flush=True)
            c.cleanup()  # kills B before its cgroup goes
            cg.remove()


def read_stream(resp, on_line):
    """Reads a streamed body, calling on_line(bytes) per line; returns the count."""
    count, rest = 0, b""
    while True:
        data = resp.read(1 << 20)
        if not data:
            break
        lines = (rest + data).split(b"\n")
        rest = lines.pop()
        for line in lines:
            on_line(line)
        count += len(lines)
    assert not rest, "the stream ended inside a line"
    return count


class InOrder:
    """Checks that each line's "cid" is greater than the last one's."""

    def __init__(self, what):
        self.what, self.last = what, b""

    def __call__(self, line):
        i = line.index(b'"cid":"') + 7
        c = line[i:line.index(b'"', i)]
        assert c > self.last, "%s: CID %s after %s: not in order, or twice" % (self.what, c, self.last)
        self.last = c


def listing(binary, n):
    with harness.Cluster(1, binary, sync=True) as c:
        p = c.peers[0]
        port = harness.free_port()
        # REST on; IPFS at a closed port: pins are tracked (the REST pin routes
        # need the tracker) but never pinned.
        configure(p, restapi={"listen": "/ip4/127.0.0.1/tcp/%d" % port},
                  ipfs={"api": "/ip4/127.0.0.1/tcp/%d" % harness.free_port()})
        import_pins(binary, p, n, b"list")
        start(p)
        time.sleep(1)
        before, before_anon = status_kib(p.proc.pid, "VmRSS"), status_kib(p.proc.pid, "RssAnon")

        sampler = Sampler(p.proc.pid)
        t0 = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("GET", "/allocations")
        resp = conn.getresponse()
        assert resp.status == 200, (resp.status, resp.read()[:500])
        got = read_stream(resp, InOrder("GET /allocations"))
        assert resp.getheader("X-Stream-Error") in (None, ""), resp.getheader("X-Stream-Error")
        conn.close()
        took = time.monotonic() - t0
        sampler.join()
        assert got == n, "GET /allocations streamed %d pins of %d" % (got, n)
        growth = sampler.peak_anon - before_anon
        print("resources: GET /allocations of %d pins: %.0f s (%.0f pins/s); daemon RSS %.0f MiB "
              "before, %.0f MiB at the peak (LMDB's mapped file pages included); anonymous memory "
              "%.0f MiB before, %.0f MiB at the peak (+%.0f MiB)"
              % (n, took, n / took, before / MIB, sampler.peak_rss / MIB, before_anon / MIB,
                 sampler.peak_anon / MIB, growth / MIB), flush=True)
        assert growth < LIST_GROWTH_BOUND, (
            "the daemon's anonymous memory grew by %.0f MiB while listing %d pins (bound %d MiB)"
            % (growth / MIB, n, LIST_GROWTH_BOUND // MIB))

        # The same pins through `trellisd state export` next to the running daemon.
        t0 = time.monotonic()
        proc = subprocess.Popen([binary, "state", "export", "--dir", p.dir], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        with sampled(proc) as sampler:
            got = read_stream(proc.stdout, InOrder("state export"))
            err = proc.stderr.read()
            proc.wait(timeout=60)
        took = time.monotonic() - t0
        assert proc.returncode == 0, err
        assert got == n, "state export wrote %d pins of %d" % (got, n)
        print("resources: state export of %d pins: %.0f s (%.0f pins/s); its peak RSS %.0f MiB "
              "(anonymous %.0f MiB)" % (n, took, n / took, sampler.peak_rss / MIB,
                                        sampler.peak_anon / MIB), flush=True)
        assert sampler.peak_anon < LIST_GROWTH_BOUND, (
            "state export of %d pins held %.0f MiB of anonymous memory" % (n, sampler.peak_anon / MIB))


def main():
    binary, dag = sys.argv[1], sys.argv[2]
    opts = dict(a.split("=", 1) for a in sys.argv[3:]) or {"sync": "1000000",
                                                             "list": "1000000,10000000"}
    # meson's timeout sends SIGTERM: unwind so that processes and the cgroup are removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("SIGTERM"))
    if "sync" in opts:
        sync(binary, dag, int(opts["sync"]), int(opts.get("cap", 160)))
    for n in opts.get("list", "").split(","):
        if n:
            listing(binary, int(n))
    print("resource tests passed: %s" % " ".join("%s=%s" % kv for kv in opts.items()))


if __name__ == "__main__":
    main()
