"""The coarse-to-fine schedule of one optimizer run: each level's size and evaluations (whole or
tile by tile), the memory its largest pass needs, and the run from level to level.

A run optimizes a small picture first and upsamples the result as the start of the next level,
twice as large, up to the output size. A level longer than two tiles is optimized tile by tile
(:func:`tf_style.tiles.optimize_tiles`). ``transfer`` reads the photo and paintings, builds the
objectives and writes the result; this module only schedules.

Example:
    >>> pyramid_sizes(1024, 768, 512, 3)
    [(128, 96), (256, 192), (512, 384)]
    >>> [level_iterations(100, 3, k) for k in range(3)]
    [400, 200, 100]
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from PIL import Image

from tf_style import backbones as bb
from tf_style import image as im
from tf_style import system
from tf_style import tiles as tl
from tf_style.config import MIN_SIZE, StylizeConfig
from tf_style.errors import MemoryBudgetError, OptionError
from tf_style.optimize import ImageObjective, run_optimizer

__all__ = ["pyramid_sizes", "level_iterations", "upsample", "Level", "Schedule", "PyramidOutcome",
           "run_pyramid"]

#: ``objective_for(content, style_side, kind)``: an objective of class ``kind``
#: (``ImageObjective``, or ``TileObjective`` for a tile) of the size of ``content``
#: (``[1, h, w, 3]``) with its content targets set, matching the style targets of a picture of
#: long side ``style_side`` (a tile takes those of its whole level).
ObjectiveFactory = Callable[[np.ndarray, int, type], ImageObjective]
#: ``on_step(level, label, done, terms)``: after each evaluation; ``label`` names the level
#: (and tile) for a progress bar, ``done`` counts the run's evaluations so far.
LevelStep = Callable[[int, str, int, Dict[str, float]], None]

# The backbones whose memory use ``backbones.estimate_memory_bytes`` knows.
_ESTIMATED = ("vgg19", "vgg16", "vgg16-hed")


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


def level_iterations(iterations: int, levels: int, level: int) -> int:
    """Evaluations of level ``level`` (0: the coarsest) of ``levels`` when the finest gets
    ``iterations``: coarse levels are cheap (4x fewer pixels per halving), so each level below
    gets twice the steps of the one above.

    >>> level_iterations(50, 2, 0), level_iterations(50, 2, 1)
    (100, 50)
    """
    return iterations * 2 ** (levels - 1 - level)


def upsample(x: np.ndarray, hw: Tuple[int, int]) -> np.ndarray:
    """Bicubic upsampling of HxWx3 to ``hw`` = (height, width), clipped to [0, 255]; a picture
    over 4 megapixels goes through Pillow so a 4000 px canvas needs no more than a band's
    worth of temporary memory."""
    h, w = hw
    if h * w <= 4_000_000:
        return tf.image.resize(x[None], hw, method="bicubic")[0].numpy().clip(0, 255)
    return im.to_array(im.resize_to(im.to_pil(x), (w, h)))


@dataclasses.dataclass(frozen=True)
class Level:
    """One level of the pyramid: its size and how it is optimized."""

    size: Tuple[int, int]  # (width, height)
    iterations: int  # evaluations of the level's one pass, or of each of its tiles
    tiles: int = 0  # how many tiles it is optimized in; 0: the whole picture at once

    @property
    def tiled(self) -> bool:
        return self.tiles > 0

    @property
    def evaluations(self) -> int:
        """Every evaluation the level takes (its share of the progress bar)."""
        return self.iterations * max(1, self.tiles)


@dataclasses.dataclass(frozen=True)
class Schedule:
    """The levels of one run, smallest first, and the tile side of its tiled levels.

    Example:
        >>> s = Schedule.plan((1024, 768), StylizeConfig(size=512, pyramid=2, iterations=50))
        >>> s.sizes, [level.evaluations for level in s.levels], s.evaluations
        ([(256, 192), (512, 384)], [100, 50], 150)
    """

    levels: Tuple[Level, ...]
    tile: int = 0

    @classmethod
    def plan(cls, content_size: Tuple[int, int], config: StylizeConfig) -> "Schedule":
        """The levels for a photo of ``content_size`` (width, height) under ``config``'s
        ``size``, ``pyramid``, ``iterations``, ``tile`` and ``tile_iterations``.

        Raises:
            OptionError: the output would have a side under ``MIN_SIZE`` px.
        """
        sizes = pyramid_sizes(*content_size, config.size, config.pyramid)
        w, h = sizes[-1]
        if min(w, h) < MIN_SIZE:
            raise OptionError(
                f"size: {config.size} gives a {w}x{h} output for this {content_size[0]}x"
                f"{content_size[1]} photo; each side must be >= {MIN_SIZE} px (use a larger --size)"
            )
        levels = []
        for k, (lw, lh) in enumerate(sizes):
            if tl.needs_tiles(max(lw, lh), config.tile):
                tiles = len(tl.tile_boxes(lh, lw, config.tile, tl.tile_overlap(config.tile)))
                levels.append(Level((lw, lh), config.tile_iterations, tiles))
            else:
                levels.append(Level((lw, lh), level_iterations(config.iterations, len(sizes), k)))
        return cls(tuple(levels), config.tile)

    @property
    def sizes(self) -> List[Tuple[int, int]]:
        return [level.size for level in self.levels]

    @property
    def evaluations(self) -> int:
        return sum(level.evaluations for level in self.levels)

    @property
    def tiled(self) -> bool:
        """Whether any level runs tile by tile."""
        return any(level.tiled for level in self.levels)

    def largest_pass(self) -> Tuple[int, int]:
        """(width, height) bounding the largest picture one evaluation sees: the largest whole
        level, or a tile (side ``tile``, at most the output's long side)."""
        whole = max([level.size for level in self.levels if not level.tiled], default=(0, 0),
                    key=lambda size: size[0] * size[1])
        side = min(self.tile, max(self.levels[-1].size)) if self.tiled else 0
        return max(whole[0], side), max(whole[1], side)

    def check_memory(self, backbone: bb.Backbone, layers: Sequence[str]) -> None:
        """Refuse, before any work, a run whose largest pass needs more memory than is available
        (:func:`tf_style.system.available_memory`); backbones without an estimate pass.

        Raises:
            MemoryBudgetError: naming the pass and the memory, with a hint (``--size``, ``--tile``).
        """
        if backbone.name not in _ESTIMATED:
            return
        w, h = self.largest_pass()
        need = bb.estimate_memory_bytes(backbone.name, list(layers), h, w, dtype=backbone.dtype)
        avail = system.available_memory()
        if avail is not None and need > avail:
            hint = "use a smaller --size or --tile" if self.tiled else \
                "use a smaller --size, or tiles (--tile 512) for a large picture"
            raise MemoryBudgetError(
                f"size: a {w}x{h} {'tile' if self.tiled else 'run'} needs about {need / 2**30:.1f} GiB "
                f"but only {avail / 2**30:.1f} GiB is available; {hint}"
            )


@dataclasses.dataclass
class PyramidOutcome:
    """What the levels produced."""

    image: np.ndarray  # HxWx3 float32 in [0, 255], at the size of the last level reached
    history: List[Dict[str, float]]
    evaluations: int
    interrupted: bool
    #: The returned picture's loss terms at the final size (a tiled level: as the tiles' shares
    #: add up); None when interrupted.
    final: Optional[Dict[str, float]]


def run_pyramid(
    schedule: Schedule,
    x: np.ndarray,
    content: Image.Image,
    objective_for: ObjectiveFactory,
    *,
    optimizer: str = "lbfgs",
    learning_rate: float = 4.0,
    on_step: Optional[LevelStep] = None,
    save_every: int = 0,
    save: Optional[Callable[[np.ndarray], None]] = None,
) -> PyramidOutcome:
    """Optimize level by level from ``x`` (HxWx3 at the first level's size), each level starting
    from the previous one's result upsampled, towards ``content`` (the photo as the loss sees
    it) resized to the level.

    With ``save_every`` > 0, ``save(picture)`` receives the best picture so far every
    ``save_every`` evaluations of a whole level and after every tile of a tiled level. Ctrl-C
    ends the run after the level it interrupts (``interrupted``; its best picture returned).

    Example:
        >>> out = run_pyramid(Schedule.plan(photo.size, config), x0, photo, objective_for)  # doctest: +SKIP
        >>> out.evaluations == Schedule.plan(photo.size, config).evaluations  # doctest: +SKIP
        True
    """
    report = on_step or (lambda level, label, done, terms: None)
    history: List[Dict[str, float]] = []
    done_before = last_saved = 0
    final: Optional[Dict[str, float]] = None
    objective: Optional[ImageObjective] = None
    interrupted = False
    count = len(schedule.levels)
    for index, level in enumerate(schedule.levels):
        lw, lh = level.size
        content_level = im.to_array(im.resize_to(content, (lw, lh)))
        if x.shape[:2] != (lh, lw):
            x = upsample(x, (lh, lw))
        label = f"level {index + 1}/{count} {lw}x{lh} "
        if level.tiled:
            def tile_step(k, tiles, done, terms, _base=done_before, _index=index, _label=label):
                report(_index, f"{_label}tile {k + 1}/{tiles} ", _base + done, terms)

            outcome, final = tl.optimize_tiles(
                x, content_level, lambda crop, _side=max(lw, lh): objective_for(crop, _side, tl.TileObjective),
                tile=schedule.tile, iterations=level.iterations, optimizer=optimizer,
                learning_rate=learning_rate, on_step=tile_step, on_tile=save if save_every else None,
            )
        else:
            objective = objective_for(content_level[None], max(lw, lh), ImageObjective)

            def step(done, terms, current, _base=done_before, _index=index, _label=label):
                nonlocal last_saved
                n = _base + done
                report(_index, _label, n, terms)
                if save_every and save is not None and n - last_saved >= save_every:
                    save(current())
                    last_saved = n

            outcome = run_optimizer(optimizer, objective, x, level.iterations, learning_rate=learning_rate,
                                    callback=step)
        history.extend(outcome.history)
        done_before += outcome.evaluations
        x = outcome.image
        if outcome.interrupted:
            interrupted = True
            break
    if interrupted:
        final = None
    elif schedule.levels[-1].tiled:
        # The whole picture never fits one evaluation: its terms as the tiles add them up.
        final = final or None
    else:
        # The loss of the picture we return (the best evaluated one), at the final size.
        assert objective is not None
        final = objective.terms_at(x)
    return PyramidOutcome(x, history, done_before, interrupted, final)
