"""Exception types raised by tf_style.

Every error a user can cause (a bad file, a bad option, missing weights) is a
subclass of :class:`TfStyleError`, so callers can catch one type and the CLI can
turn it into one line on stderr and exit code 2.
"""

from __future__ import annotations


class TfStyleError(Exception):
    """Base class of every error tf_style raises on purpose."""


class ImageReadError(TfStyleError):
    """An input image is missing, unreadable, corrupt or not an image."""


class ImageSizeError(ImageReadError):
    """An image is too small for the network, or too large (decompression bomb)."""


class OutputError(TfStyleError):
    """An output path cannot be written (unwritable, equal to an input, exists)."""


class OptionError(TfStyleError, ValueError):
    """An option has a bad value; the message names the option and the value."""


class LayerNameError(OptionError):
    """A layer name is not one of the backbone's layers."""


class WeightsNotFoundError(TfStyleError):
    """A backbone's weights are not available here; the message says how to get them."""


class MemoryBudgetError(TfStyleError):
    """A run would need more memory than the machine has available."""


class NonFiniteLossError(TfStyleError):
    """The loss became NaN or Inf during optimization or training."""


class ModelLoadError(TfStyleError):
    """A stylizer model file cannot be loaded (missing, corrupt, unsafe)."""


class ConversionError(TfStyleError):
    """A model could not be converted to TFLite (an op with no builtin TFLite kernel)."""


class DataError(TfStyleError):
    """A training data folder is missing, empty or holds no readable image."""


__all__ = [
    "TfStyleError",
    "ImageReadError",
    "ImageSizeError",
    "OutputError",
    "OptionError",
    "LayerNameError",
    "WeightsNotFoundError",
    "MemoryBudgetError",
    "NonFiniteLossError",
    "ModelLoadError",
    "DataError",
    "ConversionError",
    "unsafe_model_hint",
]


def unsafe_model_hint(message: str, trust_code: bool) -> str:
    """What to add to a model-loading error that Keras safe mode caused: the explicit way past it."""
    if trust_code or not ("safe_mode" in message or "Lambda" in message):
        return ""
    return ("; the model holds Python code (e.g. a Lambda layer), which safe mode refuses: load it "
            "with trust_code=True (--trust-model-code) only if you trust its source")
