"""Real trellisd processes on this machine, driven through their control
sockets. Used by the cluster tests and the network benchmarks' scripts.

Each peer gets its own data folder under a temporary root, a free loopback
port (or an address inside a network namespace) and the cluster's secret.
Peer 0 is everyone's bootstrap peer, so the others find each other through
peer exchange."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def init_peer(binary, d, args, first, edit):
    """`trellisd init --dir D ARGS`, joining the cluster of `first` (a Peer:
    its secret and address) unless it is None; then edit(cfg) changes the
    new config.json. Returns the new peer's ID."""
    cmd = [binary, "init", "--dir", d] + list(args)
    if first is not None:
        cmd += ["--secret", first.cluster_secret, "--bootstrap", first.addr]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    path = os.path.join(d, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    edit(cfg)
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
    return subprocess.run([binary, "id", "--dir", d], check=True,
                          capture_output=True, text=True).stdout.strip()


def secret_of(d):
    with open(os.path.join(d, "config.json")) as f:
        return json.load(f)["cluster"]["secret"]


class Peer:
    def __init__(self, cluster, index, dir, host, port, netns=None):
        self.cluster = cluster
        self.index = index
        self.dir = dir
        self.host = host
        self.port = port
        self.netns = netns
        self.proc = None
        self.id = None
        self.log = None

    @property
    def addr(self):
        return "/ip4/%s/tcp/%d/p2p/%s" % (self.host, self.port, self.id)

    def start(self):
        assert self.proc is None or self.proc.poll() is not None
        cmd = [self.cluster.binary, "run", "--dir", self.dir]
        if self.netns:
            cmd = ["ip", "netns", "exec", self.netns] + cmd
        self.log = open(os.path.join(self.dir, "trellisd.log"), "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log)
        # "ready <peer ID>" once it listens and its control socket is up.
        for line in self.proc.stdout:
            if line.startswith(b"ready "):
                return
        raise RuntimeError("peer %d exited before it was ready; log: %s"
                           % (self.index, self.tail()))

    def kill(self, sig=signal.SIGKILL):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def ctl(self, line, timeout=120):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect(os.path.join(self.dir, "control.sock"))
            s.sendall(line.encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = s.recv(1 << 20)
                if not chunk:
                    raise RuntimeError("peer %d closed the control socket" % self.index)
                buf += chunk
        finally:
            s.close()
        reply = json.loads(buf)
        if not reply.get("ok"):
            raise RuntimeError("peer %d: %s -> %s" % (self.index, line, reply))
        return reply

    def info(self):
        return self.ctl("info")

    def tail(self, n=30):
        try:
            with open(os.path.join(self.dir, "trellisd.log"), "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""


class Cluster:
    """n peers; hosts[i] (default 127.0.0.1) and netns[i] place peer i."""

    def __init__(self, n, binary, hosts=None, netns=None, rebroadcast_ms=2000, sync=False,
                 root=None):
        self.binary = binary
        self.root = root or tempfile.mkdtemp(prefix="trellis-cluster-")
        self.peers = []
        for i in range(n):
            host = hosts[i] if hosts else "127.0.0.1"
            port = free_port() if not netns else 9096
            d = os.path.join(self.root, "peer%d" % i)
            args = ["--listen", "/ip4/%s/tcp/%d" % (host, port),
                    "--rebroadcast-ms", str(rebroadcast_ms)] + ([] if sync else ["--no-sync"])

            def edit(cfg):  # these tests drive the control socket: no HTTP listeners
                cfg["restapi"]["listen"] = cfg["pinsvcapi"]["listen"] = cfg["metrics"]["listen"] = ""
            p = Peer(self, i, d, host, port, netns[i] if netns else None)
            p.id = init_peer(binary, d, args, self.peers[0] if self.peers else None, edit)
            p.cluster_secret = secret_of(d)
            self.peers.append(p)

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        """On failure prints every peer's log tail; always stops and removes."""
        if kind is not None:
            for p in self.peers:
                print("--- peer %d log ---\n%s" % (p.index, p.tail()))
        self.cleanup()
        return False

    def start(self):
        for p in self.peers:
            p.start()

    def stop(self):
        for p in self.peers:
            p.kill(signal.SIGTERM)

    def cleanup(self, keep=False):
        for p in self.peers:
            p.kill()
        if not keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def wait(self, cond, timeout, what):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                ok, last = cond()
                if ok:
                    return last
            except (OSError, RuntimeError) as e:
                last = str(e)
            time.sleep(0.05)
        raise AssertionError("timed out after %ss waiting for %s; last: %s" % (timeout, what, last))

    def converged(self, peers=None):
        infos = [p.info() for p in (peers or self.peers)]
        states = {(i["state"], tuple(sorted(i["heads"]))) for i in infos}
        summary = [(i["keys"], i["blocks"], i["wants"], i["pending"]) for i in infos]
        return len(states) == 1 and all(i["wants"] == 0 and i["pending"] == 0 for i in infos), summary

    def wait_converged(self, timeout, peers=None):
        t0 = time.monotonic()
        self.wait(lambda: self.converged(peers), timeout, "convergence")
        return time.monotonic() - t0

    def wait_mesh(self, timeout):
        n = len(self.peers)
        return self.wait(lambda: (all(len(p.info()["peers"]) == n - 1 for p in self.peers),
                                  [len(p.info()["peers"]) for p in self.peers]),
                         timeout, "a full mesh")
