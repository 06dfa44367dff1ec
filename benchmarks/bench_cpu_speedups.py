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
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats, best kept (default: 3)")
    return parser.parse_args(argv)


def _best_time(function, repeats):
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return best, result


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

        text_before, bank_before = _best_time(padded, arguments.repeats)
        text_after, bank_after = _best_time(trimmed, arguments.repeats)
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
        decode_before, pixels_before = _best_time(lambda: decode(None), arguments.repeats)
        decode_after, pixels_after = _best_time(lambda: decode(encoder.image_size), arguments.repeats)
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


def _print_table(arguments, prompts, text_before, text_after, text_distance, decoding):
    print(f"{arguments.model} (random weights), CPU {platform.processor() or platform.machine()}\n")
    print("| speed-up | before | after | ratio | largest cosine distance | argmax agreement |")
    print("|---|---:|---:|---:|---:|---:|")
    print(
        f"| text bank, {len(prompts)} prompts (80 templates x {arguments.classes} classes) | "
        f"{text_before:.2f} s | {text_after:.2f} s | {text_before / text_after:.1f}x | {text_distance:.1e} | - |"
    )
    if decoding is None:
        return
    decode_before, decode_after, image_distance, agreement = decoding
    width, height = arguments.jpeg_size
    print(
        f"| decode + preprocess, {arguments.images} JPEGs {width}x{height} | "
        f"{1000 * decode_before / arguments.images:.1f} ms/image | {1000 * decode_after / arguments.images:.1f} ms/image"
        f" | {decode_before / decode_after:.1f}x | {image_distance:.1e} | {100 * agreement:.0f} % |"
    )


if __name__ == "__main__":
    main()
