"""PACS and VLCS as DomainBed lays them out: ``<DATASET>/<domain>/<class>/<image>``.

Both are evaluated on every image of every domain; the groups are domain x class.
The expected domains and classes are fixed, so a renamed or missing folder is reported
instead of quietly changing the class list the prompts are built from.
"""

from __future__ import annotations

import os

from ..utils._docstrings import fill_docstring
from ._folder import collect_images, domain_bunch, list_subfolders
from ._paths import check_root, find_dataset_folder

__all__ = ["load_pacs", "load_vlcs"]

SOURCE = (
    "{name} comes from DomainBed: clone https://github.com/facebookresearch/DomainBed and run "
    "`python -m domainbed.scripts.download --data_dir=ROOT`, which creates ROOT/{name}."
)
PACS_DOMAINS = ("art_painting", "cartoon", "photo", "sketch")
PACS_CLASSES = ("dog", "elephant", "giraffe", "guitar", "horse", "house", "person")
VLCS_DOMAINS = ("Caltech101", "LabelMe", "SUN09", "VOC2007")
VLCS_CLASSES = ("bird", "car", "chair", "dog", "person")

PACS_DESCR = """\
PACS (DomainBed)
----------------
Seven-way object classification (dog, elephant, giraffe, guitar, horse, house, person)
across four visual domains: art_painting, cartoon, photo and sketch; 9,991 images in all
(Li et al., "Deeper, Broader and Artier Domain Generalization", ICCV 2017). Groups are
domain x class (28), group = domain_index * 7 + class_index; zero-shot evaluation uses
every image. Download with DomainBed (Gulrajani and Lopez-Paz, ICLR 2021):
`python -m domainbed.scripts.download` from https://github.com/facebookresearch/DomainBed.
"""
VLCS_DESCR = """\
VLCS (DomainBed)
----------------
Five-way object classification (bird, car, chair, dog, person) across four photo
datasets used as domains: Caltech101, LabelMe, SUN09 and VOC2007; about 10,729 images
(Fang et al., "Unbiased Metric Learning: On the Utilization of Multiple Datasets and Web
Images for Softening Bias", ICCV 2013). Groups are domain x class (20), group =
domain_index * 5 + class_index; zero-shot evaluation uses every image. Download with
DomainBed (Gulrajani and Lopez-Paz, ICLR 2021): `python -m domainbed.scripts.download`
from https://github.com/facebookresearch/DomainBed.
"""


def _check_domains(domains, known, function_name):
    """The chosen domains in canonical order; every name must be known and appear once."""
    if domains is None:
        return list(known)
    if isinstance(domains, str):
        domains = [domains]  # one domain is a natural thing to ask for
    domains = list(domains)
    choices = ", ".join(repr(domain) for domain in known)
    unknown = [domain for domain in domains if domain not in known]
    if unknown or not domains or len(set(domains)) != len(domains):
        problem = f"unknown {unknown!r}" if unknown else "empty or repeated names"
        raise ValueError(
            f"{function_name}: domains must be None or a non-empty list of distinct names "
            f"among {choices}; got {domains!r} ({problem})."
        )
    return [domain for domain in known if domain in domains]


def _load_domainbed(root, domains, *, name, known_domains, class_names, descr, function_name):
    chosen = _check_domains(domains, known_domains, function_name)
    source = SOURCE.format(name=name)
    folder = find_dataset_folder(
        check_root(root, function_name),
        folder_names=(name,),
        markers=tuple(chosen),
        dataset=name,
        source=source,
    )
    real_root = str(folder)
    layout = f"{name}/<domain>/<class>/<image>"
    for domain in chosen:
        domain_folder = os.path.join(real_root, domain)
        found = list_subfolders(domain_folder, real_root, layout=layout)
        missing = [class_name for class_name in class_names if class_name not in found]
        if missing:
            raise FileNotFoundError(
                f"The {name} domain folder {domain_folder!r} lacks the class folders "
                f"{missing!r}; expected {list(class_names)!r}. {source}"
            )
        unexpected = [class_name for class_name in found if class_name not in class_names]
        if unexpected:
            raise ValueError(
                f"The {name} domain folder {domain_folder!r} has unexpected folders "
                f"{unexpected!r}; expected exactly {list(class_names)!r}. Remove or rename them."
            )
    paths, domain_index, class_index = collect_images(real_root, chosen, list(class_names), layout=layout)
    return domain_bunch(
        paths,
        domain_index,
        class_index,
        domain_names=chosen,
        class_names=class_names,
        class_prompts=class_names,
        descr=descr,
    )


_RETURNS_AND_RAISES = """\
Returns
    -------
    sklearn.utils.Bunch
        Dictionary-like object with the fields:

        data : list of str of length n_samples
            Absolute image paths, by domain, then class, then file name.
        target : ndarray of shape (n_samples,)
            Class index in ``target_names``.
        groups : ndarray of shape (n_samples,)
            ``domain_index * n_classes + class_index``, with domains numbered in the
            order of ``domain_names``.
        target_names : list of str
            The class folder names.
        group_names : list of str
            ``"domain/class"`` for every group, in group order.
        domain_names : list of str
            The loaded domains, in canonical order.
        class_prompts : list of str
            The class folder names, as the SAGE paper's code uses them.
        train_group_counts : None
            Zero-shot evaluation uses every image; there is no training split.
        DESCR : str
            Description of the dataset, its source and citation.

    Raises
    ------
    FileNotFoundError
        If the folder, a chosen domain folder or a class folder is missing.
    ValueError
        For unknown domains, an unexpected or empty class folder, or a symlink that
        leads outside the dataset folder."""


@fill_docstring(returns_and_raises=_RETURNS_AND_RAISES)
def load_pacs(root, domains=None):
    """Load PACS from its DomainBed folder (nothing is downloaded).

    Reads ``PACS/<domain>/<class>/<image>`` for the chosen domains; every domain must
    hold exactly the seven class folders, each with at least one image.

    Parameters
    ----------
    root : str or os.PathLike
        The ``PACS`` folder itself, or the folder that contains it.
    domains : list of str, default=None
        Domains to load among ``"art_painting"``, ``"cartoon"``, ``"photo"`` and
        ``"sketch"``; None loads all four. Chosen domains keep this canonical order.

    %(returns_and_raises)s

    See Also
    --------
    load_vlcs : The other DomainBed benchmark.
    load_image_folder : Any ``domain/class/image`` tree.

    Examples
    --------
    >>> import shutil, tempfile
    >>> from pathlib import Path
    >>> from skclip_sage.datasets import load_pacs
    >>> parent = Path(tempfile.mkdtemp())
    >>> classes = ["dog", "elephant", "giraffe", "guitar", "horse", "house", "person"]
    >>> for class_name in classes:
    ...     (parent / "PACS" / "photo" / class_name).mkdir(parents=True)
    ...     (parent / "PACS" / "photo" / class_name / "1.jpg").touch()
    >>> bunch = load_pacs(parent, domains=["photo"])
    >>> len(bunch.data), bunch.groups[:3], bunch.group_names[1]
    (7, array([0, 1, 2]), 'photo/elephant')
    >>> shutil.rmtree(parent)
    """
    return _load_domainbed(
        root,
        domains,
        name="PACS",
        known_domains=PACS_DOMAINS,
        class_names=PACS_CLASSES,
        descr=PACS_DESCR,
        function_name="load_pacs",
    )


@fill_docstring(returns_and_raises=_RETURNS_AND_RAISES)
def load_vlcs(root, domains=None):
    """Load VLCS from its DomainBed folder (nothing is downloaded).

    Reads ``VLCS/<domain>/<class>/<image>`` for the chosen domains; every domain must
    hold exactly the five class folders, each with at least one image.

    Parameters
    ----------
    root : str or os.PathLike
        The ``VLCS`` folder itself, or the folder that contains it.
    domains : list of str, default=None
        Domains to load among ``"Caltech101"``, ``"LabelMe"``, ``"SUN09"`` and
        ``"VOC2007"``; None loads all four. Chosen domains keep this canonical order.

    %(returns_and_raises)s

    See Also
    --------
    load_pacs : The other DomainBed benchmark.
    load_image_folder : Any ``domain/class/image`` tree.

    Examples
    --------
    >>> import shutil, tempfile
    >>> from pathlib import Path
    >>> from skclip_sage.datasets import load_vlcs
    >>> root = Path(tempfile.mkdtemp()) / "VLCS"
    >>> for domain in ["LabelMe", "VOC2007"]:
    ...     for class_name in ["bird", "car", "chair", "dog", "person"]:
    ...         (root / domain / class_name).mkdir(parents=True)
    ...         (root / domain / class_name / "1.jpg").touch()
    >>> bunch = load_vlcs(root, domains=["VOC2007", "LabelMe"])
    >>> bunch.domain_names, bunch.groups[[0, -1]], bunch.group_names[-1]
    (['LabelMe', 'VOC2007'], array([0, 9]), 'VOC2007/person')
    >>> shutil.rmtree(root.parent)
    """
    return _load_domainbed(
        root,
        domains,
        name="VLCS",
        known_domains=VLCS_DOMAINS,
        class_names=VLCS_CLASSES,
        descr=VLCS_DESCR,
        function_name="load_vlcs",
    )
