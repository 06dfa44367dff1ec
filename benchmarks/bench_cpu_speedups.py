"""Two exact CPU speed-ups, each against the way it was done before, in one process.

1. **Text banks without the padding.** open_clip's tokenizer pads every prompt to 77
   tokens; the encoder now cuts the padding after the batch's longest prompt
   (:func:`skclip_sage.encoders._open_clip.trimmed_text_features`). Timed: encoding
   the 80 OpenAI ImageNet templates x ``--classes`` class names with the padded
   forward (``model.encode_text``) and with the trimmed one; reported: the ratio
   and the largest cosine distance between the two banks.
2. **Reduced-scale JPEG decoding.** ``ClipImageEmbedder(jpeg_draft=True)`` lets
   libjpeg decode at 1/2, 1/4 or 1/8 scale while both sides stay at least the
   model's input size. Timed: decoding and preprocessing ``--images`` JPEGs of
   ``--jpeg-size`` with and without the draft; reported: the ratio, the largest
   cosine distance between the embeddings and the agreement of zero-shot argmax
   predictions over ``--classes`` random class prompts.

Random weights (``--model``, default ViT-B-32), CPU, no download. Nothing is
asserted; a markdown table is printed.

Example: ``python benchmarks/bench_cpu_speedups.py --classes 2 --images 100``.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", default="ViT-B-32", help="open_clip architecture, random weights (default: ViT-B-32)"
    )
    parser.add_argument("--classes", type=int, default=2, help="class names in the text bank (default: 2)")
    parser.add_argument("--images", type=int, default=100, help="JPEG files to decode (default: 100)")
    parser.add_argument(
        "--jpeg-size", type=int, nargs=2, default=(1024, 768), help="JPEG width height (default: 1024 768)"
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="paired repeats, before and after alternated (default: 5)"
    )
    return parser.parse_args(argv)


def _paired_times(before, after, repeats):
    """Time ``before`` and ``after`` alternately, ``repeats`` pairs: a shared machine's load then
    weighs on both sides of each ratio alike, and the range of the ratios says how much it moved."""
    times = {"before": [], "after": []}
    results = {}
    for _ in range(repeats):
        for side, function in (("before", before), ("after", after)):
            started = time.perf_counter()
            results[side] = function()
            times[side].append(time.perf_counter() - started)
    return np.asarray(times["before"]), np.asarray(times["after"]), results["before"], results["after"]


def _unit(rows):
    rows = np.asarray(rows, dtype=np.float64)
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def main(argv=None) -> None:
    arguments = parse_arguments(argv)
    import open_clip
    import torch
    from PIL import Image

    from skclip_sage.encoders import load_encoder, save_local_dir
    from skclip_sage.encoders._open_clip import trimmable_text_tower, trimmed_text_features
    from skclip_sage.io import open_image
    from skclip_sage.prompts import expand_prompts, resolve_templates

    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        torch.manual_seed(0)
        config = open_clip.get_model_config(arguments.model)
        model_string = save_local_dir(folder / "model", open_clip.CLIP(**config), config)
        encoder = load_encoder(model_string, device="cpu")
        network, tokenizer = encoder.model, encoder.tokenizer
        names = [f"class number {index}" for index in range(arguments.classes)]
        prompts = expand_prompts(resolve_templates("openai_imagenet"), names)
        tokens = tokenizer(prompts)

        def padded():
            with torch.inference_mode():
                return torch.cat(
                    [network.encode_text(tokens[start : start + 256]) for start in range(0, len(tokens), 256)]
                )

        def trimmed():
            tower = trimmable_text_tower(network)
            with torch.inference_mode():
                return torch.cat(
                    [trimmed_text_features(tower, tokens[start : start + 256]) for start in range(0, len(tokens), 256)]
                )

        text_before, text_after, bank_before, bank_after = _paired_times(padded, trimmed, arguments.repeats)
        text_distance = float(np.max(1 - np.sum(_unit(bank_before) * _unit(bank_after), axis=1)))

        if not arguments.images:
            _print_table(arguments, prompts, text_before, text_after, text_distance, None)
            return
        rng = np.random.default_rng(0)
        paths = []
        for index in range(arguments.images):
            small = rng.integers(0, 256, size=(24, 32, 3), dtype=np.uint8)
            path = folder / f"photo_{index:03d}.jpg"
            Image.fromarray(small).resize(tuple(arguments.jpeg_size), Image.BICUBIC).save(path, quality=90)
            paths.append(path)

        def decode(draft_size):
            return torch.stack([encoder.preprocess(open_image(path, draft_size=draft_size)) for path in paths])

        torch.set_num_threads(1)  # preprocessing runs on one thread in the embedder, as here
        decode_before, decode_after, pixels_before, pixels_after = _paired_times(
            lambda: decode(None), lambda: decode(encoder.image_size), arguments.repeats
        )
        torch.set_num_threads(torch.get_num_threads())
        with torch.inference_mode():
            full = _unit(encoder.encode_images(pixels_before).numpy())
            drafted = _unit(encoder.encode_images(pixels_after).numpy())
        image_distance = float(np.max(1 - np.sum(full * drafted, axis=1)))
        class_bank = _unit(encoder.encode_text([f"a photo of a {name}." for name in names]))
        agreement = float(np.mean(np.argmax(full @ class_bank.T, axis=1) == np.argmax(drafted @ class_bank.T, axis=1)))

    _print_table(
        arguments,
        prompts,
        text_before,
        text_after,
        text_distance,
        (decode_before, decode_after, image_distance, agreement),
    )


def _ratio_range(before, after):
    ratios = before / after
    return f"{ratios.min():.2f}-{ratios.max():.2f}x (median {np.median(ratios):.2f}x)"


def _print_table(arguments, prompts, text_before, text_after, text_distance, decoding):
    import os

    import torch

    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(
        f"{arguments.model} (random weights), CPU {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, load average {load}, torch threads {torch.get_num_threads()} "
        f"(decoding: 1), {arguments.repeats} paired repeats; times are medians, ratios the range over the pairs\n"
    )
    print("| speed-up | before | after | ratio | largest cosine distance | argmax agreement |")
    print("|---|---:|---:|---:|---:|---:|")
    print(
        f"| text bank, {len(prompts)} prompts (80 templates x {arguments.classes} classes) | "
        f"{np.median(text_before):.2f} s | {np.median(text_after):.2f} s | {_ratio_range(text_before, text_after)} | "
        f"{text_distance:.1e} | - |"
    )
    if decoding is None:
        return
    decode_before, decode_after, image_distance, agreement = decoding
    width, height = arguments.jpeg_size
    per_image = 1000 / arguments.images
    print(
        f"| decode + preprocess, {arguments.images} JPEGs {width}x{height} | "
        f"{per_image * np.median(decode_before):.1f} ms/image | {per_image * np.median(decode_after):.1f} ms/image"
        f" | {_ratio_range(decode_before, decode_after)} | {image_distance:.1e} | {100 * agreement:.0f} % |"
    )


if __name__ == "__main__":
    main()
