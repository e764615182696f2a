"""Running the project's playbooks through ansible-runner and reading per-host results.

The control loop never scrapes Ansible's text output: it reads the events
ansible-runner streams (one dict per task and host) and keeps, for each host,
what the tasks returned, whether the host was unreachable and whether it
failed. Each call gets its own artifact folder under the run folder.
"""

import os
import shutil
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import ansible_runner

from runner.errors import UserError

PROJECT_DIR = Path(__file__).resolve().parent.parent
PLAYBOOK_DIR = PROJECT_DIR / "playbooks"
CONTROLLER_INVENTORY = PROJECT_DIR / "inventory" / "controller.yml"
ANSIBLE_CONFIG = PROJECT_DIR / "ansible.cfg"

# Artifact folders of earlier playbook runs kept per run folder; older ones are removed.
ARTIFACTS_KEPT = 20
# ansible-runner writes the whole environment of a run into its artifacts, so the token
# variables are left out of it; playbooks read the token from this process instead
# (playbooks/lookup_plugins/bsw_api_token.py).
TOKEN_VARIABLES = ("DO_API_TOKEN", "DO_API_KEY", "DO_OAUTH_TOKEN", "OAUTH_TOKEN")
TOKEN_PID_VARIABLE = "BSW_TOKEN_PID"
_environ_lock = threading.Lock()

# Set by Ctrl-C or SIGTERM: the playbook running is cancelled (ansible-runner ends its
# process group) and the loop stops between steps.
CANCEL = threading.Event()

# ansible-playbook is started through this wrapper, so that it ends with the runner that
# started it, even when that runner is killed with SIGKILL: an orphaned init.yml could
# otherwise go on creating droplets for a run nobody watches.
# It is found first on the PATH given to ansible-runner, and takes itself off the PATH
# before it starts the real ansible-playbook.
GUARD_SCRIPT = """#!{python}
# Written by runner: start ansible-playbook so that it ends when its runner dies.
import ctypes, os, signal, sys
ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
if os.getppid() == 1:
    sys.exit("the runner that started this playbook is gone")
here = os.path.dirname(os.path.abspath(__file__))
path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if os.path.abspath(p) != here]
os.environ["PATH"] = os.pathsep.join(path)
os.execvp("ansible-playbook", ["ansible-playbook", *sys.argv[1:]])
"""


def install_stop_signals() -> None:
    """Let Ctrl-C and SIGTERM stop the loop cleanly instead of killing it mid-step."""

    def stop(number, frame):
        CANCEL.set()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def check_cancelled() -> None:
    if CANCEL.is_set():
        raise KeyboardInterrupt


def guard_script(private: Path) -> Path:
    path = private / "bin" / "ansible-playbook"
    text = GUARD_SCRIPT.format(python=sys.executable)
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o755)
    return path


def token_reachable() -> None:
    """The token must be in this process's starting environment, where playbooks find it."""
    if not os.environ.get("DO_API_TOKEN"):
        raise UserError("DO_API_TOKEN is not set: export your DigitalOcean API token first")
    with open("/proc/self/environ", "rb") as f:
        if b"DO_API_TOKEN=" + os.environ["DO_API_TOKEN"].encode() not in f.read().split(b"\0"):
            raise UserError(
                "DO_API_TOKEN was set after runner started; export it before starting runner"
            )


@dataclass
class HostResult:
    """What one host did in one playbook run."""

    ok: list = field(default_factory=list)  # results of tasks and loop items that succeeded
    failed: list = field(default_factory=list)
    unreachable: bool = False
    message: str = ""

    def task_results(self, task_name: str) -> list:
        return [r for r in self.ok if r["task"] == task_name]


@dataclass
class PlaybookRun:
    status: str
    rc: int
    hosts: dict  # host name -> HostResult

    @property
    def succeeded(self) -> bool:
        return self.status == "successful"


def _failure_message(res: dict) -> str:
    msg = res.get("msg") or res.get("stderr") or res.get("stdout") or ""
    return " ".join(str(msg).split())[:300]


def run_playbook(
    name: str,
    *,
    run_dir: Path,
    inventory: Path | None = None,
    extravars: dict | None = None,
    limit: list[str] | None = None,
    forks: int | None = None,
    verbose: bool = False,
) -> PlaybookRun:
    """Run playbooks/<name> against the run's inventory and collect per-host results."""
    playbook = PLAYBOOK_DIR / name
    private = Path(run_dir) / "ansible"
    private.mkdir(parents=True, exist_ok=True)
    inventories = [str(CONTROLLER_INVENTORY)]
    if inventory is not None:
        inventories.append(str(inventory))
    hosts: dict[str, HostResult] = {}

    def on_event(event: dict) -> bool:
        data = event.get("event_data") or {}
        host = data.get("host")
        kind = event.get("event")
        if not host or kind not in EVENT_KINDS:
            return True
        result = hosts.setdefault(host, HostResult())
        res = data.get("res") or {}
        entry = {"task": data.get("task"), "res": res, "item": res.get("item")}
        if kind in ("runner_on_ok", "runner_item_on_ok"):
            result.ok.append(entry)
        elif kind == "runner_on_unreachable":
            result.unreachable = True
            result.message = _failure_message(res)
        elif kind in ("runner_on_failed", "runner_item_on_failed"):
            if not data.get("ignore_errors"):
                result.failed.append(entry)
                result.message = _failure_message(res)
        return True

    # An inventory the API failed to list must fail the run: taken as "no droplets",
    # it would make every scan look vanished.
    env = {"ANSIBLE_CONFIG": str(ANSIBLE_CONFIG), "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "1"}
    if forks:
        env["ANSIBLE_FORKS"] = str(forks)
    env[TOKEN_PID_VARIABLE] = str(os.getpid())
    env["PATH"] = f"{guard_script(private).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    check_cancelled()
    try:
        with _environ_lock:
            # ansible-runner copies os.environ when it prepares a run; it must not see the token.
            saved = {k: os.environ.get(k) for k in (*TOKEN_VARIABLES, *env)}
            for key in TOKEN_VARIABLES:
                os.environ.pop(key, None)
            os.environ.update(env)
            try:
                runner = ansible_runner.interface.init_runner(
                    private_data_dir=str(private),
                    playbook=str(playbook),
                    inventory=inventories,
                    extravars=extravars or {},
                    limit=",".join(limit) if limit else None,
                    quiet=not verbose,
                    event_handler=on_event,
                    rotate_artifacts=ARTIFACTS_KEPT,
                    suppress_env_files=True,
                    project_dir=str(PROJECT_DIR),
                    cancel_callback=CANCEL.is_set,
                )
            finally:
                for key, value in saved.items():
                    if value is None:
                        os.environ.pop(key, None)
                    else:
                        os.environ[key] = value
        runner.run()
    except Exception as e:  # ansible-runner raises plain exceptions for setup problems
        raise UserError(f"could not run playbooks/{name}: {e}") from None
    check_cancelled()
    return PlaybookRun(status=runner.status, rc=runner.rc, hosts=hosts)


EVENT_KINDS = frozenset(
    {
        "runner_on_ok",
        "runner_item_on_ok",
        "runner_on_failed",
        "runner_item_on_failed",
        "runner_on_unreachable",
    }
)


def ansible_available() -> None:
    if shutil.which("ansible-playbook") is None:
        raise UserError("ansible-playbook is not on PATH; install the project with pip first")
