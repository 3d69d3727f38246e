"""Exceptions shared by the backend: each carries a message meant for a user to read."""


class DimGestureError(Exception):
    """Base class: an error a user caused or can fix; ``str(err)`` explains it in plain words."""

    kind = "error"


class AudioError(DimGestureError):
    """A speech clip is missing, unreadable or unsuitable (the message names the file)."""

    kind = "audio"


class CheckpointError(DimGestureError):
    """A checkpoint folder is missing, incomplete, corrupt or from an unknown format version."""

    kind = "checkpoint"


class MotionFileError(DimGestureError):
    """A BVH or motion file is malformed (the message names the file and line)."""

    kind = "motion"


class Cancelled(DimGestureError):
    """The user cancelled a running job."""

    kind = "cancelled"
