"""Validated, frozen configuration for style transfer: the optimizer (:class:`StylizeConfig`)
and the arbitrary-style networks' one-pass path (:class:`ArbitraryConfig`).

No TensorFlow here: the CLI and the API validate options before anything heavy is
loaded, so a bad value fails in milliseconds with a message naming the option.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import os
from typing import Optional, Sequence, Tuple, Union

from tf_style.errors import OptionError

OPTIMIZERS = ("lbfgs", "adam")
INIT_KINDS = ("content", "style", "noise")
POOLINGS = ("avg", "max")
BACKBONES = ("auto", "vgg19", "vgg16", "vgg16-hed")
#: Style losses (``tf_style.losses``): ``gram`` (Gatys et al.), ``meancov`` (Wasserstein-2
#: between the Gaussians fitted to the features: mean and covariance), ``sliced`` (sliced
#: Wasserstein: the whole distribution along random directions, Heitz et al. 2021).
STYLE_LOSSES = ("gram", "meancov", "sliced")


def check_style_loss(value: object, name: str = "style_loss") -> str:
    """``value`` if it names a style loss, else an :class:`OptionError` naming ``name``.

    >>> check_style_loss("sliced")
    'sliced'
    """
    if not isinstance(value, str) or value not in STYLE_LOSSES:
        raise OptionError(f"{name}: expected one of {', '.join(STYLE_LOSSES)}, got {value!r}")
    return value
#: Smallest output side we accept: VGG's five pooling stages need >= 32 px to keep
#: a non-empty block5 feature map, and a picture smaller than that is not useful.
MIN_SIZE = 32
#: Largest output long side accepted before the memory check even runs.
MAX_SIZE = 8192
MIN_TILE = 64
#: Output long side of ``tf-style stylize`` (both methods) when none is given.
DEFAULT_SIZE = 512
#: ``method`` of ``tf_style.stylize`` / ``tf-style stylize --method``: the optimizer
#: (Gatys et al., the default) or one forward pass of Magenta's arbitrary-style networks.
METHODS = ("gatys", "arbitrary")
DEFAULT_METHOD = "gatys"
#: The painting's shorter side (px) fed to the arbitrary method's style predictor at
#: ``style_scale`` 1: Magenta's default, the size its int8 graph was calibrated at.
ARBITRARY_STYLE_SIZE = 256
#: Smallest photo/painting side (px) of the arbitrary method (the transformer's reflection
#: padding needs the pad below the side).
ARBITRARY_MIN_SIDE = 16
#: ``style_scale`` range of the arbitrary method: the painting's shorter side is
#: ``ARBITRARY_STYLE_SIZE * style_scale``, from 32 to 2048 px.
ARBITRARY_STYLE_SCALE = (0.125, 8.0)


def _positive_int(name: str, value: object, *, minimum: int = 1, maximum: Optional[int] = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionError(f"{name}: expected an integer, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
        raise OptionError(f"{name}: expected an integer {bound}, got {value!r}")
    return value


def _weight(name: str, value: object, *, allow_zero: bool = True) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise OptionError(f"{name}: expected a number, got {value!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        need = ">= 0" if allow_zero else "> 0"
        raise OptionError(f"{name}: expected a finite number {need}, got {value!r}")
    return v


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
        out.append(_weight(name, item.strip() if isinstance(item, str) else item))
    if not out:
        raise OptionError(f"{name}: expected comma-separated numbers, got {text!r}")
    return tuple(out)


def check_method(method: object) -> str:
    """``method`` if it is one of :data:`METHODS`, else :class:`OptionError` naming it.

    >>> check_method("arbitrary")
    'arbitrary'
    """
    if not isinstance(method, str) or method not in METHODS:
        import difflib

        near = difflib.get_close_matches(str(method), METHODS, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise OptionError(f"method: expected one of {', '.join(METHODS)}, got {method!r}{hint}")
    return method


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
class StylizeConfig:
    """Options of one optimization-based (Gatys) style transfer.

    Weights follow Gatys et al.: ``content_weight`` is alpha, ``style_weight`` is beta.
    Losses are normalized per element (see ``tf_style.losses``) so the same weights
    work at every image size; the defaults give a well-stylized picture at 512 px.

    Example:
        >>> StylizeConfig(size=256, optimizer="adam").iterations
        100
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
    content_layers: Tuple[str, ...] = ("block4_conv2",)
    style_layers: Tuple[str, ...] = (
        "block1_conv1",
        "block2_conv1",
        "block3_conv1",
        "block4_conv1",
        "block5_conv1",
    )
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
    style_loss: str = "gram"

    def __post_init__(self) -> None:
        _positive_int("size", self.size, minimum=MIN_SIZE, maximum=MAX_SIZE)
        if isinstance(self.tile, bool) or not isinstance(self.tile, int) or (
            self.tile != 0 and not MIN_TILE <= self.tile <= MAX_SIZE
        ):
            raise OptionError(f"tile: expected 0 (never tile) or an integer between {MIN_TILE} and "
                              f"{MAX_SIZE}, got {self.tile!r}")
        _positive_int("tile_iterations", self.tile_iterations)
        check_dtype_option(self.dtype)
        _positive_int("iterations", self.iterations)
        check_style_loss(self.style_loss)
        _positive_int("pyramid", self.pyramid, maximum=6)
        if self.optimizer not in OPTIMIZERS:
            raise OptionError(f"optimizer: expected one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        _weight("learning_rate", self.learning_rate, allow_zero=False)
        _weight("content_weight", self.content_weight)
        _weight("style_weight", self.style_weight)
        _weight("tv_weight", self.tv_weight)
        if self.content_weight == 0 and self.style_weight == 0:
            raise OptionError("content_weight and style_weight: at least one must be > 0, got 0 and 0")
        _weight("style_scale", self.style_scale, allow_zero=False)
        if not 0.05 <= self.style_scale <= 8:
            raise OptionError(f"style_scale: expected a number between 0.05 and 8, got {self.style_scale!r}")
        for name in ("content_layers", "style_layers"):
            value = getattr(self, name)
            if isinstance(value, str) or not value or not all(isinstance(v, str) and v for v in value):
                raise OptionError(f"{name}: expected a non-empty list of layer names, got {value!r}")
            object.__setattr__(self, name, tuple(value))
        if self.style_layer_weights is not None:
            w = parse_float_list("style_layer_weights", self.style_layer_weights)
            if len(w) != len(self.style_layers):
                raise OptionError(
                    f"style_layer_weights: expected {len(self.style_layers)} values (one per style layer), "
                    f"got {len(w)}: {self.style_layer_weights!r}"
                )
            object.__setattr__(self, "style_layer_weights", w)
        if self.style_blend is not None:
            b = parse_float_list("style_blend", self.style_blend)
            if sum(b) <= 0:
                raise OptionError(f"style_blend: the weights must not all be 0, got {self.style_blend!r}")
            object.__setattr__(self, "style_blend", b)
        if not isinstance(self.init, (str, os.PathLike)) or not str(self.init):
            raise OptionError(f"init: expected content, style, noise or an image path, got {self.init!r}")
        if self.backbone not in BACKBONES:
            import difflib

            near = difflib.get_close_matches(str(self.backbone), BACKBONES, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise OptionError(f"backbone: expected one of {', '.join(BACKBONES)}, got {self.backbone!r}{hint}")
        if self.weights is not None and self.backbone not in ("vgg16", "vgg19"):
            raise OptionError(
                f"weights: a weights file needs backbone vgg16 or vgg19 (the file's architecture), "
                f"got backbone {self.backbone!r}"
            )
        if self.pooling not in POOLINGS:
            raise OptionError(f"pooling: expected 'avg' or 'max', got {self.pooling!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise OptionError(f"seed: expected an integer >= 0, got {self.seed!r}")

    def with_options(self, **changes: object) -> "StylizeConfig":
        """A copy with some options changed (validated again)."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if "strength" in unknown:
            raise OptionError("strength: only used by method 'arbitrary', not by method 'gatys' (the optimizer)")
        if unknown:
            raise OptionError(f"unknown option(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def blend_weights(self, num_styles: int) -> Tuple[float, ...]:
        """Normalized blend weights for ``num_styles`` style images."""
        return normalize_blend(self.style_blend, num_styles)


@dataclasses.dataclass(frozen=True)
class ArbitraryConfig:
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
        _positive_int("size", self.size, minimum=MIN_SIZE, maximum=MAX_SIZE)
        check_dtype_option(self.dtype)
        object.__setattr__(self, "strength", check_strength(self.strength))
        scale = _weight("style_scale", self.style_scale, allow_zero=False)
        low, high = ARBITRARY_STYLE_SCALE
        if not low <= scale <= high:
            raise OptionError(f"style_scale: expected a number between {low:g} and {high:g} (the painting's "
                              f"shorter side {round(ARBITRARY_STYLE_SIZE * low)}-{round(ARBITRARY_STYLE_SIZE * high)} px), got {self.style_scale!r}")
        object.__setattr__(self, "style_scale", scale)
        if self.style_blend is not None:
            b = parse_float_list("style_blend", self.style_blend)
            if sum(b) <= 0:
                raise OptionError(f"style_blend: the weights must not all be 0, got {','.join(f'{v:g}' for v in b)}")
            object.__setattr__(self, "style_blend", b)
        if not isinstance(self.preserve_color, bool):
            raise OptionError(f"preserve_color: expected True or False, got {self.preserve_color!r}")

    def with_options(self, **changes: object) -> "ArbitraryConfig":
        """A copy with some options changed (validated again); an optimizer-only option is an error."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            optimizer = unknown & {f.name for f in dataclasses.fields(StylizeConfig)}
            if optimizer:
                raise OptionError(f"{sorted(optimizer)[0]}: only used by method 'gatys' (the optimizer), "
                                  f"not by method 'arbitrary'")
            raise OptionError(f"unknown option(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def blend_weights(self, num_styles: int) -> Tuple[float, ...]:
        """Normalized blend weights for ``num_styles`` style images."""
        return normalize_blend(self.style_blend, num_styles)
