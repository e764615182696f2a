"""The local cloud: a DigitalOcean API stand-in whose droplets are real SSH hosts on loopback.

`runner cloud start` runs the API server (`api.py`) as a daemon; it keeps the account
(`account.py`) in memory and in one state file (`state.py`), turns each droplet into an
`sshd` in its own namespaces (`droplets.py`) and reads injected faults on every request
(`faults.py`). `control.py` starts and stops it from outside, `testing.py` gives tests a
cloud of their own, and the `sett/` subpackage is the Badger Sett stand-in droplets clone.
"""
