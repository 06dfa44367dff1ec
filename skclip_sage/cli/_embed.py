"""``skclip-sage embed``: CLIP image embeddings as ``.npy`` (with a paths sidecar), ``.npz`` or a table."""

from __future__ import annotations

import os

import numpy as np

from ..utils._docstrings import fill_docstring
from ..utils._optional import require_pyarrow
from ._errors import ExitCode, InputError, UsageError
from ._estimators import embed_images
from ._inputs import expand_image_arguments
from ._options import ADD_PARSER_SECTIONS, add_error_options, add_image_arguments, add_model_options, command_parser
from ._output_checks import check_names_are_text, model_input_files
from ._outputs import (
    TABLE_FORMATS,
    check_outputs,
    failures_output,
    note_failures,
    open_output,
    output_format,
    outputs_together,
    write_csv,
    write_failures,
    write_table,
)
from ._parquet import PARQUET_LAYOUTS, write_embeddings_parquet
from ._runtime import LOGGER

EMBEDDING_FORMATS = (".npy", ".npz", *TABLE_FORMATS)
SIDECAR_FORMATS = (".txt", ".csv")

EXAMPLES = """\
  # writes emb.npy (float32, one unit-norm row per image) and emb.paths.txt
  skclip-sage embed photos/ --output emb.npy

  # skip unreadable images; the sidecar lists exactly the rows written
  skclip-sage embed --manifest images.csv --output emb.npy --paths emb.paths.csv --on-error skip

  # in Python:  X = np.load("emb.npy");  paths = open("emb.paths.txt").read().splitlines()

  # one file holding both: np.load("emb.npz")["embeddings"], ["paths"]; or a table
  skclip-sage embed photos/ --output emb.npz
  skclip-sage embed photos/ --output emb.parquet
"""

DESCRIPTION = """\
Embed images with a CLIP image encoder and save the embeddings, float32, one
unit-norm row per readable image, in input order. The file type follows the --output
extension: .npy (an array of shape (n_images, n_features); a sidecar names the image
of each row: OUTPUT_STEM.paths.txt, one path per line, or a CSV with the columns row,
path when --paths ends in .csv), .npz (the arrays 'embeddings' and 'paths' in one
file), .parquet (the columns path and embedding, a fixed-size list of float32 per
row, written in bounded row groups; --parquet-layout wide: one column per feature
instead), or a table .csv, .json (records) or .jsonl with the columns path,
embedding_0 ... embedding_<n_features-1>."""


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
    group.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help=f"the file to write: {', '.join(EMBEDDING_FORMATS)}",
    )
    group.add_argument(
        "--paths",
        metavar="FILE",
        help="with .npy output, the sidecar naming each row's image: .txt (one per line) or .csv "
        "(default: OUTPUT_STEM.paths.txt)",
    )
    group.add_argument(
        "--parquet-layout",
        choices=PARQUET_LAYOUTS,
        help="with .parquet output: one 'embedding' column of fixed-size float32 lists, as pandas, Polars, "
        "DuckDB and Hugging Face datasets read vectors (list), or one float32 column per feature, embedding_0 "
        "... (wide) (default: list)",
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


def write_embeddings(path, extension, embeddings, image_paths, *, parquet_layout="list"):
    """Write the embeddings (and, except for ``.npy``, the paths) in the format of ``extension``.

    Parquet goes from Arrow arrays in bounded row groups (:mod:`._parquet`), with the
    embedding as one fixed-size-list column, or one column per feature with
    ``parquet_layout="wide"``.
    """
    embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
    if extension in (".npy", ".npz"):
        with open_output(path, binary=True) as stream:
            if extension == ".npy":
                np.save(stream, embeddings, allow_pickle=False)
            else:
                np.savez(stream, embeddings=embeddings, paths=np.asarray(image_paths, dtype=str))
        return
    if extension == ".parquet":
        require_pyarrow(f"--output {path!r}")
        with open_output(path, binary=True) as stream:
            write_embeddings_parquet(stream, embeddings, image_paths, layout=parquet_layout)
        return
    columns = {"path": list(image_paths)}
    for feature in range(embeddings.shape[1]):
        columns[f"embedding_{feature}"] = list(embeddings[:, feature])
    write_table(path, columns, option="--output")


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
    extension = output_format(args.output, "--output", EMBEDDING_FORMATS)
    if args.parquet_layout is not None and extension != ".parquet":
        raise UsageError(f"--parquet-layout applies to .parquet output only, not {extension}.")
    if args.paths is not None and extension != ".npy":
        raise UsageError(f"--paths applies to .npy output only; {extension} files hold the paths themselves.")
    sidecar = sidecar_path(args.output, args.paths) if extension == ".npy" else None
    if sidecar is not None:
        output_format(sidecar, "--paths", SIDECAR_FORMATS)
    failures_path = failures_output(args, args.output)
    images = expand_image_arguments(args.images, manifest=args.manifest, path_column=args.path_column)
    check_outputs(
        [("--output", args.output), ("--paths", sidecar), ("--failures", failures_path)],
        [*images.input_files(), *model_input_files(args.model, args.pretrained)],
    )
    # .npy with a .txt sidecar and .npz keep any file name; the other outputs are UTF-8 text.
    text_outputs = [("--output", args.output)] if extension in TABLE_FORMATS else []
    if sidecar is not None and sidecar.lower().endswith(".csv"):
        text_outputs.append(("--paths", sidecar))
    if failures_path is not None:
        text_outputs.append(("--failures", failures_path))
    check_names_are_text(images.paths, text_outputs)
    if sidecar is not None and not sidecar.lower().endswith(".csv"):
        with_newline = [name for name in images.paths if "\n" in name or "\r" in name]
        if with_newline:
            raise InputError(
                f"{with_newline[0]!r} has a line break in its name, which a .txt sidecar cannot hold; "
                "pass --paths FILE.csv."
            )

    embedded = embed_images(images, args)
    if not len(embedded.kept):
        if failures_path is not None:
            write_failures(failures_path, embedded.failures, LOGGER)
        embedded.require_some(len(images.paths), "embed")
    kept_paths = [images.paths[position] for position in embedded.kept]
    # The array, its sidecar and its failures list describe one run: replaced together or not at all.
    with outputs_together([args.output, sidecar, failures_path]):
        if failures_path is not None:
            write_failures(failures_path, embedded.failures, None)
        write_embeddings(
            args.output, extension, embedded.embeddings, kept_paths, parquet_layout=args.parquet_layout or "list"
        )
        if sidecar is not None:
            write_sidecar(sidecar, kept_paths)
    if failures_path is not None:
        note_failures(failures_path, embedded.failures, LOGGER)
    LOGGER.info(
        "wrote %d x %d embeddings to %s%s",
        *embedded.embeddings.shape,
        args.output,
        f" and their paths to {sidecar}" if sidecar else "",
    )
    return ExitCode.SOME_IMAGES_FAILED if embedded.failures else ExitCode.OK
