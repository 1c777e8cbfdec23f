"""The chaos suite's faults and their seeded schedule.

A fault starts at `at` seconds into the schedule on `targets` (peer
indexes), holds for `hold` seconds, then heals. Kinds:

  partition  the targets (1 or 2 peers) are cut off from the other peers by
             iptables DROP rules in their namespaces (silent; the client
             still reaches everyone, so both sides keep taking writes)
  loss       20-40 % of the target's packets dropped both ways (iptables
             statistic)
  slow       the wired peer's link delays frames 100-300 ms with jitter
             (wire.py; reorders too)
  kill       kill -9 of the target during the write load; restarted after
             the hold
  pause      SIGSTOP, SIGCONT after the hold
  disk       the disk peer's tmpfs filled to the last byte, freed after the
             hold
  join       the joiner starts empty; kill -9 while it syncs, restarted after
             the hold

The short form runs each kind once in a seeded order; the long form keeps
drawing kinds until the duration is over. A fault whose targets are busy
with another fault when it is due picks other targets or is skipped, and the
log says so. Python stdlib only."""

import signal
import time

KINDS = ["partition", "loss", "slow", "kill", "pause", "disk", "join"]


class Fault:
    def __init__(self, at, kind, hold, targets=None, amount=None):
        self.at, self.kind, self.hold = at, kind, hold
        self.targets = targets or []
        self.amount = amount
        self.rules = []     # (peer, iptables rule) to delete on heal
        self.end = None

    def describe(self):
        peers = ",".join(str(t) for t in self.targets)
        amount = "" if self.amount is None else " %s" % self.amount
        return "%s peer %s%s for %.1f s" % (self.kind, peers, amount, self.hold)


def schedule(rng, duration, long_form):
    """The faults, by start time. Targets are picked when each is due."""
    faults = []
    order = KINDS[:]
    rng.shuffle(order)
    if not long_form:
        slot = duration / len(order)
        for k, kind in enumerate(order):
            faults.append(Fault(k * slot + rng.uniform(0, slot * 0.3), kind,
                                rng.uniform(slot * 0.4, slot * 0.6)))
        return faults
    t = 2.0
    while t < duration - 5:
        kind = order.pop() if order else rng.choice(KINDS[:-1])
        faults.append(Fault(t, kind, min(rng.uniform(3, 12), duration - t)))
        t += rng.uniform(2, 6)
    return faults


class Injector:
    """Applies and heals faults on a rig.Rig; `log` prints a fault-log line."""

    def __init__(self, rig, rng, log):
        self.rig = rig
        self.rng = rng
        self.log = log
        self.busy = set()
        self.down = {rig.roles["joiner"]}   # peers not running on purpose
        self.crashes = []                   # peers that exited on their own

    def pick(self, fault):
        """Chooses fault.targets among free peers; False when none is."""
        roles = self.rig.roles
        free = [i for i in range(len(self.rig.peers))
                if i not in self.busy and i not in self.down]
        fixed = {"slow": roles["wired"], "disk": roles["disk"], "join": roles["joiner"]}
        if fault.kind == "join":
            ok = roles["joiner"] in self.down and roles["joiner"] not in self.busy
            fault.targets = [roles["joiner"]] if ok else []
        elif fault.kind in fixed:
            fault.targets = [fixed[fault.kind]] if fixed[fault.kind] in free else []
        elif fault.kind == "partition":
            size = 1 if len(free) < 4 else self.rng.choice([1, 2])
            fault.targets = sorted(self.rng.sample(free, size)) if len(free) >= 2 else []
        else:
            fault.targets = [self.rng.choice(free)] if free else []
        return bool(fault.targets)

    def apply(self, fault):
        if not self.pick(fault):
            self.log("skipped %s: its peers are busy or down" % fault.kind)
            return False
        self.busy.update(fault.targets)
        getattr(self, "_" + fault.kind)(fault)
        self.log("start " + fault.describe())
        return True

    def heal(self, fault):
        rig = self.rig
        for i, rule in fault.rules:
            rig.net.exec(i, ["iptables", "-w", "-D"] + rule, check=False)
        if fault.kind == "slow":
            rig.set_wire(0, 0, 0)
        elif fault.kind == "pause":
            rig.peers[fault.targets[0]].proc.send_signal(signal.SIGCONT)
        elif fault.kind == "disk":
            rig.free_disk()
        elif fault.kind in ("kill", "join"):
            t = time.monotonic()
            p = rig.peers[fault.targets[0]]
            p.start()
            self.down.discard(p.index)
            self.log("restarted peer %d in %.2f s" % (p.index, time.monotonic() - t))
        self.busy.difference_update(fault.targets)
        self.log("healed %s peer %s" % (fault.kind, ",".join(map(str, fault.targets))))

    # ---- the faults ----

    def _iptables(self, fault, i, rule):
        self.rig.net.exec(i, ["iptables", "-w", "-A"] + rule)
        fault.rules.append((i, rule))

    def _partition(self, fault):
        addrs = self.rig.net.addrs
        for i in fault.targets:
            for j in range(len(self.rig.peers)):
                if j not in fault.targets:
                    self._iptables(fault, i, ["INPUT", "-s", addrs[j], "-j", "DROP"])
                    self._iptables(fault, i, ["OUTPUT", "-d", addrs[j], "-j", "DROP"])

    def _loss(self, fault):
        p = self.rng.choice([0.2, 0.3, 0.4])
        fault.amount = "%d%%" % (p * 100)
        i = fault.targets[0]
        for chain, dev in (("INPUT", "-i"), ("OUTPUT", "-o")):
            self._iptables(fault, i, [chain, dev, "eth0", "-m", "statistic", "--mode", "random",
                                      "--probability", str(p), "-j", "DROP"])

    def _slow(self, fault):
        delay = self.rng.choice([100, 200, 300])
        fault.amount = "%d±%d ms" % (delay, delay // 3)
        self.rig.set_wire(delay, delay // 3, 0)

    def _kill(self, fault):
        p = self.rig.peers[fault.targets[0]]
        fault.amount = "pid %d" % p.proc.pid
        p.kill()
        self.down.add(p.index)

    def _pause(self, fault):
        self.rig.peers[fault.targets[0]].proc.send_signal(signal.SIGSTOP)

    def _disk(self, fault):
        fault.amount = "%d MiB written" % (self.rig.fill_disk() >> 20)

    def _join(self, fault):
        """Starts the joiner, then kills it mid-sync (or says it was late)."""
        p = self.rig.peers[fault.targets[0]]
        try:
            target = self.rig.peers[0].ctl("info", timeout=2)["blocks"]
        except (OSError, RuntimeError):
            target = "?"  # peer 0 is paused or down just now
        p.start()
        t = time.monotonic()
        blocks = 0
        blocks = "?"
        while time.monotonic() - t < 10:
            try:
                blocks = p.ctl("info", timeout=1)["blocks"]
            except (OSError, RuntimeError):
                break  # busy merging: it is syncing
            if blocks > 0:
                break
            time.sleep(0.01)
        p.kill()
        self.down.add(p.index)
        fault.amount = "killed %.0f ms after ready holding %s of %s blocks" % (
            (time.monotonic() - t) * 1000, blocks, target)

    def check_alive(self):
        """Records (and restarts) peers that exited without being killed."""
        for p in self.rig.peers:
            if p.index in self.down or p.proc is None:
                continue
            code = p.proc.poll()
            if code is not None:
                self.crashes.append((p.index, code, p.tail(15)))
                self.log("CRASH: peer %d exited on its own with %s; restarting" % (p.index, code))
                p.proc = None
                try:
                    p.start()
                except RuntimeError as e:
                    self.log("peer %d does not restart: %s" % (p.index, e))
                    self.down.add(p.index)
