"""The perceptual criterion, decided in one place: the loss network and the loss built from
options (:func:`build_criterion`), and a painting's style targets (:class:`StyleTargets`).

The optimizer (``transfer``), training (``train``) and the studies (``gallery``) all build
their criterion here, so a layer check, a backbone choice or a loss option means the same in
each. :class:`StyleTargets` owns what the targets of one or several paintings depend on: the
blend weights, the style scale, tiles for a painting too large for one pass, and the cache
per output size; a sweep shares one instance between all its tiles.

Example:
    >>> backbone, loss = build_criterion(backbone_name="vgg19", content_layers=("block4_conv2",),
    ...                                  style_layers=("block1_conv1",))  # doctest: +SKIP
    >>> targets = StyleTargets([painting], (1.0,), backbone, loss)  # doctest: +SKIP
    >>> grams = targets.at(512)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from PIL import Image

from tf_style import backbones as bb
from tf_style import image as im
from tf_style import tiles as tl
from tf_style.config import MIN_IMAGE_SIDE
from tf_style.losses import PerceptualLoss
from tf_style.tiles import tile_overlap  # also re-exported (its old home)

__all__ = ["build_criterion", "StyleTargets", "tile_overlap"]

Log = Callable[[str], None]


def build_criterion(
    *,
    backbone: Optional[bb.Backbone] = None,
    backbone_name: str = "auto",
    content_layers: Sequence[str],
    style_layers: Sequence[str],
    pooling: str = "avg",
    padding: str = "zeros",
    weights: Optional[str] = None,
    dtype: str = "auto",
    content_weight: float = 1.0,
    style_weight: float = 1.0,
    tv_weight: float = 0.0,
    style_layer_weights: Optional[Sequence[float]] = None,
    style_loss: str = "gram",
    seed: int = 0,
    log: Optional[Log] = None,
) -> Tuple[bb.Backbone, PerceptualLoss]:
    """The loss network and the :class:`~tf_style.losses.PerceptualLoss` over it.

    With ``backbone`` given (tests pass ``tiny_backbone()``; a sweep reuses one), its layers
    are checked against the names asked for; otherwise ``backbone_name`` is resolved
    (``auto``: vgg19 where its weights are available), the layer names are checked for it
    ("did you mean" for near misses) and it is loaded with only the layers the loss reads.

    Raises:
        LayerNameError: a layer the backbone does not have.
        WeightsNotFoundError: no weights for the backbone asked for.
    """
    log = log or (lambda message: None)
    if backbone is None:
        arch = bb.resolve_name(backbone_name, log=log)
        content = bb.resolve_layers(arch, content_layers, option="content_layers")
        style = bb.resolve_layers(arch, style_layers, option="style_layers")
        extra = {} if weights is None else {"weights": weights}  # None: the backbone's own choice
        backbone = bb.load_backbone(arch, content + style, pooling=pooling, padding=padding, dtype=dtype, log=log,
                                    **extra)
    else:
        content = backbone.check_layers(content_layers, option="content_layers")
        style = backbone.check_layers(style_layers, option="style_layers")
    loss = PerceptualLoss(
        content, style, content_weight=content_weight, style_weight=style_weight, tv_weight=tv_weight,
        style_layer_weights=style_layer_weights, style_loss=style_loss, seed=seed,
    )
    return backbone, loss


class StyleTargets:
    """The style targets of one or several paintings for a backbone and loss, per output size.

    ``at(side)`` gives the targets for an output whose long side is ``side``: each painting is
    resized so its long side is ``side * style_scale``, and their statistics are blended with
    ``blend`` (weights summing to 1) as ``PerceptualLoss.blend_targets`` says: Grams blend
    linearly, ``meancov`` fits the Gaussian of the mixture, ``sliced`` averages the quantile
    functions. A painting longer than ``2 * tile`` px is measured tile by tile (its
    statistics, or for ``sliced`` its features). Results are cached per painting side;
    ``builds`` counts the sides computed.

    Example:
        >>> targets = StyleTargets([painting], (1.0,), backbone, loss, style_scale=0.5)  # doctest: +SKIP
        >>> sorted(targets.at(512))  # doctest: +SKIP
        ['block1_conv1', ...]
    """

    def __init__(self, images: Sequence[Image.Image], blend: Sequence[float], backbone: bb.Backbone,
                 loss: PerceptualLoss, *, style_scale: float = 1.0, tile: int = 0) -> None:
        if len(images) != len(blend):
            raise ValueError(f"blend: {len(blend)} weights for {len(images)} paintings")
        self.images = list(images)
        self.blend = tuple(float(w) for w in blend)
        self.backbone, self.loss = backbone, loss
        self.style_scale = float(style_scale)
        self.tile = int(tile)
        self.cache: Dict[int, object] = {}
        self.builds = 0

    def side(self, output_long_side: int) -> int:
        """Long side of the paintings for an output of ``output_long_side`` px."""
        return max(MIN_IMAGE_SIDE, round(output_long_side * self.style_scale))

    def at(self, output_long_side: int):
        """The blended targets for an output of this long side (cached)."""
        side = self.side(output_long_side)
        if side not in self.cache:
            self.cache[side] = self._build(side)
            self.builds += 1
        return self.cache[side]

    def _build(self, side: int):
        return self.loss.blend_targets([(weight, self._statistics(image, side))
                                        for weight, image in zip(self.blend, self.images)])

    def _statistics(self, image: Image.Image, side: int):
        """One painting's ``PerceptualLoss.style_statistics`` at long side ``side``; tile by
        tile when it is too large for one pass (the same statistics, or for sliced its features)."""
        loss = self.loss
        x = im.to_array(im.resize_long_side(image, side))
        if not tl.needs_tiles(side, self.tile):
            return loss.style_statistics(self.backbone(tf.constant(x[None])))
        overlap = tile_overlap(self.tile)
        if loss.style_loss == "sliced":  # every position's features, sorted later
            return tl.tiled_features(self.backbone, x, loss.style_layers, self.tile, overlap)
        whole = tl.tiled_statistics(self.backbone, x, loss.style_layers, self.tile, overlap)
        return whole if loss.style_loss == "meancov" else {k: gram for k, (_, gram) in whole.items()}

    def matches(self, other: "StyleTargets") -> bool:
        """Whether ``other`` gives the same targets (same paintings, blend, scale, tiles and
        style loss), so one cache can serve both."""
        return (len(self.images) == len(other.images)
                and all(a is b or np.array_equal(np.asarray(a), np.asarray(b))
                        for a, b in zip(self.images, other.images))
                and self.blend == other.blend and self.style_scale == other.style_scale
                and self.tile == other.tile and self.loss.style_loss == other.loss.style_loss)
