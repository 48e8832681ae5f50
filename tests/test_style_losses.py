"""The distribution-matching style losses (meancov, sliced) against NumPy references, and
through stylize, sweep, train and the CLI on the tiny backbone."""

import json

import numpy as np
import pytest

import helpers
import scipy.linalg
import tensorflow as tf
from PIL import Image

from tf_style.config import STYLE_LOSSES, StylizeConfig
from tf_style.errors import OptionError
from tf_style.losses import (
    COVARIANCE_RIDGE,
    PerceptualLoss,
    SlicedTarget,
    mean_covariance,
    meancov_loss,
    resample_sorted,
    sliced_loss,
    sqrtm_newton_schulz,
    random_directions,
)

LAYERS = helpers.TINY_LAYERS  # tests/helpers.py


def _features(seed, shape=(1, 6, 7, 5), shift=0.0):
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(shape[-1], shape[-1]))
    f = rng.normal(size=shape) @ mix + shift
    return f.astype(np.float32)


def _np_w2(a, b):
    """Squared W2 between the Gaussians fitted to [P, C] samples a and b, per channel."""
    ma, mb = a.mean(0), b.mean(0)
    ca = (a - ma).T @ (a - ma) / len(a)
    cb = (b - mb).T @ (b - mb) / len(b)
    sb = scipy.linalg.sqrtm(cb).real
    cross = scipy.linalg.sqrtm(sb @ ca @ sb).real
    return (((ma - mb) ** 2).sum() + np.trace(ca + cb - 2 * cross)) / a.shape[1]


def test_newton_schulz_square_root_matches_scipy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 16))
    a = (x.T @ x / 200 + 1e-3 * np.eye(16)).astype(np.float32)
    ours = sqrtm_newton_schulz(tf.constant(a[None]))[0].numpy()
    np.testing.assert_allclose(ours, scipy.linalg.sqrtm(a).real, rtol=0, atol=2e-3 * np.abs(a).max() ** 0.5)
    np.testing.assert_allclose(ours @ ours, a, atol=1e-3 * np.abs(a).max())


def test_meancov_matches_the_gaussian_w2_reference():
    f, g = _features(1), _features(2, shape=(1, 5, 9, 5), shift=0.7)  # unequal position counts
    mean, cov = mean_covariance(tf.constant(f))
    tm, tc = mean_covariance(tf.constant(g))
    tsqrt = tf.constant(scipy.linalg.sqrtm(tc[0].numpy()).real.astype(np.float32))[None]
    ours = float(meancov_loss(mean, cov, tm, tc, tsqrt))
    ref = _np_w2(f.reshape(-1, 5).astype(np.float64), g.reshape(-1, 5).astype(np.float64))
    assert ours == pytest.approx(ref, rel=2e-3)


def _np_sliced(f, g, d):
    """Mean squared difference of sorted projections, the target read at the picture's quantiles."""
    pf, pg = np.sort(f @ d, axis=0), np.sort(g @ d, axis=0)
    n, m = len(pf), len(pg)
    q = (np.arange(n) + 0.5) / n * m - 0.5  # fractional index into the target's sorted values
    target = np.stack([np.interp(q, np.arange(m), pg[:, k]) for k in range(d.shape[1])], 1)
    return ((pf - target) ** 2).mean()


@pytest.mark.parametrize("target_shape", [(1, 6, 7, 5), (1, 9, 11, 5), (1, 3, 4, 5)])
def test_sliced_matches_numpy_with_equal_and_unequal_position_counts(target_shape):
    f, g = _features(3), _features(4, shape=target_shape, shift=0.3)
    d = random_directions(5, 5, seed=0)
    target = tf.sort(tf.transpose(tf.constant(g.reshape(-1, 5)) @ d), axis=-1)
    ours = float(sliced_loss(tf.constant(f), tf.constant(d), target))
    assert ours == pytest.approx(_np_sliced(f.reshape(-1, 5), g.reshape(-1, 5), d), rel=1e-4)


def test_resample_sorted_reads_quantiles():
    v = tf.constant([[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]])
    np.testing.assert_allclose(resample_sorted(v, 3).numpy(), [[0.5, 2.5, 4.5]])
    np.testing.assert_allclose(resample_sorted(v, 6).numpy(), v.numpy())
    up = resample_sorted(tf.constant([0.0, 10.0]), 4).numpy()
    np.testing.assert_allclose(up, [0.0, 2.5, 7.5, 10.0])
    assert np.all(np.diff(up) >= 0)


@pytest.mark.parametrize("kind", ["meancov", "sliced"])
def test_zero_for_identical_features_rises_with_a_shift_and_finite_gradients(kind):
    names = ("a", "b")
    base = {n: tf.constant(np.abs(_features(5 + i, (1, 6, 6, 4)))) for i, n in enumerate(names)}
    loss = PerceptualLoss(["a"], list(names), content_weight=0.0, style_weight=1.0, style_loss=kind)
    targets = loss.style_targets(base)
    img = tf.zeros([1, 8, 8, 3])
    values = []
    for shift in (0.0, 0.2, 0.5, 1.0):
        feats = {n: tf.Variable(v + shift) for n, v in base.items()}
        with tf.GradientTape() as tape:
            _, terms = loss(feats, img, {}, targets)
        grads = tape.gradient(terms["style"], list(feats.values()))
        assert all(np.all(np.isfinite(g.numpy())) for g in grads)
        values.append(float(terms["style"]))
    # meancov's ridge and Newton-Schulz leave a little above 0 for identical features.
    assert values[0] == pytest.approx(0.0, abs=1e-3)
    assert values[0] < values[1] < values[2] < values[3], values


def test_meancov_term_is_normalized_w2():
    f, g = np.abs(_features(7, (1, 5, 5, 4))), np.abs(_features(8, (1, 6, 4, 4)))
    loss = PerceptualLoss(["a"], ["a"], content_weight=0.0, style_weight=1.0, style_loss="meancov")
    _, terms = loss({"a": tf.constant(f)}, tf.zeros([1, 4, 4, 3]), {}, loss.style_targets({"a": tf.constant(g)}))
    a, b = f.reshape(-1, 4).astype(np.float64), g.reshape(-1, 4).astype(np.float64)
    energy = (b**2).mean()
    ridge = COVARIANCE_RIDGE * energy * np.eye(4)
    ma, mb = a.mean(0), b.mean(0)
    ca = (a - ma).T @ (a - ma) / len(a) + ridge
    cb = (b - mb).T @ (b - mb) / len(b) + ridge
    sb = scipy.linalg.sqrtm(cb).real
    w2 = (((ma - mb) ** 2).sum() + np.trace(ca + cb - 2 * scipy.linalg.sqrtm(sb @ ca @ sb).real)) / 4
    from tf_style.losses import STYLE_LOSS_SCALE

    assert float(terms["style"]) == pytest.approx(STYLE_LOSS_SCALE["meancov"] * w2 / energy, rel=2e-3)


def test_sliced_redraw_changes_directions_keeps_unit_norm_and_blends_quantiles():
    g1 = {"a": tf.constant(_features(9, (1, 4, 4, 3)))}
    g2 = {"a": tf.constant(_features(10, (1, 5, 5, 3), shift=2.0))}
    t = SlicedTarget([(0.25, g1), (0.75, g2)], seed=0)
    d0 = t.directions["a"].numpy().copy()
    np.testing.assert_allclose(np.linalg.norm(d0, axis=0), 1.0, rtol=1e-5)
    # The blend is the weighted mean of the paintings' quantile functions (16 positions kept).
    p1 = np.sort(g1["a"].numpy().reshape(-1, 3) @ d0, axis=0).T
    p2 = resample_sorted(tf.sort(tf.transpose(g2["a"].numpy().reshape(-1, 3) @ d0), axis=-1), 16).numpy()
    np.testing.assert_allclose(t.sorted["a"].numpy(), 0.25 * p1 + 0.75 * p2, rtol=1e-5, atol=1e-5)
    t.redraw()
    assert not np.allclose(t.directions["a"].numpy(), d0)
    assert SlicedTarget([(1.0, g1)], seed=0).directions["a"].numpy() == pytest.approx(d0)  # seeded


def test_style_loss_option_is_validated_with_its_name():
    assert StylizeConfig().style_loss == "meancov"  # chosen by the pictures (issue 19)
    for kind in STYLE_LOSSES:
        assert StylizeConfig(style_loss=kind).style_loss == kind
    with pytest.raises(OptionError, match="style_loss: expected one of gram, meancov, sliced, got 'wasserstein'"):
        StylizeConfig(style_loss="wasserstein")
    from tf_style.train import TrainConfig

    with pytest.raises(OptionError, match="style_loss: .*got 'gatys'"):
        TrainConfig(style_loss="gatys")
    with pytest.raises(ValueError):
        PerceptualLoss(["a"], ["a"], style_loss="nope")


_photo, _painting = helpers.photo, helpers.painting  # tests/helpers.py


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
@pytest.mark.parametrize("kind", STYLE_LOSSES)
def test_stylize_lowers_the_style_term_for_each_loss(tiny, kind, optimizer):
    from tf_style.transfer import Stylizer

    s = Stylizer(_painting(), backbone=tiny, size=48, iterations=60, style_weight=30.0, tv_weight=0.0,
                 style_loss=kind, optimizer=optimizer, **LAYERS)
    r = s.stylize(_photo())
    assert r.to_dict()["style_loss"] == kind
    assert r.iterations == 60 and all(np.isfinite(h["total"]) for h in r.history)
    first = r.history[0]["style"]
    # Sliced redraws its directions (every 50 evaluations): compare under the final set.
    assert r.final_terms["style"] < first / 3, (kind, first, r.final_terms)
    traces = [o.trace_count for o in s._objectives.values()]
    assert traces == [1], traces  # redraws and repeated runs never retrace


def test_blended_styles_work_for_each_loss(tiny):
    from tf_style.transfer import Stylizer

    for kind in ("meancov", "sliced"):
        s = Stylizer([_painting(), _photo(40, 40, 3)], backbone=tiny, size=48, iterations=5, style_loss=kind,
                     style_blend=(3, 1), **LAYERS)
        assert np.isfinite(s.stylize(_photo()).final_terms["style"])


@pytest.mark.parametrize("kind", ["meancov", "sliced"])
def test_tiles_lower_each_loss_over_the_whole_picture(tiny, kind):
    """A 200x160 picture in 64 px tiles, with a painting also too large for one pass (its
    statistics, or for sliced its features, gathered tile by tile): every tile lowers the
    whole picture's loss and the final style term falls well below the starting one."""
    from tf_style.transfer import Stylizer

    s = Stylizer(helpers.painting(150, 150), backbone=tiny, size=200, pyramid=1, tile=64, tile_iterations=15,
                 style_loss=kind, style_weight=5.0, tv_weight=0.0, **LAYERS)
    r = s.stylize(helpers.photo(200, 160))
    assert r.sizes == [(200, 160)] and r.iterations == 15 * len(r.history) // 15
    tiles = [r.history[i:i + 15] for i in range(0, len(r.history), 15)]
    assert len(tiles) >= 9
    for k, t in enumerate(tiles):
        assert min(x["total"] for x in t) < t[0]["total"], (kind, k)
    # meancov: every tile sees the whole picture's style term; sliced: each tile its own
    # distribution's, weighted by its share, so the picture's is their sum.
    before = tiles[0][0]["style"] if kind == "meancov" else sum(t[0]["style"] for t in tiles)
    assert r.final_terms["style"] < 0.7 * before, (kind, before, r.final_terms)


@pytest.mark.slow
def test_sweep_and_train_take_the_style_loss(tiny, tmp_path):
    from tf_style import studies
    from tf_style.train import train

    result = studies.sweep(_photo(), _painting(), ratios=(0.1,), backbone=tiny,
                           config=StylizeConfig(size=48, iterations=4, style_loss="sliced", **LAYERS))
    assert result.to_dict()["style_loss"] == "sliced"
    assert result.tiles[0][0].result.config.style_loss == "sliced"
    data = tmp_path / "data"
    data.mkdir()
    for i in range(3):
        Image.fromarray(_photo(24, 24, i)).save(data / f"p{i}.png")
    for kind in ("meancov", "sliced"):
        r = train(_painting(), data, tmp_path / kind, backbone=tiny, steps=2, size=16, batch=2,
                  architecture="mobile", width=0.25, sample_every=0, log_every=1, style_loss=kind,
                  content_layers=("block2_conv1",), style_layers=("block1_conv1", "block2_conv1"))
        assert r.config.style_loss == kind and np.isfinite(r.final_terms["style"])
        assert r.to_dict()["style_loss"] == kind
        saved = json.loads((tmp_path / kind / "run.json").read_text())
        assert saved["config"]["style_loss"] == kind


def test_cli_style_loss_flag(tmp_path, capsys):
    from tf_style.cli import build_parser, main

    parser = build_parser()
    for cmd in (["stylize", "c", "s", "-o", "o.png"], ["sweep", "c", "s", "-o", "o.png"],
                ["sheet", "c", "s", "-o", "o.png"], ["train", "--style", "s", "--data", "d", "--out", "o"]):
        assert parser.parse_args([*cmd, "--style-loss", "meancov"]).style_loss == "meancov"
    photo, paint = tmp_path / "c.png", tmp_path / "s.png"
    Image.fromarray(_photo()).save(photo)
    Image.fromarray(_painting()).save(paint)
    out = tmp_path / "o.png"
    rc = main(["stylize", str(photo), str(paint), "-o", str(out), "--style-loss", "sinkhorn", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--style-loss: expected one of gram, meancov, sliced" in err[0], err
    assert not out.exists()


@pytest.mark.parametrize("method", ["eigh", "newton-schulz"])
def test_trace_sqrtm_value_and_closed_form_gradient(method):
    from tf_style.losses import trace_sqrtm

    rng = np.random.default_rng(11)
    x = rng.normal(size=(100, 12))
    a = (x.T @ x / 100 + 1e-2 * np.eye(12)).astype(np.float32)
    m = tf.Variable(a[None])
    with tf.GradientTape() as tape:
        value = trace_sqrtm(m, method=method)
    root = scipy.linalg.sqrtm(a.astype(np.float64)).real
    assert float(value[0]) == pytest.approx(np.trace(root), rel=1e-4)
    np.testing.assert_allclose(tape.gradient(value, m)[0].numpy(), 0.5 * np.linalg.inv(root), rtol=2e-3, atol=2e-4)
