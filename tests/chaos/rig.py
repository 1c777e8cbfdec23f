"""The chaos suite's hosts: five trellisd peers, each in its own network
namespace with its own js-ipfs daemon, and a client namespace for the
writer and the checker, all on one private bridge (tests/cluster/netns.py).

Peer i is at SUBNET.(i+1): cluster port 9096, REST API 9094 (Basic auth),
its js-ipfs API at 127.0.0.1:5001 inside its namespace. The client is at
SUBNET.6. Roles, drawn from the seed among peers 1-4:
  wired   its link to the bridge is wire.py (a slow link on demand)
  disk    its data folder is a small tmpfs (filled on demand)
  skewed  runs under faketime, its wall clock minutes off
  joiner  starts empty in the middle of the schedule
Python stdlib only."""

import glob
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
import harness  # noqa: E402
import netns  # noqa: E402

N = 5
CLIENT = N
USER, PASSWORD = "chaos", "chaos-password"
IPFSD = os.path.join(HERE, "..", "ipfs", "ipfsd.py")
CLIENT_PY = os.path.join(HERE, "client.py")
WIRE_PY = os.path.join(HERE, "wire.py")
DISK_MB = 256
CONFIG = {
    "pinning": {"metrics_ttl_ms": 4000, "repin_after_ms": 15000},
    "ipfs": {"pin_timeout_ms": 20000, "recover_interval_ms": 5000},
}


def libfaketime():
    """libfaketime's thread-safe build (package libfaketime, pulled in by
    faketime). Preloaded through env, not the faketime wrapper, which forks:
    kill -9 and SIGSTOP must reach trellisd itself."""
    found = glob.glob("/usr/lib/*/faketime/libfaketimeMT.so.1")
    if not found:
        raise RuntimeError("libfaketimeMT.so.1 not found: apt-get install -y faketime")
    return found[0]


class Peer(harness.Peer):
    """harness.Peer started behind an optional wrapper (faketime)."""

    wrapper = []

    def start(self):
        assert self.proc is None or self.proc.poll() is not None
        cmd = ["ip", "netns", "exec", self.netns] + self.wrapper + [
            self.cluster.binary, "run", "--dir", self.dir]
        self.log = open(os.path.join(self.dir, "trellisd.log"), "ab")
        env = dict(os.environ, FAKETIME_DONT_FAKE_MONOTONIC="1")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, env=env)
        for line in self.proc.stdout:
            if line.startswith(b"ready "):
                return
        raise RuntimeError("peer %d exited before it was ready; log:\n%s"
                           % (self.index, self.tail()))


class Rig:
    def __init__(self, binary, roles, skew, log):
        self.binary = binary
        self.roles = roles
        self.skew = skew
        self.say = log
        self.root = os.path.realpath(os.environ.get("TRELLIS_CHAOS_DIR") or
                                     "/tmp/trellis-chaos-%d" % os.getpid())
        self.net = netns.Net(N + 1, subnet="10.78.0", tag="chaos%d" % os.getpid())
        self.peers = []
        self.ipfs = []
        self.wire = None
        self.mounted = None
        self.cluster = self  # what harness.Peer reads .binary from

    # ---- setup ----

    def setup(self):
        os.makedirs(self.root, exist_ok=True)
        self.net.setup()
        self._wire(self.roles["wired"])
        self.start_ipfs()
        self._init_peers()

    def _wire(self, i):
        """Replaces peer i's veth by wire.py (delay 0 until a fault)."""
        self.wire_params = os.path.join(self.root, "wire.params")
        self.set_wire(0, 0, 0)
        bridge = self.net.bridge
        netns.run(["ip", "-n", bridge, "link", "del", "v%d" % i])
        out = open(os.path.join(self.root, "wire.log"), "w")
        self.wire = subprocess.Popen(["ip", "netns", "exec", bridge, sys.executable, WIRE_PY,
                                      self.net.names[i], "br0", self.wire_params],
                                     stdout=subprocess.PIPE, stderr=out, text=True)
        self.net.procs.append(self.wire)
        if self.wire.stdout.readline().strip() != "wire up":
            raise RuntimeError("wire.py did not start: see %s/wire.log" % self.root)
        self.net.exec(i, ["ip", "addr", "add", self.net.addrs[i] + "/24", "dev", "eth0"])
        self.net.exec(i, ["ip", "link", "set", "eth0", "up"])

    def set_wire(self, delay_ms, jitter_ms, loss_pct):
        tmp = self.wire_params + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d %d %d\n" % (delay_ms, jitter_ms, loss_pct))
        os.replace(tmp, self.wire_params)

    def start_ipfs(self):
        """One js-ipfs daemon per peer namespace, started in parallel."""
        t = time.monotonic()
        for i in range(N):
            d = os.path.join(self.root, "ipfs%d" % i)
            out = open(d + ".out", "w")
            self.ipfs.append(self.net.popen(
                i, [sys.executable, IPFSD, "run", d, "--api-port", "5001", "--timeout", "180"],
                stdout=out, stderr=subprocess.STDOUT))
        for i, p in enumerate(self.ipfs):
            path = os.path.join(self.root, "ipfs%d.out" % i)
            while True:
                with open(path) as f:
                    if f.read().startswith("API "):
                        break
                if p.poll() is not None:
                    raise RuntimeError("js-ipfs %d failed: %s" % (i, open(path).read()[-2000:]))
                time.sleep(0.2)
        self.say("5 js-ipfs daemons ready in %.1f s" % (time.monotonic() - t))

    def _init_peers(self):
        for i in range(N):
            d = os.path.join(self.root, "peer%d" % i)
            if i == self.roles["disk"]:
                self.mounted = os.path.join(self.root, "disk")
                os.makedirs(self.mounted)
                netns.run(["mount", "-t", "tmpfs", "-o", "size=%dM" % DISK_MB, "tmpfs",
                           self.mounted])
                d = os.path.join(self.mounted, "peer%d" % i)
            addr = self.net.addrs[i]
            args = ["--listen", "/ip4/%s/tcp/9096" % addr, "--rebroadcast-ms", "2000",
                    "--ipfs-api", "/ip4/127.0.0.1/tcp/5001"]

            def edit(cfg):
                cfg["restapi"]["listen"] = "/ip4/%s/tcp/9094" % addr
                cfg["restapi"]["basic_auth_credentials"] = {USER: PASSWORD}
                cfg["pinsvcapi"]["listen"] = cfg["metrics"]["listen"] = ""
                for section, fields in CONFIG.items():
                    cfg[section].update(fields)
            p = Peer(self, i, d, addr, 9096, self.net.names[i])
            p.id = harness.init_peer(self.binary, d, args, self.peers[0] if self.peers else None,
                                     edit)
            p.cluster_secret = harness.secret_of(d)
            if i == self.roles["skewed"]:
                p.wrapper = ["env", "LD_PRELOAD=" + libfaketime(), "FAKETIME=%+ds" % self.skew]
            p.rest = "http://%s:9094" % addr
            self.peers.append(p)
        self.net.track(self)

    # ---- the client namespace ----

    def client(self, args, ns=CLIENT, timeout=300):
        """Runs client.py inside namespace ns (the client's by default)."""
        r = self.net.exec(ns, ["timeout", str(timeout), sys.executable, CLIENT_PY] + args,
                          check=False)
        if r.returncode != 0:
            raise RuntimeError("client.py %s failed (%d): %s"
                               % (args[0], r.returncode, r.stderr[-2000:]))
        return r

    def client_popen(self, args, **kw):
        return self.net.popen(CLIENT, [sys.executable, CLIENT_PY] + args, **kw)

    # ---- disk ----

    def fill_disk(self):
        """Fills the disk peer's tmpfs; returns the bytes written."""
        filler = os.path.join(self.mounted, "filler")
        written = 0
        block = b"\0" * (1 << 20)
        with open(filler, "wb") as f:
            try:
                while True:
                    f.write(block)
                    f.flush()
                    written += len(block)
            except OSError:
                pass
        return written

    def free_disk(self):
        try:
            os.remove(os.path.join(self.mounted, "filler"))
        except FileNotFoundError:
            pass

    # ---- cleanup ----

    def cleanup(self, keep=False):
        for p in self.peers:
            try:
                p.kill()
            except Exception:  # noqa: BLE001 - cleanup goes on
                pass
        self.net.cleanup()
        if self.mounted:
            if keep:  # the tmpfs goes with the unmount: keep a copy
                shutil.copytree(self.mounted, self.mounted + "-copy", dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns("*.sock"))
            netns.run(["umount", "-l", self.mounted], check=False)
            self.mounted = None
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)
