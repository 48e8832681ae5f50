"""Gatys optimization on a tiny stand-in backbone: the mechanics, fast."""

import dataclasses

import numpy as np
import pytest

import helpers
from PIL import Image

from tf_style import system
from tf_style import transfer
from tf_style.errors import LayerNameError, MemoryBudgetError, NonFiniteLossError, OptionError
from tf_style.image import read_image, rgb_to_yiq
from tf_style.transfer import Stylizer, pyramid_sizes, stylize

LAYERS = helpers.TINY_LAYERS  # tests/helpers.py


_photo, _painting = helpers.photo, helpers.painting  # tests/helpers.py


def _run(tiny, **options):
    # The engine's thresholds here were measured with the Gram loss; each style loss through
    # both optimizers is tested in test_style_losses.py.
    opts = dict(size=48, iterations=30, pyramid=1, style_weight=1.0, tv_weight=0.0, style_loss="gram", **LAYERS)
    opts.update(options)
    return stylize(_photo(), _painting(), backbone=tiny, **opts)


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_style_loss_falls_and_pixels_stay_in_range(tiny, optimizer):
    r = _run(tiny, optimizer=optimizer, iterations=40, learning_rate=4.0, style_weight=30.0)
    first, final = r.history[0], r.final_terms
    assert final["style"] < first["style"] / 5, (first, final)
    assert r.image.mode == "RGB" and r.image.size == (48, 40)
    assert r.iterations == 40 and len(r.history) == 40
    assert all(np.isfinite(h["total"]) for h in r.history)


def test_lbfgs_respects_bounds_during_the_run(tiny, monkeypatch):
    seen = []
    real = transfer.ImageObjective.evaluate

    def spy(self):
        seen.append(self.image.numpy())
        return real(self)

    monkeypatch.setattr(transfer.ImageObjective, "evaluate", spy)
    _run(tiny, iterations=15, style_weight=100.0)
    arr = np.stack(seen)
    assert arr.min() >= 0.0 and arr.max() <= 255.0


def test_one_trace_per_pyramid_level(tiny, monkeypatch):
    traces = []
    real_init = transfer.ImageObjective.__init__

    def record(self, *a, **k):
        real_init(self, *a, **k)
        traces.append(self)

    monkeypatch.setattr(transfer.ImageObjective, "__init__", record)
    r = _run(tiny, size=256, pyramid=2, iterations=6)
    assert [t.trace_count for t in traces] == [1, 1]
    assert r.sizes == [(128, 107), (256, 213)] and r.iterations == 12 + 6


def test_same_seed_same_pixels_and_other_seed_differs(tiny):
    a = np.asarray(_run(tiny, init="noise", seed=3, iterations=5).image)
    b = np.asarray(_run(tiny, init="noise", seed=3, iterations=5).image)
    c = np.asarray(_run(tiny, init="noise", seed=4, iterations=5).image)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_stylizer_reuses_backbone_style_targets_and_trace(tiny):
    s = Stylizer(_painting(), backbone=tiny, size=48, iterations=3, pyramid=1, **LAYERS)
    a = s.stylize(_photo(seed=0))
    b = s.stylize(_photo(seed=5))
    assert s.style_target_builds == 1
    assert [o.trace_count for o in s._objectives.values()] == [1]
    # The second photo really was the target: a fresh Stylizer gives the same result.
    fresh = Stylizer(_painting(), backbone=tiny, size=48, iterations=3, pyramid=1, **LAYERS)
    np.testing.assert_array_equal(np.asarray(b.image), np.asarray(fresh.stylize(_photo(seed=5)).image))
    assert not np.array_equal(np.asarray(a.image), np.asarray(b.image))


def test_style_blend_weights_grams(tiny):
    gram = dict(style_loss="gram", **LAYERS)  # blended Grams (meancov blends the mixture: test_style_losses.py)
    one = Stylizer(_painting(seed=1), backbone=tiny, **gram).style_grams(40)
    two = Stylizer(_photo(40, 40), backbone=tiny, **gram).style_grams(40)
    mix = Stylizer([_painting(seed=1), _photo(40, 40)], backbone=tiny, style_blend=(3, 1), **gram).style_grams(40)
    for k in mix:
        np.testing.assert_allclose(mix[k], 0.75 * one[k].numpy() + 0.25 * two[k].numpy(), rtol=1e-5, atol=1e-4)
    with pytest.raises(OptionError, match="style_blend"):
        Stylizer([_painting()], backbone=tiny, style_blend=(1, 1), **LAYERS)


def test_style_scale_changes_the_style_image_size(tiny):
    s = Stylizer(_painting(), backbone=tiny, style_scale=0.5, **LAYERS)
    s.style_grams(64)
    assert list(s._style_cache) == [32]


def test_preserve_color_keeps_the_photos_chroma(tiny):
    photo = _photo()
    r = _run(tiny, preserve_color=True, style_weight=10.0)
    out = rgb_to_yiq(np.asarray(r.image, np.float32))
    ref = rgb_to_yiq(np.asarray(photo, np.float32))
    plain = rgb_to_yiq(np.asarray(_run(tiny, style_weight=10.0).image, np.float32))
    err = np.abs(out[..., 1:] - ref[..., 1:]).mean()
    assert err < 3.0  # only rounding and clipping
    assert np.abs(plain[..., 1:] - ref[..., 1:]).mean() > 2 * err


def test_init_from_style_and_from_path(tiny, tmp_path):
    p = tmp_path / "init.png"
    Image.fromarray(np.full((10, 10, 3), 200, np.uint8)).save(p)
    r = _run(tiny, init=str(p), iterations=2, content_weight=0.0, style_weight=1e-9)
    assert abs(np.asarray(r.image, np.float32).mean() - 200) < 2
    r2 = _run(tiny, init="style", iterations=2)
    assert r2.image.size == (48, 40)
    with pytest.raises(OptionError, match="init"):
        _run(tiny, init=str(tmp_path / "missing.png"))


def test_unknown_layer_says_did_you_mean(tiny):
    with pytest.raises(LayerNameError, match="did you mean 'block2_conv1'"):
        _run(tiny, content_layers=("block2_conv2x",))


def test_non_finite_loss_is_a_clear_error(tiny):
    with pytest.raises(NonFiniteLossError, match="non-finite"):
        _run(tiny, style_weight=1e300, iterations=3)  # overflows float32 at the first step


def test_save_every_and_interrupt_keep_a_complete_picture(tiny, tmp_path):
    out = tmp_path / "out.png"
    calls = []

    def stop_after(level, levels, done, total, terms):
        calls.append(done)
        if done == 7:
            raise KeyboardInterrupt

    s = Stylizer(_painting(), backbone=tiny, size=48, iterations=50, pyramid=1, **LAYERS)
    r = s.stylize(_photo(), output=out, save_every=3, on_step=stop_after)
    assert r.interrupted and r.iterations == 7
    assert read_image(out).size == (48, 40)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temporary files


def test_memory_estimate_refuses_before_running(tiny, monkeypatch):
    fake = dataclasses.replace(tiny, name="vgg16-hed")
    monkeypatch.setattr(system, "available_memory", lambda: 1000)
    with pytest.raises(MemoryBudgetError, match="smaller --size"):
        Stylizer(_painting(), backbone=fake, **LAYERS).stylize(_photo())


def test_pyramid_sizes():
    assert pyramid_sizes(1024, 768, 512, 3) == [(128, 96), (256, 192), (512, 384)]
    assert pyramid_sizes(100, 50, 100, 3) == [(100, 50)]  # coarser levels would be < 64 px
    assert pyramid_sizes(300, 400, 256, 1) == [(192, 256)]


def test_fast_lbfgs_driver_matches_scipys_wrapper(tiny, monkeypatch):
    """Our loop over SciPy's L-BFGS-B routine (array bounds) takes the same steps as
    scipy.optimize.minimize, whose bounds conversion costs seconds per call."""
    from tf_style import optimize

    if optimize._setulb() is None:
        pytest.skip("this SciPy has another L-BFGS-B routine; the wrapper is used")
    fast = _run(tiny, iterations=15)
    monkeypatch.setattr(optimize, "_setulb", lambda: None)
    slow = _run(tiny, iterations=15)
    assert [h["total"] for h in fast.history] == pytest.approx([h["total"] for h in slow.history], rel=1e-5)
    assert np.array_equal(np.asarray(fast.image), np.asarray(slow.image))


def test_the_optimizer_loads_its_backbone_with_the_padding_asked_for(tiny, monkeypatch):
    # The default is reflect (tf_style.config.PADDINGS says why); zeros is still there.
    from tf_style import backbones as bb

    calls = []
    monkeypatch.setattr(bb, "resolve_name", lambda name, log=None: "vgg19")
    monkeypatch.setattr(bb, "load_backbone", lambda arch, layers, **kw: calls.append(kw["padding"]) or tiny)
    for options in ({}, {"padding": "zeros"}):
        Stylizer(_painting(), iterations=1, **LAYERS, **options)
    assert calls == ["reflect", "zeros"]
    with pytest.raises(OptionError, match=r"^padding: expected one of zeros, reflect, got 'edge'"):
        Stylizer(_painting(), backbone=tiny, padding="edge", **LAYERS)
