"""The first answer: ``zero_shot`` on new labels, and a fresh process's time to classify one image.

Two measurements on a model of the demo's size (``tiny_clip_config()``: 3 + 3 layers,
width 96, random weights saved with ``save_local_dir``; nothing downloaded):

- **new labels**: ``zero_shot(images, labels)``, then ``zero_shot(images, other_labels)``
  on the same images, against encoding the other labels' text bank alone
  (``encode_text_bank`` on the same loaded encoder, its cache emptied first). The
  ratio says what a second call costs beyond its text encoding.
- **time to first answer** (``--fresh``): a fresh Python process that imports the
  library, loads the model from its folder, embeds one image and ranks the labels
  with ``zero_shot``, against a fresh process doing the same with bare open_clip
  (``create_model_and_transforms("local-dir:...")``, its tokenizer, one image, the
  same prompts), alternated, ``--repeats`` times each.

Nothing is asserted; a markdown table is printed with the machine's load.

Example: ``python benchmarks/bench_first_answer.py --repeats 5``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

LABELS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
OTHER_LABELS = ["red digit", "green digit", "blue digit", "a cat", "a dog"]
TEMPLATES = "simple"

OURS = """
import sys, time
started = time.perf_counter()
from skclip_sage import zero_shot
answer = zero_shot(sys.argv[1], sys.argv[3].split(","), model="local-dir:" + sys.argv[2], templates="simple",
                   device="cpu")
print(time.perf_counter() - started, answer[0]["label"])
"""

BARE = """
import sys, time
started = time.perf_counter()
import open_clip, torch
from PIL import Image
SIMPLE_IMAGENET_TEMPLATES = [  # open_clip's 7-template subset, as templates="simple" (no skclip_sage import here)
    "itap of a {}.", "a bad photo of the {}.", "a origami {}.", "a photo of the large {}.",
    "a {} in a video game.", "art of the {}.", "a photo of the small {}.",
]
model, _, preprocess = open_clip.create_model_and_transforms("local-dir:" + sys.argv[2])
tokenizer = open_clip.get_tokenizer("local-dir:" + sys.argv[2])
model.eval()
labels = sys.argv[3].split(",")
with torch.inference_mode():
    image = model.encode_image(preprocess(Image.open(sys.argv[1]).convert("RGB"))[None])
    image = image / image.norm(dim=-1, keepdim=True)
    prompts = [template.format(label) for label in labels for template in SIMPLE_IMAGENET_TEMPLATES]
    text = model.encode_text(tokenizer(prompts))
    text = text / text.norm(dim=-1, keepdim=True)
    text = text.reshape(len(labels), len(SIMPLE_IMAGENET_TEMPLATES), -1).mean(dim=1)
    text = text / text.norm(dim=-1, keepdim=True)
    scores = (model.logit_scale.exp() * image @ text.T).softmax(dim=-1)[0]
print(time.perf_counter() - started, labels[int(scores.argmax())])
"""


def make_model_and_images(folder: Path, n_images: int):
    import open_clip
    import torch
    from PIL import Image

    from skclip_sage.demo import tiny_clip_config
    from skclip_sage.encoders import save_local_dir

    torch.manual_seed(0)
    config = tiny_clip_config()
    save_local_dir(folder / "model", open_clip.CLIP(**config), config)
    paths = []
    for index in range(n_images):
        pixels = np.random.default_rng(index).integers(0, 255, size=(32, 32, 3), dtype=np.uint8)
        paths.append(str(folder / f"digit_{index}.png"))
        Image.fromarray(pixels).save(paths[-1])
    return folder / "model", paths


def new_labels(model_dir: Path, paths: list[str], repeats: int) -> dict:
    from skclip_sage import zero_shot
    from skclip_sage.encoders import load_encoder
    from skclip_sage.io import clear_memory_caches
    from skclip_sage.prompts import clear_text_bank_cache, encode_text_bank, resolve_templates

    model = f"local-dir:{model_dir}"
    first, second, text_only = [], [], []
    for repeat in range(repeats):
        labels = [f"{label} {repeat}" for label in LABELS]  # new prompts every repeat
        others = [f"{label} {repeat}" for label in OTHER_LABELS]
        clear_text_bank_cache()
        clear_memory_caches()  # the first call embeds the images (the model stays loaded after repeat 0)
        started = time.perf_counter()
        zero_shot(paths, labels, model=model, templates=TEMPLATES, device="cpu")
        first.append(time.perf_counter() - started)
        started = time.perf_counter()
        zero_shot(paths, others, model=model, templates=TEMPLATES, device="cpu")
        second.append(time.perf_counter() - started)
        clear_text_bank_cache()
        encoder = load_encoder(model, device="cpu")
        started = time.perf_counter()
        encode_text_bank(encoder, resolve_templates(TEMPLATES), others)
        text_only.append(time.perf_counter() - started)
    return {"first": first, "second": second, "text_only": text_only}


def fresh(model_dir: Path, image: str, repeats: int) -> dict:
    times = {"skclip_sage.zero_shot": [], "bare open_clip": []}
    environment = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    for _ in range(repeats):
        for name, code in (("skclip_sage.zero_shot", OURS), ("bare open_clip", BARE)):
            started = time.perf_counter()
            output = subprocess.run(
                [sys.executable, "-c", code, image, str(model_dir), ",".join(LABELS)],
                capture_output=True,
                text=True,
                check=True,
                env=environment,
            ).stdout.split()
            times[name].append((time.perf_counter() - started, float(output[0])))
    return times


def spread(values) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200, help="images in the new-labels measurement")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-fresh", action="store_true", help="skip the fresh-process measurement")
    args = parser.parse_args(argv)
    import torch

    print(f"load {os.getloadavg()}, torch threads {torch.get_num_threads()}, repeats {args.repeats}")
    with tempfile.TemporaryDirectory() as folder:
        model_dir, paths = make_model_and_images(Path(folder), args.images)
        result = new_labels(model_dir, paths, args.repeats)
        print(f"\n{args.images} images, {len(LABELS)} then {len(OTHER_LABELS)} labels, templates={TEMPLATES!r}\n")
        print("| step | median s (range) |\n|---|---:|")
        print(f"| first call (embed the images, encode the labels; repeat 0 also loads) | {spread(result['first'])} |")
        print(f"| second call, new labels, same images | {spread(result['second'])} |")
        print(f"| encode_text_bank of the new labels alone | {spread(result['text_only'])} |")
        ratios = [s / t for s, t in zip(result["second"], result["text_only"])]
        print(f"| ratio second call / text encoding alone | {spread(ratios)} |")
        if not args.no_fresh:
            times = fresh(model_dir, paths[0], args.repeats)
            print("\n| fresh process, one image | wall s, median (range) | inside the script s |\n|---|---:|---:|")
            for name, values in times.items():
                print(f"| {name} | {spread([v[0] for v in values])} | {spread([v[1] for v in values])} |")
            ours = [v[0] for v in times["skclip_sage.zero_shot"]]
            bare = [v[0] for v in times["bare open_clip"]]
            print(f"| ratio (wall, paired) | {spread([o / b for o, b in zip(ours, bare)])} | |")
    print(f"load after {os.getloadavg()}")


if __name__ == "__main__":
    main()
