"""User-facing errors.

A :class:`GnnnasError` is a problem with the user's input (a file, a field, a
value), not a bug. The command line prints its message as one line on stderr
and exits with status 2, without a traceback.
"""

from __future__ import annotations


class GnnnasError(Exception):
    """Bad input: the message names the file/field/value and what was expected."""

    exit_code = 2
