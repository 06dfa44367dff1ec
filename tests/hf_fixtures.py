"""Tiny random Hugging Face CLIP, SigLIP, ALIGN and AltCLIP models saved with ``save_pretrained``.

Each builder writes a folder that ``transformers:/path`` loads with no network: a
small config, random weights (safetensors), an image processor and a tokenizer
built in memory (SigLIP's sentencepiece model is trained here on a few hundred
prompts). Building all four takes well under a second each.

Pitfalls each builder handles (a wrong one gives a model that loads but embeds
every text alike, or does not load):

- CLIP pools the hidden state at ``eos_token_id``: it must be the tiny tokenizer's
  end token, and ``CLIPTokenizer`` merges must be tuples.
- ALIGN has no image projection: ``projection_dim`` equals the last EfficientNet
  block's width, and ``in_channels[0]`` the stem width.
- AltCLIP needs ``max_position_embeddings >= model_max_length + 2`` (RoBERTa offsets).
- SigLIP's ``text_config.projection_size`` equals the vision hidden size.
- Without torchvision, image processors fall back to their Pil variants with a
  warning, so those are imported directly.
"""

from __future__ import annotations

import io
import math
import os
import string
from pathlib import Path

FAMILIES = ("clip", "siglip", "align", "altclip")
"""The model families with a tiny builder here."""

WORDS = (
    "a an the of photo picture drawing sketch bad good cat dog bird fish tree car plane "
    "landbird waterbird blond hair person small large itap art cartoon painting rendition"
).split()
TEXT_LENGTH = 40
SIGLIP_TEXT_LENGTH = 64  # as the released models: transformers' pipeline pads SigLIP prompts to 64
IMAGE_SIZE = 32


def _tower(**settings) -> dict:
    """A two-layer, 32-wide transformer tower config, plus ``settings``."""
    return {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, **settings}


def _vision_tower() -> dict:
    """The ViT of the tiny CLIP, SigLIP and AltCLIP: 32 px images in 8 px patches."""
    return _tower(image_size=IMAGE_SIZE, patch_size=8)


def _clip_processor():
    """CLIP's preprocessing (shortest edge, centre crop, CLIP mean and std) at the tiny size."""
    from transformers import CLIPImageProcessorPil

    return CLIPImageProcessorPil(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )


def _characters() -> list[str]:
    return list(string.ascii_lowercase + string.ascii_uppercase + string.digits + string.punctuation)


def _byte_symbols() -> list[str]:
    """The 256 printable stand-ins byte-level BPE uses for the bytes (GPT-2's table)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("\u00a1"), ord("\u00ac") + 1)]
    printable += range(ord("\u00ae"), ord("\u00ff") + 1)
    symbols, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            symbols[byte] = chr(byte)
        else:
            symbols[byte] = chr(256 + extra)
            extra += 1
    return [symbols[byte] for byte in range(256)]


def _clip_tokenizer():
    from transformers import CLIPTokenizer

    # Byte-level BPE: every byte symbol (alone and word-final) is in the vocabulary,
    # so any text tokenizes; a few merges make common words single tokens.
    symbols = _byte_symbols()
    tokens = symbols + [symbol + "</w>" for symbol in symbols]
    merges = []
    for word in WORDS[:12]:
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            merges.append((pieces[0], pieces[1]))
            pieces = [pieces[0] + pieces[1]] + pieces[2:]
            if pieces[0] not in tokens:
                tokens.append(pieces[0])
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=TEXT_LENGTH)


def save_tiny_clip(folder: Path, seed: int = 0) -> Path:
    """A tiny ``CLIPModel`` with its tokenizer and ``CLIPImageProcessor``."""
    import torch
    from transformers import CLIPConfig, CLIPModel

    tokenizer = _clip_tokenizer()
    text = _tower(
        vocab_size=len(tokenizer),
        max_position_embeddings=TEXT_LENGTH,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    vision = _vision_tower()
    torch.manual_seed(seed)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=24))
    processor = _clip_processor()
    return _save(folder, model, tokenizer, processor)


def save_random_vit_b32_clip(folder: Path, seed: int = 0) -> Path:
    """A randomly initialised ``CLIPModel`` of ViT-B/32's size (224 px, 12 layers), for benchmarks.

    transformers' default ``CLIPConfig`` is ``openai/clip-vit-base-patch32``'s
    architecture; only the vocabulary is the tiny tokenizer's.
    """
    import torch
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel

    tokenizer = _clip_tokenizer()
    ids = {name: getattr(tokenizer, name) for name in ("bos_token_id", "eos_token_id", "pad_token_id")}
    torch.manual_seed(seed)
    model = CLIPModel(CLIPConfig(text_config={"vocab_size": len(tokenizer), **ids}))
    return _save(folder, model, tokenizer, CLIPImageProcessorPil())


def _siglip_tokenizer(folder: Path):
    import sentencepiece
    from transformers import SiglipTokenizer

    sentences = [f"{prefix} {word}." for prefix in ("a photo of a", "a drawing of the", "itap of a") for word in WORDS]
    sentences += WORDS + _characters()
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences * 4),
        model_writer=model,
        vocab_size=120,
        model_type="unigram",
        character_coverage=1.0,
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        pad_piece="<pad>",
        eos_piece="</s>",
        unk_piece="<unk>",
        minloglevel=3,
    )
    path = folder / "spiece.model"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.getvalue())
    return SiglipTokenizer(vocab_file=str(path), model_max_length=SIGLIP_TEXT_LENGTH, pad_token="<pad>")


def save_tiny_siglip(folder: Path, seed: int = 0) -> Path:
    """A tiny ``SiglipModel`` with a trained sentencepiece tokenizer and ``SiglipImageProcessor``."""
    import torch
    from transformers import SiglipConfig, SiglipImageProcessorPil, SiglipModel

    tokenizer = _siglip_tokenizer(folder)
    text = _tower(
        vocab_size=len(tokenizer),
        max_position_embeddings=SIGLIP_TEXT_LENGTH,
        projection_size=32,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    vision = _vision_tower()
    torch.manual_seed(seed)
    model = SiglipModel(SiglipConfig(text_config=text, vision_config=vision))
    with torch.no_grad():
        # SigLIP's trained values are near these (the random init is 1.0 and 0.0).
        model.logit_scale.fill_(math.log(10.0))
        model.logit_bias.fill_(-2.5)
    processor = SiglipImageProcessorPil(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    return _save(folder, model, tokenizer, processor)


def _bert_tokenizer():
    from transformers import BertTokenizer

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    pieces = specials + _characters() + ["##" + character for character in _characters()] + WORDS
    vocab = {token: index for index, token in enumerate(dict.fromkeys(pieces))}
    return BertTokenizer(vocab=vocab, model_max_length=TEXT_LENGTH)


def save_tiny_align(folder: Path, seed: int = 0) -> Path:
    """A tiny ``AlignModel`` (EfficientNet + BERT) with its tokenizer and ``EfficientNetImageProcessor``."""
    import torch
    from transformers import AlignConfig, AlignModel, EfficientNetImageProcessorPil

    tokenizer = _bert_tokenizer()
    text = _tower(
        vocab_size=len(tokenizer),
        max_position_embeddings=TEXT_LENGTH,
        pad_token_id=tokenizer.pad_token_id,
        # BERT pools the first token: with the default 0.02 init it barely sees the others.
        initializer_range=0.5,
    )
    vision = {
        "image_size": IMAGE_SIZE,
        "width_coefficient": 1.0,
        "depth_coefficient": 1.0,
        "kernel_sizes": [3, 3],
        "in_channels": [32, 16],  # the first is the stem's width (32 x width_coefficient)
        "out_channels": [16, 16],
        "strides": [1, 2],
        "num_block_repeats": [1, 1],
        "expand_ratios": [1, 2],
        "depthwise_padding": [],
        "hidden_dim": 32,
    }
    torch.manual_seed(seed)
    # No image projection in ALIGN: the text projection maps onto the last block's width.
    config = AlignConfig(text_config=text, vision_config=vision, projection_dim=16, temperature_init_value=0.05)
    model = AlignModel(config)
    processor = EfficientNetImageProcessorPil(
        size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE},
        do_center_crop=False,
    )
    return _save(folder, model, tokenizer, processor)


def _xlm_roberta_tokenizer():
    from transformers import XLMRobertaTokenizer

    specials = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces = [("\u2581" + word, -2.0) for word in WORDS] + [("\u2581", -3.0)]
    pieces += [(character, -5.0) for character in _characters()]
    pieces += [("\u2581" + character, -6.0) for character in _characters()]
    pieces += [("<mask>", 0.0)]
    return XLMRobertaTokenizer(vocab=specials + pieces, model_max_length=TEXT_LENGTH)


def save_tiny_altclip(folder: Path, seed: int = 0) -> Path:
    """A tiny ``AltCLIPModel`` (XLM-R text tower) with its tokenizer and ``CLIPImageProcessor``."""
    import torch
    from transformers import AltCLIPConfig, AltCLIPModel

    tokenizer = _xlm_roberta_tokenizer()
    text = _tower(
        vocab_size=len(tokenizer),
        # RoBERTa positions start after the padding index: two more than the tokens.
        max_position_embeddings=TEXT_LENGTH + 2,
        project_dim=24,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        # XLM-R pools the first token: with the default 0.02 init it barely sees the others.
        initializer_range=0.5,
        initializer_factor=0.5,
    )
    vision = _vision_tower()
    torch.manual_seed(seed)
    model = AltCLIPModel(AltCLIPConfig(text_config=text, vision_config=vision, projection_dim=24))
    processor = _clip_processor()
    return _save(folder, model, tokenizer, processor)


BUILDERS = {"clip": save_tiny_clip, "siglip": save_tiny_siglip, "align": save_tiny_align, "altclip": save_tiny_altclip}


def _save(folder: Path, model, tokenizer, processor) -> Path:
    folder = Path(folder)
    model.eval()
    model.save_pretrained(folder)  # safetensors by default
    tokenizer.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def save_tiny(family: str, folder: Path, seed: int = 0) -> Path:
    """Write the tiny model of ``family`` (one of :data:`FAMILIES`) to ``folder``."""
    return BUILDERS[family](Path(folder), seed)


def build_tiny_hf_models(tmp_path_factory) -> dict:
    """``{family: "transformers:<folder>"}`` for the four tiny models, with the Hub offline.

    Test modules wrap it in a session fixture (``tiny_hf_models``). HF_HUB_OFFLINE
    stays set for the session, so nothing after this can reach the network.
    """
    import huggingface_hub.constants

    os.environ["HF_HUB_OFFLINE"] = "1"
    huggingface_hub.constants.HF_HUB_OFFLINE = True
    root = tmp_path_factory.mktemp("tiny_transformers")
    return {family: f"transformers:{save_tiny(family, root / family)}" for family in FAMILIES}
