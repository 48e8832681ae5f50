"""Validated, frozen configuration: the optimizer (:class:`StylizeConfig`), the
arbitrary-style networks' one-pass path (:class:`ArbitraryConfig`) and network training
(:class:`TrainConfig`), with every default, option constant and validator they share.

No TensorFlow here: the CLI and the API validate options before anything heavy is
loaded, so a bad value fails in milliseconds with a message naming the option, and the
CLI's help text reads its defaults from these classes.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from typing import Optional, Sequence, Set, Tuple, TypeVar, Union

from tf_style.errors import OptionError

OPTIMIZERS = ("lbfgs", "adam")
INIT_KINDS = ("content", "style", "noise")
POOLINGS = ("avg", "max")
#: How the loss network's convolutions see past the picture's edge (``tf_style.backbones``):
#: ``zeros`` as VGG was trained, or ``reflect`` (the picture mirrored). Zeros make the
#: optimizer paint a frame: the edge pixels are the only ones next to black, so their
#: features differ from the painting's and the style term pulls them (The Scream's red
#: right edge, +67 grey levels on the storm; 16 with reflect, models/README.md).
PADDINGS = ("zeros", "reflect")
#: Loss networks (``tf_style.backbones``); ``auto`` picks the best one whose weights are here.
BACKBONES = ("auto", "vgg19", "vgg16", "vgg16-hed")
#: VGG layers of the content and style terms (Gatys et al.), for the optimizer and training.
DEFAULT_CONTENT_LAYERS: Tuple[str, ...] = ("block4_conv2",)
DEFAULT_STYLE_LAYERS: Tuple[str, ...] = (
    "block1_conv1",
    "block2_conv1",
    "block3_conv1",
    "block4_conv1",
    "block5_conv1",
)
#: Side (px) of a converted per-style TFLite model's square input when none is given.
DEFAULT_TFLITE_SIDE = 384
#: Largest picture a SavedModel's image-bytes signature decodes (checked from its header):
#: 4096 x 4096, far above what a stylizer serves, far below what would exhaust a server.
DEFAULT_MAX_DECODE_PIXELS = 16_777_216
#: TFLite precisions of ``tf_style.export.convert_tflite`` (and ``tf-style export --quantize``).
QUANTIZATIONS = ("none", "float16", "dynamic", "int8")
#: Ratios of ``gallery.sweep`` and ``tf-style sweep``: alpha/beta =
#: content_weight/style_weight (content_weight = 1). With our per-layer
#: normalized losses the default stylize weights (1, 3) are ratio 1/3; measured on
#: Tuebingen x Starry Night at 256 px (docs/GALLERY.md), 10 keeps the photo almost
#: intact and 0.01 repaints it, so this row spans "photo-like" to "painting-like".
SWEEP_RATIOS: Tuple[float, ...] = (1.0, 0.1, 0.03, 0.01)
#: Per-style feed-forward networks (``tf_style.networks``).
NETWORK_ARCHITECTURES = ("johnson", "mobile")
#: ``TrainConfig.architecture`` that fine-tunes Magenta's arbitrary-style pair
#: (``tf_style.arbitrary``) instead of training a per-style network.
ARBITRARY = "arbitrary"
TRAIN_ARCHITECTURES = NETWORK_ARCHITECTURES + (ARBITRARY,)
#: How a per-style network doubles its resolution before each decoder conv.
NETWORK_UPSAMPLES = ("bilinear", "nearest")
#: Nearest, as every shipped network. Measured 2026-12-03 (Zen 4, bench/lattice.py on
#: Tuebingen's sky at 512 px): running starry_night_johnson's weights bilinearly drops its
#: 4-px lattice from 13.1% to 1.9% of the patch's texture energy (softer strokes), but 600
#: steps of fine-tuning with bilinear upsampling (--init, same recipe) brought it back to
#: 17.4% (starry_night_mobile: 2.6% -> 8.7% after 900 steps): the lattice is learnt from the
#: loss, not made by the resize, so bilinear is an option, not the default.
DEFAULT_UPSAMPLE = "nearest"
#: What networks, layers and runs saved before the ``upsample`` option were built with.
UPSAMPLE_BEFORE_OPTION = "nearest"
#: Weight of the distillation term (``TrainConfig.teacher_weight``): its mean squared pixel
#: difference (0..1 scale) is ~0.05 between an untrained network and the teacher, so 10 makes
#: it as large as the normalized perceptual terms at the start.
TEACHER_WEIGHT = 10.0
#: Style losses (``tf_style.losses``): ``gram`` (Gatys et al.), ``meancov`` (Wasserstein-2
#: between the Gaussians fitted to the features: mean and covariance), ``sliced`` (sliced
#: Wasserstein: the whole distribution along random directions, Heitz et al. 2021).
STYLE_LOSSES = ("gram", "meancov", "sliced")


#: The optimizer's style loss: ``meancov``, chosen by the pictures (docs/GALLERY.md, "Style
#: losses"): at one time budget its pictures carry the painting's palette and strokes without
#: the Gram's fine grid, and a second network put them closer to the painting in 17 of 24
#: cells (256 and 512 px) at an equal or closer content distance. Training keeps ``gram``
#: (``TrainConfig``): it is the only loss the arbitrary networks train with, and the fast
#: networks' recipes were measured with it.
DEFAULT_STYLE_LOSS = "meancov"


def check_choice(name: str, value: object, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``, else :class:`OptionError` naming ``name``, listing
    the choices and, for a near miss, saying "did you mean".

    >>> check_choice("optimizer", "adam", ("lbfgs", "adam"))
    'adam'
    """
    if not isinstance(value, str) or value not in choices:
        import difflib

        near = difflib.get_close_matches(str(value), choices, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise OptionError(f"{name}: expected one of {', '.join(choices)}, got {value!r}{hint}")
    return value


def check_style_loss(value: object, name: str = "style_loss") -> str:
    """``value`` if it names a style loss, else an :class:`OptionError` naming ``name``.

    >>> check_style_loss("sliced")
    'sliced'
    """
    return check_choice(name, value, STYLE_LOSSES)
#: Smallest output side we accept: VGG's five pooling stages need >= 32 px to keep
#: a non-empty block5 feature map, and a picture smaller than that is not useful.
MIN_SIZE = 32
#: Smallest side (px) of a photo or painting read by any method, and of the fast networks'
#: input (per-style and arbitrary): their reflection padding needs the pad below the side.
MIN_IMAGE_SIDE = 16
#: Largest output long side accepted before the memory check even runs.
MAX_SIZE = 8192
#: Largest long side (px) a trained network's photo may be resized to (``apply``'s ``size``):
#: one forward pass, no pyramid, so twice the optimizer's limit.
MAX_APPLY_SIZE = 16384
MIN_TILE = 64
#: Output long side of ``tf-style stylize`` (both methods) when none is given.
DEFAULT_SIZE = 512
#: ``method`` of ``tf_style.stylize`` / ``tf-style stylize --method``: the optimizer
#: (Gatys et al., the default) or one forward pass of Magenta's arbitrary-style networks.
METHODS = ("gatys", "arbitrary")
DEFAULT_METHOD = "gatys"
#: The painting's shorter side (px) fed to the arbitrary method's style predictor at
#: ``style_scale`` 1: Magenta's default, the size its int8 graph was calibrated at. Also
#: training's ``PREDICTOR_SIZE`` (the painting crops' side) and the exported predictor's input.
ARBITRARY_STYLE_SIZE = 256
#: Smallest photo/painting side (px) of the arbitrary method (the transformer's reflection
#: padding needs the pad below the side).
ARBITRARY_MIN_SIDE = MIN_IMAGE_SIDE
#: Smallest painting side (px) the style predictor takes (its MobileNetV2 halves the
#: picture five times).
ARBITRARY_MIN_STYLE_SIZE = 32
#: ``style_scale`` range of the arbitrary method: the painting's shorter side is
#: ``ARBITRARY_STYLE_SIZE * style_scale``, from 32 to 2048 px.
ARBITRARY_STYLE_SCALE = (0.125, 8.0)


def _is_bool(value: object) -> bool:
    # numpy's bool is no ``bool`` subclass; named here so this module needs no numpy.
    return isinstance(value, bool) or (type(value).__module__ == "numpy" and type(value).__name__ in ("bool_", "bool"))


def check_int(name: str, value: object, *, minimum: int = 1, maximum: Optional[int] = None) -> int:
    """``value`` as an ``int`` (numpy integers too) within the bounds, else :class:`OptionError`
    naming ``name`` and the value.

    >>> check_int("batch", 4, maximum=1024)
    4
    """
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        raise OptionError(f"{name}: expected an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise OptionError(f"{name}: expected an integer {bound}, got {value!r}")
    return int(value)


def check_number(name: str, value: object, *, allow_zero: bool = True) -> float:
    """``value`` as a finite ``float`` >= 0 (> 0 without ``allow_zero``), else
    :class:`OptionError` naming ``name`` and the value.

    >>> check_number("style_weight", "30")
    30.0
    """
    if _is_bool(value):
        raise OptionError(f"{name}: expected a number, got {value!r}")
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise OptionError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        need = ">= 0" if allow_zero else "> 0"
        raise OptionError(f"{name}: expected a finite number {need}, got {value!r}")
    return v


def check_apply_size(value: object, name: str = "size") -> Optional[int]:
    """``apply``'s ``size``: None (keep the photo's size) or the long side to resize a photo to
    before a trained network runs, from :data:`MIN_IMAGE_SIDE` to :data:`MAX_APPLY_SIZE` px.

    >>> check_apply_size(512), check_apply_size(None)
    (512, None)
    """
    return None if value is None else check_int(name, value, minimum=MIN_IMAGE_SIDE, maximum=MAX_APPLY_SIZE)


def check_backbone(value: object, name: str = "backbone") -> str:
    """``value`` if it is one of :data:`BACKBONES`, else :class:`OptionError` with a "did you mean".

    >>> check_backbone("vgg19")
    'vgg19'
    """
    return check_choice(name, value, BACKBONES)


def check_pooling(value: object, name: str = "pooling") -> str:
    """``value`` if it is one of :data:`POOLINGS`, else :class:`OptionError`.

    >>> check_pooling("max")
    'max'
    """
    if value not in POOLINGS:
        raise OptionError(f"{name}: expected 'avg' or 'max', got {value!r}")
    return value  # type: ignore[return-value]


def check_padding(value: object, name: str = "padding") -> str:
    """``value`` if it is one of :data:`PADDINGS`, else :class:`OptionError` with a "did you mean".

    >>> check_padding("reflect")
    'reflect'
    """
    return check_choice(name, value, PADDINGS)


def check_layer_names(name: str, value: object, *, split: bool = False) -> Tuple[str, ...]:
    """A non-empty tuple of layer names, else :class:`OptionError`; with ``split`` a
    ``"a,b"`` string is split at the commas (without, a string is an error).

    >>> check_layer_names("content_layers", "block4_conv2, block5_conv2", split=True)
    ('block4_conv2', 'block5_conv2')
    """
    if isinstance(value, str) and split:
        value = tuple(v.strip() for v in value.split(","))
    if isinstance(value, str) or not value or not all(isinstance(v, str) and v for v in value):  # type: ignore[union-attr]
        raise OptionError(f"{name}: expected a non-empty list of layer names, got {value!r}")
    return tuple(value)  # type: ignore[arg-type]


_C = TypeVar("_C", bound="_Options")


class _Options:
    """``with_options`` of the frozen config dataclasses: a copy with some fields changed,
    validated again; a field of another config gets a message saying where it belongs."""

    def _misplaced(self, unknown: Set[str]) -> Optional[str]:
        """The message for options that belong to another method (None: plain "unknown")."""
        return None

    def with_options(self: _C, **changes: object) -> _C:
        """A copy with some options changed (validated again)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        if unknown:
            raise OptionError(self._misplaced(unknown) or f"unknown option(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)  # type: ignore[type-var]

    def _set(self, name: str, value: object) -> None:
        """Store a validated (normalized) value in the frozen instance."""
        object.__setattr__(self, name, value)


class _Blended:
    """``blend_weights`` of the configs that blend several style images (``style_blend``)."""

    style_blend: Optional[Tuple[float, ...]]

    def blend_weights(self, num_styles: int) -> Tuple[float, ...]:
        """Normalized blend weights for ``num_styles`` style images."""
        return normalize_blend(self.style_blend, num_styles)


def parse_float_list(name: str, text: Union[str, Sequence[float]]) -> Tuple[float, ...]:
    """Parse ``"0.7,0.3"`` (or a sequence) into floats, naming ``name`` on error.

    >>> parse_float_list("--style-blend", "0.7,0.3")
    (0.7, 0.3)
    """
    items = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for item in items:
        if isinstance(item, str) and not item.strip():
            raise OptionError(f"{name}: expected comma-separated numbers, got {text!r}")
        out.append(check_number(name, item.strip() if isinstance(item, str) else item))
    if not out:
        raise OptionError(f"{name}: expected comma-separated numbers, got {text!r}")
    return tuple(out)


def check_method(method: object) -> str:
    """``method`` if it is one of :data:`METHODS`, else :class:`OptionError` naming it.

    >>> check_method("arbitrary")
    'arbitrary'
    """
    return check_choice("method", method, METHODS)


def normalize_blend(weights: Optional[Sequence[float]], count: int, *, name: str = "style_blend") -> Tuple[float, ...]:
    """Blend weights for ``count`` style images, summing to 1 (None: equal weights).

    >>> normalize_blend((3, 1), 2)
    (0.75, 0.25)
    """
    if weights is None:
        return tuple([1.0 / count] * count)
    w = parse_float_list(name, weights)
    if len(w) != count:
        raise OptionError(
            f"{name}: expected {count} weights (one per style image), got {len(w)}: {','.join(map(str, w))}"
        )
    total = sum(w)
    if total <= 0:
        raise OptionError(f"{name}: the weights must not all be 0, got {','.join(map(str, w))}")
    return tuple(v / total for v in w)


def _listed(values: Sequence[float]) -> str:
    """``1,0.5``: numbers as a user types them (messages)."""
    return ",".join(f"{v:g}" for v in values)


def check_style_blend(value: object, name: str = "style_blend") -> Optional[Tuple[float, ...]]:
    """Blend weights of several style images (None: equal): numbers >= 0, not all 0; the
    count is checked against the images by :func:`normalize_blend`. The one check of the
    optimizer's, the arbitrary method's and training's ``style_blend``.

    >>> check_style_blend("3,1")
    (3.0, 1.0)
    """
    if value is None:
        return None
    weights = parse_float_list(name, value)  # type: ignore[arg-type]
    if sum(weights) <= 0:
        raise OptionError(f"{name}: the weights must not all be 0, got {_listed(weights)}")
    return weights


def check_style_layer_weights(value: object, style_layers: Sequence[str],
                              name: str = "style_layer_weights") -> Optional[Tuple[float, ...]]:
    """One weight (>= 0) per style layer (None: equal, ``1 / len(style_layers)`` each, as
    :class:`~tf_style.losses.PerceptualLoss` takes them). The one check of the optimizer's and
    training's ``style_layer_weights``.

    >>> check_style_layer_weights("0,1", ("block1_conv1", "block2_conv1"))
    (0.0, 1.0)
    """
    if value is None:
        return None
    weights = parse_float_list(name, value)  # type: ignore[arg-type]
    if len(weights) != len(style_layers):
        raise OptionError(
            f"{name}: expected {len(style_layers)} values (one per style layer), got {len(weights)}: {_listed(weights)}"
        )
    return weights


def check_strength(value: object, *, name: str = "strength") -> float:
    """A number in [0, 1], else :class:`OptionError` naming ``name`` and the value.

    >>> check_strength(0.5)
    0.5
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise OptionError(f"{name}: expected a number in [0, 1], got {value!r}")
    v = float(value)
    if not math.isfinite(v) or not 0.0 <= v <= 1.0:
        raise OptionError(f"{name}: expected a number in [0, 1], got {value!r}")
    return v


DTYPE_OPTIONS = ("auto", "float32", "bfloat16")
"""Values of every ``dtype`` option: ``auto`` is bfloat16 where it runs natively, else float32."""


def check_dtype_option(value: object, name: str = "dtype") -> str:
    """``value`` if it is one of :data:`DTYPE_OPTIONS`; :class:`OptionError` naming ``name`` otherwise.

    >>> check_dtype_option("auto")
    'auto'
    """
    if value not in DTYPE_OPTIONS:
        raise OptionError(f"{name}: expected auto, float32 or bfloat16, got {value!r}")
    return value  # type: ignore[return-value]


@dataclasses.dataclass(frozen=True)
class StylizeConfig(_Blended, _Options):
    """Options of one optimization-based (Gatys) style transfer.

    Weights follow Gatys et al.: ``content_weight`` is alpha, ``style_weight`` is beta.
    Losses are normalized per element (see ``tf_style.losses``) so the same weights
    work at every image size; the defaults give a well-stylized picture at 512 px.

    Example:
        >>> StylizeConfig(size=256, optimizer="adam").iterations
        200
    """

    size: int = DEFAULT_SIZE
    #: Loss evaluations at the output size (coarser pyramid levels get 2x per level). 200:
    #: with vgg19 the sky's swirls and the strokes settle between 100 and 200 evaluations
    #: (docs/GALLERY.md, "The defaults").
    iterations: int = 200
    optimizer: str = "lbfgs"
    learning_rate: float = 4.0
    content_weight: float = 1.0
    #: Chosen for vgg19 by the 512 px sweep in docs/GALLERY.md: at alpha/beta 1/30 the
    #: painting's swirls, stars and palette cover the picture and the town stays readable.
    style_weight: float = 30.0
    tv_weight: float = 1e-4
    content_layers: Tuple[str, ...] = DEFAULT_CONTENT_LAYERS
    style_layers: Tuple[str, ...] = DEFAULT_STYLE_LAYERS
    style_layer_weights: Optional[Tuple[float, ...]] = None
    style_blend: Optional[Tuple[float, ...]] = None
    style_scale: float = 1.0
    init: str = "content"
    preserve_color: bool = False
    #: Coarse-to-fine levels; 1 = optimize at the output size only. 1 is the default: at
    #: 256 and 512 px it reached every loss threshold sooner than the pyramid
    #: (bench/README.md, "Time to quality").
    pyramid: int = 1
    backbone: str = "auto"
    weights: Optional[str] = None
    pooling: str = "avg"
    #: How the backbone's convolutions pad (:data:`PADDINGS`). ``reflect`` since 2026-12-03:
    #: with zeros the optimizer framed its pictures (a line down each edge; The Scream's
    #: storm +67 red on the right edge, reflect +16) at 9% more time per step; the
    #: judge's numbers moved by -5% to +26% (models/README.md, "Reflect padding").
    padding: str = "reflect"
    seed: int = 0
    #: Levels whose long side exceeds ``2 * tile`` are optimized in ``tile`` x ``tile``
    #: tiles overlapping by ``tile // 8`` (bounded memory); 0 never tiles.
    tile: int = 512
    #: Loss evaluations per tile at each tiled level.
    tile_iterations: int = 10
    #: Precision of the backbone's convolutions: ``float32``, ``bfloat16`` (losses and
    #: pixels stay float32) or ``auto``: bfloat16 where it runs natively (GPUs of compute
    #: capability 8.0+, CPUs with AMX/AVX512-BF16), else float32. Emulated bfloat16 was
    #: 7-8x slower than float32 on an AVX2 CPU (bench/README.md).
    dtype: str = "auto"
    #: The style term: ``gram``, ``meancov`` or ``sliced`` (:data:`STYLE_LOSSES`). Each is
    #: scaled in ``tf_style.losses`` so that the same ``style_weight`` suits all three.
    style_loss: str = DEFAULT_STYLE_LOSS

    def __post_init__(self) -> None:
        self._set("size", check_int("size", self.size, minimum=MIN_SIZE, maximum=MAX_SIZE))
        if _is_bool(self.tile) or not isinstance(self.tile, numbers.Integral) or (
            self.tile != 0 and not MIN_TILE <= self.tile <= MAX_SIZE
        ):
            raise OptionError(f"tile: expected 0 (never tile) or an integer between {MIN_TILE} and "
                              f"{MAX_SIZE}, got {self.tile!r}")
        self._set("tile", int(self.tile))
        self._set("tile_iterations", check_int("tile_iterations", self.tile_iterations))
        check_dtype_option(self.dtype)
        self._set("iterations", check_int("iterations", self.iterations))
        check_style_loss(self.style_loss)
        self._set("pyramid", check_int("pyramid", self.pyramid, maximum=6))
        if self.optimizer not in OPTIMIZERS:
            raise OptionError(f"optimizer: expected one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        # The weights are checked, not converted: JSON outputs show them as given.
        check_number("learning_rate", self.learning_rate, allow_zero=False)
        check_number("content_weight", self.content_weight)
        check_number("style_weight", self.style_weight)
        check_number("tv_weight", self.tv_weight)
        if self.content_weight == 0 and self.style_weight == 0:
            raise OptionError("content_weight and style_weight: at least one must be > 0, got 0 and 0")
        check_number("style_scale", self.style_scale, allow_zero=False)
        if not 0.05 <= self.style_scale <= 8:
            raise OptionError(f"style_scale: expected a number between 0.05 and 8, got {self.style_scale!r}")
        for name in ("content_layers", "style_layers"):
            self._set(name, check_layer_names(name, getattr(self, name)))
        self._set("style_layer_weights", check_style_layer_weights(self.style_layer_weights, self.style_layers))
        self._set("style_blend", check_style_blend(self.style_blend))
        if not isinstance(self.init, (str, os.PathLike)) or not str(self.init):
            raise OptionError(f"init: expected content, style, noise or an image path, got {self.init!r}")
        check_backbone(self.backbone)
        if self.weights is not None and self.backbone not in ("vgg16", "vgg19"):
            raise OptionError(
                f"weights: a weights file needs backbone vgg16 or vgg19 (the file's architecture), "
                f"got backbone {self.backbone!r}"
            )
        check_pooling(self.pooling)
        check_padding(self.padding)
        self._set("seed", check_int("seed", self.seed, minimum=0))

    def _misplaced(self, unknown: Set[str]) -> Optional[str]:
        if "strength" in unknown:
            return "strength: only used by method 'arbitrary', not by method 'gatys' (the optimizer)"
        return None


@dataclasses.dataclass(frozen=True)
class ArbitraryConfig(_Blended, _Options):
    """Options of one forward pass of the arbitrary-style networks (``method="arbitrary"``).

    * ``size``: the output long side; the photo is resized (Lanczos) to it first, as for
      the optimizer.
    * ``strength`` in [0, 1]: 0 gives the photo's own style vector, 1 the painting's; in
      between, the paper's interpolation of the two vectors.
    * ``style_blend``: weights of several paintings (normalized to sum 1; None = equal):
      their style vectors are averaged with these weights.
    * ``style_scale``: the painting's size as the style predictor sees it, relative to the
      default (shorter side ``ARBITRARY_STYLE_SIZE`` = 256 px, where the network was
      calibrated): its shorter side is ``256 * style_scale`` px, 0.125-8. The same meaning
      as the optimizer's (how big the network sees the painting), but relative to a fixed
      size rather than the output's: the transformer paints strokes of a fixed pixel size
      whatever the output size. The effect differs too: < 1 gives bolder, coarser marks,
      > 1 a finer, fainter texture (The Scream: a smooth wash at 4; docs/ARBITRARY.md).
    * ``preserve_color``: keep the photo's colours (the result's luminance, the photo's
      chroma: :func:`tf_style.image.match_luminance_transfer`).

    Example:
        >>> ArbitraryConfig(strength=0.5, style_blend=(1, 3)).blend_weights(2)
        (0.25, 0.75)
    """

    size: int = DEFAULT_SIZE
    strength: float = 1.0
    style_blend: Optional[Tuple[float, ...]] = None
    style_scale: float = 1.0
    preserve_color: bool = False
    #: Precision of the style transformer's convolutions (:data:`DTYPE_OPTIONS`; ``auto``:
    #: bfloat16 where native; the predictor stays float32). A bfloat16 transformer was
    #: 0.5-1.2/255 mean from float32 and 1.6-1.7x faster on a Zen 4 CPU.
    dtype: str = "auto"

    def __post_init__(self) -> None:
        self._set("size", check_int("size", self.size, minimum=MIN_SIZE, maximum=MAX_SIZE))
        check_dtype_option(self.dtype)
        self._set("strength", check_strength(self.strength))
        scale = check_number("style_scale", self.style_scale, allow_zero=False)
        low, high = ARBITRARY_STYLE_SCALE
        if not low <= scale <= high:
            raise OptionError(f"style_scale: expected a number between {low:g} and {high:g} (the painting's "
                              f"shorter side {round(ARBITRARY_STYLE_SIZE * low)}-{round(ARBITRARY_STYLE_SIZE * high)} px), got {self.style_scale!r}")
        self._set("style_scale", scale)
        self._set("style_blend", check_style_blend(self.style_blend))
        if not isinstance(self.preserve_color, bool):
            raise OptionError(f"preserve_color: expected True or False, got {self.preserve_color!r}")

    def _misplaced(self, unknown: Set[str]) -> Optional[str]:
        optimizer = unknown & {f.name for f in dataclasses.fields(StylizeConfig)}
        if optimizer:
            return f"{sorted(optimizer)[0]}: only used by method 'gatys' (the optimizer), not by method 'arbitrary'"
        return None


#: Largest training crop, style image or predictor side (px).
_MAX_TRAIN_SIDE = 4096


@dataclasses.dataclass(frozen=True)
class TrainConfig(_Blended, _Options):
    """Options of one fast-style-network training run (validated, frozen).

    ``architecture="arbitrary"`` fine-tunes the shipped arbitrary-style networks
    (docs/ARBITRARY.md, "Fine-tuning"): ``style_size`` is then the side of the square painting
    crops (default ``size``), ``predictor_size`` the side the style predictor sees them at,
    and ``train_predictor`` trains the predictor too; ``width`` stays 1.

    The style term is the optimizer's: ``style_layer_weights`` weigh its layers and, for a
    per-style network, several style images are blended with ``style_blend`` (the same
    validators and :class:`tf_style.criterion.StyleTargets`). The paintings' size is
    ``style_size`` in px: the crops have one size, so the optimizer's ``style_scale``
    (relative to the output) would only be another way to say it.

    The loss weights apply to the normalized terms of :class:`~tf_style.losses.PerceptualLoss`
    (each divided by its target's energy). The default style weight (10) was tuned on
    Starry Night with vgg16-hed; with vgg19 the shipped demo network was trained at 50, then
    15 (models/README.md). Retuning it for vgg19 needs a real photo corpus (a later issue).

    Example:
        >>> TrainConfig(architecture="mobile", steps=100).batch
        4
        >>> TrainConfig(style_blend="3,1").blend_weights(2)
        (0.75, 0.25)
    """

    size: int = 256
    batch: int = 4
    steps: int = 20000
    learning_rate: float = 1e-3
    #: Adam's learning rate falls from ``learning_rate`` at step 0 to this at ``steps`` along
    #: a half cosine (None: constant). A function of the step alone, so an interrupted run
    #: resumes on the same curve; a resumed run given a new ``steps`` stretches it.
    final_learning_rate: Optional[float] = None
    content_weight: float = 1.0
    style_weight: float = 10.0
    tv_weight: float = 1e-5
    content_layers: Tuple[str, ...] = DEFAULT_CONTENT_LAYERS
    style_layers: Tuple[str, ...] = DEFAULT_STYLE_LAYERS
    #: One weight per style layer, as the optimizer's (None: ``1 / len(style_layers)`` each).
    style_layer_weights: Optional[Tuple[float, ...]] = None
    #: Weights of several style images, as the optimizer's (normalized; None: equal): the
    #: network learns their blended targets. Not for ``arbitrary`` (one painting per example).
    style_blend: Optional[Tuple[float, ...]] = None
    #: Long side the style image is resized to for its Gram targets (None: ``size``).
    style_size: Optional[int] = None
    architecture: str = "johnson"
    width: float = 1.0
    #: Per-style networks: how the decoder upsamples (``NETWORK_UPSAMPLES``); None: the
    #: default, ``nearest``. Not for ``arbitrary`` (the shipped networks' own layers).
    upsample: Optional[str] = None
    #: arbitrary only: also train the style predictor (off: only the transformer learns).
    train_predictor: bool = False
    #: arbitrary only: side of the painting crops fed to the style predictor.
    predictor_size: int = ARBITRARY_STYLE_SIZE
    backbone: str = "auto"
    #: Pooling between the loss network's blocks, as in the optimizer: ``avg`` or ``max``.
    pooling: str = "avg"
    #: How the loss network's convolutions pad (:data:`PADDINGS`). ``zeros``: the shipped
    #: networks were trained so, and ``loss_margin`` keeps the loss away from the edges.
    padding: str = "zeros"
    #: The loss network's convolutions: ``float32``, ``bfloat16`` or ``auto`` (bfloat16
    #: where it runs natively); the losses stay float32.
    dtype: str = "auto"
    #: The trained network's layers, per-style networks only: ``float32``, ``bfloat16``
    #: (Keras' mixed policy: float32 weights, bfloat16 convolutions, float32 norms statistics
    #: and output) or ``auto``. The saved ``model.keras`` is float32 either way. On a Zen 4
    #: (AVX512_BF16, no AMX) a johnson network's own forward and backward pass (batch 4,
    #: 256 px) was 1.65x faster in bfloat16 and the whole training step 1.22x; a mobile step
    #: gained nothing (bench/bench_train_step.py). float32 by default: the mobile networks
    #: were trained so; the shipped johnson networks in bfloat16.
    network_dtype: str = "float32"
    #: The style term: ``gram``, ``meancov`` or ``sliced`` (``tf_style.losses``).
    style_loss: str = "gram"
    #: A network whose pictures the one being trained also learns to reproduce (distillation):
    #: ``"arbitrary"`` (the shipped arbitrary-style networks with the style image's vector) or
    #: the path of a trained per-style ``.keras`` network; None: none.
    teacher: Optional[str] = None
    #: Weight of the teacher term: the mean squared difference from the teacher's picture,
    #: pixels in [0, 1].
    teacher_weight: float = TEACHER_WEIGHT
    #: A trained per-style ``.keras`` network (a run's ``model.keras``, a shipped one) whose
    #: weights start a new run instead of random ones: fine-tuning, or going on from a network
    #: whose checkpoint was not kept (Adam starts afresh). Same architecture and width; not
    #: read when the run resumes from a checkpoint.
    init: Optional[str] = None
    #: Pixels on each side of a crop that the perceptual loss does not see: it reads the
    #: network's picture (and the photo, for the content target) inside them; the teacher term
    #: still reads the whole picture. The network cannot tell where that inner edge is, so it
    #: gains nothing by painting edges: with 0, the_scream_mobile learned a red line down the
    #: right edge of every picture, because the painting's red railing runs down its right
    #: edge and such a line lowered the style loss there and only there (models/README.md).
    loss_margin: int = 0
    #: Weight of the shift term (per-style networks): the network's picture of a crop moved by
    #: 0-3 px down and right (a different move each step) must equal its picture of the crop
    #: moved the same; the mean squared difference, pixels in [0, 1], inside 16 px of the
    #: moved window. The networks halve the resolution twice, so without it they may paint
    #: a pattern that repeats every 4 px whatever the photo (starry_night_johnson's grid in flat
    #: skies). 0: no term (and no extra pass).
    shift_weight: float = 0.0
    checkpoint_every: int = 500
    sample_every: int = 500
    log_every: int = 50
    keep_checkpoints: int = 3
    seed: int = 0

    def learning_rate_at(self, step: int) -> float:
        """Adam's learning rate for training step ``step`` (0-based) of this run.

        >>> cfg = TrainConfig(steps=100, learning_rate=1e-3, final_learning_rate=1e-4)
        >>> cfg.learning_rate_at(0), round(cfg.learning_rate_at(50), 6), cfg.learning_rate_at(100)
        (0.001, 0.00055, 0.0001)
        """
        if self.final_learning_rate is None:
            return self.learning_rate
        t = min(max(step / self.steps, 0.0), 1.0)
        cosine = 0.5 * (1.0 + math.cos(math.pi * t))
        return self.final_learning_rate + (self.learning_rate - self.final_learning_rate) * cosine

    def __post_init__(self) -> None:
        self._set("size", check_int("size", self.size, minimum=MIN_IMAGE_SIDE, maximum=_MAX_TRAIN_SIDE))
        self._set("batch", check_int("batch", self.batch, maximum=1024))
        self._set("steps", check_int("steps", self.steps))
        self._set("learning_rate", check_number("learning_rate", self.learning_rate, allow_zero=False))
        if self.final_learning_rate is not None:
            self._set("final_learning_rate",
                      check_number("final_learning_rate", self.final_learning_rate, allow_zero=False))
        for name in ("content_weight", "style_weight", "tv_weight", "teacher_weight", "shift_weight"):
            self._set(name, check_number(name, getattr(self, name)))
        if self.teacher is not None:
            if not isinstance(self.teacher, (str, os.PathLike)) or not os.fspath(self.teacher):
                raise OptionError(f"teacher: expected {ARBITRARY!r} or a .keras file, got {self.teacher!r}")
            self._set("teacher", os.fspath(self.teacher))
            if self.teacher != ARBITRARY and not self.teacher.endswith(".keras"):
                raise OptionError(f"teacher: expected {ARBITRARY!r} or a .keras file, got {self.teacher!r}")
            if self.architecture == ARBITRARY:
                raise OptionError(f"teacher: distills into a per-style network, not architecture {ARBITRARY!r}")
        if self.init is not None:
            if not isinstance(self.init, (str, os.PathLike)) or not os.fspath(self.init).endswith(".keras"):
                raise OptionError(f"init: expected a trained network's .keras file, got {self.init!r}")
            self._set("init", os.fspath(self.init))
            if self.architecture == ARBITRARY:
                raise OptionError(f"init: starts a per-style network, not architecture {ARBITRARY!r} "
                                  f"(it starts from the shipped networks), got {self.init!r}")
        distilled = self.teacher is not None and self.teacher_weight > 0
        if self.content_weight == 0 and self.style_weight == 0 and not distilled:
            raise OptionError("content_weight and style_weight: at least one must be > 0 (or a teacher with "
                              "teacher_weight > 0), got 0 and 0")
        for name in ("content_layers", "style_layers"):
            self._set(name, check_layer_names(name, getattr(self, name), split=True))
        self._set("style_layer_weights", check_style_layer_weights(self.style_layer_weights, self.style_layers))
        self._set("style_blend", check_style_blend(self.style_blend))
        self._set("loss_margin", check_int("loss_margin", self.loss_margin, minimum=0))
        if self.size - 2 * self.loss_margin < MIN_IMAGE_SIDE:
            raise OptionError(f"loss_margin: must leave at least {MIN_IMAGE_SIDE} px of the {self.size} px crops "
                              f"inside it, got {self.loss_margin!r}")
        if self.style_size is not None:
            self._set("style_size", check_int("style_size", self.style_size, minimum=MIN_IMAGE_SIDE,
                                              maximum=_MAX_TRAIN_SIDE))
        if self.architecture not in TRAIN_ARCHITECTURES:
            raise OptionError(
                f"architecture: expected one of {', '.join(TRAIN_ARCHITECTURES)}, got {self.architecture!r}"
            )
        width = check_number("width", self.width, allow_zero=False)
        if width > 4:
            raise OptionError(f"width: expected a number > 0 and <= 4, got {self.width!r}")
        self._set("width", width)
        arb = self.architecture == ARBITRARY
        if arb and width != 1:
            raise OptionError(f"width: the arbitrary networks have a fixed width; leave it at 1, got {self.width!r}")
        if self.upsample is not None and arb:
            raise OptionError(f"upsample: per-style networks only (architecture {ARBITRARY!r} keeps the shipped "
                              f"networks' layers), got {self.upsample!r}")
        if not arb:
            self._set("upsample", DEFAULT_UPSAMPLE if self.upsample is None
                      else check_choice("upsample", self.upsample, NETWORK_UPSAMPLES))
        if self.shift_weight and arb:
            raise OptionError(f"shift_weight: per-style networks only, not architecture {ARBITRARY!r}, "
                              f"got {self.shift_weight!r}")
        if not _is_bool(self.train_predictor):
            raise OptionError(f"train_predictor: expected True or False, got {self.train_predictor!r}")
        self._set("train_predictor", bool(self.train_predictor))
        if self.train_predictor and not arb:
            raise OptionError(
                f"train_predictor: only for architecture {ARBITRARY!r} (a per-style network has no "
                f"predictor), got True with architecture {self.architecture!r}"
            )
        self._set("predictor_size", check_int("predictor_size", self.predictor_size,
                                              minimum=ARBITRARY_MIN_STYLE_SIZE, maximum=_MAX_TRAIN_SIDE))
        if self.predictor_size != ARBITRARY_STYLE_SIZE and not arb:
            raise OptionError(
                f"predictor_size: only for architecture {ARBITRARY!r}, got {self.predictor_size!r} "
                f"with architecture {self.architecture!r}"
            )
        check_backbone(self.backbone)
        check_pooling(self.pooling)
        check_padding(self.padding)
        check_dtype_option(self.dtype)
        check_dtype_option(self.network_dtype, "network_dtype")
        if arb and self.network_dtype != "float32":
            raise OptionError(f"network_dtype: per-style networks only (architecture {ARBITRARY!r} keeps the "
                              f"shipped networks' float32), got {self.network_dtype!r}")
        check_style_loss(self.style_loss)
        if arb and self.style_blend is not None:
            # Each photo crop is paired with one painting crop, whose Grams are its targets; a
            # blend of paintings is a stylize-time choice (stylize --method arbitrary --style-blend).
            raise OptionError(f"style_blend: architecture {ARBITRARY!r} trains on one painting per example "
                              f"(blend paintings when stylizing), got {_listed(self.style_blend)}")
        if arb and self.style_loss != "gram":
            # Each batch element has its own painting: the targets are per-example Grams.
            raise OptionError(f"style_loss: architecture {ARBITRARY!r} trains with 'gram' only, "
                              f"got {self.style_loss!r}")
        self._set("checkpoint_every", check_int("checkpoint_every", self.checkpoint_every))
        self._set("sample_every", check_int("sample_every", self.sample_every, minimum=0))
        self._set("log_every", check_int("log_every", self.log_every))
        self._set("keep_checkpoints", check_int("keep_checkpoints", self.keep_checkpoints))
        self._set("seed", check_int("seed", self.seed, minimum=0, maximum=2**31 - 1))

    def to_dict(self) -> dict:
        """The fields as JSON-ready values (``run.json``); :meth:`from_dict` reads them back."""
        d = dataclasses.asdict(self)
        for name in ("content_layers", "style_layers", "style_layer_weights", "style_blend"):
            value = getattr(self, name)
            d[name] = None if value is None else list(value)
        return d

    def with_options(self, **changes: object) -> "TrainConfig":
        """A copy with some options changed (validated again); switching to the arbitrary
        architecture drops ``upsample``, which only per-style networks have."""
        if changes.get("architecture") == ARBITRARY and "upsample" not in changes:
            changes = {**changes, "upsample": None}
        return super().with_options(**changes)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        """A config from :meth:`to_dict`'s output; keys of other versions are ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        if data.get("architecture", "johnson") in NETWORK_ARCHITECTURES:
            # Runs saved before ``upsample`` existed trained nearest-neighbour networks.
            data = {"upsample": UPSAMPLE_BEFORE_OPTION, **data}
        return cls(**{k: v for k, v in data.items() if k in known})
