"""The ``gnnnas`` command line: a thin layer over the Python API.

Each sub-command lives in its own module exposing ``register(subparsers)``.
User errors (:class:`~gnnnas.errors.GnnnasError`) print one line on stderr and
exit with status 2; Ctrl-C exits with 130. The console script and ``python -m
gnnnas`` enter through :func:`run`, which also bounds how long cleanup after
Ctrl-C may take (:mod:`gnnnas.cli.interrupt`) and exits quietly when the
reader of its output goes away (``gnnnas space show default | head``).
"""

from __future__ import annotations

import argparse
import os
import sys

from gnnnas.cli import (compress_cmd, data_cmd, interrupt, recommend_cmd, report_cmd, search_cmd, space_cmd,
                        train_cmd)
from gnnnas.errors import GnnnasError

COMMANDS = (data_cmd, train_cmd, recommend_cmd, compress_cmd, space_cmd, search_cmd, report_cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gnnnas", description="Neural architecture search for GNN recommenders.")
    from gnnnas import __version__
    parser.add_argument("--version", action="version", version=f"gnnnas {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except GnnnasError as err:
        print(f"gnnnas: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("gnnnas: interrupted", file=sys.stderr)
        return 130


def run() -> int:
    """The process entry point (console script, ``python -m gnnnas``): :func:`main` with Ctrl-C bounded."""
    interrupt.install()
    try:
        status = main()
        sys.stdout.flush()  # a closed pipe shows up here when the output fitted in the buffer
        return status
    except BrokenPipeError:
        # The reader (``head``, a pager) has what it wanted: no traceback, and nothing more may be
        # written to stdout, not even by the interpreter's flush at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + 13  # what a shell reports for a process that SIGPIPE ended


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())
