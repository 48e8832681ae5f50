"""Style transfer of one photo, the Python API: optimization-based (Gatys, Ecker, Bethge
2015; ``method="gatys"``, the default) or one forward pass of Magenta's arbitrary-style
networks (Ghiasi et al. 2017; ``method="arbitrary"``, see ``tf_style.one_pass``).

Example:
    >>> import tf_style
    >>> result = tf_style.stylize("tubingen.jpg", "starry_night.jpg", size=256)  # doctest: +SKIP
    >>> result.image.save("out.png")  # doctest: +SKIP
    >>> fast = tf_style.stylize("tubingen.jpg", "starry_night.jpg", method="arbitrary", strength=0.8)  # doctest: +SKIP

A :class:`Stylizer` keeps the backbone and the style targets between calls, so
stylizing many photos with one style pays for them once. It orchestrates: it reads the
pictures and options, builds the criterion, hands the levels to ``tf_style.pyramid`` (which
gives tiled levels to ``tf_style.tiles``), then restores the photo's colours and writes the result.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import tensorflow as tf
from PIL import Image

from tf_style import backbones as bb
from tf_style import image as im
from tf_style import pyramid as pyr
from tf_style.criterion import StyleTargets, build_criterion
from tf_style.config import (
    DEFAULT_METHOD,
    INIT_KINDS,
    MIN_IMAGE_SIDE,
    ArbitraryConfig,
    StylizeConfig,
    check_method,
)
from tf_style.errors import OptionError
from tf_style.one_pass import ArbitraryResult, stylize_arbitrary_result
from tf_style.optimize import ImageObjective
from tf_style.progress import ProgressBar
from tf_style.pyramid import pyramid_sizes  # noqa: F401  (re-exported: tests and users import it here)

PathLike = Union[str, os.PathLike]
#: ``on_step(level, level_count, done, total, terms)``
StepHook = Callable[[int, int, int, int, Dict[str, float]], None]


@dataclasses.dataclass
class StylizeResult:
    """What a run produced: the picture, the loss history and what made it."""

    image: Image.Image
    history: List[Dict[str, float]]
    config: StylizeConfig
    backbone: str
    weights_source: str
    seconds: float
    iterations: int
    sizes: List[Tuple[int, int]]
    interrupted: bool = False

    @property
    def initial_loss(self) -> float:
        return self.history[0]["total"] if self.history else float("nan")

    @property
    def final_terms(self) -> Dict[str, float]:
        """Loss terms of the returned image, at the final size."""
        return dict(self.final) if self.final else {}

    final: Optional[Dict[str, float]] = None
    #: The backbone's convolution dtype (``config.dtype`` with ``auto`` resolved).
    dtype: str = "float32"
    #: How the backbone's convolutions padded (``zeros`` or ``reflect``).
    padding: str = "zeros"

    def to_dict(self, output: Optional[PathLike] = None) -> dict:
        """A JSON-ready summary (what ``tf-style stylize --json`` prints)."""
        return {
            "output": None if output is None else str(output),
            "method": "gatys",
            "size": list(self.image.size),
            "backbone": self.backbone,
            "weights": self.weights_source,
            "dtype": self.dtype,
            "padding": self.padding,
            "optimizer": self.config.optimizer,
            "style_loss": self.config.style_loss,
            "iterations": self.iterations,
            "levels": [list(s) for s in self.sizes],
            "seconds": round(self.seconds, 3),
            "interrupted": self.interrupted,
            "loss": {
                "initial_total": self.initial_loss,
                "final_total": self.final_terms.get("total"),
                "final_content": self.final_terms.get("content"),
                "final_style": self.final_terms.get("style"),
                "final_tv": self.final_terms.get("tv"),
            },
        }


class Stylizer:
    """Style transfer towards one (or a blend of several) style images.

    Example:
        >>> s = Stylizer("starry_night.jpg", size=256, iterations=50)  # doctest: +SKIP
        >>> a = s.stylize("tubingen.jpg").image  # doctest: +SKIP
        >>> b = s.stylize("chelsea.png").image   # backbone and style targets reused  # doctest: +SKIP

    ``backbone`` may be a name (see ``tf_style.backbones``) or a ready
    :class:`tf_style.backbones.Backbone` (tests pass a tiny one).
    """

    def __init__(
        self,
        style: Union[im.ImageLike, Sequence[im.ImageLike]],
        config: Optional[StylizeConfig] = None,
        *,
        backbone: Union[str, "bb.Backbone", None] = None,
        log: Optional[Callable[[str], None]] = None,
        **options: object,
    ) -> None:
        config = config or StylizeConfig()
        if isinstance(backbone, str):  # a name is an option; a Backbone object is used as is
            options["backbone"] = backbone
            backbone = None
        if options:
            config = config.with_options(**options)
        self.config = config
        self._log = log or (lambda msg: None)
        styles = list(style) if isinstance(style, (list, tuple)) else [style]
        if not styles:
            raise OptionError("style: expected at least one style image, got none")
        self.blend = config.blend_weights(len(styles))
        self.style_images = [im.read_image(s) for s in styles]
        for s, image in zip(styles, self.style_images):
            im.check_min_size(image, MIN_IMAGE_SIDE, name=_name(s))
        if config.preserve_color:
            self.style_images = [im.to_pil(im.luminance_image(im.to_array(x))) for x in self.style_images]
        self.backbone, self.loss = build_criterion(
            backbone=backbone, backbone_name=config.backbone, content_layers=config.content_layers,
            style_layers=config.style_layers, pooling=config.pooling, padding=config.padding, weights=config.weights,
            dtype=config.dtype,
            content_weight=config.content_weight, style_weight=config.style_weight, tv_weight=config.tv_weight,
            style_layer_weights=config.style_layer_weights, style_loss=config.style_loss, seed=config.seed,
            log=self._log,
        )
        self.content_layers, self.style_layers = self.loss.content_layers, self.loss.style_layers
        #: The paintings' style targets per output size (shareable: :meth:`share_targets`).
        self.targets = StyleTargets(self.style_images, self.blend, self.backbone, self.loss,
                                    style_scale=config.style_scale, tile=config.tile)
        #: Compiled objectives by (width, height, style side, class): photos of one size share a trace.
        self._objectives: Dict[Tuple[int, int, int, type], ImageObjective] = {}

    # -- targets ---------------------------------------------------------------
    def style_grams(self, output_long_side: int) -> Dict[str, tf.Tensor]:
        """Blended style targets (Gram matrices for the ``gram`` loss) for an output of this
        long side (cached; :class:`tf_style.criterion.StyleTargets`).

        Blending Grams equals blending the per-style losses up to a constant, since
        ``sum_k w_k |G - A_k|^2 = |G - sum_k w_k A_k|^2 + const`` when the weights sum to 1.
        Other style losses blend as ``PerceptualLoss.blend_targets`` says (``meancov``: the
        Gaussian of the mixture; ``sliced``: the quantile functions, a barycenter).
        """
        return self.targets.at(output_long_side)

    @property
    def style_target_builds(self) -> int:
        """How many painting sizes had their targets computed (shared targets count once)."""
        return self.targets.builds

    @property
    def _style_cache(self) -> Dict[int, object]:
        return self.targets.cache

    def share_targets(self, other: "Stylizer") -> bool:
        """Use ``other``'s style targets (and their cache) where they are the same as ours:
        same paintings, blend, scale, tiles and style loss, and ``other``'s style layers
        include ours (a sweep's base stylizer has the union of its tiles' layers). Returns
        whether they are shared; if not, this stylizer keeps its own (correct, slower)."""
        if self.targets.matches(other.targets) and set(self.style_layers) <= set(other.style_layers):
            self.targets = other.targets
            return True
        return False

    # -- the run ---------------------------------------------------------------
    def stylize(
        self,
        content: im.ImageLike,
        *,
        output: Optional[PathLike] = None,
        save_every: int = 0,
        progress: bool = False,
        on_step: Optional[StepHook] = None,
        protect: Sequence[PathLike] = (),
    ) -> StylizeResult:
        """Stylize ``content``; with ``output``, write the picture there (atomically).

        ``save_every=N`` also writes the current picture to ``output`` every N
        evaluations, so an interrupted run keeps its latest complete image. Ctrl-C
        (KeyboardInterrupt) ends the run early with ``result.interrupted`` set and the
        best image so far returned and written.
        """
        cfg = self.config
        if isinstance(save_every, bool) or not isinstance(save_every, int) or save_every < 0:
            raise OptionError(f"save_every: expected an integer >= 0, got {save_every!r}")
        if save_every and output is None:
            raise OptionError("save_every: needs an output path to write intermediate images to")
        content_img = im.read_image(content)
        im.check_min_size(content_img, MIN_IMAGE_SIDE, name=_name(content))
        inputs = [p for p in (content, *protect) if isinstance(p, (str, os.PathLike))]
        if str(cfg.init) not in INIT_KINDS:
            inputs.append(cfg.init)
        if output is not None:
            im.check_output_path(output, inputs=inputs)
        schedule = pyr.Schedule.plan(content_img.size, cfg)
        schedule.check_memory(self.backbone, self.content_layers + self.style_layers)
        # With preserve_color the loss sees the photo's luminance; its colours come back at the end.
        content_for_net = im.to_pil(im.luminance_image(im.to_array(content_img))) if cfg.preserve_color \
            else content_img
        x = self._initial_image(cfg.init, content_for_net, schedule.sizes[0], inputs)
        final_size = schedule.sizes[-1]

        def finish(arr: np.ndarray) -> Image.Image:
            out = arr
            if out.shape[1::-1] != final_size:
                out = im.to_array(im.resize_to(im.to_pil(out), final_size))
            if cfg.preserve_color:
                out = im.match_luminance_transfer(out, im.to_array(im.resize_to(content_img, final_size)))
            return im.to_pil(out)

        start = time.perf_counter()
        bar = ProgressBar(schedule.evaluations) if progress else None

        def step(level: int, label: str, done: int, terms: Dict[str, float]) -> None:
            if bar is not None:
                bar.label = label
                bar.update(done, terms)
            if on_step is not None:
                on_step(level, len(schedule.levels), done, schedule.evaluations, terms)

        run = pyr.run_pyramid(
            schedule, x, content_for_net,
            lambda content_level, style_side, kind: self._objective(content_level, style_side=style_side, kind=kind),
            optimizer=cfg.optimizer, learning_rate=cfg.learning_rate, on_step=step, save_every=save_every,
            save=lambda picture: im.save_image(finish(picture), output, inputs=inputs),
        )
        if bar is not None:
            bar.close()
        picture = finish(run.image)
        seconds = time.perf_counter() - start
        if output is not None:
            im.save_image(picture, output, inputs=inputs)
        return StylizeResult(
            image=picture,
            history=run.history,
            config=cfg,
            backbone=self.backbone.name,
            weights_source=self.backbone.weights_source,
            seconds=seconds,
            iterations=run.evaluations,
            sizes=schedule.sizes,
            interrupted=run.interrupted,
            final=run.final,
            dtype=self.backbone.dtype,
            padding=self.backbone.padding,
        )

    # -- helpers ---------------------------------------------------------------
    def _objective(
        self, content_level: np.ndarray, size: Optional[Tuple[int, int]] = None, style_side: Optional[int] = None,
        *, kind: type = ImageObjective,
    ) -> ImageObjective:
        """The compiled objective of class ``kind`` for ``size`` (width, height; by default that of
        ``content_level``, ``[1, h, w, 3]``) with ``content_level``'s content targets set (cached:
        photos and tiles of one size share a trace). The objective factory of
        :func:`tf_style.pyramid.run_pyramid`.

        ``style_side`` is the long side of the picture whose style targets apply (a tile
        takes those of the whole level); by default the size's own.
        """
        targets = self.loss.content_targets(self.backbone(tf.constant(content_level)))
        lw, lh = size or (content_level.shape[2], content_level.shape[1])
        style_side = style_side or max(lw, lh)
        key = (lw, lh, style_side, kind)
        objective = self._objectives.get(key)
        if objective is None:
            objective = kind(self.backbone, self.loss, targets, self.style_grams(style_side), (1, lh, lw, 3))
            self._objectives[key] = objective
        else:
            objective.set_content(targets)
        return objective

    def _initial_image(self, init, content_img, size, inputs) -> np.ndarray:
        lw, lh = size
        kind = str(init)
        if kind == "content":
            return im.to_array(im.resize_to(content_img, (lw, lh)))
        if kind == "style":
            return im.to_array(im.resize_to(self.style_images[0], (lw, lh)))
        if kind == "noise":
            rng = np.random.default_rng(self.config.seed)
            return rng.uniform(0, 255, size=(lh, lw, 3)).astype(np.float32)
        if kind not in INIT_KINDS and not os.path.exists(kind):
            raise OptionError(
                f"init: expected content, style, noise or an existing image path, got {kind!r}"
            )
        image = im.read_image(kind)
        if self.config.preserve_color:
            image = im.to_pil(im.luminance_image(im.to_array(image)))
        return im.to_array(im.resize_to(image, (lw, lh)))


def _name(source: object) -> str:
    return str(source) if isinstance(source, (str, os.PathLike)) else type(source).__name__


def stylize(
    content: im.ImageLike,
    style: Union[im.ImageLike, Sequence[im.ImageLike]],
    *,
    output: Optional[PathLike] = None,
    backbone: Union[str, "bb.Backbone", None] = None,
    progress: bool = False,
    save_every: int = 0,
    log: Optional[Callable[[str], None]] = None,
    method: str = DEFAULT_METHOD,
    **options: object,
) -> Union[StylizeResult, ArbitraryResult]:
    """Stylize one photo with one or more style images.

    ``method="gatys"`` (default): optimization; options are :class:`StylizeConfig` fields.
    ``method="arbitrary"``: one forward pass of the arbitrary-style networks; options are
    :class:`ArbitraryConfig` fields (``size``, ``strength``, ``style_blend``,
    ``style_scale``, ``preserve_color``), and giving an optimizer-only option (e.g.
    ``iterations``, ``backbone``, ``save_every``) raises :class:`OptionError` naming it.
    Returns an :class:`ArbitraryResult` then, with the same ``image``, ``seconds`` and
    ``to_dict``.

    Example:
        >>> r = stylize("tubingen.jpg", "starry_night.jpg", size=256, iterations=50)  # doctest: +SKIP
        >>> r.image.size, r.final_terms["style"] < r.history[0]["style"]  # doctest: +SKIP
        ((256, 192), True)
        >>> stylize("tubingen.jpg", ["the_scream.jpg", "starry_night.jpg"], method="arbitrary",
        ...         style_blend=(3, 1), strength=0.8).image.size  # doctest: +SKIP
        (512, 384)
    """
    method = check_method(method)
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    if method == "arbitrary":
        for name, given in (("backbone", backbone is not None), ("save_every", bool(save_every))):
            if given:
                raise OptionError(f"{name}: only used by method 'gatys' (the optimizer), not by method 'arbitrary'")
        config = ArbitraryConfig().with_options(**options)
        return stylize_arbitrary_result(content, styles, config, output=output, log=log)
    stylizer = Stylizer(styles, backbone=backbone, log=log, **options)
    return stylizer.stylize(
        content, output=output, save_every=save_every, progress=progress, protect=styles
    )
