"""Run Badger Sett scans across a fleet of DigitalOcean droplets.

The package holds the Python half of the tool: settings and site lists, the
run folder and its state, the control loop that drives the Ansible playbooks,
the merge of shard results, the run report and the local cloud used to
rehearse a run without DigitalOcean.
"""

__version__ = "0.1.0"
