"""Error types shared across driftwatch. Messages never carry secrets."""


class InputError(Exception):
    """Bad user input (flags, baseline, snapshot, event file): the CLI exits 2 with this message."""
