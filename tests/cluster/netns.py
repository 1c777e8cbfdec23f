"""Hosts for multi-host tests: one network namespace per peer on a private
bridge, with silent partitions made by iptables inside a peer's namespace.

    net = netns.Net(5)          # namespaces named after this process's pid
    try:
        net.setup()             # bridge + 5 peers at 10.77.0.1 .. 10.77.0.5
        c = harness.Cluster(5, binary, hosts=net.addrs, netns=net.names)
        net.track(c)            # cleanup() kills its peers first
        ...
        net.partition(4)        # peer 4 silently cut off from the others
        net.heal(4)
    finally:
        net.cleanup()           # idempotent; kills, then deletes namespaces

Layout: a bridge namespace holds the bridge `br0` and one veth end `vN` per
peer; the other end is `eth0` inside the peer's namespace, with address
SUBNET.(i+1)/24; loopback is up everywhere. Every link is created inside the
namespaces themselves (`ip -n`), so nothing appears in the root namespace
and parallel runs (different pids) share no names. Namespaces have no
default route: nothing can leave them.

Partition: DROP rules in the isolated namespace's INPUT (-s other peer) and
OUTPUT (-d other peer) chains, so the others see silence, not resets. The
isolated process's own sends to them fail locally (netfilter drops on
OUTPUT are reported to the socket). heal() deletes exactly those rules.

Needs root and iptables; `available()` says why not. Python stdlib only."""

import atexit
import os
import shutil
import signal
import subprocess


def available():
    """None when usable, else the reason (for a skip message)."""
    if os.geteuid() != 0:
        return "needs root (network namespaces and iptables)"
    for tool in ("ip", "iptables"):
        if not shutil.which(tool):
            return "needs %s (apt-get install -y %s)" % (
                tool, "iproute2" if tool == "ip" else tool)
    return None


def run(cmd, check=True):
    """Runs a command; on failure raises with its stderr."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), r.returncode,
                                                   r.stderr.strip()))
    return r


class Net:
    """n peer namespaces on one bridge. `tag` makes the names unique; it
    defaults to this process's pid."""

    def __init__(self, n, subnet="10.77.0", tag=None):
        assert 1 <= n <= 250
        self.n = n
        self.tag = tag or "trellis%d" % os.getpid()
        self.bridge = self.tag + "-br"
        self.names = ["%s-p%d" % (self.tag, i) for i in range(n)]
        self.addrs = ["%s.%d" % (subnet, i + 1) for i in range(n)]
        self.isolated = {}   # peer index -> the iptables rules added
        self.procs = []      # Popen objects killed by cleanup()
        self.clusters = []   # harness.Cluster objects killed by cleanup()
        self.created = []    # namespaces that exist
        self.done = False
        atexit.register(self.cleanup)

    # ---- setup ----

    def setup(self):
        try:
            self._add_ns(self.bridge)
            run(["ip", "-n", self.bridge, "link", "add", "br0", "type", "bridge"])
            run(["ip", "-n", self.bridge, "link", "set", "br0", "up"])
            for i, (ns, addr) in enumerate(zip(self.names, self.addrs)):
                self._add_ns(ns)
                run(["ip", "-n", self.bridge, "link", "add", "v%d" % i, "type", "veth",
                     "peer", "name", "eth0", "netns", ns])
                run(["ip", "-n", self.bridge, "link", "set", "v%d" % i, "master", "br0", "up"])
                run(["ip", "-n", ns, "addr", "add", addr + "/24", "dev", "eth0"])
                run(["ip", "-n", ns, "link", "set", "eth0", "up"])
        except BaseException:
            self.cleanup()
            raise
        return self

    def _add_ns(self, ns):
        run(["ip", "netns", "add", ns])
        self.created.append(ns)
        run(["ip", "-n", ns, "link", "set", "lo", "up"])

    # ---- running things inside ----

    def prefix(self, i):
        """The command prefix that runs a program in peer i's namespace."""
        return ["ip", "netns", "exec", self.names[i]]

    def popen(self, i, cmd, **kw):
        """Starts cmd inside peer i's namespace; cleanup() kills it."""
        p = subprocess.Popen(self.prefix(i) + list(cmd), **kw)
        self.procs.append(p)
        return p

    def exec(self, i, cmd, check=True):
        return run(self.prefix(i) + list(cmd), check=check)

    def track(self, cluster):
        """cleanup() kills this harness.Cluster's processes before it
        deletes the namespaces they run in."""
        self.clusters.append(cluster)
        return cluster

    # ---- faults ----

    def _rules(self, i):
        rules = []
        for j, addr in enumerate(self.addrs):
            if j != i:
                rules.append(["INPUT", "-s", addr, "-j", "DROP"])
                rules.append(["OUTPUT", "-d", addr, "-j", "DROP"])
        return rules

    def partition(self, i):
        """Silently cuts peer i off from every other peer (both ways)."""
        assert i not in self.isolated, "peer %d is already partitioned" % i
        rules = self._rules(i)
        self.isolated[i] = []
        for r in rules:
            self.exec(i, ["iptables", "-w", "-A"] + r)
            self.isolated[i].append(r)

    def heal(self, i):
        """Removes the rules partition(i) added (heal of a healed peer: no-op)."""
        for r in self.isolated.pop(i, []):
            self.exec(i, ["iptables", "-w", "-D"] + r, check=False)

    def rules(self, i):
        """iptables -S of peer i's namespace (for logs)."""
        return self.exec(i, ["iptables", "-w", "-S"], check=False).stdout

    # ---- cleanup ----

    def cleanup(self):
        """Kills tracked processes, then deletes the namespaces. Idempotent;
        runs at exit too, and never raises."""
        if self.done:
            return
        self.done = True
        for c in self.clusters:
            for p in getattr(c, "peers", []):
                try:
                    p.kill(signal.SIGKILL)
                except Exception:  # noqa: BLE001 - cleanup goes on
                    pass
        for p in self.procs:
            try:
                if p.poll() is None:
                    p.kill()
                    p.wait(timeout=10)
            except Exception:  # noqa: BLE001
                pass
        # Peers first: deleting them drops their veth ends; the bridge last.
        for ns in reversed(self.created):
            run(["ip", "netns", "del", ns], check=False)
        self.created = []
        self.isolated = {}


def on_signals(fn=None):
    """Turns SIGTERM/SIGHUP (e.g. a test runner's timeout) into SystemExit so
    `finally:` blocks and atexit handlers, i.e. cleanup(), still run."""
    def handler(sig, frame):
        if fn:
            fn()
        raise SystemExit(128 + sig)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, handler)
