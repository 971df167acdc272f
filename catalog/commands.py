"""What every command-line entry point shares (`concierge`, `python -m <module>`): offline settings and
one way to turn a `ConciergeError` into a message and an exit status."""

import argparse
import os
import sys

from catalog.errors import ConciergeError

# Set (unless already set) by every command-line entry point: nothing reaches a model hub or sends
# telemetry at run time.
OFFLINE_ENVIRONMENT = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False",
                       "ANONYMIZED_TELEMETRY": "False"}


def run_command(add_arguments, handler, prog: str, argv: list[str] | None = None) -> int:
    """Every command-line entry point (`concierge`, `python -m <module>`): parse `argv` with the module's
    `add_arguments(parser)`, run `handler(args)`, and turn a `ConciergeError` into its message on stderr
    and exit status 2 (Ctrl-C: a line and status 130), never a traceback."""
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    parser = add_arguments(argparse.ArgumentParser(prog=prog))
    try:
        return handler(parser.parse_args(argv))
    except ConciergeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing half-written was kept", file=sys.stderr)
        return 130
