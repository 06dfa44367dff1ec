"""Import optional dependencies with an error that names the pip extra to install."""

import importlib


def _require(module_name: str, extra: str, caller: str):
    try:
        return importlib.import_module(module_name)
    except ImportError as err:
        raise ImportError(
            f"{caller} requires {module_name!r}, which is not installed. "
            f'Install it with: pip install "skclip-sage[{extra}]" (or, in a checkout of skclip-sage: '
            f'pip install -e ".[{extra}]")'
        ) from err


def require_dask(caller: str):
    """Return the ``dask`` module, or raise an ImportError naming the ``[dask]`` extra.

    Parameters
    ----------
    caller : str
        What needs dask, e.g. ``"embed_images"``; used in the error message.
    """
    return _require("dask", "dask", caller)


def require_distributed(caller: str):
    """Return ``dask.distributed``, or raise an ImportError naming the ``[dask]`` extra."""
    return _require("dask.distributed", "dask", caller)


def require_pandas(caller: str):
    """Return ``pandas``, or raise an ImportError naming the ``[plot]`` extra."""
    return _require("pandas", "plot", caller)


def require_matplotlib(caller: str):
    """Return ``matplotlib.pyplot`` (Agg backend), or raise naming the ``[plot]`` extra."""
    matplotlib = _require("matplotlib", "plot", caller)
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def require_pyarrow(caller: str):
    """Return ``pyarrow.parquet``, or raise an ImportError naming the ``[parquet]`` extra."""
    _require("pyarrow", "parquet", caller)
    return importlib.import_module("pyarrow.parquet")


def require_transformers(caller: str):
    """Return ``transformers``, or raise an ImportError naming the ``[transformers]`` extra."""
    return _require("transformers", "transformers", caller)
