"""Style transfer of one photo, the Python API: optimization-based (Gatys, Ecker, Bethge
2015; ``method="gatys"``, the default) or one forward pass of Magenta's arbitrary-style
networks (Ghiasi et al. 2017; ``method="arbitrary"``, see ``tf_style.one_pass``).

Example:
    >>> import tf_style
    >>> result = tf_style.stylize("tubingen.jpg", "starry_night.jpg", size=256)  # doctest: +SKIP
    >>> result.image.save("out.png")  # doctest: +SKIP
    >>> fast = tf_style.stylize("tubingen.jpg", "starry_night.jpg", method="arbitrary", strength=0.8)  # doctest: +SKIP

A :class:`Stylizer` keeps the backbone and the style targets between calls, so
stylizing many photos with one style pays for them once.
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
from tf_style import system
from tf_style import tiles as tl
from tf_style.criterion import StyleTargets, build_criterion, tile_overlap
from tf_style.config import (
    DEFAULT_METHOD,
    INIT_KINDS,
    MIN_IMAGE_SIDE,
    MIN_SIZE,
    ArbitraryConfig,
    StylizeConfig,
    check_method,
)
from tf_style.errors import MemoryBudgetError, OptionError
from tf_style.one_pass import ArbitraryResult, stylize_arbitrary_result
from tf_style.optimize import ImageObjective, OptimizeOutcome, adam, lbfgs
from tf_style.progress import ProgressBar

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

    def to_dict(self, output: Optional[PathLike] = None) -> dict:
        """A JSON-ready summary (what ``tf-style stylize --json`` prints)."""
        return {
            "output": None if output is None else str(output),
            "method": "gatys",
            "size": list(self.image.size),
            "backbone": self.backbone,
            "weights": self.weights_source,
            "dtype": self.dtype,
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


def pyramid_sizes(width: int, height: int, long_side: int, levels: int) -> List[Tuple[int, int]]:
    """Output sizes of the coarse-to-fine levels, smallest first (levels under 128 px dropped).

    >>> pyramid_sizes(1024, 768, 512, 3)
    [(128, 96), (256, 192), (512, 384)]
    """
    sizes = []
    for k in range(levels - 1, -1, -1):
        side = round(long_side / 2**k)
        if k and side < 128:
            continue
        scale = side / max(width, height)
        sizes.append((max(1, round(width * scale)), max(1, round(height * scale))))
    return sizes


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
            style_layers=config.style_layers, pooling=config.pooling, weights=config.weights, dtype=config.dtype,
            content_weight=config.content_weight, style_weight=config.style_weight, tv_weight=config.tv_weight,
            style_layer_weights=config.style_layer_weights, style_loss=config.style_loss, seed=config.seed,
            log=self._log,
        )
        self.content_layers, self.style_layers = self.loss.content_layers, self.loss.style_layers
        #: The paintings' style targets per output size (shareable: :meth:`share_targets`).
        self.targets = StyleTargets(self.style_images, self.blend, self.backbone, self.loss,
                                    style_scale=config.style_scale, tile=config.tile)
        self._objectives: Dict[Tuple[int, int, int], ImageObjective] = {}
        self._tile_objectives: Dict[Tuple[int, int, int], "tl.TileObjective"] = {}

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
        sizes = pyramid_sizes(*content_img.size, cfg.size, cfg.pyramid)
        w, h = sizes[-1]
        if min(w, h) < MIN_SIZE:
            raise OptionError(
                f"size: {cfg.size} gives a {w}x{h} output for this {content_img.size[0]}x"
                f"{content_img.size[1]} photo; each side must be >= {MIN_SIZE} px (use a larger --size)"
            )
        tiled = [self._tiled(size) for size in sizes]
        biggest_whole = max([sz for sz, t in zip(sizes, tiled) if not t], default=(0, 0),
                            key=lambda sz: sz[0] * sz[1])
        tile_side = min(cfg.tile, max(w, h)) if any(tiled) else 0
        check_w, check_h = max(biggest_whole[0], tile_side), max(biggest_whole[1], tile_side)
        self._check_memory(check_w, check_h, tiled=any(tiled))
        content_arr_full = im.to_array(content_img)
        if cfg.preserve_color:
            content_lum = im.luminance_image(content_arr_full)
            content_img_for_net = im.to_pil(content_lum)
        else:
            content_img_for_net = content_img

        init = self._initial_image(cfg.init, content_img_for_net, sizes[0], inputs)
        start = time.perf_counter()
        history: List[Dict[str, float]] = []
        level_evals = [
            len(tl.tile_boxes(lh, lw, cfg.tile, _overlap(cfg.tile))) * cfg.tile_iterations if tiled[k]
            else _level_iterations(cfg.iterations, len(sizes), k)
            for k, (lw, lh) in enumerate(sizes)
        ]
        total_evals = sum(level_evals)
        bar = ProgressBar(total_evals) if progress else None
        done_before = 0
        x = init
        outcome: Optional[OptimizeOutcome] = None
        final_size = (w, h)

        def finish(arr: np.ndarray) -> Image.Image:
            out = arr
            if out.shape[1::-1] != final_size:
                out = im.to_array(im.resize_to(im.to_pil(out), final_size))
            if cfg.preserve_color:
                content_at = im.to_array(im.resize_to(content_img, final_size))
                out = im.match_luminance_transfer(out, content_at)
            return im.to_pil(out)

        last_saved = {"n": 0}
        tile_terms: Dict[str, float] = {}
        for level, (lw, lh) in enumerate(sizes):
            iters = level_evals[level]
            content_level = im.to_array(im.resize_to(content_img_for_net, (lw, lh)))[None]
            if x.shape[:2] != (lh, lw):
                x = _upsample(x, (lh, lw))
            if tiled[level]:
                outcome, tile_terms = self._tiled_level(
                    x, content_level[0], level, len(sizes), done_before, total_evals, bar, on_step,
                    (lambda canvas: im.save_image(finish(canvas), output, inputs=inputs))
                    if save_every else None,
                )
                history.extend(outcome.history)
                done_before += outcome.evaluations
                x = outcome.image
                if outcome.interrupted:
                    break
                continue
            objective = self._objective(content_level, (lw, lh))

            def callback(done, terms, current, _base=done_before, _lvl=level):
                n = _base + done
                if bar is not None:
                    bar.label = f"level {_lvl + 1}/{len(sizes)} {sizes[_lvl][0]}x{sizes[_lvl][1]} "
                    bar.update(n, terms)
                if on_step is not None:
                    on_step(_lvl, len(sizes), n, total_evals, terms)
                if save_every and n - last_saved["n"] >= save_every:
                    im.save_image(finish(current()), output, inputs=inputs)
                    last_saved["n"] = n

            if cfg.optimizer == "lbfgs":
                outcome = lbfgs(objective, x, iters, callback=callback)
            else:
                outcome = adam(objective, x, iters, learning_rate=cfg.learning_rate, callback=callback)
            history.extend(outcome.history)
            done_before += outcome.evaluations
            x = outcome.image
            if outcome.interrupted:
                break
        if bar is not None:
            bar.close()

        assert outcome is not None
        interrupted = outcome.interrupted
        final_terms = None
        if not interrupted and tiled[-1]:
            # The whole picture never fits one evaluation: its terms as the tiles add them up.
            final_terms = tile_terms or None
        elif not interrupted:
            # The loss of the image we return (the best evaluated one), at the final size.
            final_terms = {k: float(v) for k, v in _evaluate(objective, x).items()}
        picture = finish(x)
        seconds = time.perf_counter() - start
        if output is not None:
            im.save_image(picture, output, inputs=inputs)
        return StylizeResult(
            image=picture,
            history=history,
            config=cfg,
            backbone=self.backbone.name,
            weights_source=self.backbone.weights_source,
            seconds=seconds,
            iterations=done_before,
            sizes=sizes,
            interrupted=interrupted,
            final=final_terms,
            dtype=self.backbone.dtype,
        )

    # -- helpers ---------------------------------------------------------------
    def _objective(
        self, content_level: np.ndarray, size: Tuple[int, int], style_side: Optional[int] = None
    ) -> ImageObjective:
        """The compiled objective for this size (cached: photos of one size share a trace).

        ``style_side`` is the long side of the picture whose style targets apply (a tile
        takes those of the whole level); by default the size's own.
        """
        targets = self.loss.content_targets(self.backbone(tf.constant(content_level)))
        lw, lh = size
        style_side = style_side or max(lw, lh)
        key = (lw, lh, style_side)
        objective = self._objectives.get(key)
        if objective is None:
            objective = ImageObjective(
                self.backbone, self.loss, targets, self.style_grams(style_side), (1, lh, lw, 3)
            )
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

    def _tiled(self, size: Tuple[int, int]) -> bool:
        return bool(self.config.tile) and max(size) > 2 * self.config.tile

    def _tiled_level(self, x, content, level, levels, done_before, total, bar, on_step, save):
        """Optimize ``x`` (HxWx3, the upsampled picture) tile by tile: block-coordinate
        descent on the whole picture's loss (see :class:`tf_style.tiles.TileObjective`).

        Returns (OptimizeOutcome for the whole canvas, the final loss terms of the whole
        picture as the tiles' shares add up)."""
        cfg = self.config
        h, w = x.shape[:2]
        overlap = _overlap(cfg.tile)
        boxes = tl.tile_boxes(h, w, cfg.tile, overlap)
        cores = tl.tile_cores(h, w, cfg.tile, overlap)
        top0, left0, bottom0, right0 = boxes[0]
        th, tw = bottom0 - top0, right0 - left0
        key = (tw, th, max(h, w))
        objective = self._tile_objectives.get(key)
        if objective is None:
            crop = content[None, :th, :tw]
            targets = self.loss.content_targets(self.backbone(tf.constant(crop)))
            objective = tl.TileObjective(self.backbone, self.loss, targets, self.style_grams(max(h, w)),
                                         (1, th, tw, 3))
            self._tile_objectives[key] = objective
        canvas = x.astype(np.float32).copy()

        def own(k):  # tile k's core, relative to its box
            (bt, bl, _, _), (ct, cl, cb, cr) = boxes[k], cores[k]
            return ct - bt, cl - bl, cb - bt, cr - bl

        def sums_of(k):  # tile k's core moment sums ({} where the loss needs none: sliced)
            if not objective.whole_statistics:
                return {}
            t, l, b, r = boxes[k]
            return objective.core_sums(canvas[t:b, l:r], own(k))

        # The whole picture's moment sums, kept current as tiles change.
        parts = [sums_of(k) for k in range(len(boxes))]
        total_sums = {n: tf.add_n([p[n] for p in parts]) for n in parts[0]}

        def refresh(k):  # earlier tiles' blend zones reach into this core
            fresh = sums_of(k)
            for n in fresh:
                total_sums[n] += fresh[n] - parts[k][n]
            parts[k] = fresh

        history: List[Dict[str, float]] = []
        finals: List[Dict[str, float]] = []
        interrupted = False
        for k, box in enumerate(boxes):
            top, left, bottom, right = box
            refresh(k)
            rest = {n: total_sums[n] - parts[k][n] for n in total_sums}
            ct, cl, cb, cr = cores[k]
            objective.set_tile(own(k), rest, share=(cb - ct) * (cr - cl) / (h * w))
            crop = content[None, top:bottom, left:right]
            objective.set_content(self.loss.content_targets(self.backbone(tf.constant(crop))))

            def callback(done, terms, current, _base=done_before + len(history), _k=k):
                n = _base + done
                if bar is not None:
                    bar.label = f"level {level + 1}/{levels} {w}x{h} tile {_k + 1}/{len(boxes)} "
                    bar.update(n, terms)
                if on_step is not None:
                    on_step(level, levels, n, total, terms)

            start = canvas[top:bottom, left:right].copy()
            if cfg.optimizer == "lbfgs":
                outcome = lbfgs(objective, start, cfg.tile_iterations, callback=callback)
            else:
                outcome = adam(objective, start, cfg.tile_iterations, learning_rate=cfg.learning_rate,
                               callback=callback)
            history.extend(outcome.history)
            mask = tl.blend_mask(box, boxes)
            canvas[top:bottom, left:right] = mask * outcome.image + (1.0 - mask) * start
            refresh(k)
            if outcome.interrupted:
                interrupted = True
                break
            if outcome.history:  # the terms of the image it returned: the best evaluated
                finals.append(min(outcome.history, key=lambda t: t["total"]))
            if save is not None:
                save(canvas)
        final: Dict[str, float] = {}
        if finals:
            # Content and tv: the tiles' shares add up; style: the whole picture's statistics
            # at the last tile (sliced: each tile's own distribution, shares adding up).
            final = {"content": sum(t["content"] for t in finals), "tv": sum(t["tv"] for t in finals),
                     "style": finals[-1]["style"] if objective.whole_statistics
                     else sum(t["style"] for t in finals)}
            final["total"] = float(self.loss.weighted_total(final))
        return OptimizeOutcome(canvas, history, len(history), interrupted), final

    def _check_memory(self, w: int, h: int, *, tiled: bool = False) -> None:
        name = self.backbone.name if self.backbone.name in ("vgg19", "vgg16", "vgg16-hed") else None
        if name is None:
            return
        need = bb.estimate_memory_bytes(name, self.content_layers + self.style_layers, h, w,
                                        dtype=self.backbone.dtype)
        avail = system.available_memory()
        if avail is not None and need > avail:
            hint = "use a smaller --size or --tile" if tiled else \
                "use a smaller --size, or tiles (--tile 512) for a large picture"
            raise MemoryBudgetError(
                f"size: a {w}x{h} {'tile' if tiled else 'run'} needs about {need / 2**30:.1f} GiB "
                f"but only {avail / 2**30:.1f} GiB is available; {hint}"
            )


def _evaluate(objective: ImageObjective, x: np.ndarray) -> Dict[str, tf.Tensor]:
    objective.image.assign(x[None].astype(np.float32))
    terms, _ = objective.evaluate()
    return terms


_overlap = tile_overlap  # the tests' name for it


def _upsample(x: np.ndarray, hw: Tuple[int, int]) -> np.ndarray:
    """Bicubic upsampling of HxWx3, in horizontal bands so a 4000 px canvas needs no
    more than a band's worth of temporary memory."""
    h, w = hw
    if h * w <= 4_000_000:
        return tf.image.resize(x[None], hw, method="bicubic")[0].numpy().clip(0, 255)
    return im.to_array(im.resize_to(im.to_pil(x), (w, h)))


def _level_iterations(iterations: int, levels: int, level: int) -> int:
    """Coarse levels are cheap (4x fewer pixels per halving): give them more steps."""
    return iterations * 2 ** (levels - 1 - level)


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
