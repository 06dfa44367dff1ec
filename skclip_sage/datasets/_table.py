"""The table of dataset loaders: one record per dataset, read by ``skclip-sage evaluate`` and ``reproduce_paper.py``.

A record says everything a caller needs to know about a dataset without a list of
names of its own: the loader, the options it takes from a command line, its splits,
the SAGE paper's definition of Avg on it, and the presets other parts of the library
have for it (the debiasing methods' concept texts, PerceptionCLIP's attribute
templates).

Adding a loader: write ``load_<name>(root, ...)`` in its own module of
:mod:`skclip_sage.datasets` (returning the Bunch the others return), export it from
the package, and add one :class:`DatasetLoader` record to ``DATASET_LOADERS``
below. ``skclip-sage evaluate <name>`` and ``reproduce_paper.py --dataset <name>``
then offer it, with its splits, average and presets, with no other change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ._celeba import load_celeba
from ._domainbed import load_pacs, load_vlcs
from ._folder import load_image_folder
from ._paths import SPLIT_CHOICES
from ._waterbirds import load_waterbirds

__all__ = ["DATASET_LOADERS", "DatasetLoader"]


@dataclass(frozen=True)
class DatasetLoader:
    """One dataset: its loader and what is known about it.

    Parameters
    ----------
    name : str
        The dataset's name on the command line (``"waterbirds"``).
    loader : callable
        ``loader(root, **options)`` returning the dataset's Bunch.
    options : tuple of str, default=()
        The keyword options :meth:`load` passes on to ``loader``: ``"split"``
        (one of ``splits``) and/or ``"domains"`` (``load_image_folder``'s flag).
    splits : tuple of str, default=()
        The splits ``loader`` can read (empty: the dataset has no splits).
    default_split : str or None, default=None
        The split read when none is asked for.
    paper_average : {"weighted", "plain", "groups"} or None, default=None
        The SAGE paper's Avg on this dataset (SPEC section 2); None for a dataset
        the paper did not use (the caller decides).
    concepts : str or None, default=None
        Its preset of concept texts for the debiasing methods
        (:func:`~skclip_sage.comparison.debias_methods` ``concepts=``), if any.
    perception_templates : str or None, default=None
        Its official PerceptionCLIP attribute templates (a template set name), if any.
    """

    name: str
    loader: Callable = field(repr=False)
    options: tuple = ()
    splits: tuple = ()
    default_split: str | None = None
    paper_average: str | None = None
    concepts: str | None = None
    perception_templates: str | None = None

    def load(self, root, *, split=None, domains=None):
        """Call the loader on ``root`` with the options this dataset takes (others are ignored).

        Parameters
        ----------
        root : path-like
            The dataset folder.
        split : str, default=None
            The split to read; None reads ``default_split``.
        domains : bool, default=None
            ``load_image_folder``'s ``domains`` flag; None leaves its default.

        Returns
        -------
        bunch : sklearn.utils.Bunch
        """
        given = {"split": split if split is not None else self.default_split, "domains": domains}
        return self.loader(root, **{name: given[name] for name in self.options if given[name] is not None})


_SPLITS = tuple(SPLIT_CHOICES)

DATASET_LOADERS = {
    record.name: record
    for record in (
        DatasetLoader(
            name="waterbirds",
            loader=load_waterbirds,
            options=("split",),
            splits=_SPLITS,
            default_split="test",
            paper_average="weighted",
            concepts="waterbirds",
            perception_templates="perception_waterbirds",
        ),
        DatasetLoader(
            name="celeba",
            loader=load_celeba,
            options=("split",),
            splits=_SPLITS,
            default_split="test",
            paper_average="plain",
            concepts="celeba",
            perception_templates="perception_celeba",
        ),
        DatasetLoader(name="pacs", loader=load_pacs, paper_average="groups", concepts="pacs"),
        DatasetLoader(name="vlcs", loader=load_vlcs, paper_average="groups", concepts="vlcs"),
        DatasetLoader(name="folder", loader=load_image_folder, options=("domains",)),
    )
}
"""Every dataset loader by name, in the order commands list them."""
