"""The one base class of every error a user can fix, so that a command needs a single `except`.

A library module raises a subclass (ModelError, CameraError, VideoError, ...) whose message names the
problem and the fix; the CLI prints the message and exits with `exit_code` (2: bad input). Errors that
are bugs or interruptions stay ordinary exceptions and keep their traceback.
"""


class MjpodError(Exception):
    """A problem the user can fix; the message says what is wrong and what to do."""

    exit_code = 2


class SettingError(MjpodError, ValueError):
    """A setting that is unknown or out of range (engine, bench, record, serve); the message names it."""
