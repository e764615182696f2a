"""How fast the local cloud brings up droplets, and what they cost in memory.

For each N (default 1, 10 and 50) it creates N droplets through the API, waits until every
one accepts an SSH login as root, deletes them all and waits until their processes and
files are gone. It prints the wall time of each phase and the peak resident memory of the
API server plus every process of the droplets (sampled), in total and per droplet. Run as
root: `python bench/bench_cloud.py [--sizes 1,10,50]`. `active_delay` is set to 0 so the
figures measure the sandboxes rather than the simulated boot delay.
"""

import argparse
import concurrent.futures
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from runner.localcloud import droplets as sandboxes
from runner.localcloud.control import LocalCloud, free_port, net_is_free
from runner.localcloud.faults import write_faults
from runner.localcloud.state import load_state

BENCH_NETS = range(200, 250)
# Sparse enough that reading /proc (smaps_rollup) does not slow the cloud it measures.
SAMPLE_INTERVAL = 0.5
READY_TIMEOUT = 300.0
SSH_WORKERS = 16
BATCH = 10
PAGE_SIZE = 4096


class Api:
    def __init__(self, base_url: str, token: str):
        assert base_url.startswith("http://127."), base_url
        self.base_url = base_url
        self.token = token

    def __call__(self, method: str, path: str, body=None):
        request = urllib.request.Request(
            f"{self.base_url}/{path}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:
            raw = answer.read()
            return json.loads(raw) if raw else None


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0


def cloud_pids(local: LocalCloud, server_pid: int) -> set[int]:
    """The server, the sandbox launchers, and every process inside the droplets' namespaces."""
    pids = {server_pid, *sandboxes.cloud_processes(local.paths)}
    namespaces = set()
    for pid in list(pids):
        try:
            namespaces.add(os.readlink(f"/proc/{pid}/ns/pid"))
        except OSError:
            pass
    host_ns = os.readlink("/proc/self/ns/pid")
    namespaces.discard(host_ns)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "ns" / "pid") in namespaces:
                    pids.add(int(entry.name))
            except OSError:
                continue
    return pids


def pss_bytes(pid: int) -> int:
    """Proportional set size: shared pages (sshd's libraries) split among their users."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


class PeakMemory(threading.Thread):
    """Samples the summed RSS and PSS of the cloud's processes and keeps the peaks."""

    def __init__(self, local: LocalCloud, server_pid: int):
        super().__init__(daemon=True)
        self.local, self.server_pid = local, server_pid
        self.peak_rss = self.peak_pss = 0
        self.halt = threading.Event()

    def run(self):
        while not self.halt.wait(SAMPLE_INTERVAL):
            pids = cloud_pids(self.local, self.server_pid)
            self.peak_rss = max(self.peak_rss, sum(rss_bytes(p) for p in pids))
            self.peak_pss = max(self.peak_pss, sum(pss_bytes(p) for p in pids))


def ssh_ready(key: Path, ip: str) -> bool:
    done = subprocess.run(
        ["ssh", "-i", str(key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no"]
        + ["-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR"]
        + ["-o", "ConnectTimeout=5", f"root@{ip}", "true"],
        capture_output=True,
        timeout=30,
    )
    return done.returncode == 0


def wait_ssh(api: Api, key: Path, ids: list[int]) -> None:
    pending = set(ids)
    deadline = time.monotonic() + READY_TIMEOUT
    with concurrent.futures.ThreadPoolExecutor(SSH_WORKERS) as pool:
        while pending:
            if time.monotonic() > deadline:
                raise SystemExit(f"{len(pending)} droplets not reachable by SSH in time")
            listed = {d["id"]: d for d in api("GET", "droplets?per_page=200")["droplets"]}
            ips = {
                i: listed[i]["networks"]["v4"][0]["ip_address"]
                for i in pending
                if i in listed and listed[i]["networks"]["v4"]
            }
            answers = pool.map(lambda ip: ssh_ready(key, ip), ips.values())
            results = dict(zip(ips, answers, strict=True))
            pending -= {i for i, ok in results.items() if ok}
            if pending:
                time.sleep(0.1)


def bench(local: LocalCloud, api: Api, info, n: int) -> dict:
    monitor = PeakMemory(local, info.pid)
    monitor.start()
    started = time.monotonic()
    ids = []
    for first in range(0, n, BATCH):
        names = [f"bench-{n}-{i:03d}" for i in range(first, min(n, first + BATCH))]
        body = {
            "names": names,
            "size": "s-1vcpu-1gb",
            "region": "nyc1",
            "image": "ubuntu-24-04-x64",
            "ssh_keys": [info.key_id],
            "tags": [f"bench-{n}"],
        }
        ids += [d["id"] for d in api("POST", "droplets", body)["droplets"]]
    created = time.monotonic()
    wait_ssh(api, info.key_path, ids)
    ready = time.monotonic()

    api("DELETE", f"droplets?tag_name=bench-{n}")
    while sandboxes.cloud_processes(local.paths) or any(
        local.paths.droplet(i).exists() for i in ids
    ):
        time.sleep(0.05)
    deleted = time.monotonic()
    monitor.halt.set()
    monitor.join()
    return {
        "n": n,
        "create_s": created - started,
        "ready_s": ready - started,
        "delete_s": deleted - ready,
        "rss_mib": monitor.peak_rss / 2**20,
        "pss_mib": monitor.peak_pss / 2**20,
        "server_mib": rss_bytes(info.pid) / 2**20,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50", help="comma-separated droplet counts")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    problem = sandboxes.preflight_problem()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2

    folder = Path(tempfile.mkdtemp(prefix="bench-localcloud-"))
    net = next(n for n in BENCH_NETS if net_is_free(n))
    token = secrets.token_hex(16)
    local = LocalCloud(folder, port=free_port(), net=net, token=token, owner_pid=os.getpid())
    rows = []
    try:
        info = local.start()
        write_faults(local.paths.faults_file, {"api": {"active_delay": 0}, "sett": {}})
        api = Api(info.base_url, token)
        for n in sizes:
            rows.append(bench(local, api, info, n))
    finally:
        local.stop()
    assert not (load_state(local.paths) or {}).get("droplets")

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"local cloud benchmark: {os.cpu_count()} cores, load average {load}, active_delay 0")
    print("peak memory: API server + every droplet process, summed RSS and PSS")
    print("    N  all SSH-ready s  s/droplet  delete s  peak RSS MiB  peak PSS MiB  server MiB")
    for r in rows:
        print(
            f"{r['n']:5d}  {r['ready_s']:15.2f}  {r['ready_s'] / r['n']:9.3f}"
            f"  {r['delete_s']:8.2f}  {r['rss_mib']:12.1f}  {r['pss_mib']:12.1f}"
            f"  {r['server_mib']:10.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
