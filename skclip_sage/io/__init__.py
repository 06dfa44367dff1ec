"""Input/output at the edges of skclip-sage: opening images safely, keeping embeddings.

The caches' public face: :class:`TieredCache` (memory store, then ``cache_dir``,
then compute, then write back), the key parts (:func:`producer_of`,
:func:`image_key_parts`) and the process's memory store.
"""

from ._cache import is_cache_folder, write_atomically
from ._images import describe_image_source, open_image
from ._keys import image_key_parts, producer_of
from ._memory_cache import DEFAULT_MEMORY_CACHE_BYTES, clear_memory_caches, forget_kind, memory_cache, memory_store
from ._sources import ImageSources, as_image_sources, is_one_shot_iterator
from ._tiered import TieredCache

__all__ = [
    "DEFAULT_MEMORY_CACHE_BYTES",
    "ImageSources",
    "TieredCache",
    "as_image_sources",
    "clear_memory_caches",
    "describe_image_source",
    "forget_kind",
    "image_key_parts",
    "is_cache_folder",
    "is_one_shot_iterator",
    "memory_cache",
    "memory_store",
    "open_image",
    "producer_of",
    "write_atomically",
]
