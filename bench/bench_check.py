"""How long one check cycle of the control loop takes for 1, 10 and 50 running scans.

For each N it starts a real run on a local cloud (`init.yml`, N droplets, the
Badger Sett stand-in scanning slowly so every scan is still running), then
times the loop's check (`check.yml` through ansible-runner and the
DigitalOcean inventory plugin: one SSH round trip per droplet) next to the
same check done the way the bash tool does it, one fresh `ssh` per droplet,
all in parallel, measured in the same run. Prints the median of several
cycles and the ratios. Run as root: `python bench/bench_check.py [--sizes 1,10,50]`.
"""

import argparse
import io
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from runner.display import Output  # noqa: E402
from runner.localcloud.control import LocalCloud, free_port, net_is_free  # noqa: E402
from runner.localcloud.faults import write_faults  # noqa: E402
from runner.loop import Manager  # noqa: E402
from runner.run import RunFolder  # noqa: E402

BENCH_NETS = range(150, 200)
CYCLES = 5
# The stand-in spends this long on each site, so no scan ends while it is measured.
SITE_SECONDS = 3600
# What the bash tool asks each droplet, in one fresh connection.
BASH_CHECK = (
    "ls badger-sett/.scan_in_progress >/dev/null 2>&1 && echo running; "
    "tail -n 1 runscan.out; grep 'Visiting [0-9]*:' badger-sett/docker-out/log.txt | tail -n 1"
)
SSH_OPTIONS = [
    "-o", "BatchMode=yes", "-o", "ControlMaster=no", "-o", "ControlPath=none",
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
]  # fmt: skip


def start_cloud(folder: Path, token: str) -> tuple[LocalCloud, object]:
    net = next(n for n in BENCH_NETS if net_is_free(n))
    cloud = LocalCloud(folder, port=free_port(), net=net, token=token, owner_pid=os.getpid())
    info = cloud.start()
    assert info.base_url.startswith("http://127."), info.base_url
    write_faults(
        cloud.paths.faults_file,
        {"api": {"active_delay": 0}, "sett": {"site_seconds": SITE_SECONDS}},
    )
    return cloud, info


def start_run(folder: Path, info, n: int, env: dict) -> RunFolder:
    sites = [line for line in (REPO / "demo" / "sites.txt").read_text().split() if line]
    folder.mkdir(parents=True)
    (folder / "sites.txt").write_text("\n".join(sites[: 2 * n]) + "\n")
    settings = {
        "api_base_url": info.base_url,
        "droplet_name_prefix": "bench",
        "ssh_key": info.key_fingerprint,
        "ssh_private_key_file": str(info.key_path),
        "browser": "firefox",
        "num_crawlers": n,
        "num_sites": 2 * n,
        "site_list": "sites.txt",
        "install_packages": False,
        "sett_repo": "file:///opt/localcloud/badger-sett.git",
        "sett_version": "main",
        "output_dir": "output",
    }
    (folder / "settings.yml").write_text(yaml.safe_dump(settings))
    subprocess.run(
        ["ansible-playbook", str(REPO / "playbooks" / "init.yml"),
         "-e", f"settings={folder / 'settings.yml'}", "-e", "assume_yes=true"],
        cwd=REPO, env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    output = folder / "output"
    return RunFolder(output / (output / ".current").read_text().strip())


def bash_cycle(ips: list[str], key: Path) -> float:
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            ["ssh", "-i", str(key), *SSH_OPTIONS, f"crawluser@{ip}", BASH_CHECK],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        for ip in ips
    ]
    for proc in procs:
        out, _ = proc.communicate()
        assert b"running" in out, out
    return time.perf_counter() - started


def loop_cycle(manager: Manager, n: int) -> float:
    started = time.perf_counter()
    seen = manager.check()
    elapsed = time.perf_counter() - started
    assert seen is not None and len(seen) == n, seen
    assert all(obs.lock for obs in seen.values()), seen
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50")
    parser.add_argument("--cycles", type=int, default=CYCLES)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("error: the local cloud needs root")
    sizes = [int(s) for s in args.sizes.split(",")]
    if not os.environ.get("DO_API_TOKEN"):
        # The loop reads the token from its starting environment: start again with one.
        env = dict(os.environ, DO_API_TOKEN=secrets.token_hex(16))
        os.execve(sys.executable, [sys.executable, *sys.argv], env)
    token = os.environ["DO_API_TOKEN"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(DO_API_TOKEN=token, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"))
    rows = []
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        cloud, info = start_cloud(Path(tmp) / "cloud", token)
        try:
            for n in sizes:
                run = start_run(Path(tmp) / f"run-{n}", info, n, env)
                state = run.load_state()
                ips = [e["droplet"]["ip"] for e in state["shards"].values()]
                manager = Manager(run, Output(io.StringIO()))
                loop_cycle(manager, n)  # the first cycle opens the SSH connections it keeps
                ours = [loop_cycle(manager, n) for _ in range(args.cycles)]
                bash = [bash_cycle(ips, info.key_path) for _ in range(args.cycles)]
                rows.append((n, statistics.median(ours), statistics.median(bash)))
                print(f"N={n}: loop {statistics.median(ours):.2f} s, bash way "
                      f"{statistics.median(bash):.2f} s", flush=True)  # fmt: skip
                subprocess.run(
                    ["runner", "abandon", str(run.path)], env=env, check=True,
                    capture_output=True,
                )  # fmt: skip
                for droplet in state["shards"].values():
                    cloud_delete(info, token, droplet["droplet"]["id"])
        finally:
            cloud.stop()
    base_ours, base_bash = rows[0][1], rows[0][2]
    print()
    print(f"{'droplets':>8} {'loop check':>11} {'x N=1':>6} {'bash way':>9} {'x N=1':>6}"
          f" {'loop/bash':>9}")  # fmt: skip
    for n, ours, bash in rows:
        print(f"{n:>8} {ours:>10.2f}s {ours / base_ours:>6.1f} {bash:>8.2f}s"
              f" {bash / base_bash:>6.1f} {ours / bash:>9.2f}")  # fmt: skip
    print(json.dumps({"sizes": [r[0] for r in rows], "loop": [r[1] for r in rows],
                      "bash": [r[2] for r in rows]}))  # fmt: skip


def cloud_delete(info, token: str, droplet_id: int) -> None:
    import urllib.request

    request = urllib.request.Request(
        f"{info.base_url}/droplets/{droplet_id}", method="DELETE",
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    urllib.request.urlopen(request, timeout=30).read()


if __name__ == "__main__":
    main()
