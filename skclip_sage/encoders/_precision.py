"""The autocast precisions a model's forward passes can run in (plain Python: no torch)."""

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
"""Autocast precisions of a model's forward passes."""
