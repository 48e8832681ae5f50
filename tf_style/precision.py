"""The compute precision of Keras layers as they are built.

One context manager for every model that can run in bfloat16 (Magenta's arbitrary-style
pair, the per-style networks while they train): layers built inside it take Keras'
``mixed_bfloat16`` policy (float32 weights, bfloat16 compute) or ``float32``.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import keras

__all__ = ["dtype_policy"]


@contextlib.contextmanager
def dtype_policy(dtype: str) -> Iterator[None]:
    """Layers built inside compute in ``dtype`` (``"bfloat16"``: Keras' mixed policy; else float32).

    Example:
        >>> with dtype_policy("bfloat16"):
        ...     layer = keras.layers.Dense(2)
        >>> layer.compute_dtype, layer.variable_dtype
        ('bfloat16', 'float32')
    """
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if dtype == "bfloat16" else "float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
