"""`runner cloud start|stop|status|faults`: the local cloud from the command line.

A user rehearses a swarm run with `runner cloud start`, points the playbooks at the base
URL it prints, and ends with `runner cloud stop`. Every command takes the cloud's folder
(`--dir`, default `.localcloud`); the folder is the cloud's identity.
"""

import json
import os
from pathlib import Path

import click

from runner.localcloud.control import LocalCloud
from runner.localcloud.faults import apply_assignments
from runner.localcloud.state import (
    DEFAULT_DIR,
    DEFAULT_NET,
    DEFAULT_PORT,
    DEFAULT_TOKEN_ENV,
    CloudPaths,
)

dir_option = click.option(
    "--dir",
    "directory",
    default=DEFAULT_DIR,
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder holding the cloud's state, log, SSH key and faults.",
)


@click.group()
def cloud():
    """Start, stop and inspect the local cloud (a DigitalOcean stand-in on loopback)."""


@cloud.command()
@dir_option
@click.option("--port", default=DEFAULT_PORT, show_default=True, help="API port on 127.0.0.1.")
@click.option(
    "--net", default=DEFAULT_NET, show_default=True, help="Droplets get 127.<net>.x.y addresses."
)
@click.option(
    "--token-env",
    default=DEFAULT_TOKEN_ENV,
    show_default=True,
    help="If this variable is set, every API call must carry its value as bearer token.",
)
@click.option(
    "--replay-results",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="results.json the Badger Sett stand-in hands back (default: its demo data).",
)
@click.option(
    "--replay-log",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Badger Sett log the stand-in replays (default: its demo data).",
)
def start(directory, port, net, token_env, replay_results, replay_log):
    """Start the API server in the background and print its base URL and SSH key."""
    local = LocalCloud(
        directory,
        port=port,
        net=net,
        token=os.environ.get(token_env),
        replay_results=replay_results,
        replay_log=replay_log,
    )
    info = local.start()
    for warning in local.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(info.base_url)
    click.echo(f"ssh key: {info.key_path}")
    click.echo(f"ssh key fingerprint: {info.key_fingerprint}")
    click.echo(f"ssh key id: {info.key_id}")
    state = "already running" if info.already_running else "started"
    click.echo(f"local cloud {state} (pid {info.pid}, log {local.paths.log_file})", err=True)


@cloud.command()
@dir_option
def stop(directory):
    """Delete every droplet of the cloud and stop its API server."""
    local = LocalCloud(directory)
    was_running = local.status()["running"]
    deleted = local.stop()
    if was_running or deleted:
        click.echo(f"local cloud stopped; deleted {deleted} droplet(s)")
    else:
        click.echo(f"local cloud in {local.paths.dir} was not running; nothing to delete")


@cloud.command()
@dir_option
def status(directory):
    """Print the base URL, server pid and the droplets."""
    info = LocalCloud(directory).status()
    if not info["running"]:
        click.echo(f"local cloud in {info['dir']} is not running")
        return
    click.echo(f"{info['base_url']} (pid {info['pid']})")
    click.echo(f"{len(info['droplets'])} droplet(s)")
    for d in info["droplets"]:
        click.echo(f"{d['id']}\t{d['name']}\t{d['ip']}\t{d['status']}")


@cloud.command()
@dir_option
@click.option("--clear", is_flag=True, help="Remove every fault before applying the new ones.")
@click.argument("assignments", nargs=-1)
def faults(directory, clear, assignments):
    """Set faults, e.g. `api.error_rate=0.2 sett.site_seconds=0.1`; print them all.

    Values are JSON when they parse as JSON (numbers, lists, null), else strings. The API
    server reads them on every request, so they take effect at once.
    """
    path = CloudPaths.for_dir(directory).faults_file
    if assignments or clear:
        current = apply_assignments(path, list(assignments), clear=clear)
    else:
        current = LocalCloud(directory).faults()
    click.echo(json.dumps(current, indent=2, sort_keys=True))
