"""The demo in a configuration that trains in seconds, shared by every test module that needs it.

``demo_run(tmp_path_factory, design=...)`` runs :func:`skclip_sage.demo.run_demo` once
per test session and design (a 1 + 1-layer model on 300 coloured digits; the test
split is 30 digits in all ten colours) and returns its result; later calls, from any
module, return the same object.

The fast configuration uses ten colours, one per digit, where the demo's default has
two: then the colour alone names the class in training, and a model trained for
seconds clears the majority-group bar through that shortcut, the very spurious effect
the tests look for. With two colours the shapes must be learned, which takes the full
recipe (minutes). Both caption designs run in this configuration; the design's own
properties (source B colour-balanced, source A colour-determined) are checked on the
two-colour benchmark without training. Usage from a test module in ``tests/``::

    from demo_fixtures import demo_run

    @pytest.fixture(scope="session")
    def demo(tmp_path_factory):
        return demo_run(tmp_path_factory)
"""

from __future__ import annotations

__all__ = ["DIGIT_CLASSES", "FAST_DEMO", "demo_run"]

# Learns the colour shortcut (majority groups near 100 %) in about 100 steps; one
# thread, because two spend most of their time waiting on each other at this size.
FAST_DEMO = {
    "n_train": 300,
    "n_test": 30,
    "n_colours": 10,
    "num_threads": 1,
    "epochs": 20,
    "batch_size": 64,
    "max_lr": 2e-3,
    "k_values": (1, 3),
}
DIGIT_CLASSES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")

_RESULTS = {}


def demo_run(tmp_path_factory, design="sources"):
    """The fast demo's result (a :class:`sklearn.utils.Bunch`) for ``design``, computed once per session."""
    if design not in _RESULTS:
        from skclip_sage.demo import run_demo, tiny_clip_config

        _RESULTS[design] = run_demo(
            tmp_path_factory.mktemp(f"demo-{design}"),
            design=design,
            model_cfg=tiny_clip_config(layers=1, width=64, embed_dim=32),
            verbose=False,
            **FAST_DEMO,
        )
    return _RESULTS[design]
