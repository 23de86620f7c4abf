"""Errors that carry a message meant for the user: what went wrong and what to do instead."""


class ExplorerError(Exception):
    """A problem the user can act on. ``str(error)`` is shown as is, so write it in their words."""


class CheckpointError(ExplorerError):
    """A checkpoint that cannot be resolved or loaded."""


class InputError(ExplorerError):
    """Text or settings that cannot be turned into a batch."""
