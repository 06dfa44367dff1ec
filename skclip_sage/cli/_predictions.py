"""``evaluate --predictions``: one row per input image, in input order, for every compared run.

An unreadable image keeps its row, with its reason in ``error`` and empty
predictions, so the file always lines up with the manifest it came from.
"""

from __future__ import annotations

import numpy as np

from ._outputs import sibling_path, write_json, write_table


def run_prefix(label):
    """The column prefix of a run: ``"sage k=3"`` -> ``"sage_k3"``."""
    return label.replace(" k=", "_k").replace(" ", "_")


def templates_sidecar_path(predictions):
    """``<predictions stem>.templates.json``: the template texts the index columns refer to."""
    return sibling_path(predictions, ".templates.json")


class PredictionsTable:
    """Collects each run's per-image results, then writes the table and its templates sidecar.

    Parameters
    ----------
    paths, labels, groups : list of str
        Each input image's name, true class and group, in input order.
    kept : ndarray of shape (n_readable,)
        Input positions of the embedded images.
    failures : dict of int to str
        Input position -> reason of each unreadable image.
    templates : list of str
        The templates the index columns refer to.
    """

    def __init__(self, paths, labels, groups, kept, failures, templates):
        self.columns = {"path": list(paths), "label": list(labels), "group": list(groups)}
        self.columns["error"] = [failures.get(position, "") for position in range(len(paths))]
        self.kept = np.asarray(kept)
        self.templates = list(templates)
        self.fixed = {}

    def _spread(self, values):
        """``values`` of the readable rows placed at their input positions; None elsewhere."""
        column = [None] * len(self.columns["path"])
        for position, value in zip(self.kept.tolist(), values):
            column[position] = value
        return column

    def add_run(self, label, class_names, probabilities, selected, *, fixed):
        """Add a run's prediction, its probability and (unless ``fixed``) the template indices per image.

        Parameters
        ----------
        label : str
            The run's label, e.g. ``"sage k=1"``.
        class_names : list of str
            The name of each ``probabilities`` column.
        probabilities : ndarray of shape (n_readable, n_classes)
            ``predict_proba`` of the readable images.
        selected : ndarray of shape (n_readable, n_selected)
            The template indices each image used.
        fixed : bool
            Whether every image used the same templates: then they are written once,
            in the sidecar, not on every row.
        """
        prefix = run_prefix(label)
        probabilities = np.asarray(probabilities, dtype=np.float32)
        best = np.argmax(probabilities, axis=1)
        self.columns[f"{prefix}_prediction"] = self._spread([class_names[index] for index in best])
        self.columns[f"{prefix}_probability"] = self._spread(list(probabilities[np.arange(len(best)), best]))
        if fixed:
            self.fixed[label] = [int(index) for index in selected[0]] if len(selected) else []
        else:
            self.columns[f"{prefix}_template_indices"] = self._spread([[int(i) for i in row] for row in selected])

    def write(self, path, option):
        """Write the table to ``path`` (by extension) and the templates sidecar next to it."""
        write_table(path, self.columns, option=option)
        write_json(
            templates_sidecar_path(path),
            {
                "templates": self.templates,
                "note": "the *_template_indices columns index 'templates'; runs listed under "
                "'same_for_every_image' used these indices for every image",
                "same_for_every_image": self.fixed,
            },
        )
