"""`python -m training.probes MODEL`: the same as `concierge probes MODEL`."""

from catalog.commands import run_command
from training.probes.runner import add_probe_arguments, main_probes

raise SystemExit(run_command(add_probe_arguments, main_probes, "python -m training.probes"))
