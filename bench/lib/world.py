"""A `k3s-daas run` world for benchmarks, on 127.0.0.1 only.

The Sui stand-in (tests/peers/sui-devnet, with one extra port so that the agents' requests and the
master stand-in's own chain checks are counted apart), the Nautilus-master stand-in
(tests/peers/nautilus-master, checking stakes on that chain, fixed PCRs so that it can be
restarted on the same port with a new enclave key), and any number of agents, each the real
`k3s-daas run` with its own key, state folder and config, the `k3s-embedded` runtime (no
containerd) and tests/fake-k3s as the STAND-IN for k3s. Like tests/daemon, the agents run with
K3S_DAAS_TEST_MODE=1 (teardown confined to their own folders, shorter supervisor limits).
"""

import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUI_SERVER = ROOT / "tests/peers/sui-devnet/server.mjs"
MASTER_SERVER = ROOT / "tests/peers/nautilus-master/server.mjs"
MAKE_PKI = ROOT / "tests/peers/nautilus-master/make-pki.sh"


def find_binaries(build):
    build = Path(build).resolve() if build else None
    candidates = [build] if build else [ROOT / "build-bench", ROOT / "build"]
    for b in candidates:
        agent = b / "k3s-daas"
        fake = b / "tests/fake-k3s/fake-k3s"
        if agent.is_file() and fake.is_file():
            return agent, fake
    raise SystemExit(f"k3s-daas and fake-k3s are not built in {candidates} "
                     "(cmake --build BUILD --target k3s-daas fake-k3s)")


def now_ms():
    return time.time() * 1000.0


def http_json(url, body=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if body is None else "POST",
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def gql(url, query, variables=None):
    return http_json(url, {"query": query, "variables": variables or {}})


def percentile(values, p):
    s = sorted(values)
    if not s:
        return float("nan")
    i = min(len(s) - 1, max(0, -(-p * len(s) // 100) - 1))
    return s[int(i)]


def median(values):
    return statistics.median(values) if values else float("nan")


def table(title, header, rows, note=None):
    """Prints a plain text table."""
    cells = [[str(h) for h in header]] + [[c if isinstance(c, str) else fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(title)
    for n, r in enumerate(cells):
        print("  " + "  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r)))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))
    if note:
        print("  " + note)
    print(flush=True)


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        if v != v:
            return "-"
        if abs(v) >= 100:
            return f"{v:,.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


class Process:
    """A stand-in started with node; its first stdout line is its ready JSON."""

    def __init__(self, argv, log_path):
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log, cwd=ROOT)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{argv[1]} did not start; see {log_path}")
        self.ready = json.loads(line)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def cpu_s(self):
        return proc_cpu_s(self.proc.pid)


def proc_cpu_s(pid):
    """utime + stime of one process (not its children), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class World:
    def __init__(self, build=None, poll_interval_ms=5000, heartbeat_interval_ms=30000, work=None, keep=False):
        self.agent_bin, self.fake_k3s = find_binaries(build)
        self.dir = Path(work or tempfile.mkdtemp(prefix="k3s-daas-bench-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self.poll_interval_ms = poll_interval_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.agents = []
        self.pki = self.dir / "pki"
        subprocess.run(["bash", str(MAKE_PKI), str(self.pki)], check=True)
        self.sui = Process(["node", str(SUI_SERVER), "--port", "0", "--extra-ports", "1"], self.dir / "sui.log")
        r = self.sui.ready
        self.sui_admin = r["admin"]
        self.agent_graphql = r["graphql_urls"][0]   # the agents' port
        self.master_graphql = r["graphql_urls"][1]  # the master stand-in's own chain checks
        self.agent_port = str(r["ports"][0])
        self.master_chain_port = str(r["ports"][1])
        self.pcrs = [secrets.token_hex(48) for _ in range(3)]
        self.master_port = 0
        self.master = None
        self.start_master()

    # ---- the master stand-in -------------------------------------------------------------
    def start_master(self):
        r = self.sui.ready
        argv = ["node", str(MASTER_SERVER), "--pki", str(self.pki), "--port", str(self.master_port),
                "--admin-port", "0", "--sui-graphql", self.master_graphql, "--package-id", r["package_id"],
                "--min-stake", r["min_stake_mist"], "--heartbeat-interval-ms", str(self.heartbeat_interval_ms),
                "--pcr0", self.pcrs[0], "--pcr1", self.pcrs[1], "--pcr2", self.pcrs[2]]
        self.master = Process(argv, self.dir / "master.log")
        self.master_url = self.master.ready["url"]
        self.master_admin = self.master.ready["admin"]
        self.master_port = int(self.master_url.rsplit(":", 1)[1])

    def restart_master(self, down_s=1.0):
        """Stops the master stand-in, waits, starts a new one on the same port (new enclave key,
        no nodes known). Returns the wall time (ms) at which the new one was ready."""
        self.master.stop()
        time.sleep(down_s)
        for attempt in range(50):
            try:
                self.start_master()
                return now_ms()
            except (RuntimeError, json.JSONDecodeError):
                time.sleep(0.2)  # the port may linger a moment
        raise RuntimeError("the master stand-in did not come back")

    def master_counters(self):
        return http_json(self.master_admin + "/admin/counters")

    def sui_counters(self):
        return http_json(self.sui_admin + "/counters")

    # ---- agents --------------------------------------------------------------------------
    def new_agent(self, node_id=None, **kw):
        a = Agent(self, node_id or f"node-{len(self.agents):03d}-{secrets.token_hex(3)}", **kw)
        self.agents.append(a)
        return a

    def close(self):
        for a in self.agents:
            a.kill()
        if self.master:
            self.master.stop()
        self.sui.stop()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def slash_landed_ms(self, digest):
        """The chain's own time of the transaction (its checkpoint's timestamp), in unix ms."""
        q = "query($d: String!) { transaction(digest: $d) { effects { timestamp } } }"
        ts = gql(self.agent_graphql, q, {"d": digest})["data"]["transaction"]["effects"]["timestamp"]
        from datetime import datetime
        return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000.0


class Agent:
    def __init__(self, world, node_id, poll_interval_ms=None, log_format="json"):
        self.w = world
        self.node_id = node_id
        self.dir = world.dir / "agents" / node_id
        self.state = self.dir / "state"
        self.dir.mkdir(parents=True)
        self.proc = None
        self.log_path = self.dir / "agent.log"
        self.config = self.dir / "config.json"
        out = subprocess.run([str(world.agent_bin), "keys", "generate", "--out", str(self.dir / "sui.key"), "--json"],
                             check=True, capture_output=True, text=True).stdout
        self.address = json.loads(out)["address"]
        http_json(world.sui_admin + "/fund", {"address": self.address, "amount_mist": "3000000000", "coins": 1})
        r = world.sui.ready
        doc = {
            "node_id": node_id,
            "state_dir": str(self.state),
            "sui": {"rpc_urls": [world.agent_graphql], "key_file": str(self.dir / "sui.key"),
                    "package_id": r["package_id"], "staking_pool_id": r["staking_pool_id"],
                    "min_stake_mist": int(r["min_stake_mist"]),
                    "poll_interval_ms": poll_interval_ms or world.poll_interval_ms},
            "master": {"url": world.master_url, "ca_file": str(world.pki / "tls-ca.pem"),
                       "cert_file": str(world.pki / "client.pem"), "key_file": str(world.pki / "client.key"),
                       "heartbeat_interval_ms": max(1000, world.heartbeat_interval_ms),
                       "attestation": {"pcr0": world.pcrs[0], "pcr1": world.pcrs[1], "pcr2": world.pcrs[2],
                                       "root_ca_file": str(world.pki / "nitro-root.pem")}},
            "k3s": {"binary": str(world.fake_k3s), "data_dir": str(self.state / "k3s"), "stop_timeout_s": 5},
            "runtime": {"type": "k3s-embedded", "socket": str(self.state / "run" / "k3s-containerd.sock")},
            "metrics": {"listen": ""},
            "log": {"level": "info", "format": log_format},
        }
        self.config.write_text(json.dumps(doc, indent=2))
        self.config.chmod(0o600)

    def env(self, extra=None):
        e = dict(os.environ)
        e["K3S_DAAS_TEST_MODE"] = "1"
        e.pop("NOTIFY_SOCKET", None)
        e.pop("WATCHDOG_USEC", None)
        if extra:
            e.update(extra)
        return e

    def cli(self, *args, timeout=120):
        return subprocess.run([str(self.w.agent_bin), "--config", str(self.config), *args], env=self.env(),
                              capture_output=True, text=True, timeout=timeout)

    def stake(self):
        r = self.cli("stake", "--yes")
        if r.returncode != 0:
            raise RuntimeError(f"stake of {self.node_id} failed: {r.stdout}{r.stderr}")
        return r

    def start(self, env=None):
        self.log = open(self.log_path, "ab")
        self.started_ms = now_ms()
        self.proc = subprocess.Popen([str(self.w.agent_bin), "--config", str(self.config), "run"],
                                     env=self.env(env), stdout=self.log, stderr=self.log, cwd=self.dir)
        return self.proc

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def status(self):
        try:
            return json.loads((self.state / "runtime-status.json").read_text())
        except (OSError, ValueError):
            return {}

    def running(self):
        s = self.status()
        return s.get("state") == "running" and (s.get("master") or {}).get("heartbeats_ok", 0) >= 1

    def marker(self):
        try:
            return json.loads((self.state / "slashed").read_text())
        except (OSError, ValueError):
            return None

    def log_lines(self):
        out = []
        try:
            for line in self.log_path.read_text(errors="replace").splitlines():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    # before the config sets the JSON format (stage 1's banner): "TS level [component] msg"
                    parts = line.split(" ", 3)
                    if len(parts) == 4 and parts[0][:2] == "20" and parts[2].startswith("["):
                        out.append({"ts": parts[0], "level": parts[1], "component": parts[2].strip("[]"),
                                    "msg": parts[3]})
        except OSError:
            pass
        return out

    def stop(self, timeout=30):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def kill(self):
        if self.alive():
            self.stop(20)
        # fake-k3s (and its sleep child) is in its own process group; a slashed or stopped agent
        # ends it, a killed one might not: clear what is left of this agent's k3s.
        pidfile = self.state / "runtime" / "k3s-agent.pid"
        try:
            pid = int(pidfile.read_text().split()[0])
            os.killpg(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass


def wait_until(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def parse_ts(ts):
    from datetime import datetime
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp() * 1000.0


class NotifyListener:
    """A NOTIFY_SOCKET (datagram, like systemd's): timestamps each message as it arrives."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            self.messages.append((now_ms(), data.decode(errors="replace")))

    def first(self, text):
        for t, m in self.messages:
            if text in m.split("\n"):
                return t
        return None

    def close(self):
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass


def header(name, argv):
    """One line on the machine and the build, printed above every table."""
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = "?"
    load = open("/proc/loadavg").read().split()[:3]
    model = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    print(f"# {name}: {' '.join(argv)}")
    print(f"# machine: nproc {os.cpu_count()}, {model}, load {' '.join(load)} (shared box); commit {commit}; "
          f"{time.strftime('%Y-%m-%d %H:%M:%SZ', time.gmtime())}")
    print(flush=True)
