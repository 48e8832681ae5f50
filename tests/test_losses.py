"""Losses against NumPy references, and the composite against the pure functions."""

import numpy as np
import pytest
import tensorflow as tf

from tf_style.losses import PerceptualLoss, content_loss, gram_matrix, style_loss, total_variation


def _np_gram(f):
    n, h, w, c = f.shape
    flat = f.reshape(n, h * w, c)
    return np.einsum("npi,npj->nij", flat, flat) / (h * w)


def test_gram_matches_numpy_and_gatys_normalization():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(2, 5, 7, 4)).astype(np.float32)
    g = gram_matrix(tf.constant(f)).numpy()
    np.testing.assert_allclose(g, _np_gram(f), rtol=1e-5, atol=1e-6)
    # Gatys: E = 1/(4 N^2 M^2) sum (G_raw - A_raw)^2 == mean((G - A)^2) / 4 with our G.
    f2 = rng.normal(size=(1, 5, 7, 4)).astype(np.float32)
    raw = lambda x: x.reshape(-1, 4).T @ x.reshape(-1, 4)
    n, m = 4, 35
    gatys = ((raw(f[:1]) - raw(f2)) ** 2).sum() / (4 * n**2 * m**2)
    ours = style_loss(gram_matrix(tf.constant(f[:1])), gram_matrix(tf.constant(f2))).numpy() / 4
    np.testing.assert_allclose(ours, gatys, rtol=1e-5)


def test_gram_gradient_matches_the_two_matmul_autodiff():
    # gram_matrix has a one-matmul custom gradient; it must equal what TensorFlow derives.
    f = tf.constant(np.random.default_rng(1).normal(size=(2, 5, 6, 7)).astype(np.float32))
    w = tf.constant(np.random.default_rng(2).normal(size=(2, 7, 7)).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(f)
        ours = tf.reduce_sum(gram_matrix(f) * w)
        flat = tf.reshape(f, [2, 30, 7])
        ref = tf.reduce_sum(tf.matmul(flat, flat, transpose_a=True) / 30.0 * w)
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    np.testing.assert_allclose(tape.gradient(ours, f), tape.gradient(ref, f), rtol=1e-5, atol=1e-6)


def test_gram_is_size_invariant_for_tiled_features():
    rng = np.random.default_rng(1)
    f = rng.normal(size=(1, 4, 4, 3)).astype(np.float32)
    tiled = np.tile(f, (1, 2, 3, 1))
    np.testing.assert_allclose(gram_matrix(tf.constant(f)), gram_matrix(tf.constant(tiled)), rtol=1e-5)


def test_content_and_tv_match_numpy():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 1, 6, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(content_loss(tf.constant(a), tf.constant(b)), ((a - b) ** 2).mean(), rtol=1e-5)
    img = rng.uniform(0, 255, size=(1, 6, 5, 3)).astype(np.float32)
    ref = ((img[:, 1:] - img[:, :-1]) ** 2).mean() + ((img[:, :, 1:] - img[:, :, :-1]) ** 2).mean()
    np.testing.assert_allclose(total_variation(tf.constant(img)), ref, rtol=1e-5)
    assert float(total_variation(tf.fill([1, 4, 4, 3], 7.0))) == 0.0


@pytest.mark.parametrize("shape", [(1, 6, 5, 3), (2, 7, 4, 1), (1, 2, 9, 3)])
def test_tv_gradient_matches_the_autodiff_of_the_slices(shape):
    # total_variation has a closed-form custom gradient; it must equal TensorFlow's.
    img = tf.constant(np.random.default_rng(4).uniform(0, 255, size=shape).astype(np.float32))

    def sliced(x):
        dy, dx = x[:, 1:] - x[:, :-1], x[:, :, 1:] - x[:, :, :-1]
        return tf.reduce_mean(tf.square(dy)) + tf.reduce_mean(tf.square(dx))

    with tf.GradientTape(persistent=True) as tape:
        tape.watch(img)
        ours, ref = 3.0 * total_variation(img), 3.0 * sliced(img)
    np.testing.assert_allclose(ours, ref, rtol=1e-6)
    g = tape.gradient(ours, img)
    np.testing.assert_allclose(g, tape.gradient(ref, img), rtol=1e-4, atol=1e-4)
    assert float(tf.reduce_max(tf.abs(g))) > 1.0


def test_perceptual_loss_composes_the_pure_terms():
    rng = np.random.default_rng(3)
    feats = {k: tf.constant(rng.normal(size=(1, 4, 4, 3)).astype(np.float32)) for k in ("a", "b", "c")}
    other = {k: tf.constant(rng.normal(size=(1, 4, 4, 3)).astype(np.float32)) for k in ("a", "b", "c")}
    img = tf.constant(rng.uniform(0, 255, size=(1, 8, 8, 3)).astype(np.float32))
    loss = PerceptualLoss(["a"], ["b", "c"], content_weight=2.0, style_weight=3.0, tv_weight=0.5,
                          style_layer_weights=[0.25, 0.75], normalize=False)
    total, terms = loss(feats, img, loss.content_targets(other), loss.style_targets(other))
    c = content_loss(feats["a"], other["a"])
    s = 0.25 * style_loss(gram_matrix(feats["b"]), gram_matrix(other["b"])) + 0.75 * style_loss(
        gram_matrix(feats["c"]), gram_matrix(other["c"]))
    tv = total_variation(img)
    assert set(terms) == {"total", "content", "style", "tv"}
    np.testing.assert_allclose(terms["content"], c, rtol=1e-6)
    np.testing.assert_allclose(terms["style"], s, rtol=1e-6)
    np.testing.assert_allclose(total, 2 * c + 3 * s + 0.5 * tv, rtol=1e-6)
    # Default layer weights are equal and sum to 1.
    assert PerceptualLoss(["a"], ["b", "c"]).style_layer_weights == (0.5, 0.5)
    with pytest.raises(ValueError):
        PerceptualLoss(["a"], ["b", "c"], style_layer_weights=[1.0])


def test_normalized_terms_divide_by_the_targets_energy():
    rng = np.random.default_rng(4)
    feats = {k: tf.constant(rng.normal(size=(1, 4, 4, 3)).astype(np.float32)) for k in ("a", "b")}
    other = {k: tf.constant(5 * rng.normal(size=(1, 4, 4, 3)).astype(np.float32)) for k in ("a", "b")}
    img = tf.zeros([1, 8, 8, 3])
    loss = PerceptualLoss(["a"], ["a", "b"], style_layer_weights=[0.5, 0.5])
    _, terms = loss(feats, img, loss.content_targets(other), loss.style_targets(other))
    pa = other["a"].numpy()
    np.testing.assert_allclose(terms["content"], ((feats["a"].numpy() - pa) ** 2).mean() / (pa**2).mean(), rtol=1e-4)
    ref = sum(
        0.5 * ((_np_gram(feats[k].numpy()) - _np_gram(other[k].numpy())) ** 2).mean()
        / (_np_gram(other[k].numpy()) ** 2).mean()
        for k in ("a", "b")
    )
    np.testing.assert_allclose(terms["style"], ref, rtol=1e-4)
    # Scale-free: multiplying every activation by 10 leaves the normalized terms unchanged.
    big = {k: 10 * v for k, v in feats.items()}
    big_t = {k: 10 * v for k, v in other.items()}
    _, terms10 = loss(big, img, loss.content_targets(big_t), loss.style_targets(big_t))
    np.testing.assert_allclose(terms10["style"], terms["style"], rtol=1e-3)
    np.testing.assert_allclose(terms10["content"], terms["content"], rtol=1e-3)


def test_zero_weight_terms_are_skipped_but_reported():
    f = {"a": tf.ones([1, 2, 2, 1])}
    loss = PerceptualLoss(["a"], ["a"], content_weight=1.0, style_weight=0.0, normalize=False)
    total, terms = loss(f, tf.zeros([1, 4, 4, 3]), {"a": tf.zeros([1, 2, 2, 1])}, {})
    assert float(terms["style"]) == 0.0 and float(total) == pytest.approx(1.0)
