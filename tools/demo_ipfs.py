#!/usr/bin/env python3
"""tools/demo_ipfs.py — the pinning phase of tools/demo (Python 3 stdlib only).

tools/demo starts N trellisd peers (OUT/peerI) and one js-ipfs daemon per
peer (OUT/ipfsI, through tests/ipfs/ipfsd.py run, which wrote "API
127.0.0.1:PORT" into OUT/ipfsI.out), then runs these steps in order; each
step polls with a deadline, prints a progress line and a table, and keeps
what it learned in OUT/pins.json for the next step:

  ports N            N free TCP ports on 127.0.0.1 (for the js-ipfs APIs)
  pin [--files F]    F random files (32 KiB to 352 KiB), file k added to the
                     daemon of peer k % N only (its "origin") and pinned
                     through that peer with replication=2 and origins=<that
                     daemon>, so the allocated daemons fetch it over bitswap;
                     one more file with replication=-1 (every peer). Waits
                     until every pin is pinned on exactly its allocated
                     daemons: the peers whose `ctl status` says the pin is
                     theirs (2 of them, or all) say `pinned`, the others
                     `remote`, and exactly their daemons pin it (pin/ls).
                     (The allocations are read from the cluster, not taken
                     from the pin replies: the cluster may re-allocate.)
  victim             the peer (not peer 0) allocated the most pins
  repin --down K     peer K's trellisd was killed: waits until each of its
                     pins is on 2 live daemons again (re-allocated by the
                     live peers once K is down for repin_after_ms)
  rejoin --peer K    peer K runs again: waits until it has unpinned what is
                     no longer allocated to it
  unpin [--count C]  unpins C replication=2 pins and the replication=-1 pin
                     through different peers; waits until no daemon has them

  common options: --out DIR (default out/demo) --peers N (default 5)
"""

import argparse
import collections
import json
import os
import socket
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "ipfs"))
import ipfsd  # noqa: E402


class Failed(Exception):
    pass


class CtlError(Exception):
    pass


def ctl(peer_dir, line, timeout=60):
    """One control-socket command (what `trellisd ctl` does); the JSON reply."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(os.path.join(peer_dir, "control.sock"))
        s.sendall(line.encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                raise CtlError("%s closed the control socket" % peer_dir)
            buf += chunk
    finally:
        s.close()
    reply = json.loads(buf)
    if not reply.get("ok"):
        raise CtlError(reply.get("error", str(reply)))
    return reply


class Cluster:
    def __init__(self, out, n):
        self.out = Path(out)
        self.n = n
        self.dirs = [str(self.out / ("peer%d" % i)) for i in range(n)]
        self.apis = []
        self.swarm = []
        for i in range(n):
            text = (self.out / ("ipfs%d.out" % i)).read_text()
            self.apis.append(text.split()[1])  # "API 127.0.0.1:PORT"
            cfg = json.loads((self.out / ("ipfs%d" % i) / "config").read_text())
            port = cfg["Addresses"]["Swarm"][0].split("/")[4]
            self.swarm.append("/ip4/127.0.0.1/tcp/%s/p2p/%s" % (port, cfg["Identity"]["PeerID"]))
        self.state_path = self.out / "pins.json"
        self.state = json.loads(self.state_path.read_text()) if self.state_path.exists() else {}
        if "ids" not in self.state:
            self.state["ids"] = [json.loads((Path(d) / "identity.json").read_text())["id"]
                                 for d in self.dirs]
        self.index_of = {pid: i for i, pid in enumerate(self.state["ids"])}

    def save(self):
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=1) + "\n")
        os.replace(tmp, self.state_path)

    def ipfs(self, i, path, **args):
        return ipfsd.call(self.apis[i], path, http_timeout=30, **args)

    def daemon_pins(self, i):
        out = self.ipfs(i, "pin/ls", type="recursive", stream=True)
        out = [out] if isinstance(out, dict) else (out or [])
        return {e["Cid"] for e in out}

    def statuses(self, i):
        """{cid: status} of every pin in peer i's state, and the counts."""
        r = ctl(self.dirs[i], "status")
        return {p["cid"]: p["status"] for p in r["pins"]}, r["counts"]

    # -- pins.json: {"pins": [{cid, name, size, origin, replication, alloc}]} --

    @property
    def pins(self):
        return self.state.setdefault("pins", [])

    def reallocations(self):
        """How many re-allocations the peers' logs report so far."""
        n = 0
        for i in range(self.n):
            try:
                with open(self.out / ("peer%d.log" % i), errors="replace") as f:
                    n += sum("pinning: re-allocated" in line for line in f)
            except OSError:
                pass
        return n


TTY = sys.stdout.isatty()


def progress(text):
    """A progress line, rewritten in place on a terminal (not shown otherwise)."""
    if TTY:
        sys.stdout.write("\r   %s\033[K" % text)
        sys.stdout.flush()


def progress_done(text):
    sys.stdout.write(("\r   %s\033[K\n" if TTY else "   %s\n") % text)
    sys.stdout.flush()


def poll(what, cond, timeout, interval=0.4):
    """cond() -> (done, short progress text); returns seconds waited."""
    t = time.monotonic()
    last = ""
    while True:
        try:
            done, last = cond()
        except (OSError, CtlError, ipfsd.IpfsApiError, ValueError, KeyError) as e:
            done, last = False, "%s: %s" % (type(e).__name__, e)
        took = time.monotonic() - t
        if done:  # the caller says so
            if TTY:
                sys.stdout.write("\r\033[K")
            return took
        if took > timeout:
            progress_done("%s (%.1f s)" % (last, took))
            raise Failed("timed out after %.0f s waiting for %s" % (timeout, what))
        progress("%s (%.1f s)" % (last, took))
        time.sleep(interval)


# A peer's status for a pin allocated to it (the others: remote, unpin_*).
ALLOCATED = {"pinned", "pin_queued", "pinning", "pin_error", "unexpectedly_unpinned"}


def placement(c, peers, daemons=None, must_leave=None):
    """The cluster's own view, checked against the daemons. For each pin, the
    peers whose `ctl status` says it is allocated to them (all of them when
    replication is -1, else exactly 2 of the live `peers`; a peer that is
    down has no say) must all say `pinned`, and their daemons must pin it;
    an unpinned pin must be in no peer's state and on no daemon, and the
    CIDs in must_leave[daemon] must not be on that daemon. Returns (all
    placed, how many, {cid: peers it is allocated to}, {cid: daemons that pin
    it although it is not allocated to them}, an example of a pin not yet
    placed)."""
    daemons = peers if daemons is None else daemons
    must_leave = must_leave or {}
    held = {i: c.daemon_pins(i) for i in daemons}
    status = {i: c.statuses(i)[0] for i in peers}
    good = 0
    holders, strays = {}, {}
    example = ""
    for pin in c.pins:
        cid = pin["cid"]
        on = {i for i in daemons if cid in held[i]}
        mine = {i for i in peers if status[i].get(cid, "unpinned") in ALLOCATED}
        if pin.get("gone"):
            ok = not on and all(cid not in status[i] for i in peers)
        else:
            want = len(peers) if pin["replication"] == -1 else pin["replication"]
            ok = (len(mine) == want and mine <= on
                  and all(status[i][cid] == "pinned" for i in mine)
                  and all(cid in status[i] for i in peers))
            if on - mine:
                strays[cid] = on - mine
        ok = ok and not any(cid in must_leave.get(i, ()) for i in on)
        holders[cid] = mine
        good += ok
        if not ok and not example:
            example = "; e.g. %s: allocated to %s, on daemons %s" % (
                pin["name"], ",".join(map(str, sorted(mine))) or "-",
                ",".join(map(str, sorted(on))) or "-")
    return good == len(c.pins), good, holders, strays, example


def table(c, down=()):
    """Per peer: pins its IPFS daemon holds, and `ctl status` counts."""
    print("   %-6s %-18s %-16s %11s   %s" % ("peer", "trellisd ID", "IPFS API", "daemon pins",
                                             "ctl status: counts by status"))
    for i in range(c.n):
        pid = c.state["ids"][i]
        short = pid[:8] + "…" + pid[-6:]
        pinned = len(c.daemon_pins(i))
        if i in down:
            counts = "(trellisd down; its daemon keeps its pins)"
        else:
            order = lambda kv: (kv[0] != "pinned", kv[0] == "remote", kv[0])  # noqa: E731
            counts = ", ".join("%s %d" % kv for kv in sorted(c.statuses(i)[1].items(), key=order))
        print("   peer%-2d %-18s %-16s %11d   %s" % (i, short, c.apis[i], pinned, counts or "-"))


def per_peer(c, pins):
    cnt = collections.Counter()
    for pin in pins:
        cnt.update(range(c.n) if pin["replication"] == -1 else pin["alloc"])
    return ", ".join("peer%d %d" % (i, cnt[i]) for i in range(c.n))


def pin_with_retry(c, i, line, timeout=30):
    """ctl pin, retried while peer i lacks candidates (metrics still arriving)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return ctl(c.dirs[i], line)
        except CtlError as e:
            if "not enough peers" not in str(e) or time.monotonic() > deadline:
                raise
        time.sleep(0.25)


def cmd_pin(c, args):
    n = c.n
    files = args.files
    print("== pinning: %d files with replication=2 and 1 with replication=-1, each added to "
          "one js-ipfs daemon\n   (its origin) and pinned through that daemon's peer; the "
          "allocated daemons fetch it over bitswap" % files)
    t = time.monotonic()
    total = 0
    for k in range(files + 1):
        origin = k % n
        size = 32 * 1024 * (1 + (k * 7) % 11)  # 32 KiB .. 352 KiB, some span several chunks
        data = os.urandom(size)
        added = c.ipfs(origin, "add", data=data, pin=False)
        added = added[-1] if isinstance(added, list) else added
        c.pins.append({"cid": added["Hash"], "name": "file%02d" % k, "size": size,
                       "origin": origin, "replication": 2 if k < files else -1, "alloc": []})
        total += size
    print("   added %d files (%.1f MiB in all) to their origin daemons in %.1f s"
          % (files + 1, total / 2**20, time.monotonic() - t))

    # Pins in a steady stream (about 5 a second): each daemon's free space,
    # published every metrics_ttl_ms/2, drops as it fetches what it got, so
    # the balanced allocator (most free space first) spreads the pins.
    t = time.monotonic()
    for k, pin in enumerate(c.pins):
        i = pin["origin"]
        line = "pin %s name=%s replication=%d origins=%s" % (
            pin["cid"], pin["name"], pin["replication"], c.swarm[i])
        reply = pin_with_retry(c, i, line)
        if reply["cid"] != pin["cid"]:
            raise Failed("pin %s answered for %s" % (pin["cid"], reply["cid"]))
        pin["alloc"] = sorted(c.index_of[a] for a in reply["allocations"])
        want = 0 if pin["replication"] == -1 else 2
        if len(pin["alloc"]) != want:
            raise Failed("pin %s: allocations %s" % (pin["cid"], reply["allocations"]))
        progress("pin requests: %d/%d (last: %s through peer%d -> %s)" % (
            k + 1, len(c.pins), pin["name"], i,
            "every peer" if want == 0 else "peers %s" % ",".join(map(str, pin["alloc"]))))
        time.sleep(0.2)
    requested = time.monotonic() - t
    c.save()
    progress_done("%d pin requests in %.1f s; allocations: %s"
                  % (len(c.pins), requested, per_peer(c, c.pins)))
    took, holders, strays = settle(c, list(range(n)),
                                   "pins pinned on exactly their allocated daemons", args.timeout)
    print("   every pin is pinned on %s allocated daemons (every peer's status agrees), %.1f s"
          "\n   after the last request, %.1f s after the first"
          % ("its" if strays else "exactly its", took, requested + took))
    changed = [p for p in c.pins if p["replication"] != -1 and set(p["alloc"]) != holders[p["cid"]]]
    if changed:
        print("   (%d pins are on other peers than first allocated: the cluster re-allocated them,"
              "\n   %d re-allocations in the peers' logs; a peer whose IPFS daemon answers slowly"
              "\n   looks down to the others)" % (len(changed), c.reallocations()))
    remember(c, holders, strays)
    table(c)


def settle(c, peers, what, timeout, daemons=None, must_leave=None, stray_grace=10):
    """Polls placement() until every pin is placed and no daemon pins what is
    not allocated to it, or, once every pin is placed, for stray_grace more
    seconds. Returns (seconds, {cid: allocated peers}, {cid: stray daemons})."""
    last = {}

    def cond():
        ok, good, holders, strays, example = placement(c, peers, daemons, must_leave)
        last.update(holders=holders, strays=strays)
        if ok and strays:
            last.setdefault("placed", time.monotonic())
            ok = time.monotonic() - last["placed"] > stray_grace
            example = "; %d CIDs still on daemons they are not allocated to" % len(strays)
        return ok, "%s: %d/%d%s" % (what, good, len(c.pins), example)

    took = poll(what, cond, timeout, interval=1.0)
    known = c.state.get("strays", {})
    new = {cid: on - set(known.get(cid, [])) for cid, on in last["strays"].items()}
    new = {cid: on for cid, on in new.items() if on}
    if new:
        say_strays(c, new)
    return took, last["holders"], last["strays"]


def say_strays(c, strays):
    names = {p["cid"]: p["name"] for p in c.pins}
    eg = ", ".join("%s on daemon %s" % (names[cid], ",".join(map(str, sorted(on))))
                   for cid, on in list(strays.items())[:3])
    print("   NOTE: %d CIDs stay pinned on daemons the cluster does not allocate them to (%s%s):"
          "\n   the cluster re-allocated them (%d re-allocations in the peers' logs) while the"
          "\n   daemon was still pinning; js-ipfs finishes a pin/add even after Trellis cancels"
          "\n   it, and Trellis leaves pins it does not want alone (docs/pinning.md)"
          % (len(strays), eg, ", …" if len(strays) > 3 else "", c.reallocations()))


def remember(c, holders, strays):
    for pin in c.pins:
        if pin["replication"] != -1 and not pin.get("gone"):
            pin["alloc"] = sorted(holders[pin["cid"]])
    known = c.state.setdefault("strays", {})
    for cid, on in strays.items():
        known[cid] = sorted(set(known.get(cid, [])) | on)
    c.save()


def cmd_victim(c, args):
    cnt = collections.Counter()
    for pin in c.pins:
        if pin["replication"] != -1:
            cnt.update(pin["alloc"])
    print(max(range(1, c.n), key=lambda i: (cnt[i], -i)))


def cmd_repin(c, args):
    k = args.down
    live = [i for i in range(c.n) if i != k]
    moving = [p for p in c.pins if k in p["alloc"]]
    before = {p["cid"]: set(p["alloc"]) for p in c.pins}
    t_kill = args.killed_at or time.time()
    print("   peer%d held %d of the replication=2 pins; waiting until the live peers see it is gone"
          "\n   (silent for repin_after_ms) and re-allocate them" % (k, len(moving)))
    _, holders, strays = settle(c, live, "pins pinned on exactly 2 live daemons", args.timeout)
    took = time.time() - t_kill
    went = collections.Counter()
    for p in moving:
        went.update(holders[p["cid"]] - before[p["cid"]])
    remember(c, holders, strays)
    on_victim = c.daemon_pins(k)
    c.state["stale"] = [p["cid"] for p in c.pins
                        if p["replication"] != -1 and k not in p["alloc"] and p["cid"] in on_victim
                        and k not in c.state["strays"].get(p["cid"], [])]
    c.save()
    print("   %d pins moved off peer%d %.1f s after it was killed (%s); every pin is on 2 live "
          "daemons" % (len(moving), k, took, ", ".join("%d to peer%d" % (v, i)
                                                       for i, v in sorted(went.items()))))
    table(c, down=(k,))


def cmd_rejoin(c, args):
    k = args.peer
    stale = c.state.get("stale", [])
    print("   peer%d's daemon still pins the %d CIDs that moved away while its trellisd was down"
          % (k, len(stale)))
    _, holders, strays = settle(c, list(range(c.n)),
                                "pins pinned on exactly their allocated daemons", args.timeout,
                                must_leave={k: set(stale)})
    print("   peer%d caught up with the state and unpinned them: %.1f s after it was restarted"
          % (k, time.time() - (args.restarted_at or time.time())))
    remember(c, holders, strays)
    table(c)


def cmd_unpin(c, args):
    live = [p for p in c.pins if not p.get("gone")]
    chosen = []
    for p in live:  # replication=2 pins on different daemons, if there are such
        if p["replication"] == 2 and len(chosen) < args.count and \
                not any(set(p["alloc"]) & set(q["alloc"]) for q in chosen):
            chosen.append(p)
    chosen += [p for p in live if p["replication"] == 2 and p not in chosen][:args.count - len(chosen)]
    chosen += [p for p in live if p["replication"] == -1]
    print("== unpinning %s" % ", ".join(
        "%s (%s, on %s)" % (p["name"], p["cid"][:10] + "…",
                           "every peer" if p["replication"] == -1
                           else "peers %s" % ",".join(map(str, p["alloc"])))
        for p in chosen))
    for j, p in enumerate(chosen):
        ctl(c.dirs[j % c.n], "unpin %s" % p["cid"])
        p["gone"] = True
    c.save()
    everyone = list(range(c.n))
    took, holders, strays = settle(c, everyone,
                                   "pins where they should be, unpinned ones nowhere",
                                   args.timeout)
    remember(c, holders, strays)
    print("   gone from every daemon and every peer's state in %.1f s; %d pins remain"
          % (took, len(c.pins) - sum(bool(p.get("gone")) for p in c.pins)))
    table(c)


def cmd_ports(args):
    socks = []
    try:
        for _ in range(args.count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        print(" ".join(str(s.getsockname()[1]) for s in socks))
    finally:
        for s in socks:
            s.close()


def main():
    parser = argparse.ArgumentParser(description="The pinning phase of tools/demo.")
    parser.add_argument("--out", default="out/demo")
    parser.add_argument("--peers", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=90, help="seconds for each wait")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("ports")
    p.add_argument("count", type=int)
    p = sub.add_parser("pin")
    p.add_argument("--files", type=int, default=50)
    sub.add_parser("victim")
    p = sub.add_parser("repin")
    p.add_argument("--down", type=int, required=True)
    p.add_argument("--killed-at", type=float, default=0, help="when (unix seconds)")
    p = sub.add_parser("rejoin")
    p.add_argument("--peer", type=int, required=True)
    p.add_argument("--restarted-at", type=float, default=0, help="when (unix seconds)")
    p = sub.add_parser("unpin")
    p.add_argument("--count", type=int, default=2)
    args = parser.parse_args()
    if args.command == "ports":
        cmd_ports(args)
        return 0
    try:
        c = Cluster(args.out, args.peers)
        {"pin": cmd_pin, "victim": cmd_victim, "repin": cmd_repin, "rejoin": cmd_rejoin,
         "unpin": cmd_unpin}[args.command](c, args)
    except (Failed, CtlError, ipfsd.IpfsApiError, OSError) as e:
        print("\ntools/demo_ipfs.py %s: %s" % (args.command, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
