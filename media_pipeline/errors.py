"""Errors the media pipeline raises; every message is fit to show a creator."""


class MediaError(Exception):
    """Base class: something about the media or the render went wrong."""


class UnsupportedMedia(MediaError):
    """The file is not media we can decode (wrong type, corrupt, hostile, out of bounds)."""


class RenderFailed(MediaError):
    """ffmpeg failed, or its output did not match the plan."""


class RenderTimeout(RenderFailed):
    """ffmpeg ran past its time limit and was killed."""


class RenderStalled(RenderTimeout):
    """ffmpeg stopped making progress (a hung decoder or filter) and was killed."""


class RenderCancelled(RenderFailed):
    """The render was cancelled by the caller."""


class PlanError(MediaError, ValueError):
    """The request can't be planned (too many visuals, a clip too short, a song too short, ...)."""
