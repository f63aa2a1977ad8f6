import sys

from gnnnas.cli import run

sys.exit(run())
