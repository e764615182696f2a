#!/usr/bin/python
"""Ansible module: the playbooks' door into the run folder and its state file.

The playbooks never edit `state.json` themselves; they call this module on
the controller, which uses `runner.run` so that Ansible workers running in
parallel and the control loop write the same file the same way.
"""

DOCUMENTATION = r"""
module: bsw_run
short_description: Plan a Badger Sett swarm run and record its progress
description:
  - Runs on the controller with the Python that runs Ansible (the C(runner) package must be
    importable there).
  - C(plan) validates the settings file and the site list and says whether a run is open.
  - C(create) creates the run folder (or returns the open run made from the same settings).
  - C(price) stores the hourly price of the droplet size.
  - C(droplet) records a shard's new droplet; C(droplet_failed) records that none could be made.
  - C(scan_started) records that a shard's scan was started; C(scanning) marks the run resumable.
options:
  action:
    description: What to do.
    type: str
    required: true
    choices: [plan, create, price, droplet, droplet_failed, scan_started, scanning]
  settings:
    description: Path of the settings file (C(plan), C(create)).
    type: path
  run_dir:
    description: The run folder (every action but C(plan) and C(create)).
    type: path
  shard:
    description: Shard number as written in the run, for example C(003).
    type: str
  droplet:
    description: The droplet as the DigitalOcean API returned it (C(droplet)).
    type: dict
  msg:
    description: Why no droplet could be made (C(droplet_failed)).
    type: str
  price_hourly:
    description: Hourly price of one droplet (C(price)).
    type: float
author: badger-swarm-ansible developers
"""

import traceback  # noqa: E402  (Ansible modules start with their DOCUMENTATION)

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

try:
    from runner import run as runmod
    from runner import settings as settingsmod
    from runner import sitelist
    from runner.errors import UserError

    IMPORT_ERROR = None
except ImportError:
    IMPORT_ERROR = traceback.format_exc()


def public_ip(droplet):
    for net in droplet.get("networks", {}).get("v4", []):
        if net.get("type") == "public":
            return net.get("ip_address")
    return None


def shard_rows(run):
    state = run.load_state()
    return [
        {
            "shard": key,
            "name": entry["name"],
            "sites": entry["sites"],
            "state": entry["state"],
            "domain_list": str(run.shard_file(key)),
            "droplet": entry.get("droplet"),
        }
        for key, entry in sorted(state["shards"].items())
    ]


# Skipped site-list lines shown at the confirmation step; the rest are counted.
SKIPPED_LINES_SHOWN = 10
# A skipped line is shown up to this many characters.
SKIPPED_TEXT_SHOWN = 80


def shorten(text):
    return text if len(text) <= SKIPPED_TEXT_SHOWN else text[:SKIPPED_TEXT_SHOWN] + "..."


def plan(params):
    settings = settingsmod.load_settings(params["settings"])
    site_list = sitelist.read_site_list(settings.site_list)
    selected = sitelist.select_sites(site_list.sites, settings.num_sites, settings.exclude_list())
    skipped = [
        f"line {number}: {shorten(text)!r}: {reason}"
        for number, text, reason in site_list.skipped[:SKIPPED_LINES_SHOWN]
    ]
    if len(site_list.skipped) > SKIPPED_LINES_SHOWN:
        skipped.append(f"... and {len(site_list.skipped) - SKIPPED_LINES_SHOWN} more")
    open_run = runmod.current_run(settings.output_dir)
    resuming = None
    if open_run is not None:
        state = open_run.load_state()
        if state["status"] not in runmod.CLOSED_RUN_STATUSES:
            resuming = open_run.run_id
    if not selected:
        why = f"; first skipped: {skipped[0]}" if skipped else ""
        raise UserError(
            f"{settings.site_list}: no sites left after reading and excluding suffixes{why}; "
            "valid: one domain a line, or a Tranco CSV of rank,domain"
        )
    return {
        "changed": False,
        "settings": settings.public(),
        "resuming": resuming,
        "sites_selected": len(selected),
        "list_kind": site_list.kind,
        "duplicates": site_list.duplicates,
        "skipped": skipped,
    }


def create(params):
    settings = settingsmod.load_settings(params["settings"])
    before = runmod.current_run(settings.output_dir)
    run = runmod.create_run(settings)
    state = run.load_state()
    return {
        "changed": before is None or before.path != run.path,
        "run_dir": str(run.path),
        "run_id": run.run_id,
        "tag": state["tag"],
        "inventory": str(run.inventory_path),
        "num_sites": state["num_sites"],
        "seed": state["seed"],
        "shards": shard_rows(run),
    }


def record(params):
    run = runmod.RunFolder(params["run_dir"])
    action, shard = params["action"], params["shard"]
    if action == "price":
        with run.update() as state:
            state["price_hourly"] = params["price_hourly"]
        return {"changed": True}
    if action == "scanning":
        with run.update() as state:
            if state["status"] == "starting":
                state["status"] = "scanning"
        return {"changed": True}
    with run.update() as state:
        entry = state["shards"][shard]
        if action == "droplet":
            droplet = params["droplet"]
            runmod.record_droplet(
                entry,
                {
                    "id": droplet["id"],
                    "name": droplet["name"],
                    "ip": public_ip(droplet),
                    "created_at": droplet.get("created_at"),
                },
            )
            if entry["state"] in ("pending", "failed"):
                runmod.record_transition(entry, "starting", "droplet created")
        elif action == "droplet_failed":
            runmod.record_transition(entry, "failed", params["msg"] or "droplet not created")
            entry["outcome"] = "no_droplet"
        elif action == "scan_started":
            if entry["state"] == "starting":
                runmod.record_transition(entry, "scanning", "scan started")
    return {"changed": True}


def main():
    module = AnsibleModule(
        argument_spec={
            "action": {
                "type": "str",
                "required": True,
                "choices": [
                    "plan",
                    "create",
                    "price",
                    "droplet",
                    "droplet_failed",
                    "scan_started",
                    "scanning",
                ],
            },
            "settings": {"type": "path"},
            "run_dir": {"type": "path"},
            "shard": {"type": "str"},
            "droplet": {"type": "dict"},
            "msg": {"type": "str"},
            "price_hourly": {"type": "float"},
        },
        required_if=[
            ("action", "plan", ["settings"]),
            ("action", "create", ["settings"]),
            ("action", "price", ["run_dir", "price_hourly"]),
            ("action", "droplet", ["run_dir", "shard", "droplet"]),
            ("action", "droplet_failed", ["run_dir", "shard"]),
            ("action", "scan_started", ["run_dir", "shard"]),
            ("action", "scanning", ["run_dir"]),
        ],
        supports_check_mode=False,
    )
    if IMPORT_ERROR:
        module.fail_json(
            msg="the runner package is not importable by the Python running Ansible; "
            "install the project (pip install -e .) in that environment",
            exception=IMPORT_ERROR,
        )
    actions = {"plan": plan, "create": create}
    try:
        result = actions.get(module.params["action"], record)(module.params)
    except UserError as e:
        module.fail_json(msg=str(e))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
