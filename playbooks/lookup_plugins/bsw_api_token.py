"""Ansible lookup: the DigitalOcean API token, without it ever passing through a file.

When a person runs a playbook, the token is in the environment (`DO_API_TOKEN`).
When the control loop runs one through ansible-runner, it is not: ansible-runner
writes the whole environment of every run into its artifact folder. The loop
then passes only its own process id (`BSW_TOKEN_PID`), and this lookup reads the
token from that process's environment in /proc, which belongs to the same user.
"""

import os

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

DOCUMENTATION = r"""
name: bsw_api_token
short_description: The DigitalOcean API token from DO_API_TOKEN, or from the control loop
description:
  - Returns C(DO_API_TOKEN) from the environment; otherwise reads it from the environment of the
    process named by C(BSW_TOKEN_PID) (the runner control loop), which must belong to the same user.
"""

TOKEN_VARIABLE = "DO_API_TOKEN"
PID_VARIABLE = "BSW_TOKEN_PID"


def token_of_process(pid: str) -> str | None:
    path = f"/proc/{int(pid)}/environ"
    if os.stat(path).st_uid != os.getuid():
        raise AnsibleError(f"{PID_VARIABLE}={pid} names a process of another user")
    with open(path, "rb") as f:
        for entry in f.read().split(b"\0"):
            name, _, value = entry.partition(b"=")
            if name.decode(errors="replace") == TOKEN_VARIABLE and value:
                return value.decode()
    return None


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        token = os.environ.get(TOKEN_VARIABLE)
        if not token and os.environ.get(PID_VARIABLE):
            try:
                token = token_of_process(os.environ[PID_VARIABLE])
            except (OSError, ValueError) as e:
                raise AnsibleError(f"cannot read the API token of the control loop: {e}") from e
        if not token:
            raise AnsibleError(
                f"{TOKEN_VARIABLE} is not set: export your DigitalOcean API token as {TOKEN_VARIABLE}"
            )
        return [token]
