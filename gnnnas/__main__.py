import sys

from gnnnas.cli import main

sys.exit(main())
