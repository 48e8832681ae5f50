"""Tiled high-resolution transfer: tiles cover the picture, seams blend, Grams are whole."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given, settings
from hypothesis import strategies as st

import helpers
from tf_style import system
from tf_style import tiles as tl
from tf_style.config import StylizeConfig
from tf_style.errors import OptionError
from tf_style.losses import gram_matrix
from tf_style.tiles import tile_overlap as _overlap
from tf_style.transfer import Stylizer

LAYERS = helpers.TINY_BACKBONE_LAYERS  # the tiny backbone's (conftest.tiny)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 700), st.integers(1, 700), st.integers(16, 300), st.integers(0, 15))
def test_boxes_cover_the_picture_and_overlap(height, width, tile, overlap):
    boxes = tl.tile_boxes(height, width, tile, overlap)
    covered = np.zeros((height, width), np.int32)
    for top, left, bottom, right in boxes:
        assert (bottom - top, right - left) == (min(tile, height), min(tile, width))  # one shape
        assert 0 <= top < bottom <= height and 0 <= left < right <= width
        covered[top:bottom, left:right] += 1
    assert covered.min() >= 1  # every pixel in some tile
    for starts, length in ((tl.axis_starts(height, tile, overlap), height),
                           (tl.axis_starts(width, tile, overlap), width)):
        t = min(tile, length)
        assert starts == sorted(starts) and starts[0] == 0 and starts[-1] == length - t
        for a, b in zip(starts, starts[1:]):
            assert a + t - b >= overlap  # neighbours overlap by at least `overlap`
        cores = tl.core_cuts(starts, tile, length)
        assert cores[0][0] == 0 and cores[-1][1] == length
        assert all(c[1] == d[0] for c, d in zip(cores, cores[1:]))  # a partition


def test_bad_tile_sizes():
    with pytest.raises(ValueError, match="overlap"):
        tl.axis_starts(100, 16, 16)
    for bad in (10, -1, True, 1.5, 9000):
        with pytest.raises(OptionError, match=r"tile: expected 0 .* got"):
            StylizeConfig(tile=bad)
    with pytest.raises(OptionError, match="tile_iterations"):
        StylizeConfig(tile_iterations=0)


@pytest.mark.parametrize("hw", [(300, 460), (64, 64), (130, 70)])
def test_blend_masks_write_every_pixel_fully(hw):
    """Tiles that all return the same picture leave exactly that picture: no pixel is
    missed or weighted twice, and each tile's top/left edge pixels get weight ~0."""
    h, w = hw
    boxes = tl.tile_boxes(h, w, 64, 8)
    target = np.random.default_rng(0).uniform(0, 255, (h, w, 3)).astype(np.float32)
    canvas = np.zeros_like(target)
    for box in boxes:
        top, left, bottom, right = box
        mask = tl.blend_mask(box, boxes)
        assert mask.shape == (bottom - top, right - left, 1) and 0 < mask.min() and mask.max() == 1
        if top > 0:
            assert mask[0].max() < 0.1
        if left > 0:
            assert mask[:, 0].max() < 0.1
        canvas[top:bottom, left:right] = mask * target[top:bottom, left:right] + (1 - mask) * canvas[top:bottom, left:right]
    np.testing.assert_allclose(canvas, target, rtol=1e-5, atol=1e-3)


def _gradient_image():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:150, 0:200]
    return (np.stack([xx, yy, (xx + yy) / 2], -1) * 0.8 + rng.uniform(0, 60, (150, 200, 3))).astype(np.float32)


def test_tiled_statistics_equal_the_whole_image_mean_and_gram(tiny):
    image = _gradient_image()
    maps = tiny(tf.constant(image[None]))
    tiled = tl.tiled_statistics(tiny, image, LAYERS, 64, 16)
    grams = tl.tiled_grams(tiny, image, LAYERS, 64, 16)
    for name in LAYERS:
        f = maps[name].numpy()
        whole_mean, whole_gram = f.mean(axis=(1, 2)), gram_matrix(maps[name]).numpy()
        mean, gram = (t.numpy() for t in tiled[name])
        assert mean.shape == whole_mean.shape and gram.shape == whole_gram.shape
        # Only what the cores' distance from the tile edges leaves of the receptive field differs.
        assert np.abs(gram - whole_gram).max() / np.abs(whole_gram).max() < 0.03, name
        assert np.abs(mean - whole_mean).max() / np.abs(whole_mean).max() < 0.03, name
        np.testing.assert_array_equal(grams[name].numpy(), gram)


def test_tiled_features_are_every_core_position_or_a_sample(tiny):
    image = _gradient_image()
    feats = tl.tiled_features(tiny, image, LAYERS, 64, 16)
    for name in LAYERS:
        whole = tiny(tf.constant(image[None]))[name]
        n, c = int(whole.shape[1]) * int(whole.shape[2]), int(whole.shape[-1])
        # The cores partition the picture; a tile's pooled grid is offset from the picture's
        # by a fraction of a cell where it does not start at a multiple of the pooling, so a
        # core edge may gain or lose a row or column there.
        assert feats[name].shape[0] == 1 and feats[name].shape[2:] == (1, c)
        assert abs(feats[name].shape[1] - n) <= 0.01 * n, (name, feats[name].shape, n)
        mean, whole_mean = feats[name].numpy().mean(axis=(1, 2)), whole.numpy().mean(axis=(1, 2))
        assert np.abs(mean - whole_mean).max() / np.abs(whole_mean).max() < 0.03, name
    sample = tl.tiled_features(tiny, image, LAYERS, 64, 16, limit=500)
    assert all(sample[name].shape[1] == 500 for name in LAYERS)


@pytest.mark.parametrize("kind", ["gram", "meancov"])
def test_tile_objective_sees_the_whole_pictures_statistics(tiny, kind):
    """In the tile objective's graph, this tile's core plus the rest's moment sums give the
    statistics of the whole canvas: those :func:`tiled_statistics` computes outside it."""
    from tf_style.losses import PerceptualLoss

    image = _gradient_image()
    h, w = image.shape[:2]
    boxes, cores = tl.tile_boxes(h, w, 64, 16), tl.tile_cores(h, w, 64, 16)
    loss = PerceptualLoss(["block2_conv1"], LAYERS, style_weight=1.0, style_loss=kind)
    content = loss.content_targets(tiny(tf.constant(image[None, :64, :64])))
    targets = loss.style_targets(tiny(tf.constant(image[None])))
    objective = tl.TileObjective(tiny, loss, content, targets, (1, 64, 64, 3))
    own = [(ct - t, cl - l, cb - t, cr - l) for (t, l, _, _), (ct, cl, cb, cr) in zip(boxes, cores)]
    sums = [objective.core_sums(image[t:b, l:r], o) for (t, l, b, r), o in zip(boxes, own)]
    expected = tl.tiled_statistics(tiny, image, LAYERS, 64, 16)
    k = 4
    t, l, b, r = boxes[k]
    objective.set_tile(own[k], {n: tf.add_n([s[n] for j, s in enumerate(sums) if j != k]) for n in LAYERS},
                       share=0.1)
    objective.image.assign(image[None, t:b, l:r])
    got = objective._whole_statistics(tiny(objective.image))
    for n in LAYERS:
        mean, gram = expected[n]
        if kind == "gram":
            np.testing.assert_allclose(got[n].numpy(), gram.numpy(), rtol=1e-4, atol=1e-4)
        else:
            np.testing.assert_allclose(got[n][0].numpy(), mean.numpy(), rtol=1e-4, atol=1e-4)
            np.testing.assert_allclose(got[n][1].numpy(), gram.numpy(), rtol=1e-4, atol=1e-4)


def _photo():
    """320x240, with waves in blue: texture in every tile (the thresholds below were measured on it)."""
    return helpers.photo(320, 240, blue=lambda xx: 128 + 60 * np.sin(xx / 9.0), noise=40.0)


def _painting():
    return helpers.painting(120, 120)


# The seam and convergence thresholds below were measured with the Gram loss; meancov and
# sliced tiles have their own test (test_style_losses.py).
OPTIONS = dict(size=320, pyramid=2, iterations=20, tile_iterations=20, style_weight=5.0, tv_weight=0.0, style_loss="gram",
               content_layers=("block2_conv1",), style_layers=LAYERS)


def test_tiled_run_stylizes_without_seams(tiny):
    """A 320x240 picture in 96 px tiles: the style loss falls in every tile, and pixel
    differences across the blend zones are like those anywhere else."""
    stylizer = Stylizer(_painting(), backbone=tiny, tile=96, **OPTIONS)
    steps = []
    result = stylizer.stylize(_photo(), on_step=lambda *a: steps.append(a))
    assert result.image.size == (320, 240)
    assert result.sizes == [(160, 120), (320, 240)]
    boxes = tl.tile_boxes(240, 320, 96, _overlap(96))
    assert len(boxes) == 4 * 3
    # level 1 (whole, 160 px <= 2 x 96): 40 evaluations; level 2: 20 per tile
    assert result.iterations == 40 + 20 * len(boxes) == steps[-1][3]
    tiles = result.history[40:]
    for k in range(len(boxes)):
        first, best = tiles[20 * k], min(tiles[20 * k : 20 * k + 20], key=lambda t: t["total"])
        # Each tile lowers the whole picture's loss (block-coordinate descent).
        assert best["total"] < first["total"], (k, first, best)
    # The whole picture's style term (each tile sees the Gram of the whole picture).
    assert result.final_terms["style"] < 0.7 * tiles[0]["style"], (tiles[0], result.final_terms)

    out = np.asarray(result.image, np.float32)
    dx = np.abs(np.diff(out, axis=1)).mean(axis=(0, 2))  # per column boundary
    dy = np.abs(np.diff(out, axis=0)).mean(axis=(1, 2))  # per row boundary
    seam_cols = {left + c for (_, left, _, _) in boxes if left for c in range(-1, _overlap(96))}
    seam_rows = {top + r for (top, _, _, _) in boxes if top for r in range(-1, _overlap(96))}
    # Seam rows/columns must look like the rest: no larger on average, and the largest of
    # them (~30) not far above the median elsewhere. Measured (max - 1) / median across
    # columns: 1.48-1.53 for the blended tiles (rounding-level changes to the gradient move
    # it that much), 1.72 when the blend ramp is replaced by a hard cut in the middle of the
    # overlap; the painting's stripes make the columns vary, hence the large factor.
    for diffs, seams in ((dx, seam_cols), (dy, seam_rows)):
        seam = np.array([diffs[i] for i in seams if i < len(diffs)])
        inside = np.array([v for i, v in enumerate(diffs) if i not in seams])
        assert seam.mean() < 1.15 * inside.mean(), (seam.mean(), inside.mean())
        assert seam.max() < 1.62 * np.median(inside) + 1.0, (seam.max(), np.median(inside))


@pytest.mark.slow
def test_tiled_and_whole_runs_reach_a_similar_loss(tiny):
    """Judged by the same whole-picture objective, tiles get close to a whole-image run."""
    whole = Stylizer(_painting(), backbone=tiny, tile=0, **OPTIONS)
    tiled = Stylizer(_painting(), backbone=tiny, tile=96, **OPTIONS)
    photo = _photo()
    a = whole.stylize(photo)
    b = tiled.stylize(photo)
    objective = whole._objective(np.asarray(photo, np.float32)[None], (320, 240))

    def loss(picture, term="total"):
        objective.image.assign(np.asarray(picture, np.float32)[None])
        return float(objective.evaluate()[0][term])

    start, whole_loss, tiled_loss = loss(photo), loss(a.image), loss(b.image)
    assert whole_loss < 0.7 * start and tiled_loss < 0.7 * start, (start, whole_loss, tiled_loss)
    assert tiled_loss < 1.5 * whole_loss, (start, whole_loss, tiled_loss)


@pytest.mark.slow
def test_tiles_lift_the_memory_refusal(monkeypatch):
    """With 8 GiB available an untiled 8192 px run is refused; with tiles the same run
    passes the memory check, which then sizes one 512 px tile, and starts its tiles."""
    from tf_style.errors import MemoryBudgetError

    class Started(Exception):
        pass

    def started(*args, **kwargs):
        raise Started

    monkeypatch.setattr(system, "available_memory", lambda: 8 * 2**30)
    monkeypatch.setattr(tl, "optimize_tiles", started)
    photo = np.zeros((300, 400, 3), np.uint8)
    untiled = Stylizer(_painting(), backbone="vgg16-hed", size=8192, tile=0)
    with pytest.raises(MemoryBudgetError, match=r"8192x6144 run .*--tile"):
        untiled.stylize(photo)
    tiled = Stylizer(_painting(), backbone="vgg16-hed", size=8192, pyramid=1, tile=512)
    with pytest.raises(Started):
        tiled.stylize(photo)
