"""Image trees laid out as ``class/image`` or ``domain/class/image`` (PACS, VLCS, your own).

Folders are scanned one level deep, never recursively: a ``domain/class/image`` tree
passed without ``domains=True`` then fails loudly (its "class" folders hold folders,
not images) instead of silently turning domains into classes. A tree of your own
(:func:`load_image_folder`) may hold symlinks to images and folders anywhere: they
are followed. The benchmark loaders built on these helpers (PACS, VLCS) follow
symlinks only while they stay inside the dataset root, the rule for their manifests.
"""

from __future__ import annotations

import os

import numpy as np
from sklearn.utils import Bunch

from ._paths import N_QUOTED, check_root, is_inside

__all__ = ["IMAGE_EXTENSIONS", "load_image_folder"]

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
LAYOUTS = {False: "root/<class>/<image>", True: "root/<domain>/<class>/<image>"}


def is_image_name(name: str) -> bool:
    """Whether ``name`` is a visible file name with an accepted image extension."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def _visible_entries(folder: str, root: str | None) -> list[os.DirEntry]:
    """Visible entries of ``folder``; with a ``root``, refusing symlinks that lead outside it."""
    entries = []
    with os.scandir(folder) as scan:
        for entry in scan:
            if entry.name.startswith("."):
                continue  # .DS_Store, ._x.jpg (macOS resource forks), .ipynb_checkpoints
            if root is not None and entry.is_symlink():
                target = os.path.realpath(entry.path)
                if not is_inside(target, root):
                    raise ValueError(
                        f"{entry.path!r} is a symlink to {target!r}, outside the dataset root "
                        f"{root!r}; only files inside the root are read. Copy the files into the "
                        "root or pass the folder that really holds them."
                    )
            entries.append(entry)
    return entries


def list_subfolders(folder: str, root: str | None, *, layout: str) -> list[str]:
    """Sorted names of the visible subfolders of ``folder``; loose images are an error.

    ``root`` None follows every symlink; otherwise only those staying inside ``root``.
    """
    entries = _visible_entries(folder, root)
    loose = sorted(entry.name for entry in entries if not entry.is_dir() and is_image_name(entry.name))
    if loose:
        # Images one level too high usually mean domains=True on a class/image tree.
        hint = ", or leave domains=False for a root/<class>/<image> tree"
        raise ValueError(
            f"Found {len(loose)} image files directly in {folder!r} (e.g. {loose[0]!r}), where "
            f"folders were expected; the layout is {layout}. Move them into a folder"
            + (hint if layout == LAYOUTS[True] else "")
            + "."
        )
    return sorted(entry.name for entry in entries if entry.is_dir())


def list_images(folder: str, root: str | None, *, layout: str) -> list[str]:
    """Sorted absolute paths of the images directly in ``folder``; at least one is required."""
    entries = _visible_entries(folder, root)
    subfolders = sorted(entry.name for entry in entries if entry.is_dir())
    if subfolders:
        # Folders one level too deep usually mean a domain/class tree without domains=True.
        hint = " For a root/<domain>/<class>/<image> tree pass domains=True."
        raise ValueError(
            f"{folder!r} contains folders ({', '.join(map(repr, subfolders[:N_QUOTED]))}) "
            f"where images were expected; the layout is {layout}."
            + (hint if layout == LAYOUTS[False] else " Move their images up or remove them.")
        )
    # Non-image files (notes, Thumbs.db) are not samples; anything named like an
    # image is kept even if unreadable, so the embedder reports it instead of us
    # dropping it silently.
    images = sorted(entry.path for entry in entries if is_image_name(entry.name))
    if not images:
        raise ValueError(
            f"The class folder {folder!r} has no images; accepted extensions are "
            f"{', '.join(IMAGE_EXTENSIONS)} (any case). Remove the folder or add its images."
        )
    return images


def collect_images(
    root: str, domain_names: list[str] | None, class_names: list[str], *, layout: str, guard: bool = True
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Scan ``root[/domain]/class`` folders in order.

    Returns the image paths, their domain index (0 without domains) and class index,
    grouped by domain then class, each folder's images in name order. A class folder
    a domain lacks contributes no rows. ``guard`` refuses symlinks leading outside
    ``root``; without it every symlink is followed.
    """
    paths, domain_index, class_index = [], [], []
    for domain_position, domain in enumerate(domain_names or [""]):
        for class_position, class_name in enumerate(class_names):
            folder = os.path.join(root, domain, class_name)  # domain "" joins to nothing
            if not os.path.isdir(folder):
                continue
            images = list_images(folder, root if guard else None, layout=layout)
            paths.extend(images)
            domain_index.extend([domain_position] * len(images))
            class_index.extend([class_position] * len(images))
    return paths, np.asarray(domain_index, dtype=np.int64), np.asarray(class_index, dtype=np.int64)


def domain_bunch(paths, domain_index, class_index, *, domain_names, class_names, class_prompts, descr) -> Bunch:
    """The Bunch of a ``domain/class`` tree: group = domain_index * n_classes + class_index."""
    return Bunch(
        data=paths,
        target=class_index,
        groups=domain_index * len(class_names) + class_index,
        target_names=list(class_names),
        group_names=[f"{domain}/{name}" for domain in domain_names for name in class_names],
        domain_names=list(domain_names),
        class_prompts=list(class_prompts),
        train_group_counts=None,
        DESCR=descr,
    )


def load_image_folder(root, *, domains=False):
    """Load any tree of images laid out as ``class/image`` or ``domain/class/image``.

    Class (and domain) names are the folder names, in sorted order. Hidden files and
    folders are skipped, as are files without an image extension (``.jpg``, ``.jpeg``,
    ``.png``, ``.bmp``, ``.gif``, ``.webp``, ``.tif``, ``.tiff``, any case).

    Parameters
    ----------
    root : str or os.PathLike
        The folder whose subfolders are the classes (or the domains).
    domains : bool, default=False
        If True, the subfolders of ``root`` are domains and each holds class folders;
        the classes are the union over domains (a domain may lack a class).

    Symlinked image files and folders are followed wherever they lead: the tree
    is yours (the PACS and VLCS loaders, by contrast, read only inside their root).

    Returns
    -------
    sklearn.utils.Bunch
        Dictionary-like object with the fields:

        data : list of str of length n_samples
            Absolute image paths, by domain, then class, then file name.
        target : ndarray of shape (n_samples,)
            Index of the class folder in ``target_names``.
        groups : ndarray of shape (n_samples,)
            The class index without domains; ``domain_index * n_classes + class_index``
            with them.
        target_names : list of str
            Class folder names, sorted.
        group_names : list of str
            Class names, or ``"domain/class"`` names with domains.
        domain_names : list of str
            Domain folder names, sorted (only with ``domains=True``).
        class_prompts : list of str
            The class folder names, to be put into prompt templates.
        train_group_counts : None
            No training split is known for a plain folder.
        DESCR : str
            Description of the tree that was loaded.

    Raises
    ------
    FileNotFoundError
        If ``root`` does not exist or is not a folder.
    ValueError
        If there are no class folders, a class folder holds no images or holds folders,
        or images lie where folders are expected.

    See Also
    --------
    load_pacs, load_vlcs : The DomainBed datasets, with their expected domains and classes.

    Examples
    --------
    >>> import shutil, tempfile
    >>> from pathlib import Path
    >>> from skclip_sage.datasets import load_image_folder
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ["cat/a.jpg", "cat/b.PNG", "dog/c.jpg", "dog/notes.txt"]:
    ...     (root / name).parent.mkdir(exist_ok=True)
    ...     (root / name).touch()
    >>> bunch = load_image_folder(root)
    >>> [Path(path).name for path in bunch.data]
    ['a.jpg', 'b.PNG', 'c.jpg']
    >>> bunch.target, bunch.target_names
    (array([0, 0, 1]), ['cat', 'dog'])
    >>> shutil.rmtree(root)
    """
    path = check_root(root, "load_image_folder")
    if not path.is_dir():
        what = "is a file, not a folder" if path.exists() else "does not exist"
        raise FileNotFoundError(f"load_image_folder: the root {str(path)!r} {what}.")
    real_root = os.path.realpath(path)
    layout = LAYOUTS[bool(domains)]
    # None: no symlink guard, a tree of your own may link to images anywhere.
    top_level = list_subfolders(real_root, None, layout=layout)
    if not top_level:
        raise ValueError(f"load_image_folder: {str(path)!r} has no subfolders; the layout is {layout}.")
    if domains:
        class_names = sorted(
            {
                name
                for domain in top_level
                for name in list_subfolders(os.path.join(real_root, domain), None, layout=layout)
            }
        )
        if not class_names:
            raise ValueError(f"load_image_folder: the domain folders of {str(path)!r} hold no class folders.")
    else:
        class_names = top_level
    paths, domain_index, class_index = collect_images(
        real_root, top_level if domains else None, class_names, layout=layout, guard=False
    )
    descr = f"Image folder {real_root!r} ({layout}): {len(paths)} images in {len(class_names)} classes" + (
        f" and {len(top_level)} domains.\n" if domains else ".\n"
    )
    if domains:
        return domain_bunch(
            paths,
            domain_index,
            class_index,
            domain_names=top_level,
            class_names=class_names,
            class_prompts=class_names,
            descr=descr,
        )
    return Bunch(
        data=paths,
        target=class_index,
        groups=class_index.copy(),
        target_names=list(class_names),
        group_names=list(class_names),
        class_prompts=list(class_names),
        train_group_counts=None,
        DESCR=descr,
    )
