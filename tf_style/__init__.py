"""tf-style: neural style transfer for TensorFlow/Keras.

Importing the package is cheap: TensorFlow and models load on first use of the
API below.

Example:
    >>> import tf_style
    >>> result = tf_style.stylize("photo.jpg", "painting.jpg", size=256)  # doctest: +SKIP
    >>> result.image.save("out.png")  # doctest: +SKIP
    >>> fast = tf_style.stylize("photo.jpg", "painting.jpg", method="arbitrary")  # one pass  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

from tf_style.errors import (  # noqa: F401  (cheap: no TensorFlow)
    ConversionError,
    DataError,
    ImageReadError,
    ImageSizeError,
    LayerNameError,
    MemoryBudgetError,
    ModelLoadError,
    NonFiniteLossError,
    OptionError,
    OutputError,
    TfStyleError,
    WeightsNotFoundError,
)

__version__ = "0.1.0"

_LAZY = {
    "stylize": "tf_style.transfer",
    "Stylizer": "tf_style.transfer",
    "StylizeResult": "tf_style.transfer",
    "StylizeConfig": "tf_style.config",
    "ArbitraryConfig": "tf_style.config",
    "ArbitraryResult": "tf_style.one_pass",
    "stylize_arbitrary": "tf_style.arbitrary",
    "predict_style": "tf_style.arbitrary",
    "style_vector": "tf_style.arbitrary",
    "load_style_predictor": "tf_style.arbitrary",
    "load_style_transformer": "tf_style.arbitrary",
    "load_backbone": "tf_style.backbones",
    "load_stylizer": "tf_style.apply",
    "train": "tf_style.train",
    "TrainConfig": "tf_style.config",
    "save_saved_model": "tf_style.export",
    "convert_tflite": "tf_style.export",
    "save_tflite": "tf_style.export",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tf_style' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
