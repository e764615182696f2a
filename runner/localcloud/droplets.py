"""Droplet sandboxes: each droplet is an `sshd` on its own loopback address, in namespaces.

A droplet gets a folder with private copies of `/etc`, `/root`, `/home`, `/tmp` (and an
empty `/var/log`, so logins leave no trace on the host), and a boot script that runs in
new mount, PID and UTS namespaces: it mounts those copies over the host's, mounts the
cloud's `shared/` folder read-only at `/opt/localcloud`, names the host after the droplet
and becomes `sshd`. The network is the host's, which is why every droplet listens on its
own 127.N.x.y address. Killing the namespace's PID 1 kills everything the droplet runs,
so deleting a droplet is one SIGKILL and one `rm -r`.
"""

import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from runner.localcloud.sshkeys import ensure_host_key
from runner.localcloud.state import DATA_ROOT, DROPLET_SHARED_MOUNT, SETT_REPO_NAME, CloudPaths

SSHD = Path("/usr/sbin/sshd")
HOST_KEY_NAME = "ssh_host_ed25519_key"
UNSHARE = "unshare"
# Private copies mounted over the host's folders, with their modes.
PRIVATE_DIRS = {"etc": None, "root": 0o700, "home": 0o755, "tmp": 0o1777, "var/log": 0o755}
SANDBOX_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
SANDBOX_ENV["LANG"] = "C.UTF-8"
# How long a started sandbox may take to answer with an SSH banner before it counts as failed.
BOOT_TIMEOUT = 60.0
# How long to wait for `unshare` to fork the namespace's PID 1.
FORK_TIMEOUT = 5.0
SSH_PROBE_INTERVAL = 0.05
SSH_PROBE_TIMEOUT = 2.0

BOOT_SCRIPT = """#!/bin/sh
# Boots one local-cloud droplet inside fresh mount, PID and UTS namespaces.
# args: droplet folder, shared folder, host name, seconds before sshd starts
set -eu
droplet=$1 shared=$2 name=$3 delay=$4
mount --make-rprivate /
# shared/ first: it may live under /tmp or /root, which the private copies cover next.
mount --bind "$shared" {mount}
mount -o remount,bind,ro {mount}
mount --bind "$shared/state" {mount}/state
for d in etc root home tmp var/log; do mount --bind "$droplet/$d" "/$d"; done
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/sshd
hostname "$name"
sleep "$delay"
exec {sshd} -D -e -f "$droplet/sshd_config"
"""

SSHD_CONFIG = """# sshd of local-cloud droplet {name}
ListenAddress {ip}:22
HostKey {host_key}
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM yes
PidFile none
PrintMotd no
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
MaxStartups 50:30:200
"""


class SandboxError(RuntimeError):
    pass


def preflight_problem() -> str | None:
    """One line saying why droplets cannot run on this machine, or None."""
    if os.geteuid() != 0:
        return (
            "the local cloud needs root (droplets are sshd processes in mount and PID "
            "namespaces); run it as root, e.g. with sudo"
        )
    if shutil.which(UNSHARE) is None:
        return "the local cloud needs unshare (util-linux); install it"
    if not SSHD.exists():
        return f"the local cloud needs {SSHD} (openssh-server); install it"
    if wildcard_ssh_listener():
        return (
            "something listens on 0.0.0.0:22 or [::]:22 (a host sshd?); droplets need port 22 "
            "on their own 127.x.y.z addresses: stop it or make it listen on one address"
        )
    return None


def wildcard_ssh_listener(proc_net: Path = Path("/proc/net")) -> bool:
    """Whether a socket listens on port 22 of every address (IPv4 or IPv6)."""
    for name, any_address in (("tcp", "00000000"), ("tcp6", "0" * 32)):
        try:
            lines = (proc_net / name).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            address, _, port = fields[1].partition(":")
            listening = fields[3] == "0A"
            if listening and port == "0016" and address == any_address:
                return True
    return False


def setup(paths: CloudPaths) -> None:
    """Create what every droplet of the cloud shares (host key, boot script), once."""
    paths.droplets.mkdir(parents=True, exist_ok=True)
    ensure_host_key(paths.host_keys / HOST_KEY_NAME)
    script = boot_script(paths)
    script.write_text(BOOT_SCRIPT.format(mount=DROPLET_SHARED_MOUNT, sshd=SSHD))
    script.chmod(0o755)
    DROPLET_SHARED_MOUNT.mkdir(parents=True, exist_ok=True)


def boot_script(paths: CloudPaths) -> Path:
    return paths.data / "boot.sh"


def prepare(
    paths: CloudPaths, droplet_id: int, name: str, ip: str, authorized_keys: list[str]
) -> Path:
    """Create the droplet's folder: private /etc copy, /root with its keys, sshd config."""
    folder = paths.droplet(droplet_id)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for sub, mode in PRIVATE_DIRS.items():
        if sub == "etc":
            # cp keeps owners, modes and links exactly; shutil.copytree would not.
            subprocess.run(["cp", "-a", "/etc/.", str(folder / "etc")], check=True)
            continue
        (folder / sub).mkdir(parents=True)
        (folder / sub).chmod(mode)

    etc = folder / "etc"
    (etc / "hostname").write_text(name + "\n")
    hosts = etc / "hosts"
    if hosts.is_symlink():
        hosts.unlink()
    hosts.write_text(f"127.0.0.1\tlocalhost\n{ip}\t{name}\n")
    # The shared repositories belong to the host's root; git refuses such a repository to
    # other users (crawluser) unless it is declared safe, which a real remote never needs.
    with open(etc / "gitconfig", "a") as gitconfig:
        gitconfig.write(f"[safe]\n\tdirectory = {DROPLET_SHARED_MOUNT / SETT_REPO_NAME}\n")

    ssh_dir = folder / "root" / ".ssh"
    ssh_dir.mkdir(mode=0o700)
    keys_file = ssh_dir / "authorized_keys"
    keys_file.write_text("".join(k.strip() + "\n" for k in authorized_keys))
    keys_file.chmod(0o600)

    host_key = paths.host_keys / HOST_KEY_NAME
    (folder / "sshd_config").write_text(SSHD_CONFIG.format(name=name, ip=ip, host_key=host_key))
    return folder


class Running:
    """A launched sandbox: the `unshare` process and the host pid of its namespace's PID 1."""

    def __init__(self, unshare: subprocess.Popen, init_pid: int):
        self.unshare = unshare
        self.init_pid = init_pid


def launch(paths: CloudPaths, droplet_id: int, name: str, delay: float) -> Running:
    """Start the droplet's namespaces; sshd listens `delay` seconds later."""
    folder = paths.droplet(droplet_id)
    log = open(folder / "sshd.log", "ab")
    try:
        unshare = subprocess.Popen(
            [UNSHARE, "--mount", "--pid", "--uts", "--fork", "--mount-proc"]
            + ["/bin/sh", str(boot_script(paths)), str(folder), str(paths.shared), name]
            + [f"{max(0.0, delay):.3f}"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=SANDBOX_ENV,
            # Its own session, so a terminal's Ctrl-C does not reach the droplets.
            start_new_session=True,
        )
    finally:
        log.close()
    deadline = time.monotonic() + FORK_TIMEOUT
    while time.monotonic() < deadline:
        init_pid = _first_child(unshare.pid)
        if init_pid:
            return Running(unshare, init_pid)
        if unshare.poll() is not None:
            break
        time.sleep(0.01)
    unshare.kill()
    unshare.wait()
    raise SandboxError(f"droplet {name}: unshare did not start ({_log_tail(folder)})")


def _first_child(pid: int) -> int | None:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return int(children[0]) if children else None


def _log_tail(folder: Path) -> str:
    try:
        lines = (folder / "sshd.log").read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return "no log"
    return lines[-1] if lines else "empty log"


def ssh_banner(ip: str, timeout: float = SSH_PROBE_TIMEOUT) -> bool:
    """Whether something on ip:22 answers with an SSH banner."""
    try:
        with socket.create_connection((ip, 22), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(8).startswith(b"SSH-")
    except OSError:
        return False


def wait_for_ssh(ip: str, running: Running, timeout: float = BOOT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ssh_banner(ip):
            return
        if running.unshare.poll() is not None:
            raise SandboxError(f"droplet at {ip} exited while booting")
        time.sleep(SSH_PROBE_INTERVAL)
    raise SandboxError(f"droplet at {ip} did not answer SSH within {timeout:g} s")


def is_droplet_process(pid: int, paths: CloudPaths, droplet_id: int | None = None) -> bool:
    """Whether pid is a sandbox process of this cloud (a recycled pid is not)."""
    marker = str(paths.droplet(droplet_id) if droplet_id else paths.droplets).encode()
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return marker in cmdline


def kill(paths: CloudPaths, droplet_id: int, init_pid: int | None, unshare=None) -> None:
    """Kill the droplet's namespace (every process in it dies with its PID 1)."""
    if init_pid and is_droplet_process(init_pid, paths, droplet_id):
        try:
            os.kill(init_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if unshare is not None:
        try:
            unshare.wait(timeout=FORK_TIMEOUT)
        except subprocess.TimeoutExpired:
            unshare.kill()
            unshare.wait()


def remove(paths: CloudPaths, droplet_id: int) -> None:
    shutil.rmtree(paths.droplet(droplet_id), ignore_errors=True)


def cloud_processes(paths: CloudPaths) -> list[int]:
    """Host pids of every live sandbox process of this cloud (unshare, boot script, sshd)."""
    marker = str(paths.droplets).encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return pids


def destroy_all(paths: CloudPaths) -> int:
    """Kill every sandbox process of this cloud and remove its data folder; return the count."""
    pids = [pid for pid in cloud_processes(paths) if pid != os.getpid()]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + FORK_TIMEOUT
    while time.monotonic() < deadline and cloud_processes(paths):
        time.sleep(0.05)
    if paths.data.exists() and paths.data.parent == DATA_ROOT:
        shutil.rmtree(paths.data, ignore_errors=True)
    return len(pids)


class BootSlots:
    """Bounds how many sandboxes are copied and started at once, so 50 creates stay smooth."""

    def __init__(self, slots: int):
        self._sem = threading.BoundedSemaphore(slots)

    def __enter__(self):
        self._sem.acquire()

    def __exit__(self, *exc):
        self._sem.release()
