"""trellisd peers that pin, each with its own throwaway js-ipfs daemon, all on
loopback (Python 3 stdlib only). Used by test_pinning.py.

    try:
        with PinningSetup(binary, n=3, config={"metrics_ttl_ms": 1000}) as s:
            s.start()                 # trellisd peers (js-ipfs daemons: POOL)
            cids = s.add_content(20)  # the same blocks put into every daemon
            s.peers[0].ctl("pin %s replication=2" % cids[0])
            s.pinned_on(cids[0])      # -> {peer index whose daemon pins it}
    finally:
        POOL.close()                  # stops the shared js-ipfs daemons

js-ipfs daemons are started through tests/ipfs/ipfsd.py (as a module). A
daemon is SIGKILLed by the kernel when the *thread* that started it ends
(PR_SET_PDEATHSIG), so to start them in parallel each one is owned by a
thread that lives until stop(). The daemons (init ~3 s of CPU, start 3 to
12 s each on a busy 2-core machine) are shared by every setup of the process
(POOL); each setup has its own trellisd peers and its own random content.

Content is put into every daemon with `add pin=false` (same bytes, same
options, so the same CID everywhere): pinning never has to fetch over
bitswap, which would need the daemons swarm-connected."""

import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import harness

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ipfs"))
import ipfsd  # noqa: E402

T0 = time.monotonic()


def log(msg):
    """A progress line, stamped with the seconds since the script started."""
    print("[%6.1fs] %s" % (time.monotonic() - T0, msg), flush=True)


def jsipfs_problem():
    """None when js-ipfs can run here, else why not."""
    try:
        ipfsd.jsipfs_path()
    except ipfsd.IpfsdError as e:
        return str(e)
    if shutil.which("node") is None:
        return "node is not installed: run tools/ipfs-install first"
    return None


def _json_lines(out):
    """A streamed ipfsd.call() answer as a list, whether the ipfsd version at
    hand returns streams as lists (always) or a single line as an object."""
    if out is None:
        return []
    return [out] if isinstance(out, dict) else list(out)


class IpfsNode:
    """One js-ipfs daemon owned by a thread that lives as long as the daemon."""

    def __init__(self, repo_dir, name):
        self.name = name
        self.daemon = ipfsd.Daemon(repo_dir, ready_timeout=90)
        self.error = None
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread = None

    @property
    def api(self):
        return self.daemon.api

    def launch(self):
        self._ready.clear()
        self._stop.clear()
        self.error = None
        self._thread = threading.Thread(target=self._own, name=self.name, daemon=True)
        self._thread.start()

    def _own(self):
        try:
            self.daemon.start()
        except BaseException as e:  # noqa: BLE001 - reported by wait_ready()
            self.error = e
            self._ready.set()
            return
        self._ready.set()
        self._stop.wait()
        self.daemon.stop()

    def running(self):
        return self._thread is not None and self.error is None and self.daemon.running()

    def wait_ready(self, timeout):
        if not self._ready.wait(timeout):
            raise AssertionError("%s: js-ipfs not ready after %.0f s; log tail:\n%s"
                                 % (self.name, timeout, self.daemon.log_tail()))
        if self.error is not None:
            raise AssertionError("%s: js-ipfs failed to start: %s" % (self.name, self.error))

    def stop(self):
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=20)
        if self._thread.is_alive():  # stop() hung: leave it to PR_SET_PDEATHSIG
            log("%s: js-ipfs did not stop within 20 s" % self.name)
        self._thread = None

    def call(self, path, **args):
        return self.daemon.call(path, http_timeout=30, **args)

    def recursive_pins(self):
        """The set of CIDs this daemon pins recursively."""
        out = self.call("pin/ls", type="recursive", stream=True)
        return {e["Cid"] for e in _json_lines(out)}

    def add(self, data):
        """`add` without pinning; returns the CID."""
        return _json_lines(self.call("add", data=data, pin=False))[-1]["Hash"]


class IpfsPool:
    """n js-ipfs daemons shared by every PinningSetup of this process: they
    are initialised (in parallel) and started (in parallel) on first use,
    restarted if one has died, and stopped by close(). Each setup uses fresh
    random content, so pins left by an earlier case do not matter."""

    def __init__(self):
        self.root = None
        self.nodes = []

    def get(self, n):
        if self.root is None:
            self.root = tempfile.mkdtemp(prefix="trellis-pinning-ipfs-")
        if len(self.nodes) < n:
            t = time.monotonic()
            errors = []
            dirs = {i: os.path.join(self.root, "ipfs%d" % i) for i in range(len(self.nodes), n)}

            def init(d):
                try:
                    ipfsd.init(d)
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append("%s: %s" % (d, e))

            threads = [threading.Thread(target=init, args=(d,)) for d in dirs.values()]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            if errors:
                raise AssertionError("jsipfs init failed: %s" % "; ".join(errors))
            log("initialised %d js-ipfs repositories in parallel in %.1f s"
                % (len(dirs), time.monotonic() - t))
            self.nodes += [IpfsNode(d, "ipfs%d" % i) for i, d in dirs.items()]
        down = [node for node in self.nodes[:n] if not node.running()]
        if down:
            t = time.monotonic()
            for node in down:
                node.stop()  # reaps a daemon that died
                node.launch()
            for node in down:
                node.wait_ready(120)
            log("started %d js-ipfs daemons in parallel in %.1f s (each: %s)"
                % (len(down), time.monotonic() - t,
                   ", ".join("%.1f s" % node.daemon.startup_seconds for node in down)))
        return self.nodes[:n]

    def close(self):
        for node in self.nodes:
            node.stop()
        self.nodes = []
        if self.root and not os.environ.get("TRELLIS_KEEP"):
            shutil.rmtree(self.root, ignore_errors=True)
        self.root = None


POOL = IpfsPool()


def _die_with_parent():
    """preexec_fn: the child gets SIGKILL when the thread that started it
    dies (PR_SET_PDEATHSIG), so even a SIGKILLed test leaves no process."""
    try:  # resolved before fork: no dlopen in the child
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec():
        prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL
        if os.getppid() != parent:
            os._exit(1)
    return preexec


class PinPeer(harness.Peer):
    """harness.Peer whose trellisd dies with the test (PR_SET_PDEATHSIG)."""

    def start(self):
        assert self.proc is None or self.proc.poll() is not None
        self.log = open(os.path.join(self.dir, "trellisd.log"), "ab")
        self.proc = subprocess.Popen([self.cluster.binary, "run", "--dir", self.dir],
                                     stdout=subprocess.PIPE, stderr=self.log,
                                     preexec_fn=_die_with_parent())
        for line in self.proc.stdout:  # "ready <peer ID>" once it serves
            if line.startswith(b"ready "):
                return
        raise RuntimeError("peer %d exited before it was ready; log: %s"
                           % (self.index, self.tail()))


class PinningSetup:
    """n trellisd peers (peer i talks to js-ipfs daemon i) with one secret;
    peer 0 is everyone's bootstrap peer. `config` holds extra config.json
    fields by section ({"pinning": {"repin_after_ms": 3000}}), written into
    every peer's config after `trellisd init`."""

    def __init__(self, binary, n=3, config=None, rebroadcast_ms=2000, name="setup"):
        self.binary = binary
        self.n = n
        self.name = name
        self.root = tempfile.mkdtemp(prefix="trellis-pinning-%s-" % name)
        self.ipfs = POOL.get(n)  # started (shared with the other setups)
        self.peers = []
        for i in range(n):
            port = harness.free_port()
            d = os.path.join(self.root, "peer%d" % i)
            args = ["--listen", "/ip4/127.0.0.1/tcp/%d" % port,
                    "--rebroadcast-ms", str(rebroadcast_ms), "--no-sync",
                    "--ipfs-api", "/ip4/127.0.0.1/tcp/%d" % self.ipfs[i].daemon.api_port]
            rest_port, pinsvc_port = harness.free_port(), harness.free_port()
            metrics_port = harness.free_port()

            def edit(cfg):
                cfg["restapi"]["listen"] = "/ip4/127.0.0.1/tcp/%d" % rest_port
                cfg["pinsvcapi"]["listen"] = "/ip4/127.0.0.1/tcp/%d" % pinsvc_port
                cfg["metrics"]["listen"] = "/ip4/127.0.0.1/tcp/%d" % metrics_port
                for section, fields in (config or {}).items():
                    cfg[section].update(fields)
            p = PinPeer(self, i, d, "127.0.0.1", port)
            p.id = harness.init_peer(binary, d, args, self.peers[0] if self.peers else None, edit)
            p.cluster_secret = harness.secret_of(d)
            p.rest = "http://127.0.0.1:%d" % rest_port
            p.pinsvc = "http://127.0.0.1:%d" % pinsvc_port
            p.metrics = "http://127.0.0.1:%d" % metrics_port
            self.peers.append(p)
        self.index_of = {p.id: p.index for p in self.peers}

    # -- lifecycle --

    def start(self):
        """Starts the trellisd peers (the js-ipfs daemons already run)."""
        t = time.monotonic()
        for p in self.peers:
            try:
                p.start()
            except RuntimeError as e:
                raise AssertionError("%s: trellisd peer %d did not start (a config field this "
                                     "build does not know yet?): %s" % (self.name, p.index, e))
        log("%s: %d trellisd peers started in %.1f s" % (self.name, self.n, time.monotonic() - t))

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is not None:
            self.dump_logs()
        self.cleanup()
        return False

    def dump_logs(self):
        for p in self.peers:
            print("--- trellisd peer %d (%s) log tail ---\n%s" % (p.index, p.id, p.tail(40)))
        for node in self.ipfs:
            print("--- %s (API %s) log tail ---\n%s"
                  % (node.name, node.api, node.daemon.log_tail(20)))
        sys.stdout.flush()

    def cleanup(self):
        for p in self.peers:
            try:
                p.kill()
            except Exception as e:  # noqa: BLE001 - keep cleaning up
                log("killing peer %d: %s" % (p.index, e))
        if os.environ.get("TRELLIS_KEEP"):
            log("%s: kept %s (TRELLIS_KEEP)" % (self.name, self.root))
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- content --

    def add_content(self, count, sizes=None):
        """`count` fresh random files put into every daemon (not pinned there).
        File i is sizes[i] bytes (default: 1 KiB to ~400 KiB, so some span
        several 256 KiB chunks). Returns their CIDs (CIDv0)."""
        t = time.monotonic()
        cids = []
        for i in range(count):
            size = sizes[i] if sizes else 1024 + i * 20 * 1024
            data = os.urandom(size)
            got = {node.add(data) for node in self.ipfs}
            assert len(got) == 1, "the daemons gave different CIDs for the same bytes: %s" % got
            cids.append(got.pop())
        log("%s: added %d files to each of the %d daemons in %.1f s"
            % (self.name, count, self.n, time.monotonic() - t))
        return cids

    # -- observation --

    def pins_by_daemon(self, indexes=None):
        """{daemon index: set of recursively pinned CIDs}."""
        return {i: self.ipfs[i].recursive_pins() for i in (indexes or range(self.n))}

    def pinned_on(self, cid, by_daemon=None, indexes=None):
        by_daemon = by_daemon or self.pins_by_daemon(indexes)
        return {i for i, pins in by_daemon.items() if cid in pins}

    def status(self, peer, cid):
        return peer.ctl("status %s" % cid)["pin"]

    def converged(self, peers=None):
        infos = [p.info() for p in (peers or self.peers)]
        states = {(i["state"], tuple(sorted(i["heads"]))) for i in infos}
        ok = len(states) == 1 and all(i["wants"] == 0 and i["pending"] == 0 for i in infos)
        return ok, [(i["keys"], i["state"][:12], i["wants"], i["pending"]) for i in infos]

    def wait_mesh(self, timeout=30):
        n = self.n
        return wait(lambda: (all(len(p.info()["peers"]) == n - 1 for p in self.peers),
                             [len(p.info()["peers"]) for p in self.peers]),
                    timeout, "%s: all %d peers connected (ctl info \"peers\")" % (self.name, n))

    def pin(self, peer, cid, options="", timeout=40):
        """`ctl pin CID OPTIONS` on peer, retried while the peer does not yet
        know enough peers to allocate (metrics still arriving after start)."""
        line = ("pin %s %s" % (cid, options)).strip()
        deadline = time.monotonic() + timeout
        while True:
            try:
                return peer.ctl(line)
            except RuntimeError as e:
                if "not enough peers" not in str(e) or time.monotonic() > deadline:
                    raise
            time.sleep(0.25)


def wait(cond, timeout, what, interval=0.25, quiet=False):
    """Polls cond() -> (ok, detail) until ok or `timeout` seconds pass
    (then AssertionError with the last detail). Errors raised by cond count
    as not yet. Prints what it waits on and how long it took; returns the
    seconds waited."""
    if not quiet:
        log("waiting (up to %.0f s) for %s" % (timeout, what))
    t = time.monotonic()
    deadline = t + timeout
    last = None
    while True:
        try:
            ok, last = cond()
            if ok:
                took = time.monotonic() - t
                if not quiet:
                    log("  ... done in %.2f s" % took)
                return took
        except (OSError, RuntimeError, ipfsd.IpfsApiError, KeyError, ValueError) as e:
            last = "%s: %s" % (type(e).__name__, e)
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0f s waiting for %s; last: %s"
                                 % (timeout, what, last))
        time.sleep(interval)
