"""Input/output at the edges of skclip-sage: opening images safely, keeping embeddings."""

from ._cache import is_cache_folder
from ._images import describe_image_source, open_image
from ._memory_cache import DEFAULT_MEMORY_CACHE_BYTES, clear_memory_caches, memory_cache

__all__ = [
    "DEFAULT_MEMORY_CACHE_BYTES",
    "clear_memory_caches",
    "describe_image_source",
    "is_cache_folder",
    "memory_cache",
    "open_image",
]
