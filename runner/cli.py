"""The `runner` command: one group whose subcommands live beside the part they drive.

Each subcommand is imported only when it is called, so `runner merge` does not
load Ansible and a broken part does not take the others down with it.
"""

import importlib
import sys

import click

from runner.errors import UserError

# name -> "module:attribute" of a click command; kept in the order of a run.
COMMANDS = {
    "cloud": ("runner.localcloud.cli:cloud", "Start, stop and inspect the local cloud."),
    "manage": ("runner.loop:manage_command", "Watch a run's scans until every shard is in."),
    "status": ("runner.loop:status_command", "Print the run's shard table once and exit."),
    "abandon": ("runner.loop:abandon_command", "Give up the run in progress."),
    "merge": ("runner.merge.cli:merge_command", "Merge shard results as Privacy Badger would."),
    "report": ("runner.report.cli:report_command", "Report what happened in one or more runs."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        target, _ = COMMANDS[name]
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, help_text) for name, (_, help_text) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(package_name="badger-swarm-ansible")
def cli():
    """Run Badger Sett scans across a fleet of DigitalOcean droplets."""


def main(argv=None):
    try:
        cli.main(args=argv, prog_name="runner", standalone_mode=False)
    except UserError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    sys.exit(0)


if __name__ == "__main__":
    main()
