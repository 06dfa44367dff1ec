"""Input/output at the edges of skclip-sage: opening images safely."""

from ._images import describe_image_source, open_image

__all__ = ["describe_image_source", "open_image"]
