"""The coarse-to-fine schedule: level sizes, evaluations per level, tiled levels, the memory check."""

from __future__ import annotations

import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tf_style import system
from tf_style import tiles as tl
from tf_style.config import MIN_SIZE, StylizeConfig
from tf_style.errors import MemoryBudgetError, OptionError
from tf_style.pyramid import Level, Schedule, level_iterations, pyramid_sizes, upsample


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 5000), st.integers(1, 5000), st.integers(32, 8192), st.integers(1, 6))
def test_levels_double_up_to_the_output_and_keep_the_aspect(width, height, long_side, levels):
    sizes = pyramid_sizes(width, height, long_side, levels)
    assert 1 <= len(sizes) <= levels
    assert max(sizes[-1]) == long_side  # the last level is the output
    longs = [max(s) for s in sizes]
    assert longs == sorted(set(longs))  # smallest first, no level twice
    assert all(side >= 128 for side in longs[:-1])  # coarse levels under 128 px are dropped
    for (w0, h0), (w1, h1) in zip(sizes, sizes[1:]):
        assert abs(max(w1, h1) - 2 * max(w0, h0)) <= 1  # each level twice the one before
    for w, h in sizes:  # the photo's aspect, up to rounding to whole pixels
        assert (w >= h) == (width >= height) or abs(w - h) <= 1
        assert abs(w * height - h * width) <= max(width, height)


def test_pyramid_sizes_examples():
    assert pyramid_sizes(1024, 768, 512, 3) == [(128, 96), (256, 192), (512, 384)]
    assert pyramid_sizes(1024, 768, 512, 4) == [(128, 96), (256, 192), (512, 384)]  # 64 px dropped
    assert pyramid_sizes(300, 400, 256, 2) == [(96, 128), (192, 256)]


def test_coarser_levels_get_twice_the_evaluations():
    assert [level_iterations(50, 3, k) for k in range(3)] == [200, 100, 50]
    assert level_iterations(7, 1, 0) == 7  # one level: the iterations asked for


def test_schedule_counts_each_level_and_its_tiles():
    whole = Schedule.plan((1024, 768), StylizeConfig(size=512, pyramid=3, iterations=50, tile=0))
    assert whole.sizes == [(128, 96), (256, 192), (512, 384)]
    assert [lv.evaluations for lv in whole.levels] == [200, 100, 50] and whole.evaluations == 350
    assert not whole.tiled and whole.largest_pass() == (512, 384)

    # 640 px > 2 x 256: the last level runs in tiles, tile_iterations each; 320 px does not.
    tiled = Schedule.plan((640, 480), StylizeConfig(size=640, pyramid=2, iterations=30, tile=256,
                                                    tile_iterations=7))
    boxes = tl.tile_boxes(480, 640, 256, tl.tile_overlap(256))
    assert [lv.tiled for lv in tiled.levels] == [False, True]
    assert tiled.levels[1] == Level((640, 480), 7, len(boxes)) and len(boxes) == 6
    assert tiled.evaluations == 60 + 7 * len(boxes)
    # The largest single pass: the whole 320x240 level, or a 256 px tile.
    assert tiled.largest_pass() == (320, 256)


def test_an_output_side_under_the_minimum_is_refused():
    with pytest.raises(OptionError, match=rf"^size: 64 gives a 64x16 output .*>= {MIN_SIZE} px"):
        Schedule.plan((400, 100), StylizeConfig(size=64))


def test_memory_check_refuses_the_largest_pass(monkeypatch):
    vgg = types.SimpleNamespace(name="vgg16-hed", dtype="float32")
    layers = ["block1_conv1", "block4_conv2"]
    monkeypatch.setattr(system, "available_memory", lambda: 8 * 2**30)
    whole = Schedule.plan((400, 300), StylizeConfig(size=8192, tile=0))
    with pytest.raises(MemoryBudgetError, match=r"^size: a 8192x6144 run needs .* GiB.*--tile 512"):
        whole.check_memory(vgg, layers)
    Schedule.plan((400, 300), StylizeConfig(size=8192, tile=512)).check_memory(vgg, layers)  # a tile fits
    monkeypatch.setattr(system, "available_memory", lambda: 1000)
    with pytest.raises(MemoryBudgetError, match=r"^size: a 512x512 tile needs"):
        Schedule.plan((400, 300), StylizeConfig(size=8192, tile=512)).check_memory(vgg, layers)
    # No estimate for other backbones (the tests' tiny one): nothing refused.
    whole.check_memory(types.SimpleNamespace(name="tiny", dtype="float32"), layers)


def test_upsample_keeps_the_range_and_reaches_the_size():
    x = np.random.default_rng(0).uniform(0, 255, (12, 16, 3)).astype(np.float32)
    y = upsample(x, (24, 32))
    assert y.shape == (24, 32, 3) and y.min() >= 0 and y.max() <= 255
    np.testing.assert_allclose(y.mean(), x.mean(), atol=3.0)
