"""Tiles for pictures larger than memory allows: boxes, blend masks, whole-image Grams, and
the loop that optimizes one picture tile by tile (:func:`optimize_tiles`).

A high-resolution level is optimized tile by tile (square tiles overlapping their
neighbours), in raster order, each tile starting from the canvas as the tiles before it
left it. Every tile matches the Gram targets of the *whole* style image, not of a crop,
so all tiles aim at the same style statistics. A tile is written back through a mask that
ramps from 0 to 1 across its overlap with the tiles above and to its left (already
written), so each seam fades from one tile's pixels into the next one's and the edge
pixels of a tile (where the backbone's zero padding distorts the features) never show.

Example:
    >>> tile_boxes(100, 160, 64, 16)[:3]
    [(0, 0, 64, 64), (0, 48, 64, 112), (0, 96, 64, 160)]
    >>> needs_tiles(1024, 512), needs_tiles(1025, 512), needs_tiles(4096, 0)
    (False, True, False)
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from tf_style.optimize import ImageObjective, OptimizeOutcome, run_optimizer

__all__ = ["Box", "tile_overlap", "needs_tiles", "axis_starts", "tile_boxes", "blend_mask", "core_cuts",
           "tile_cores", "core_moments", "moments_statistics", "tiled_statistics", "tiled_features",
           "tiled_grams", "TileObjective", "optimize_tiles"]

#: (top, left, bottom, right), bottom/right exclusive.
Box = Tuple[int, int, int, int]
#: ``on_step(tile, tiles, done, terms)``: after each evaluation of tile ``tile`` (from 0) of
#: ``tiles``; ``done`` counts the evaluations of the whole picture so far.
TileStep = Callable[[int, int, int, Dict[str, float]], None]


def tile_overlap(tile: int) -> int:
    """Pixels by which neighbouring tiles overlap: the blend zone.

    >>> tile_overlap(512), tile_overlap(64)
    (64, 8)
    """
    return max(8, tile // 8)


def needs_tiles(long_side: int, tile: int) -> bool:
    """Whether a picture (the optimized one or a painting) of this long side is handled tile by
    tile: tiles are on (``tile`` > 0) and it is more than two tiles long."""
    return bool(tile) and long_side > 2 * tile


def axis_starts(length: int, tile: int, overlap: int) -> List[int]:
    """Start offsets of tiles of ``min(tile, length)`` px covering ``length``, spread evenly,
    neighbours overlapping by at least ``overlap`` px.

    >>> axis_starts(160, 64, 16)
    [0, 48, 96]
    """
    if tile <= overlap:
        raise ValueError(f"tile ({tile}) must be larger than overlap ({overlap})")
    t = min(tile, length)
    if length <= t:
        return [0]
    count = math.ceil((length - overlap) / (t - overlap))
    # Spread evenly: spacing (length - t) / (count - 1) <= t - overlap by the choice of count.
    return [round(i * (length - t) / (count - 1)) for i in range(count)]


def tile_boxes(height: int, width: int, tile: int, overlap: int) -> List[Box]:
    """Boxes of one size covering ``height x width`` in raster order (rows top to bottom).

    All boxes have the same shape, so one compiled objective serves every tile.
    """
    th, tw = min(tile, height), min(tile, width)
    return [
        (top, left, top + th, left + tw)
        for top in axis_starts(height, tile, overlap)
        for left in axis_starts(width, tile, overlap)
    ]


def blend_mask(box: Box, boxes: Sequence[Box]) -> np.ndarray:
    """float32 [h, w, 1]: 1 where ``box`` owns its pixels, ramping from 0 at its top/left
    edge to 1 across its overlap with the boxes before it in ``boxes`` (raster order)."""
    top, left, bottom, right = box
    index = boxes.index(box)
    earlier = boxes[:index]
    # Overlap with the tile to the left (same row) and with the row above.
    left_ov = max((r - left for (t, l, b, r) in earlier if t == top and l < left), default=0)
    top_ov = max((b - top for (t, l, b, r) in earlier if t < top), default=0)

    def ramp(n: int, ov: int) -> np.ndarray:
        a = np.ones(n, np.float32)
        if ov > 0:
            a[:ov] = (np.arange(ov, dtype=np.float32) + 0.5) / ov
        return a

    mask = ramp(bottom - top, top_ov)[:, None] * ramp(right - left, left_ov)[None, :]
    return mask[..., None]


def core_cuts(starts: Sequence[int], tile: int, length: int) -> List[Tuple[int, int]]:
    """Split ``[0, length)`` into one core per tile, cutting in the middle of each overlap,
    so the cores partition the axis and stay as far as possible from tile edges.

    >>> core_cuts([0, 48, 96], 64, 160)
    [(0, 56), (56, 104), (104, 160)]
    """
    t = min(tile, length)
    cuts = [0] + [(starts[i + 1] + starts[i] + t) // 2 for i in range(len(starts) - 1)] + [length]
    return [(cuts[i], cuts[i + 1]) for i in range(len(starts))]


def tile_cores(height: int, width: int, tile: int, overlap: int) -> List[Box]:
    """The core of each box of :func:`tile_boxes` (same order): a partition of the picture."""
    ys, xs = axis_starts(height, tile, overlap), axis_starts(width, tile, overlap)
    rows, cols = core_cuts(ys, tile, height), core_cuts(xs, tile, width)
    return [(r0, c0, r1, c1) for (r0, r1) in rows for (c0, c1) in cols]


def _core_rows(maps: Mapping[str, tf.Tensor], name: str, core: Box, tile_hw: Tuple[int, int]) -> tf.Tensor:
    """Layer ``name``'s feature vectors at the positions of ``core`` (a box inside the tile of
    ``tile_hw`` pixels), as ``[n, C]`` float32."""
    f = tf.cast(maps[name], tf.float32)
    y0, x0, y1, x1 = _core_in_grid(core, tile_hw, (int(f.shape[1]), int(f.shape[2])))
    return tf.reshape(f[0, y0:y1, x0:x1], [-1, f.shape[-1]])


def _own_core(box: Box, core: Box) -> Box:
    """``core`` (a box of the picture inside ``box``) relative to ``box``."""
    (top, left, _, _), (ct, cl, cb, cr) = box, core
    return ct - top, cl - left, cb - top, cr - left


def _tile_maps(features: Callable[[tf.Tensor], Mapping[str, tf.Tensor]], image: np.ndarray, tile: int,
               overlap: int) -> Iterator[Tuple[Mapping[str, tf.Tensor], Box, Tuple[int, int]]]:
    """For each tile of ``image`` (HxWx3): its feature maps, its core inside it and its size."""
    h, w = image.shape[:2]
    for box, core in zip(tile_boxes(h, w, tile, overlap), tile_cores(h, w, tile, overlap)):
        top, left, bottom, right = box
        maps = features(tf.constant(image[None, top:bottom, left:right].astype(np.float32)))
        yield maps, _own_core(box, core), (bottom - top, right - left)


def core_moments(maps: Mapping[str, tf.Tensor], core: Box, tile_hw: Tuple[int, int],
                 layers: Sequence[str]) -> Dict[str, tf.Tensor]:
    """Per layer, the moment sums of the positions of ``core`` (a box inside the tile of
    ``tile_hw`` pixels) as one ``[C + 1, C + 1]`` matrix ``[[sum f f^T, sum f], [sum f^T, n]]``.

    Appending a constant 1 to every feature vector makes one matmul give the second moments,
    the first moments and the count, so sums over tiles add and subtract as single tensors;
    :func:`moments_statistics` turns them into the Gram matrix and the mean.
    """
    out = {}
    for name in layers:
        flat = _core_rows(maps, name, core, tile_hw)
        flat = tf.concat([flat, tf.ones_like(flat[:, :1])], axis=1)
        out[name] = tf.matmul(flat, flat, transpose_a=True)
    return out


def moments_statistics(moments: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    """``[C + 1, C + 1]`` moment sums (:func:`core_moments`) -> (mean ``[1, C]``, Gram
    ``[1, C, C]``), both normalized by the count of positions: the statistics the losses match."""
    count = tf.maximum(moments[-1, -1], 1.0)
    return (moments[-1, :-1] / count)[None], (moments[:-1, :-1] / count)[None]


def tiled_statistics(
    features: Callable[[tf.Tensor], Mapping[str, tf.Tensor]],
    image: np.ndarray,
    layers: Sequence[str],
    tile: int,
    overlap: int,
) -> Dict[str, Tuple[tf.Tensor, tf.Tensor]]:
    """(mean ``[1, C]``, Gram ``[1, C, C]``) of the whole ``image`` (HxWx3) per layer,
    computed tile by tile: each tile contributes the positions of its core only, so every
    position counts once and none sits near a tile edge (where padding distorts).

    Equals the whole image's statistics up to what the cores' distance from the tile edges
    (``overlap / 2``) leaves of the backbone's receptive field.
    """
    sums: Dict[str, tf.Tensor] = {}
    for maps, core, tile_hw in _tile_maps(features, image, tile, overlap):
        for name, m in core_moments(maps, core, tile_hw, layers).items():
            sums[name] = sums[name] + m if name in sums else m
    return {name: moments_statistics(sums[name]) for name in layers}


def tiled_features(
    features: Callable[[tf.Tensor], Mapping[str, tf.Tensor]],
    image: np.ndarray,
    layers: Sequence[str],
    tile: int,
    overlap: int,
    limit: int = 1 << 20,
    seed: int = 0,
) -> Dict[str, tf.Tensor]:
    """The feature vectors of every core position of ``image``, per layer, as ``[1, N, 1, C]``
    (what the sliced loss sorts), at most ``limit`` positions per layer: a seeded uniform
    sample of them beyond that, which keeps the distribution and bounds the memory."""
    parts: Dict[str, List[tf.Tensor]] = {name: [] for name in layers}
    for maps, core, tile_hw in _tile_maps(features, image, tile, overlap):
        for name in layers:
            parts[name].append(_core_rows(maps, name, core, tile_hw))
    out = {}
    rng = np.random.default_rng(seed)
    for name in layers:
        flat = tf.concat(parts[name], 0)
        if int(flat.shape[0]) > limit:
            flat = tf.gather(flat, np.sort(rng.choice(int(flat.shape[0]), limit, replace=False)))
        out[name] = flat[None, :, None]
    return out


def tiled_grams(
    features: Callable[[tf.Tensor], Mapping[str, tf.Tensor]],
    image: np.ndarray,
    layers: Sequence[str],
    tile: int,
    overlap: int,
) -> Dict[str, tf.Tensor]:
    """Gram matrices ``[1, C, C]`` (normalized by positions) of the whole ``image``, tile by
    tile (see :func:`tiled_statistics`)."""
    return {name: stats[1] for name, stats in tiled_statistics(features, image, layers, tile, overlap).items()}


def _core_in_grid(core: Box, tile_hw: Tuple[int, int], grid_hw: Tuple[int, int]) -> Box:
    """A pixel box inside a tile -> the same box in a layer's (pooled) grid."""
    (y0, x0, y1, x1), (th, tw), (fh, fw) = core, tile_hw, grid_hw
    return y0 * fh // th, x0 * fw // tw, y1 * fh // th, x1 * fw // tw


class TileObjective(ImageObjective):
    """The whole picture's loss, as a function of one tile's pixels (the rest held fixed).

    For the ``gram`` and ``meancov`` losses the style term uses the statistics of the
    *whole* picture: the moment sums of every other tile's core (``set_tile``'s ``rest``,
    :func:`core_moments`) plus those of this tile's core, computed in the graph. Content
    and total variation are this tile's share of the whole picture's (``share`` = core
    pixels / picture pixels). Optimizing the tiles in turn is then block-coordinate descent
    on the full-resolution objective, with the memory of one tile.

    ``sliced`` compares sorted features, which do not add up over tiles: each tile matches
    the painting's whole distribution on its own (then so does their union), and its style
    term is weighted by its share like the others.

    Example:
        >>> obj = TileObjective(backbone, loss, content, targets, (1, 512, 512, 3))  # doctest: +SKIP
        >>> obj.set_tile(core, rest_moments, share=0.02)  # doctest: +SKIP
    """

    def __init__(self, backbone, loss, content_targets, style_targets, shape) -> None:
        super().__init__(backbone, loss, content_targets, style_targets, shape)
        #: Whether the style term uses the whole picture's statistics (gram, meancov).
        self.whole_statistics = loss.style_loss != "sliced"
        probe = backbone(tf.zeros(self.shape))
        self._grid = {n: (int(probe[n].shape[1]), int(probe[n].shape[2])) for n in loss.style_layers}
        channels = {n: int(probe[n].shape[-1]) for n in loss.style_layers}
        self._rest = {n: tf.Variable(tf.zeros([c + 1, c + 1]), trainable=False) for n, c in channels.items()}
        self._mask = {n: tf.Variable(tf.zeros([*self._grid[n], 1]), trainable=False) for n in channels}
        self._share = tf.Variable(1.0, trainable=False)

    def core_sums(self, tile: np.ndarray, core: Box) -> Dict[str, tf.Tensor]:
        """Moment sums (:func:`core_moments`) over ``core`` per style layer, for ``tile``
        (h x w x 3 pixels); ``core`` is (top, left, bottom, right) inside the tile."""
        maps = self._backbone(tf.constant(tile[None].astype(np.float32)))
        return core_moments(maps, core, self.shape[1:3], self._loss.style_layers)

    def set_tile(self, core: Box, rest: Mapping[str, tf.Tensor], share: float) -> None:
        """Which part of the tile is its own (``core``), the rest of the picture's moment
        sums (unused, may be empty, for ``sliced``), and the tile's share of the picture's pixels."""
        self._share.assign(share)
        if not self.whole_statistics:
            return
        for n, grid in self._grid.items():
            y0, x0, y1, x1 = _core_in_grid(core, self.shape[1:3], grid)
            mask = np.zeros((*grid, 1), np.float32)
            mask[y0:y1, x0:x1] = 1.0
            self._mask[n].assign(mask)
            self._rest[n].assign(rest[n])

    def _whole_statistics(self, maps) -> Dict[str, object]:
        stats: Dict[str, object] = {}
        for n in self._loss.style_layers:
            f = tf.cast(maps[n], tf.float32)[0]
            own = f * self._mask[n]
            second = tf.einsum("hwc,hwd->cd", own, f)
            first = tf.reduce_sum(own, axis=[0, 1])
            count = tf.reduce_sum(self._mask[n])
            moments = self._rest[n] + tf.concat(
                [tf.concat([second, first[:, None]], 1), tf.concat([first, count[None]], 0)[None]], 0)
            mean, gram = moments_statistics(moments)
            stats[n] = gram if self._loss.style_loss == "gram" else (mean, gram)
        return stats

    def _loss_and_grad(self):
        loss = self._loss
        with tf.GradientTape() as tape:
            maps = self._backbone(self.image)
            grams = self._whole_statistics(maps) if self.whole_statistics else None
            _, terms = loss(maps, self.image, self._content, self._style, grams=grams)
            share = self._share
            terms = dict(terms, content=terms["content"] * share, tv=terms["tv"] * share)
            if not self.whole_statistics:
                terms["style"] = terms["style"] * share
            terms["total"] = loss.weighted_total(terms)
        grad = tape.gradient(terms["total"], self.image)
        return terms, grad

    def whole_terms(self, tile_terms: Sequence[Mapping[str, float]]) -> Dict[str, float]:
        """The whole picture's loss terms from each tile's final ones (raster order): content
        and tv are the tiles' shares adding up; style is the whole picture's statistics at the
        last tile (``sliced``: each tile's own distribution, the shares adding up)."""
        final = {"content": sum(t["content"] for t in tile_terms), "tv": sum(t["tv"] for t in tile_terms),
                 "style": tile_terms[-1]["style"] if self.whole_statistics
                 else sum(t["style"] for t in tile_terms)}
        final["total"] = float(self._loss.weighted_total(final))
        return final


def optimize_tiles(
    x: np.ndarray,
    content: np.ndarray,
    objective_for: Callable[[np.ndarray], TileObjective],
    *,
    tile: int,
    iterations: int,
    optimizer: str = "lbfgs",
    learning_rate: float = 4.0,
    on_step: Optional[TileStep] = None,
    on_tile: Optional[Callable[[np.ndarray], None]] = None,
) -> Tuple[OptimizeOutcome, Dict[str, float]]:
    """Optimize the picture ``x`` (HxWx3) tile by tile, ``iterations`` evaluations per tile:
    block-coordinate descent on the whole picture's loss (see :class:`TileObjective`).

    ``content`` is the photo at the picture's size (HxWx3). ``objective_for(crop)`` gives the
    objective of a tile with the content targets of ``crop`` (``[1, h, w, 3]``) set; every tile
    has one shape, so it can return one cached objective (one trace). ``on_step`` reports every
    evaluation; ``on_tile(canvas)`` is called after each finished tile (to save the picture so
    far). Ctrl-C ends the loop after the interrupted tile's best pixels are blended in.

    Returns the outcome for the whole canvas and the picture's final loss terms as the tiles'
    shares add up (:meth:`TileObjective.whole_terms`; empty when no tile finished).

    Example:
        >>> out, terms = optimize_tiles(x, content, objective_for, tile=512, iterations=100)  # doctest: +SKIP
        >>> out.image.shape == x.shape  # doctest: +SKIP
        True
    """
    h, w = x.shape[:2]
    overlap = tile_overlap(tile)
    boxes = tile_boxes(h, w, tile, overlap)
    cores = tile_cores(h, w, tile, overlap)
    own = [_own_core(box, core) for box, core in zip(boxes, cores)]

    def crop(array: np.ndarray, k: int) -> np.ndarray:
        top, left, bottom, right = boxes[k]
        return array[top:bottom, left:right]

    objective = objective_for(crop(content, 0)[None])
    canvas = x.astype(np.float32).copy()

    def sums_of(k):  # tile k's core moment sums ({} where the loss needs none: sliced)
        return objective.core_sums(crop(canvas, k), own[k]) if objective.whole_statistics else {}

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
        if k:  # tile 0's content targets were set when the objective was made
            objective = objective_for(crop(content, k)[None])
        refresh(k)
        rest = {n: total_sums[n] - parts[k][n] for n in total_sums}
        ct, cl, cb, cr = cores[k]
        objective.set_tile(own[k], rest, share=(cb - ct) * (cr - cl) / (h * w))

        def callback(done, terms, current, _base=len(history), _k=k):
            if on_step is not None:
                on_step(_k, len(boxes), _base + done, terms)

        start = crop(canvas, k).copy()
        outcome = run_optimizer(optimizer, objective, start, iterations, learning_rate=learning_rate,
                                callback=callback)
        history.extend(outcome.history)
        mask = blend_mask(box, boxes)
        canvas[top:bottom, left:right] = mask * outcome.image + (1.0 - mask) * start
        refresh(k)
        if outcome.interrupted:
            interrupted = True
            break
        if outcome.history:  # the terms of the image it returned: the best evaluated
            finals.append(min(outcome.history, key=lambda t: t["total"]))
        if on_tile is not None:
            on_tile(canvas)
    final = objective.whole_terms(finals) if finals else {}
    return OptimizeOutcome(canvas, history, len(history), interrupted), final
