"""The table of backends: which model strings each one loads, which folders, and how to write them.

Light on purpose (no torch, no scikit-learn): the command line's help and the
estimators' docstrings read it. A backend is one module with
``load(model, pretrained, *, device, cache_dir)`` plus one :class:`Backend` entry
here; :mod:`._registry` loads models through it.
"""

from __future__ import annotations

import os
from typing import NamedTuple


class Backend(NamedTuple):
    """One way of naming models.

    Attributes
    ----------
    scheme : str
        The model-string prefix (``"transformers:"``); ``""`` matches every other string.
    module : str
        The module (relative to this package) whose ``load`` builds the encoder.
    library : str
        The library that runs the model.
    form : str
        How a model string of this kind is written.
    description : str
        What it names, and whether ``pretrained`` applies.
    ignores_pretrained : bool
        Whether the weights come with the model string (``pretrained`` is ignored).
    folder_marker : str or None
        For a scheme whose rest may name a folder on this machine: the file that
        tells such a folder (a bare folder path with this file loads with this
        backend); None for schemes that never name a folder.
    folder_only : bool
        Whether the rest of the string always names a folder (``local-dir:``), rather
        than a folder or, where none exists, a hub id (``transformers:``).
    folder_files : str or None
        What such a folder holds, in words, for help texts and error messages; None
        for schemes that never name a folder.
    """

    scheme: str
    module: str
    library: str
    form: str
    description: str
    ignores_pretrained: bool
    folder_marker: str | None = None
    folder_only: bool = False
    folder_files: str | None = None


# The schemes, written once: the backend modules read them from here (this module imports
# nothing of the package, so that arrow points one way).
LOCAL_DIR = "local-dir:"
HF_HUB = "hf-hub:"
TRANSFORMERS = "transformers:"

BACKENDS = (
    Backend(
        scheme=LOCAL_DIR,
        module="._open_clip",
        library="open_clip",
        form=f"{LOCAL_DIR}/path/to/folder",
        description="a folder with open_clip_config.json and weights (save_local_dir), no network; "
        "pretrained is ignored",
        ignores_pretrained=True,
        folder_marker="open_clip_config.json",
        folder_only=True,
        folder_files="open_clip_config.json and the weights (open_clip_model.safetensors, or a .bin or .pth file)",
    ),
    Backend(
        scheme=TRANSFORMERS,
        module="._transformers",
        library="transformers",
        form=f"{TRANSFORMERS}org/repo[@revision] or {TRANSFORMERS}/path/to/folder",
        description="a Hugging Face CLIP, SigLIP, ALIGN or AltCLIP model id (through the HF cache) or a "
        "save_pretrained folder (no network); pretrained is ignored",
        ignores_pretrained=True,
        folder_marker="config.json",
        folder_files="what save_pretrained writes: config.json, the weights (model.safetensors or "
        "pytorch_model.bin) and the processor's files",
    ),
    Backend(
        scheme=HF_HUB,
        module="._open_clip",
        library="open_clip",
        form=f"{HF_HUB}org/repo",
        description="an open_clip model on the Hugging Face Hub (through the HF cache); pretrained is ignored",
        ignores_pretrained=True,
    ),
    Backend(
        scheme="",
        module="._open_clip",
        library="open_clip",
        form="NAME with pretrained=TAG or pretrained=/path/to/checkpoint",
        description="an open_clip architecture name with a weights tag, a checkpoint file, or None for random weights",
        ignores_pretrained=False,
    ),
)
"""Every backend, keyword-built; the last one (no scheme) takes plain names.

The order is also the order in which a bare folder is told: the first backend
whose ``folder_marker`` the folder holds loads it. open_clip's folder comes
before transformers': an open_clip folder saved on the Hub may hold a
``config.json`` as well, a transformers folder never holds ``open_clip_config.json``.
"""


def backend_for(model: str) -> Backend:
    """The backend whose scheme starts ``model``."""
    return next(backend for backend in BACKENDS if model.startswith(backend.scheme))


def folder_backends() -> tuple[Backend, ...]:
    """The backends whose model string may name a folder, in the order a bare folder is told (the table's)."""
    return tuple(backend for backend in BACKENDS if backend.folder_marker is not None)


def folder_scheme(folder: str) -> str | None:
    """The scheme that loads ``folder`` as a model, told by its files; None when no backend's marker is there.

    Examples
    --------
    >>> folder_scheme("/no/such/folder") is None
    True
    """
    return next(
        (
            backend.scheme
            for backend in folder_backends()
            if os.path.isfile(os.path.join(os.path.expanduser(folder), backend.folder_marker))
        ),
        None,
    )


def looks_like_a_path(model: str) -> bool:
    """Whether a string without a scheme is written as a file-system path (rather than a model name)."""
    return model.startswith((".", "/", "~")) or os.sep in model or (os.altsep or os.sep) in model


def absolute_model(model: str) -> str:
    """``model`` with its folder, if it names one, made absolute and given its backend's scheme.

    A folder is resolved against the current working directory, so the string
    means the same model from any other directory (a fitted estimator pickled and
    loaded elsewhere). An existing folder given bare (``"demo/model"``,
    ``"./model"``, an absolute path) gets the scheme its files call for
    (``open_clip_config.json``: ``local-dir:``; ``config.json``: ``transformers:``),
    so a local folder wins over a model name or hub id of the same spelling, as in
    transformers. ``transformers:org/repo`` names a folder only when one exists
    there or the rest looks like a path (``./``, ``../``, ``~``); other strings are
    returned as they are.

    Parameters
    ----------
    model : str
        A model string.

    Returns
    -------
    model : str

    Examples
    --------
    >>> import os
    >>> absolute_model("local-dir:models/tiny") == "local-dir:" + os.path.abspath("models/tiny")
    True
    >>> absolute_model("transformers:openai/clip-vit-base-patch32"), absolute_model("ViT-B-32")
    ('transformers:openai/clip-vit-base-patch32', 'ViT-B-32')
    """
    backend = backend_for(model)
    if backend.folder_marker is None:
        if backend.scheme or not os.path.isdir(os.path.expanduser(model)):
            return model
        scheme = folder_scheme(model)  # a bare folder: its files say which backend loads it
        return model if scheme is None else scheme + os.path.abspath(os.path.expanduser(model))
    rest = os.path.expanduser(model[len(backend.scheme) :])
    if not rest:
        return model
    names_a_folder = backend.folder_only or os.path.isdir(rest) or rest.startswith((".", "/", "~"))
    return backend.scheme + os.path.abspath(rest) if names_a_folder else model


def model_forms() -> list[tuple[str, str]]:
    """Every way to write a model string, ``(form, what it names)``, read from the table.

    One entry per backend, plus the bare folder that :func:`absolute_model` gives the
    scheme its files call for. The command line's ``--model`` help is built from it.

    Returns
    -------
    forms : list of (str, str)

    Examples
    --------
    >>> [form for form, _ in model_forms()][:2]
    ['NAME with pretrained=TAG or pretrained=/path/to/checkpoint', '/path/to/folder (holding open_clip_config.json or config.json)']
    """
    names = [backend for backend in BACKENDS if not backend.scheme]
    schemes = [backend for backend in BACKENDS if backend.scheme]
    markers = " or ".join(f"{backend.folder_marker} ({backend.library})" for backend in folder_backends())
    files = " or ".join(backend.folder_marker for backend in folder_backends())
    bare = (
        f"/path/to/folder (holding {files})",
        f"an existing model folder given bare, its backend told by its files: {markers}",
    )
    return [
        *[(backend.form, backend.description) for backend in names],
        bare,
        *[(backend.form, backend.description) for backend in schemes],
    ]


def schemes_ignoring_pretrained() -> str:
    """The schemes whose model string brings its own weights, in words (``"local-dir:, ... and hf-hub:"``).

    Examples
    --------
    >>> schemes_ignoring_pretrained()
    'local-dir:, transformers: and hf-hub:'
    """
    schemes = [backend.scheme for backend in BACKENDS if backend.scheme and backend.ignores_pretrained]
    return schemes[0] if len(schemes) == 1 else f"{', '.join(schemes[:-1])} and {schemes[-1]}"
