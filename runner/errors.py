"""Errors the user can act on.

A `UserError` carries one line naming what is wrong and what would be valid;
the command line prints it without a traceback and exits non-zero.
"""


class UserError(Exception):
    """A mistake in settings, input files or the environment, told in one line."""

    exit_code = 2
