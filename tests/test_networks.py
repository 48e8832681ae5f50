"""Tests of tf_style.networks: tiny widths and 16-35 px images; TFLite conversion is slow.

Each architecture and padding also goes through the model harness (tests/harness.py): shapes,
dtypes, the get_config and .keras round trips, mixed precision.
"""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import keras

from harness import run_network_test
from helpers import noise as _images
from tf_style.errors import OptionError
from tf_style.networks import (
    ARCHITECTURES,
    BORDER,
    MIN_SIZE,
    PADDINGS,
    CropToInput,
    InstanceNorm,
    PadToMultiple,
    ReflectionPad2D,
    StyleTransformer,
    Upsample2x,
    blend,
    build_transformer,
    count_flops,
)

TINY = 0.25  # width multiplier for fast unit tests


@pytest.fixture(scope="module")
def tiny_models():
    """One tiny model per (architecture, padding), built once for the module."""
    return {
        (arch, padding): StyleTransformer(arch, TINY, padding=padding, seed=3)
        for arch in ARCHITECTURES
        for padding in PADDINGS
    }


# --------------------------------------------------------------------------- shapes


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("size", [(17, 23), (16, 35), (29, 16)])
def test_output_has_input_size(tiny_models, arch, padding, size):
    x = _images((2, *size, 3))
    y = tiny_models[arch, padding](x)
    assert tuple(y.shape) == (2, *size, 3)
    assert y.dtype == tf.float32


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("padding", PADDINGS)
def test_dynamic_shape_graph_matches_eager(tiny_models, arch, padding):
    # In a graph with unknown H/W the input padding takes its other (dynamic) path.
    model = tiny_models[arch, padding]
    fn = tf.function(model, input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    x = _images((1, 19, 30, 3), seed=1)
    np.testing.assert_allclose(fn(x).numpy(), model(x).numpy(), atol=1e-3)


def test_model_signature_is_dynamic():
    model = StyleTransformer("mobile", TINY)
    assert tuple(model.inputs[0].shape) == (None, None, None, 3)
    assert tuple(model.outputs[0].shape) == (None, None, None, 3)


def test_crop_is_aligned_with_input():
    # A network whose output ignored the style (identity-like) must give back the photo
    # where it was: check the pad/crop pair on its own, for both margins.
    x = tf.constant(_images((1, 17, 23, 3)))
    for margin in (0, 8, BORDER):
        padded = PadToMultiple(4, margin)(x)
        assert padded.shape[1] % 4 == 0 and padded.shape[2] % 4 == 0
        np.testing.assert_array_equal(CropToInput(margin)([padded, x]).numpy(), x.numpy())


@pytest.mark.parametrize("shape", [(1, MIN_SIZE, MIN_SIZE, 3), (1, 17, 45, 3), (1, 64, 64, 3)])
def test_wide_margin_pads_the_smallest_picture_alike_at_known_and_unknown_sizes(shape):
    # BORDER is wider than a MIN_SIZE picture can reflect in one pad; the layer pads in
    # steps, and a SavedModel or TFLite graph with an unknown size must see the same margin.
    x = tf.constant(_images(shape))
    layer = PadToMultiple(4, BORDER)
    known = layer(x).numpy()
    unknown = tf.function(layer, input_signature=[tf.TensorSpec([None, None, None, 3])])(x).numpy()
    h, w = shape[1:3]
    assert known.shape == (1, h + 2 * BORDER + (-h) % 4, w + 2 * BORDER + (-w) % 4, 3)
    np.testing.assert_array_equal(unknown, known)
    # Reflection: the row above the picture mirrors its second row, the margin holds no zeros.
    np.testing.assert_array_equal(known[0, BORDER - 1, BORDER:BORDER + w], x.numpy()[0, 1])
    assert (known != 0).all() == (x.numpy() != 0).all()


# --------------------------------------------------------------------------- range


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_output_range_is_pixels(arch):
    model = StyleTransformer(arch, TINY, seed=0)
    # Blow up the last conv so tanh saturates: the output must hit, not pass, 0 and 255.
    kernel, bias = model.get_layer("conv_out").get_weights()
    model.get_layer("conv_out").set_weights([kernel * 1000.0, bias])
    x = np.concatenate([_images((1, 24, 24, 3)), np.zeros((1, 24, 24, 3), "float32")])
    y = model(x).numpy()
    assert y.min() >= 0.0 and y.max() <= 255.0
    assert y.min() < 1.0 and y.max() > 254.0


def test_input_is_normalised_inside():
    model = StyleTransformer("mobile", TINY)
    layer = model.get_layer("normalize")
    np.testing.assert_allclose(layer(np.array([0.0, 127.5, 255.0], "float32")), [-1, 0, 1], atol=1e-6)


# --------------------------------------------------------------------------- the harness: serialization, dtypes


@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("padding", PADDINGS)
def test_style_transformer_passes_the_model_harness(tmp_path, arch, padding):
    """Shape and dtype, the config and .keras round trips (same class, config, name and pixels,
    weights perturbed so a loader that skipped them is caught), and mixed precision."""
    kwargs = dict(architecture=arch, width=TINY, padding=padding, seed=3, name=f"net_{arch}")
    run = run_network_test(StyleTransformer, kwargs, _images((2, 21, 18, 3)), (2, 21, 18, 3), tmp_path=tmp_path)
    config = run.model.get_config()
    assert config["architecture"] == arch
    assert config["width"] == TINY and config["padding"] == padding and config["seed"] == 3
    for clone in (run.clone, run.loaded):
        assert isinstance(clone, StyleTransformer) and clone.name == f"net_{arch}"
        assert (clone.architecture, clone.width, clone.padding, clone.seed) == (arch, TINY, padding, 3)
    y = run.mixed_output  # built under mixed_float16: the pixels still come back as float32
    assert y.dtype == np.float32 and y.min() >= 0 and y.max() <= 255


def test_default_padding_depends_on_architecture():
    assert StyleTransformer("johnson", TINY).padding == "reflect"
    assert StyleTransformer("mobile", TINY).padding == "border"
    assert StyleTransformer("mobile", TINY, padding="same").get_config()["padding"] == "same"


def test_layers_config_round_trip():
    for layer in (ReflectionPad2D(((1, 2), (3, 0))), InstanceNorm(epsilon=1e-3, center=False),
                  PadToMultiple(8, 2), CropToInput(4), Upsample2x(), Upsample2x("bilinear")):
        config = keras.saving.serialize_keras_object(layer)
        clone = keras.saving.deserialize_keras_object(config)
        assert type(clone) is type(layer)
        assert clone.get_config() == layer.get_config()


# --------------------------------------------------------------------------- layers


def test_reflection_pad_matches_numpy():
    x = _images((2, 5, 6, 3))
    y = ReflectionPad2D(((1, 2), (3, 0)))(x).numpy()
    np.testing.assert_array_equal(y, np.pad(x, ((0, 0), (1, 2), (3, 0), (0, 0)), mode="reflect"))


def test_instance_norm_normalises_each_image_and_channel():
    x = _images((2, 9, 7, 4)) * np.array([1, 10, 0.1, 3], "float32") + 50.0
    layer = InstanceNorm()
    y = layer(x).numpy()
    mean, std = x.mean(axis=(1, 2), keepdims=True), x.std(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(std**2 + 1e-5), atol=2e-3)
    layer.set_weights([np.full(4, 2.0, "float32"), np.full(4, -1.0, "float32")])
    np.testing.assert_allclose(layer(x).numpy(), 2 * y - 1, atol=4e-3)
    no_offset = InstanceNorm(center=False)
    np.testing.assert_allclose(no_offset(x).numpy(), y, atol=2e-3)
    assert len(no_offset.trainable_weights) == 1


def test_upsample_is_nearest_neighbour():
    x = _images((1, 3, 5, 2))
    expected = np.repeat(np.repeat(x, 2, axis=1), 2, axis=2)
    np.testing.assert_array_equal(Upsample2x()(x).numpy(), expected)
    np.testing.assert_array_equal(Upsample2x("nearest")(x).numpy(), expected)


def test_bilinear_upsample_interpolates_at_half_pixel_centres():
    # One row 0, 4, 8: outputs sit at x = 0.25, 0.75, ... of the input grid, edges clamped.
    x = np.array([0.0, 4.0, 8.0], "float32").reshape(1, 1, 3, 1)
    y = Upsample2x("bilinear")(x).numpy()
    np.testing.assert_allclose(y[0, 0, :, 0], [0, 1, 3, 5, 7, 8])
    np.testing.assert_allclose(y[0, 1, :, 0], y[0, 0, :, 0])


def test_networks_upsample_nearest_by_default_and_old_files_load_nearest(tmp_path):
    assert StyleTransformer("mobile", TINY, seed=3).upsample == "nearest"
    net = StyleTransformer("mobile", TINY, upsample="bilinear", seed=3)
    assert net.upsample == "bilinear"
    assert {l.method for l in net.layers if isinstance(l, Upsample2x)} == {"bilinear"}
    nearest = StyleTransformer("mobile", TINY, upsample="nearest", seed=3)
    photo = _images((1, 24, 20, 3))
    # Same weights (the resize has none), another picture.
    assert len(nearest.get_weights()) == len(net.get_weights())
    assert np.abs(np.asarray(net(photo)) - np.asarray(nearest(photo))).max() > 0.5
    # A file written before the option existed has no "upsample": it was nearest.
    config = net.get_config()
    del config["upsample"]
    assert StyleTransformer.from_config(config).upsample == "nearest"
    nearest.save(tmp_path / "n.keras")
    loaded = keras.saving.load_model(tmp_path / "n.keras", safe_mode=True)
    assert loaded.upsample == "nearest"
    np.testing.assert_allclose(np.asarray(loaded(photo)), np.asarray(nearest(photo)), atol=1e-4)


def test_no_transposed_convolutions():
    model = StyleTransformer("johnson", TINY)
    assert not [l for l in model.layers if isinstance(l, keras.layers.Conv2DTranspose)]
    assert sum(isinstance(l, Upsample2x) for l in model.layers) == 2


# --------------------------------------------------------------------------- sizes and cost


def test_johnson_full_width_parameter_count():
    params = build_transformer("johnson").count_params()
    assert 1.68e6 * 0.9 <= params <= 1.68e6 * 1.1


def test_mobile_is_far_smaller_and_cheaper():
    johnson, mobile = build_transformer("johnson"), build_transformer("mobile")
    assert mobile.count_params() < 100_000
    assert mobile.count_params() < johnson.count_params() / 10
    # At a photo's size: on a tiny picture mobile's fixed BORDER margin would dominate.
    assert count_flops(mobile, 512, 512) < count_flops(johnson, 512, 512) / 10


def test_width_scales_channels():
    half = build_transformer("johnson", 0.5).count_params()
    full = build_transformer("johnson").count_params()
    assert 0.2 < half / full < 0.3  # conv params scale with width squared


def test_count_flops_matches_hand_count():
    # johnson, reflect: MACs per input pixel = 9*9*3*32 + (9*32*64)/4 + (9*64*128)/16
    # + 10*(9*128*128)/16 + (9*128*64)/4 + 9*64*32 + 9*9*32*3 = 153792.
    model = build_transformer("johnson")
    assert count_flops(model, 64, 64) == 2 * 153792 * 64 * 64
    assert count_flops(model, 32, 32) * 4 == count_flops(model, 64, 64)


def test_count_flops_counts_border_margin():
    same = count_flops(build_transformer("mobile", padding="same"), 64, 64)
    border = count_flops(build_transformer("mobile", padding="border"), 64, 64)
    side = 64 + 2 * BORDER
    assert border == pytest.approx(same * side * side / (64 * 64), rel=0.01)


# --------------------------------------------------------------------------- training


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_gradients_reach_every_trainable_weight(arch):
    model = StyleTransformer(arch, TINY, seed=1)
    x = tf.constant(_images((2, 16, 20, 3)))
    weights = tf.constant(np.random.default_rng(1).normal(size=(2, 16, 20, 3)).astype("float32"))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x, training=True) * weights)
    grads = tape.gradient(loss, model.trainable_variables)
    assert len(grads) == len(model.trainable_variables) > 0
    assert all(grad is not None for grad in grads)
    sizes = {v.path: float(np.abs(g.numpy()).max()) for v, g in zip(model.trainable_variables, grads)}
    assert all(np.isfinite(size) for size in sizes.values())
    # Relative threshold: a weight whose exact gradient is zero (e.g. a conv bias right
    # before a norm) still gets float rounding noise, about 1e-7 of the typical size.
    typical = np.median(list(sizes.values()))
    dead = [path for path, size in sizes.items() if size < 1e-3 * typical]
    assert not dead, f"no gradient reaches {dead}"


def test_seed_makes_weights_reproducible():
    a, b = (StyleTransformer("mobile", TINY, seed=7) for _ in range(2))
    c = StyleTransformer("mobile", TINY, seed=8)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert any(not np.array_equal(wa, wc) for wa, wc in zip(a.get_weights(), c.get_weights()))
    # Layers of the same shape get different initial weights.
    k1 = a.get_layer("res1_conv1").get_weights()[0]
    k2 = a.get_layer("res2_conv1").get_weights()[0]
    assert not np.array_equal(k1, k2)


# --------------------------------------------------------------------------- blend


def test_blend_endpoints_are_exact_numpy():
    content, styled = _images((1, 5, 7, 3), 1), _images((1, 5, 7, 3), 2)
    np.testing.assert_array_equal(blend(content, styled, 0), content)
    np.testing.assert_array_equal(blend(content, styled, 1.0), styled)
    np.testing.assert_allclose(blend(content, styled, 0.25), 0.75 * content + 0.25 * styled, rtol=1e-6)
    assert blend(content, styled, np.float32(0.5)).dtype == np.float32


def test_blend_tensors():
    content, styled = tf.constant(_images((2, 4, 4, 3), 1)), tf.constant(_images((2, 4, 4, 3), 2))
    out = blend(content, styled, 0.0)
    assert tf.is_tensor(out)
    np.testing.assert_array_equal(out.numpy(), content.numpy())
    np.testing.assert_array_equal(blend(content, styled, 1).numpy(), styled.numpy())


def test_blend_uint8_does_not_wrap():
    content = np.full((2, 2, 3), 250, np.uint8)
    styled = np.full((2, 2, 3), 10, np.uint8)
    np.testing.assert_allclose(blend(content, styled, 0.5), 130.0)


@pytest.mark.parametrize("strength", [-0.01, 1.01, float("nan"), float("inf"), "0.5", None, True])
def test_blend_rejects_bad_strength(strength):
    x = np.zeros((2, 2, 3), "float32")
    with pytest.raises(OptionError, match="strength="):
        blend(x, x, strength)


def test_blend_rejects_shape_mismatch():
    with pytest.raises(OptionError, match="shape"):
        blend(np.zeros((2, 2, 3)), np.zeros((2, 3, 3)), 0.5)


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"architecture": "vgg"}, r"architecture='vgg'"),
        ({"architecture": None}, r"architecture=None"),
        ({"width": 0}, r"width=0"),
        ({"width": -0.5}, r"width=-0\.5"),
        ({"width": float("nan")}, r"width=nan"),
        ({"width": "1"}, r"width='1'"),
        ({"padding": "zeros"}, r"padding='zeros'"),
        ({"upsample": "bicubic"}, r"upsample='bicubic' is not one of bilinear, nearest"),
        ({"seed": -1}, r"seed=-1"),
        ({"seed": 1.5}, r"seed=1\.5"),
    ],
)
def test_bad_arguments_raise_option_error(kwargs, pattern):
    with pytest.raises(OptionError, match=pattern):
        StyleTransformer(**kwargs)
    with pytest.raises(OptionError, match=pattern):
        build_transformer(**kwargs)


@pytest.mark.parametrize("height, width", [(0, 8), (8, -1), (8.0, 8), (True, 8)])
def test_count_flops_rejects_bad_sizes(height, width):
    with pytest.raises(OptionError, match="height=|width="):
        count_flops(build_transformer("mobile", TINY), height, width)


# --------------------------------------------------------------------------- TFLite


def _to_tflite(model, shape, tmp_path):
    export_dir = str(tmp_path / "saved_model")
    model.export(
        export_dir,
        format="tf_saved_model",
        verbose=False,
        input_signature=[tf.TensorSpec(shape, tf.float32)],
    )
    converter = tf.lite.TFLiteConverter.from_saved_model(export_dir)
    # Builtins only: conversion fails if any op would need Select TF ops (Flex).
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    return converter.convert()


@pytest.mark.slow
@pytest.mark.parametrize(
    "arch, padding, upsample, shape",
    [
        ("johnson", None, None, [1, 64, 64, 3]),
        ("mobile", None, "bilinear", [1, 64, 64, 3]),
        ("mobile", "border", None, [1, 50, 62, 3]),
        ("mobile", "same", None, [1, None, None, 3]),
        ("mobile", None, "bilinear", [1, None, None, 3]),
    ],
)
def test_converts_to_tflite_builtins(tmp_path, arch, padding, upsample, shape):
    from ai_edge_litert.interpreter import Interpreter

    model = StyleTransformer(arch, padding=padding, upsample=upsample, seed=0)
    flatbuffer = _to_tflite(model, shape, tmp_path)
    interpreter = Interpreter(model_content=flatbuffer, num_threads=2)
    run_shape = [1, 37, 45, 3] if None in shape else shape
    inp = interpreter.get_input_details()[0]["index"]
    if None in shape:
        interpreter.resize_tensor_input(inp, run_shape)
    interpreter.allocate_tensors()
    op_names = {op["op_name"] for op in interpreter._get_ops_details()}
    assert not [name for name in op_names if name.startswith("Flex") or name == "CUSTOM"]
    resize = "RESIZE_BILINEAR" if upsample == "bilinear" else "RESIZE_NEAREST_NEIGHBOR"
    assert "MIRROR_PAD" in op_names and resize in op_names

    x = _images(run_shape)
    interpreter.set_tensor(inp, x)
    interpreter.invoke()
    y = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    expected = model(x).numpy()
    assert y.shape == expected.shape
    assert np.abs(y - expected).max() < 0.5
