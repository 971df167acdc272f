"""`python -m training.probes MODEL`: the same as `concierge probes MODEL`."""

import sys

from app.cli import main

raise SystemExit(main(["probes", *sys.argv[1:]]))
