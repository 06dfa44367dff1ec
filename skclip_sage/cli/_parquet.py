"""Embeddings as Parquet, from Arrow arrays in bounded row groups: memory flat in the number of images.

The embedding goes in one ``fixed_size_list<float32>[n_features]`` column named
``embedding`` (the Arrow convention pandas, Polars, DuckDB, LanceDB and Hugging
Face datasets read as one vector per row), or, with ``layout="wide"``, one
``float32`` column per feature (``embedding_0`` ...), which tabular tools that
want plain numeric columns read directly. Either way the rows are written in row
groups of about ``ROW_GROUP_BYTES`` of embeddings, each built from a slice of
the float32 array with no Python object per value, so the writer's own memory
stays the same from a thousand rows to a million.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PARQUET_LAYOUTS", "ROW_GROUP_BYTES", "write_embeddings_parquet"]

PARQUET_LAYOUTS = ("list", "wide")
ROW_GROUP_BYTES = 16 * 2**20
"""Embedding bytes per row group: 8,192 rows of 512 float32 features."""


def _rows_per_group(n_features):
    return max(1, ROW_GROUP_BYTES // (4 * max(1, n_features)))


def write_embeddings_parquet(stream, embeddings, image_paths, *, layout="list", metadata=None):
    """Write ``path`` and the embeddings to an open binary ``stream`` as Parquet.

    Parameters
    ----------
    stream : binary file object
        Where the Parquet file goes (an :func:`open_output` stream).
    embeddings : ndarray of shape (n_images, n_features), float32
        One row per image; read a row group at a time.
    image_paths : sequence of str
        The image of each row.
    layout : {"list", "wide"}, default="list"
        ``"list"``: one ``embedding`` column of fixed-size lists; ``"wide"``: one
        float32 column per feature, ``embedding_0`` ... ``embedding_<n_features-1>``.
    metadata : dict of str to str, default=None
        Key-value notes stored in the file's schema metadata.

    Returns
    -------
    n_row_groups : int
        How many row groups were written.
    """
    import pyarrow
    import pyarrow.parquet

    if layout not in PARQUET_LAYOUTS:
        raise ValueError(f"layout must be one of {PARQUET_LAYOUTS}; got {layout!r}.")
    n_rows, n_features = embeddings.shape
    if layout == "list":
        fields = [pyarrow.field("embedding", pyarrow.list_(pyarrow.float32(), n_features))]
    else:
        fields = [pyarrow.field(f"embedding_{feature}", pyarrow.float32()) for feature in range(n_features)]
    schema = pyarrow.schema([pyarrow.field("path", pyarrow.string()), *fields], metadata=metadata)
    step = _rows_per_group(n_features)
    n_groups = 0
    with pyarrow.parquet.ParquetWriter(stream, schema) as writer:
        for start in range(0, max(n_rows, 1), step):
            block = np.ascontiguousarray(embeddings[start : start + step], dtype=np.float32)
            paths = pyarrow.array(list(image_paths[start : start + step]), type=pyarrow.string())
            if layout == "list":
                values = pyarrow.array(block.reshape(-1), type=pyarrow.float32())
                columns = [paths, pyarrow.FixedSizeListArray.from_arrays(values, n_features)]
            else:
                columns = [paths, *(pyarrow.array(block[:, feature]) for feature in range(n_features))]
            writer.write_batch(pyarrow.RecordBatch.from_arrays(columns, schema=schema))
            n_groups += 1
    return n_groups
