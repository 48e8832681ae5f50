"""Validated, frozen configuration for optimization-based style transfer.

No TensorFlow here: the CLI and the API validate options before anything heavy is
loaded, so a bad value fails in milliseconds with a message naming the option.
"""

from __future__ import annotations

import dataclasses
import math
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

    size: int = 512
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
        if self.dtype not in ("auto", "float32", "bfloat16"):
            raise OptionError(f"dtype: expected auto, float32 or bfloat16, got {self.dtype!r}")
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
        if unknown:
            raise OptionError(f"unknown option(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def blend_weights(self, num_styles: int) -> Tuple[float, ...]:
        """Normalized blend weights for ``num_styles`` style images."""
        if self.style_blend is None:
            return tuple([1.0 / num_styles] * num_styles)
        if len(self.style_blend) != num_styles:
            raise OptionError(
                f"style_blend: expected {num_styles} weights (one per style image), "
                f"got {len(self.style_blend)}: {','.join(map(str, self.style_blend))}"
            )
        total = sum(self.style_blend)
        return tuple(w / total for w in self.style_blend)
