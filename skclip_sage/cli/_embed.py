"""``skclip-sage embed``: CLIP image embeddings as a ``.npy`` file plus a paths sidecar."""

from __future__ import annotations

import os

import numpy as np

from ..utils._docstrings import fill_docstring
from ._errors import ExitCode, InputError
from ._estimators import embed_images
from ._inputs import expand_image_arguments
from ._options import ADD_PARSER_SECTIONS, add_error_options, add_image_arguments, add_model_options, command_parser
from ._runtime import LOGGER, check_output_path, default_failures_path, open_output, write_csv, write_failures

EXAMPLES = """\
  # writes emb.npy (float32, one unit-norm row per image) and emb.paths.txt
  skclip-sage embed photos/ --output emb.npy

  # skip unreadable images; the sidecar lists exactly the rows written
  skclip-sage embed --manifest images.csv --output emb.npy --paths emb.paths.csv --on-error skip

  # in Python:  X = np.load("emb.npy");  paths = open("emb.paths.txt").read().splitlines()
"""

DESCRIPTION = """\
Embed images with a CLIP image encoder and save the embeddings as a NumPy .npy file
of shape (n_images, n_features), float32, rows in input order. A sidecar file names
the image of each row: OUTPUT_STEM.paths.txt (one path per line) by default, or a
CSV with the columns row, path when --paths ends in .csv."""


@fill_docstring(add_parser_sections=ADD_PARSER_SECTIONS)
def add_parser(subparsers, parents):
    """Register ``embed`` and its options.

    %(add_parser_sections)s
    """
    parser = command_parser(
        subparsers,
        "embed",
        help="save CLIP image embeddings as .npy with a paths sidecar",
        description=DESCRIPTION,
        examples=EXAMPLES,
        parents=parents,
    )
    add_image_arguments(parser)
    group = parser.add_argument_group("output")
    group.add_argument("-o", "--output", required=True, metavar="NPY", help="the .npy file to write")
    group.add_argument(
        "--paths",
        metavar="FILE",
        help="the sidecar naming each row's image: .txt (one per line) or .csv (default: OUTPUT_STEM.paths.txt)",
    )
    add_model_options(parser)
    add_error_options(parser)
    parser.set_defaults(run=run)
    return parser


def sidecar_path(output, paths_option):
    """The sidecar file: ``--paths`` or ``<output stem>.paths.txt``."""
    return paths_option or f"{os.path.splitext(output)[0]}.paths.txt"


def write_sidecar(path, image_paths):
    """Write the row-to-image sidecar as text (one path per line) or CSV (``row``, ``path``)."""
    if path.lower().endswith(".csv"):
        write_csv(path, ["row", "path"], [[row, name] for row, name in enumerate(image_paths)])
        return
    with open_output(path, binary=True) as stream:
        for name in image_paths:
            # surrogateescape keeps undecodable file names byte-exact.
            stream.write(name.encode("utf-8", "surrogateescape") + b"\n")


def run(args):
    """Run ``embed``.

    Parameters
    ----------
    args : argparse.Namespace
        The parsed command line.

    Returns
    -------
    exit_code : ExitCode
        ``OK``, or ``SOME_IMAGES_FAILED`` when ``--on-error skip`` left images out;
        other outcomes are raised as errors and mapped to codes by ``main``.
    """
    if not args.output.lower().endswith(".npy"):
        raise InputError(f"--output {args.output!r} must end in .npy (the file is written with numpy.save).")
    sidecar = sidecar_path(args.output, args.paths)
    failures_path = args.failures or default_failures_path(args.output)
    for path, option in [(args.output, "--output"), (sidecar, "--paths"), (failures_path, "--failures")]:
        check_output_path(path, option)
    images = expand_image_arguments(args.images, manifest=args.manifest, path_column=args.path_column)
    if not sidecar.lower().endswith(".csv"):
        with_newline = [name for name in images.paths if "\n" in name or "\r" in name]
        if with_newline:
            raise InputError(
                f"{with_newline[0]!r} has a line break in its name, which a .txt sidecar cannot hold; "
                "pass --paths FILE.csv."
            )

    embedded = embed_images(images, args)
    if args.on_error == "skip":
        write_failures(failures_path, embedded.failures)
    if len(embedded.kept) == 0:
        raise InputError(f"none of the {len(images.paths)} image(s) could be read; nothing to embed.")
    with open_output(args.output, binary=True) as stream:
        np.save(stream, np.ascontiguousarray(embedded.embeddings, dtype=np.float32), allow_pickle=False)
    write_sidecar(sidecar, [images.paths[position] for position in embedded.kept])
    LOGGER.info(
        "wrote %d x %d embeddings to %s and their paths to %s", *embedded.embeddings.shape, args.output, sidecar
    )
    return ExitCode.SOME_IMAGES_FAILED if embedded.failures else ExitCode.OK
