"""The one exception type for errors a user can cause.

Every layer (catalog, backend, training, app) raises `ConciergeError` with a message that says
what was wrong and how to fix it. The CLI prints the message and exits non-zero (`catalog/commands.py`);
the UI shows it. Anything else that escapes is a bug.
"""


class ConciergeError(Exception):
    """An error caused by input, configuration or state that the user can fix."""
