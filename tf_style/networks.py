"""Feed-forward style transformer networks (Johnson, Alahi & Fei-Fei 2016, modernised).

The networks map an RGB photo with pixel values in [0, 255] to a stylised image of
the same size and range; they normalise their input inside. Compared with the paper
they use instance normalisation (Ulyanov et al. 2016), upsampling followed by a
convolution instead of transposed convolutions (Odena et al. 2016, no checkerboard
artefacts; nearest-neighbour by default, bilinear as an option: ``UPSAMPLES``), residual
blocks without a ReLU after the addition (Gross & Wilber 2016), reflection padding, and
``127.5 * (tanh + 1)`` at the output.

Architectures (``ARCHITECTURES``):

* ``"johnson"``: 9x9 conv 32, 3x3/2 conv 64, 3x3/2 conv 128, 5 residual blocks of 128,
  2x (upsample, 3x3 conv 64 then 32), 9x9 conv 3; 1.68 M parameters, 80.6 GFLOP at
  512x512.
* ``"mobile"``: for phones. 5x5 conv 16, 3x3/2 conv 32, 3x3/2 conv 64, 4 residual
  blocks of depthwise-separable 3x3 convs at 64, 2x (upsample, separable 3x3 conv 32
  then 16), 3x3 conv 3; 67 k parameters, 5.1 GFLOP at 512x512 (with its ``"border"``
  padding).

Every conv is followed by instance norm and ReLU except the last; convs before a norm
have no bias, and the second norm of a residual block has no offset (both would be
cancelled by the following norm and get no gradient).

Padding (``PADDINGS``): ``"reflect"`` reflection-pads before every convolution;
``"same"`` zero-pads every convolution; ``"border"`` reflection-pads the input once by
``BORDER`` pixels on each side, zero-pads inside and crops the margin off at the end,
so zero-padding artefacts fall into the cropped margin while the network runs with a
single mirror-pad op (mirror padding is slow in TFLite). Every mode also reflection-pads
the input up to a multiple of 4 and crops back, so any size from ``MIN_SIZE`` up works.

Example:
    >>> import numpy as np
    >>> from tf_style.networks import StyleTransformer, blend
    >>> net = StyleTransformer("mobile", width=0.5, seed=0)
    >>> photo = np.random.uniform(0, 255, (1, 37, 45, 3)).astype("float32")
    >>> styled = net(photo).numpy()          # shape (1, 37, 45, 3), values in [0, 255]
    >>> half = blend(photo, styled, 0.5)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from tf_style.config import (DEFAULT_UPSAMPLE, MIN_IMAGE_SIDE, NETWORK_ARCHITECTURES, NETWORK_UPSAMPLES,
                             UPSAMPLE_BEFORE_OPTION)
from tf_style.errors import OptionError

ARCHITECTURES = NETWORK_ARCHITECTURES
PADDINGS = ("reflect", "same", "border")
UPSAMPLES = NETWORK_UPSAMPLES
BORDER = 32
"""Reflected margin, in pixels on each side, that ``padding="border"`` adds and crops.

Wider than the reach of what a trained network learns about its zero-padded edge: with 8 px,
``the_scream_mobile`` painted an orange stripe about 10 px wide down Tuebingen's right edge.
Measured as the mean change of the worst 16 px edge strip when the picture is continued far
beyond the margin (0-255 scale, Tuebingen, storm and friends at 512 px; the check is in
tests/test_quality.py): 23-39 (The Scream) and 16-25 (The Starry Night) at 8 px; 9-11 and
6-8 at 32 px.
"""
MIN_SIZE = MIN_IMAGE_SIDE
"""Smallest supported image height/width (reflection needs the pad smaller than the side)."""

_PACKAGE = "tf_style"


@dataclass(frozen=True)
class _Spec:
    channels: tuple[int, int, int]  # full, half and quarter resolution
    first_kernel: int
    last_kernel: int
    residual_blocks: int
    separable: bool  # depthwise-separable convs in residual blocks and upsampling
    padding: str  # default padding mode


_SPECS = {
    "johnson": _Spec((32, 64, 128), 9, 9, 5, False, "reflect"),
    # Measured with bench/bench_networks.py (TFLite, 512 px, one core; bench/README.md):
    # "reflect" is ~4x slower than "same" (a non-delegated MIRROR_PAD per conv); "border"
    # (32 px) costs ~1.4x "same" and keeps zero padding's edge artefacts in the cropped margin.
    "mobile": _Spec((16, 32, 64), 5, 3, 4, True, "border"),
}


# --------------------------------------------------------------------------- layers


def _pair_of_pairs(padding: Any) -> tuple[tuple[int, int], tuple[int, int]]:
    if isinstance(padding, Integral):
        p = int(padding)
        return ((p, p), (p, p))
    (top, bottom), (left, right) = padding
    return ((int(top), int(bottom)), (int(left), int(right)))


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ReflectionPad2D(keras.layers.Layer):
    """Reflection ("mirror without the edge") padding of the H and W axes of NHWC images.

    ``padding`` is an int (all four sides) or ``((top, bottom), (left, right))``.

    Example:
        >>> ReflectionPad2D(1)(np.zeros((1, 4, 4, 3), "float32")).shape
        TensorShape([1, 6, 6, 3])
    """

    def __init__(self, padding: int | tuple = 1, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pair_of_pairs(padding)
        if min(min(self.padding[0]), min(self.padding[1])) < 0:
            raise OptionError(f"ReflectionPad2D padding={padding!r} must not be negative")

    def call(self, inputs):
        (top, bottom), (left, right) = self.padding
        return ops.pad(inputs, [[0, 0], [top, bottom], [left, right], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        (top, bottom), (left, right) = self.padding
        h = None if h is None else h + top + bottom
        w = None if w is None else w + left + right
        return (n, h, w, c)

    def get_config(self):
        config = super().get_config()
        config["padding"] = self.padding
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class InstanceNorm(keras.layers.Layer):
    """Instance normalisation over H and W per image and channel, learnable scale/offset.

    ``center=False`` drops the learnable offset. Statistics are computed in float32 (also
    under a mixed-precision policy). Converts to TFLite builtins only (MEAN, MUL, SUB,
    MAXIMUM, RSQRT, ADD).

    Example:
        >>> InstanceNorm()(np.random.rand(2, 8, 8, 4).astype("float32")).shape
        TensorShape([2, 8, 8, 4])
    """

    def __init__(self, epsilon: float = 1e-5, center: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.center = bool(center)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.scale = self.add_weight(name="scale", shape=(channels,), initializer="ones")
        self.offset = None
        if self.center:
            self.offset = self.add_weight(name="offset", shape=(channels,), initializer="zeros")

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        # E[x^2] - E[x]^2 (as keras.ops.moments does) and the affine folded into one
        # per-channel factor and shift: 5 full-size passes and no broadcast SUB; this
        # made the mobile net 1.7x faster in TFLite than (x - mean) / std.
        mean = ops.mean(x, axis=(1, 2), keepdims=True)
        mean_of_squares = ops.mean(x * x, axis=(1, 2), keepdims=True)
        variance = ops.maximum(mean_of_squares - mean * mean, 0.0)
        factor = ops.rsqrt(variance + self.epsilon) * ops.cast(self.scale, "float32")
        shift = -mean * factor
        if self.offset is not None:
            shift = shift + ops.cast(self.offset, "float32")
        return ops.cast(x * factor + shift, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(epsilon=self.epsilon, center=self.center)
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class Upsample2x(keras.layers.Layer):
    """2x upsampling of NHWC images: ``method`` ``"nearest"`` or ``"bilinear"`` (one
    RESIZE_NEAREST_NEIGHBOR or RESIZE_BILINEAR in TFLite).

    Unlike ``keras.layers.UpSampling2D`` (``repeat``-based: reshapes and broadcasts) it
    converts to TFLite with an unknown batch size or image size, and the mobile net ran
    ~1.4x faster in TFLite with it. The default stays ``"nearest"``: layers saved before
    the argument existed were nearest.
    """

    def __init__(self, method: str = UPSAMPLE_BEFORE_OPTION, **kwargs):
        super().__init__(**kwargs)
        self.method = _check_upsample(method)

    def call(self, inputs):
        shape = ops.shape(inputs)
        size = (shape[1] * 2, shape[2] * 2)
        if not all(isinstance(s, int) for s in size):
            size = tf.stack([tf.cast(s, "int32") for s in size])
        return tf.image.resize(inputs, size, method=self.method)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(method=self.method)
        return config

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape
        return (n, None if h is None else 2 * h, None if w is None else 2 * w, c)


def _reflection_steps(margin: int, side: int) -> list[int]:
    """Widths of successive reflection pads adding ``margin`` to a side of at least ``side``.

        >>> _reflection_steps(32, 16)
        [15, 17]
    """
    steps = []
    while margin > 0:
        step = min(margin, side - 1)
        steps.append(step)
        margin -= step
        side += 2 * step
    return steps


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PadToMultiple(keras.layers.Layer):
    """Reflection-pads H and W by ``margin`` on each side, then up to a multiple of ``multiple``.

    The extra rows/columns for the multiple go to the bottom/right; ``CropToInput`` with
    the same ``margin`` undoes it. With a static shape that needs no padding it is a no-op.
    """

    def __init__(self, multiple: int = 4, margin: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.multiple = int(multiple)
        self.margin = int(margin)

    def call(self, inputs):
        shape = ops.shape(inputs)
        h, w = shape[1], shape[2]
        m, k = self.margin, self.multiple
        static = isinstance(h, int) and isinstance(w, int)
        if static and m == 0 and h % k == 0 and w % k == 0:
            return inputs
        # A reflection pad must be narrower than the side it reflects, and a picture may be
        # as small as MIN_SIZE: a wide margin is reflected in steps that each fit the side
        # reached so far. The steps depend on the margin alone, so a known and an unknown
        # size give the same pixels (Keras, SavedModel and TFLite agree).
        x = inputs
        for step in _reflection_steps(m, MIN_SIZE):
            x = ops.pad(x, [[0, 0], [step, step], [step, step], [0, 0]], mode="reflect")
        if static:
            extra_h, extra_w = (-h) % k, (-w) % k
            if extra_h or extra_w:
                x = ops.pad(x, [[0, 0], [0, extra_h], [0, extra_w], [0, 0]], mode="reflect")
            return x
        # Unknown size: pad by the most that can be needed, then slice to the multiple.
        # Constant paddings keep the static channel count that TFLite's CONV_2D needs
        # (a MirrorPad with computed paddings loses every static dimension).
        x = ops.pad(x, [[0, 0], [0, k - 1], [0, k - 1], [0, 0]], mode="reflect")
        h = tf.cast(h, "int32")
        w = tf.cast(w, "int32")
        target_h = h + 2 * m + tf.math.floormod(-h, k)
        target_w = w + 2 * m + tf.math.floormod(-w, k)
        return x[:, :target_h, :target_w, :]

    def compute_output_shape(self, input_shape):
        n, h, w, c = input_shape

        def grow(size):
            if size is None:
                return None
            return size + 2 * self.margin + (-size) % self.multiple

        return (n, grow(h), grow(w), c)

    def get_config(self):
        config = super().get_config()
        config.update(multiple=self.multiple, margin=self.margin)
        return config


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CropToInput(keras.layers.Layer):
    """Crops ``[image, reference]`` to ``reference``'s H and W, skipping ``margin`` at top/left."""

    def __init__(self, margin: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.margin = int(margin)

    def call(self, inputs):
        image, reference = inputs
        ref_shape, img_shape = ops.shape(reference), ops.shape(image)
        h, w = ref_shape[1], ref_shape[2]
        m = self.margin
        if m == 0 and isinstance(h, int) and isinstance(w, int):
            if (img_shape[1], img_shape[2]) == (h, w):
                return image
        return image[:, m : m + h, m : m + w, :]

    def compute_output_shape(self, input_shapes):
        image_shape, reference_shape = input_shapes
        return (image_shape[0], reference_shape[1], reference_shape[2], image_shape[3])

    def get_config(self):
        config = super().get_config()
        config["margin"] = self.margin
        return config


# --------------------------------------------------------------------------- validation


def _check_architecture(architecture: Any) -> str:
    if not isinstance(architecture, str) or architecture not in ARCHITECTURES:
        raise OptionError(
            f"architecture={architecture!r} is not one of {', '.join(ARCHITECTURES)}"
        )
    return architecture


def _check_width(width: Any) -> float:
    if isinstance(width, bool) or not isinstance(width, Real):
        raise OptionError(f"width={width!r} must be a positive number")
    value = float(width)
    if not math.isfinite(value) or value <= 0:
        raise OptionError(f"width={width!r} must be a finite number > 0")
    return value


def _check_upsample(upsample: Any) -> str:
    if upsample is None:
        return DEFAULT_UPSAMPLE
    if not isinstance(upsample, str) or upsample not in UPSAMPLES:
        raise OptionError(f"upsample={upsample!r} is not one of {', '.join(UPSAMPLES)}")
    return upsample


def _check_padding(padding: Any, architecture: str) -> str:
    if padding is None:
        return _SPECS[architecture].padding
    if not isinstance(padding, str) or padding not in PADDINGS:
        raise OptionError(f"padding={padding!r} is not one of {', '.join(PADDINGS)}")
    return padding


def _check_seed(seed: Any) -> int | None:
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise OptionError(f"seed={seed!r} must be None or an integer >= 0")
    return int(seed)


def _check_strength(strength: Any) -> float:
    if isinstance(strength, np.ndarray) and strength.ndim == 0:
        strength = strength.item()
    if isinstance(strength, bool) or not isinstance(strength, Real):
        raise OptionError(f"strength={strength!r} must be a number in [0, 1]")
    value = float(strength)
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise OptionError(f"strength={strength!r} must be in [0, 1]")
    return value


# --------------------------------------------------------------------------- builder


class _Initializers:
    """Independent, reproducible per-layer initializer seeds derived from one seed."""

    def __init__(self, seed: int | None):
        self._seeds = None if seed is None else np.random.SeedSequence(seed).generate_state(512)
        self._next = 0

    def __call__(self):
        if self._seeds is None:
            return keras.initializers.GlorotUniform()
        seed = int(self._seeds[self._next]) % (2**31 - 1)
        self._next += 1
        return keras.initializers.GlorotUniform(seed=seed)


def _scaled(channels: int, width: float) -> int:
    return max(1, int(round(channels * width)))


def _build_graph(inputs, spec: _Spec, width: float, padding: str, upsample: str, seed: int | None):
    init = _Initializers(seed)
    c_full, c_half, c_quarter = (_scaled(c, width) for c in spec.channels)
    inner = "valid" if padding == "reflect" else "same"

    def conv(x, filters, kernel, name, *, stride=1, separable=False, bias=False):
        if padding == "reflect" and kernel > 1:
            x = ReflectionPad2D(kernel // 2, name=f"{name}_pad")(x)
        if separable:
            layer = keras.layers.SeparableConv2D(
                filters, kernel, strides=stride, padding=inner, use_bias=bias,
                depthwise_initializer=init(), pointwise_initializer=init(), name=name,
            )
        else:
            layer = keras.layers.Conv2D(
                filters, kernel, strides=stride, padding=inner, use_bias=bias,
                kernel_initializer=init(), name=name,
            )
        return layer(x)

    def conv_norm_relu(x, filters, kernel, name, **kwargs):
        # No conv bias before a norm: the norm removes it and its gradient would be zero.
        x = conv(x, filters, kernel, name, **kwargs)
        x = InstanceNorm(name=f"{name}_norm")(x)
        return keras.layers.ReLU(name=f"{name}_relu")(x)

    margin = BORDER if padding == "border" else 0
    # Pad first and crop last: the TFLite graph then has one MIRROR_PAD at the start and
    # one STRIDED_SLICE at the end, and fewer XNNPACK partitions in between.
    x = PadToMultiple(4, margin, name="pad_input")(inputs)
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="normalize")(x)

    x = conv_norm_relu(x, c_full, spec.first_kernel, "conv1")
    x = conv_norm_relu(x, c_half, 3, "down1", stride=2)
    x = conv_norm_relu(x, c_quarter, 3, "down2", stride=2)
    for i in range(1, spec.residual_blocks + 1):
        y = conv_norm_relu(x, c_quarter, 3, f"res{i}_conv1", separable=spec.separable)
        y = conv(y, c_quarter, 3, f"res{i}_conv2", separable=spec.separable)
        # No offset: a per-channel constant added to the residual stream is removed by
        # the next conv + norm (exactly so with reflection padding), so it would not learn.
        y = InstanceNorm(center=False, name=f"res{i}_conv2_norm")(y)
        x = keras.layers.Add(name=f"res{i}_add")([x, y])
    x = Upsample2x(upsample, name="up1_resize")(x)
    x = conv_norm_relu(x, c_half, 3, "up1", separable=spec.separable)
    x = Upsample2x(upsample, name="up2_resize")(x)
    x = conv_norm_relu(x, c_full, 3, "up2", separable=spec.separable)
    x = conv(x, 3, spec.last_kernel, "conv_out", bias=True)

    # float32 at the output also under a mixed-precision policy.
    x = keras.layers.Activation("tanh", dtype="float32", name="tanh")(x)
    x = keras.layers.Rescaling(127.5, offset=127.5, dtype="float32", name="to_pixels")(x)
    return CropToInput(margin, dtype="float32", name="crop")([x, inputs])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class StyleTransformer(keras.Model):
    """Feed-forward style transfer network: [N, H, W, 3] pixels in [0, 255] -> same shape/range.

    Args:
        architecture: one of ``ARCHITECTURES`` (``"johnson"`` or ``"mobile"``).
        width: channel multiplier (> 0); channel counts are rounded, at least 1.
        padding: one of ``PADDINGS``; None picks the architecture's default
            (``"reflect"`` for johnson, ``"border"`` for mobile).
        upsample: one of ``UPSAMPLES``, how the decoder doubles its resolution; None:
            ``config.DEFAULT_UPSAMPLE`` (``"nearest"``). A file saved without it loads as
            ``"nearest"``, what every network was before.
        seed: makes the initial weights reproducible (None: random).
        name: the Keras model name (default ``"<architecture>_transformer"``).

    Every argument is kept as an attribute and round-tripped by ``get_config`` /
    ``from_config``, so ``model.save("x.keras")`` and ``keras.saving.load_model("x.keras")``
    work in safe mode. H, W and the batch size are dynamic; H, W >= ``MIN_SIZE``.

    Raises:
        OptionError: an argument has a bad value.

    Example:
        >>> net = StyleTransformer("johnson", width=0.25, seed=1)
        >>> net(np.zeros((2, 17, 23, 3), "float32")).shape
        TensorShape([2, 17, 23, 3])
    """

    def __init__(
        self,
        architecture: str = "johnson",
        width: float = 1.0,
        *,
        padding: str | None = None,
        upsample: str | None = None,
        seed: int | None = None,
        name: str | None = None,
        **kwargs,
    ):
        architecture = _check_architecture(architecture)
        width = _check_width(width)
        padding = _check_padding(padding, architecture)
        upsample = _check_upsample(upsample)
        seed = _check_seed(seed)
        spec = _SPECS[architecture]

        inputs = keras.Input(shape=(None, None, 3), dtype="float32", name="image")
        outputs = _build_graph(inputs, spec, width, padding, upsample, seed)
        super().__init__(
            inputs=inputs, outputs=outputs, name=name or f"{architecture}_transformer", **kwargs
        )
        self.architecture = architecture
        self.width = width
        self.padding = padding
        self.upsample = upsample
        self.seed = seed

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "architecture": self.architecture,
            "width": self.width,
            "padding": self.padding,
            "upsample": self.upsample,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config: dict, custom_objects=None) -> "StyleTransformer":
        # Files saved before ``upsample`` existed were built with nearest-neighbour resizes.
        return cls(**{"upsample": UPSAMPLE_BEFORE_OPTION, **config})


def build_transformer(
    architecture: str = "johnson",
    width: float = 1.0,
    *,
    padding: str | None = None,
    upsample: str | None = None,
    name: str | None = None,
    seed: int | None = None,
) -> StyleTransformer:
    """Builds a :class:`StyleTransformer` (same arguments).

    Example:
        >>> net = build_transformer("mobile", seed=0)
        >>> net.count_params() < 100_000
        True
    """
    return StyleTransformer(architecture, width, padding=padding, upsample=upsample, name=name, seed=seed)


# --------------------------------------------------------------------------- helpers


def blend(content, stylized, strength: float):
    """Linear interpolation in pixel space: 0 gives ``content``, 1 gives ``stylized``.

    Works on numpy arrays (returns float32 numpy) or TF tensors (returns a float32 tensor).
    ``strength`` is a Python/numpy scalar in [0, 1]; the endpoints are exact.

    Raises:
        OptionError: ``strength`` is not in [0, 1], or the shapes differ.

    Example:
        >>> a, b = np.zeros((4, 4, 3), "float32"), np.full((4, 4, 3), 200, "float32")
        >>> float(blend(a, b, 0.25)[0, 0, 0])
        50.0
    """
    s = _check_strength(strength)
    if tf.is_tensor(content) or tf.is_tensor(stylized):
        c = tf.cast(content, tf.float32)
        t = tf.cast(stylized, tf.float32)
        c_shape, t_shape = tuple(c.shape), tuple(t.shape)
    else:
        c = np.asarray(content, dtype=np.float32)
        t = np.asarray(stylized, dtype=np.float32)
        c_shape, t_shape = c.shape, t.shape
    if c_shape != t_shape:
        raise OptionError(
            f"blend: content shape {c_shape} and stylized shape {t_shape} differ"
        )
    # (1 - s) * c + s * t rather than c + s * (t - c): exact at both ends.
    return (1.0 - s) * c + s * t


def count_flops(model: keras.Model, height: int, width: int) -> int:
    """FLOPs (2 x multiply-accumulates) of the convolutions for one [1, height, width, 3] image.

    Counted from the traced TF graph (Conv2D and depthwise convs, at their real padded
    sizes); norms, activations, padding and resizing (a few %) are not counted.

    Example:
        >>> count_flops(build_transformer("mobile"), 512, 512) / 1e9  # doctest: +SKIP
        4.3
    """
    for arg, value in (("height", height), ("width", width)):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
            raise OptionError(f"{arg}={value!r} must be a positive integer")

    function = tf.function(lambda x: model(x, training=False))
    graph = function.get_concrete_function(
        tf.TensorSpec([1, int(height), int(width), 3], tf.float32)
    ).graph
    macs = 0
    for op in graph.get_operations():
        if op.type not in ("Conv2D", "DepthwiseConv2dNative"):
            continue
        out_elements = int(np.prod(op.outputs[0].shape.as_list()))
        kh, kw, cin, _ = op.inputs[1].shape.as_list()
        per_output = kh * kw * (cin if op.type == "Conv2D" else 1)
        macs += out_elements * per_output
    return 2 * macs


__all__ = [
    "ARCHITECTURES",
    "PADDINGS",
    "BORDER",
    "MIN_SIZE",
    "StyleTransformer",
    "build_transformer",
    "blend",
    "count_flops",
    "ReflectionPad2D",
    "InstanceNorm",
    "Upsample2x",
    "PadToMultiple",
    "CropToInput",
]
