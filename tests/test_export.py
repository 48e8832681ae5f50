"""Tests of tf_style.export: SavedModel signatures, TFLite conversion, runners, CLI and scripts.

Tiny networks (mobile, width 0.25) at 16-64 px; exports and conversions take 5-15 s each
here, so every test that makes one is marked slow. The trained-model tests run on every
shipped network (``helpers.SHIPPED_NETWORKS``; ``TF_STYLE_TRAINED_MODEL`` points them at another one).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import noise as _images
from helpers import SHIPPED_NETWORKS, load_script
from helpers import psnr as _psnr
from tf_style import export as ex
from tf_style import image as im
from tf_style.cli import _EXPORT_QUANTIZATIONS, main
from tf_style.errors import (
    ImageSizeError,
    ModelLoadError,
    OptionError,
    OutputError,
)
from tf_style.networks import StyleTransformer

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = sorted(
    str(p) for p in (ROOT / "examples" / "images").iterdir() if p.suffix.lower() in (".png", ".jpg")
)
# TF_STYLE_TRAINED_MODEL points the trained-model tests at another network.
TRAINED = (
    [Path(os.environ["TF_STYLE_TRAINED_MODEL"])] if os.environ.get("TF_STYLE_TRAINED_MODEL")
    else [ROOT / "models" / f"{name}.keras" for name in SHIPPED_NETWORKS]
)

TINY = 0.25
SIZE = 64  # TFLite input size of the tiny models
# PSNR (dB) of the TFLite output against the Keras output on the example photos, worst
# photo. Measured for the tiny net at 64 px (seeds 3 and 7): none 121-122, float16 65-67,
# dynamic 42-43, int8 23.6-24.7; another network's output scores ~7.6.
PSNR_FLOOR_TINY = {"none": 60.0, "float16": 50.0, "dynamic": 35.0, "int8": 20.0}
# The shipped networks at 384 px, measured (worst of the six example photos; none, float16,
# dynamic, int8): starry_night_mobile (3500 steps with the shift term, 2026-12-04) 83.6, 71.7,
# 38.7, 25.9 (the one it replaced, 3100 steps: 92.5, 74.9, 38.3, 23.8);
# the_scream_mobile (3600 steps, then 1300 distilled with --loss-margin 16) 95.9, 77.9, 44.0, 25.7
# (after 900: 89.6, 77.4, 46.9, 26.4). The earlier 1900-step demo measured
# 88.9, 70.8, 38.0, 19.5. The johnson networks: starry_night_johnson (3300 steps with the
# shift term, 2026-12-04) 92.9, 75.9, 36.9, 19.9 (the one it replaced 95.1, 80.9, 36.3, 13.6);
# the_scream_johnson (3300 steps, 2026-12-04) 96.1, 82.2, 36.2, 16.8 (the one it replaced
# 94.9, 81.5, 35.6, 17.9): full-integer int8 does not keep a
# full-width network's picture (why is not investigated yet); its floor says so and the
# README sends johnson users to float16 or dynamic. Re-measure when a model is retrained.
PSNR_FLOOR_TRAINED = {
    "mobile": {"none": 60.0, "float16": 50.0, "dynamic": 34.0, "int8": 20.0},
    "johnson": {"none": 60.0, "float16": 50.0, "dynamic": 34.0, "int8": 12.0},
}


def _photos(size):
    h, w = (size, size) if isinstance(size, int) else size
    return np.stack([im.to_array(im.resize_to(im.read_image(p), (w, h))) for p in PHOTOS])


def _fake_flatbuffer(payload=b"x" * 32) -> bytes:
    return b"\x1c\x00\x00\x00TFL3" + payload


def _builtin_names():
    from tensorflow.lite.python import schema_py_generated as schema

    return {k for k in vars(schema.BuiltinOperator) if not k.startswith("_") and k != "CUSTOM"}


@pytest.fixture(scope="module")
def tiny():
    return StyleTransformer("mobile", TINY, seed=3)


@pytest.fixture(scope="module")
def saved(tiny, tmp_path_factory):
    return ex.save_saved_model(tiny, tmp_path_factory.mktemp("sm") / "tiny")


@pytest.fixture(scope="module")
def flatbuffers(tiny):
    """quantization -> .tflite bytes of the tiny net at SIZE px, converted on first use."""
    cache = {}

    def get(quantization):
        if quantization not in cache:
            photos = PHOTOS if quantization == "int8" else None
            cache[quantization] = ex.convert_tflite(
                tiny, quantization, SIZE, photos, calibration_samples=8
            )
        return cache[quantization]

    return get


@pytest.fixture(scope="module")
def tiny_keras_file(tiny, tmp_path_factory):
    path = tmp_path_factory.mktemp("keras") / "tiny.keras"
    tiny.save(path)
    return path


# --------------------------------------------------------------------------- options


def test_quantizations_are_the_documented_four():
    assert ex.QUANTIZATIONS == ("none", "float16", "dynamic", "int8")
    assert _EXPORT_QUANTIZATIONS == ex.QUANTIZATIONS  # the CLI's copy (no TF at parse time)
    for q in ex.QUANTIZATIONS:
        assert ex.check_quantization(q) == q


@pytest.mark.parametrize("bad", ["int4", "INT8", "fp16", "", None, 8])
def test_bad_quantization_is_an_option_error_naming_it(tiny, bad):
    with pytest.raises(OptionError, match="quantization=") as info:
        ex.convert_tflite(tiny, bad)
    assert repr(bad) in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("bad", [8, (16, 15), (True, 32), "384", (32,), 32.0])
def test_bad_input_size(tiny, bad):
    with pytest.raises(OptionError, match="input_size"):
        ex.convert_tflite(tiny, "none", bad)


def test_input_size_forms():
    assert ex.check_input_size(384) == (384, 384)
    assert ex.check_input_size((240, 320)) == (240, 320)
    assert ex.check_input_size(None) is None
    assert ex.parse_input_size("384") == 384
    assert ex.parse_input_size("320x240") == (240, 320)  # WxH -> (height, width)
    assert ex.parse_input_size("ANY") is None
    with pytest.raises(OptionError, match="--size: expected N, WxH or any"):
        ex.parse_input_size("3x", option="--size")
    with pytest.raises(OptionError, match=">= 16"):
        ex.parse_input_size("15x64")


def test_int8_needs_representative_images(tiny):
    for photos in (None, [], "examples/images/chelsea.png"):
        with pytest.raises(OptionError, match="representative_images"):
            ex.convert_tflite(tiny, "int8", 32, photos)


def test_model_must_take_rgb_images():
    inputs = keras.Input((None, None, 1))
    gray = keras.Model(inputs, keras.layers.Conv2D(3, 1)(inputs))
    with pytest.raises(OptionError, match="3\\] image input"):
        ex.convert_tflite(gray)
    with pytest.raises(OptionError, match="keras.Model"):
        ex.save_saved_model("not a model", "x")


def test_calibration_crops_are_real_pixels_and_reproducible():
    a = ex._calibration_crops(PHOTOS[:2], (40, 56), 7, seed=1)
    b = ex._calibration_crops(PHOTOS[:2], (40, 56), 7, seed=1)
    c = ex._calibration_crops(PHOTOS[:2], (40, 56), 7, seed=2)
    assert len(a) == 7
    assert all(x.shape == (1, 40, 56, 3) and x.dtype == np.float32 for x in a)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a[2:], c[2:]))  # crops differ by seed
    assert 0 <= min(x.min() for x in a) and max(x.max() for x in a) <= 255
    assert np.std(np.concatenate(a)) > 20  # photos, not a constant


def test_image_files_lists_folders(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"")
    (tmp_path / "b.PNG").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("x")
    files = ex.image_files([tmp_path, "other.png"])
    assert [Path(f).name for f in files] == ["a.jpg", "b.PNG", "other.png"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(OptionError, match="--calibration: .*empty is a directory with no image"):
        ex.image_files([tmp_path / "empty"], option="--calibration")
    with pytest.raises(OptionError, match="--calibration: no images"):
        ex.image_files([], option="--calibration")


# --------------------------------------------------------------------------- writing


def test_save_tflite_is_atomic_and_refuses_to_overwrite(tmp_path):
    out = tmp_path / "m.tflite"
    assert ex.save_tflite(_fake_flatbuffer(b"one"), out) == out
    assert out.read_bytes() == _fake_flatbuffer(b"one")
    with pytest.raises(OutputError, match="already exists.*force"):
        ex.save_tflite(_fake_flatbuffer(b"two"), out)
    assert out.read_bytes() == _fake_flatbuffer(b"one")
    ex.save_tflite(_fake_flatbuffer(b"two"), out, force=True)
    assert out.read_bytes() == _fake_flatbuffer(b"two")
    assert sorted(os.listdir(tmp_path)) == ["m.tflite"]  # no temporary files left


def test_save_tflite_bad_inputs(tmp_path):
    with pytest.raises(OptionError, match="not a TFLite model"):
        ex.save_tflite(b"hello world", tmp_path / "m.tflite")
    with pytest.raises(OutputError, match="does not exist"):
        ex.save_tflite(_fake_flatbuffer(), tmp_path / "missing" / "m.tflite")
    (tmp_path / "dir.tflite").mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        ex.save_tflite(_fake_flatbuffer(), tmp_path / "dir.tflite", force=True)


def test_saved_model_refuses_existing_paths_before_exporting(tiny, tmp_path):
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("mine")
    with pytest.raises(OutputError, match="already exists.*force"):
        ex.save_saved_model(tiny, existing)
    # force replaces only an empty directory or a SavedModel, never other folders.
    with pytest.raises(OutputError, match="only an empty directory or a SavedModel"):
        ex.save_saved_model(tiny, existing, force=True)
    assert (existing / "keep.txt").read_text() == "mine"
    with pytest.raises(OutputError, match="does not exist"):
        ex.save_saved_model(tiny, tmp_path / "missing" / "1")
    assert sorted(os.listdir(tmp_path)) == ["existing"]


# --------------------------------------------------------------------------- loading errors


def test_keras_model_load_errors(tmp_path):
    with pytest.raises(ModelLoadError, match="no such file"):
        ex.load_keras_model(tmp_path / "missing.keras")
    with pytest.raises(ModelLoadError, match="expected a .keras"):
        ex.load_keras_model(tmp_path / "model.h5")
    corrupt = tmp_path / "corrupt.keras"
    corrupt.write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(ModelLoadError, match="cannot load the model"):
        ex.load_keras_model(corrupt)


def test_keras_model_round_trip(tiny, tiny_keras_file):
    model = ex.load_keras_model(tiny_keras_file)
    x = _images((1, 20, 24, 3))
    np.testing.assert_allclose(model(x).numpy(), tiny(x).numpy(), atol=1e-4)


def test_runner_load_errors(tmp_path):
    with pytest.raises(ModelLoadError, match="no such TFLite file"):
        ex.load_tflite_runner(tmp_path / "missing.tflite")
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(ModelLoadError, match="not a TFLite model"):
        ex.load_tflite_runner(bad)
    corrupt = tmp_path / "corrupt.tflite"
    corrupt.write_bytes(_fake_flatbuffer(os.urandom(256)))
    with pytest.raises(ModelLoadError, match="cannot load the TFLite model"):
        ex.load_tflite_runner(corrupt)
    with pytest.raises(OptionError, match="num_threads"):
        ex.load_tflite_runner(corrupt, num_threads=0)

    with pytest.raises(ModelLoadError, match="no such SavedModel"):
        ex.load_saved_model_runner(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no saved_model.pb"):
        ex.load_saved_model_runner(tmp_path / "empty")
    (tmp_path / "corrupt_sm").mkdir()
    (tmp_path / "corrupt_sm" / "saved_model.pb").write_bytes(os.urandom(128))
    with pytest.raises(ModelLoadError, match="cannot load the SavedModel"):
        ex.load_saved_model_runner(tmp_path / "corrupt_sm")


# --------------------------------------------------------------------------- CLI errors


def _one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("tf-style")]
    assert len(err) == 1, err
    assert err[0].startswith(("tf-style: error: ", "tf-style export: error: "))
    return err[0]


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["export", "m.keras"], "nothing to write"),
        (["export", "m.keras", "--tflite", "o.tflite", "--quantize", "int4"], "invalid choice"),
        (["export", "m.keras", "--tflite", "o.tflite", "--quantize", "int8"], "--calibration"),
        (["export", "m.keras", "--saved-model", "d", "--quantize", "float16"], "--tflite only"),
        (["export", "m.keras", "--tflite", "o.tflite", "--size", "8"], "--size: each side"),
        (["export", "m.keras", "--tflite", "o.tflite", "--size", "big"], "--size: expected"),
        (["export", "missing.keras", "--tflite", "o.tflite"], "missing.keras: no such file"),
        (["export", "m.keras", "--tflite", "no/such/dir/o.tflite"], "does not exist"),
    ],
)
def test_cli_bad_inputs_exit_2_with_one_line(argv, expected, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if "missing.keras" not in argv:
        (tmp_path / "m.keras").write_bytes(b"not a model")
    assert main(argv) == 2
    assert expected in _one_error_line(capsys)


def test_cli_refuses_existing_output_without_force(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("o.tflite").write_bytes(b"mine")
    assert main(["export", "missing.keras", "--tflite", "o.tflite"]) == 2
    assert "already exists" in _one_error_line(capsys)  # checked before loading anything
    assert Path("o.tflite").read_bytes() == b"mine"


def test_cli_corrupt_model_exit_2(capsys, tmp_path):
    bad = tmp_path / "m.keras"
    bad.write_bytes(b"garbage")
    assert main(["export", str(bad), "--tflite", str(tmp_path / "o.tflite")]) == 2
    assert "cannot load the model" in _one_error_line(capsys)


# --------------------------------------------------------------------------- SavedModel


@pytest.mark.slow
def test_saved_model_cli_lists_the_signatures(saved):
    # The saved_model_cli that pip installs with tensorflow (the module if not on PATH).
    cli = shutil.which("saved_model_cli")
    command = [cli] if cli else [sys.executable, "-m", "tensorflow.python.tools.saved_model_cli"]
    proc = subprocess.run(
        command + ["show", "--all", "--dir", str(saved)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    for name in ex.SIGNATURES:
        assert f"signature_def['{name}']" in out
    info = " ".join(out.split())  # whitespace-insensitive
    for expected in [
        "inputs['images'] tensor_info: dtype: DT_FLOAT shape: (-1, -1, -1, 3)",
        "inputs['strength'] tensor_info: dtype: DT_FLOAT shape: unknown_rank",
        "inputs['image_bytes'] tensor_info: dtype: DT_STRING shape: (-1)",
        "outputs['png_bytes'] tensor_info: dtype: DT_STRING shape: (-1)",
        "outputs['stylized'] tensor_info: dtype: DT_FLOAT shape: (-1, -1, -1, 3)",
    ]:
        assert expected in info, expected


@pytest.mark.slow
def test_saved_model_loads_three_ways_and_matches_keras(tiny, saved):
    import tensorflow_hub as hub

    loaded = tf.saved_model.load(str(saved))
    hub_loaded = hub.load(str(saved))
    layer = keras.layers.TFSMLayer(str(saved), call_endpoint="serving_default")
    for shape in [(2, 37, 45, 3), (1, 16, 64, 3)]:  # dynamic batch, height and width
        x = _images(shape, seed=shape[1])
        expected = tiny(x).numpy()
        outputs = {
            "tf.saved_model.load": loaded.signatures["serving_default"](images=tf.constant(x)),
            "tensorflow_hub.load": hub_loaded.signatures["serving_default"](images=tf.constant(x)),
            "keras TFSMLayer": layer(x),
        }
        for how, out in outputs.items():
            got = out["stylized"].numpy()
            assert got.shape == shape, how
            assert np.abs(got - expected).max() < 1e-3, how


@pytest.mark.slow
def test_saved_model_strength(tiny, saved):
    fn = tf.saved_model.load(str(saved)).signatures["stylize_with_strength"]
    x = _images((3, 20, 28, 3), seed=4)
    styled = tiny(x).numpy()
    for strength in (0.0, [0.0], 1.0, [1.0, 1.0, 1.0]):
        got = fn(images=tf.constant(x), strength=tf.constant(strength, tf.float32))["stylized"]
        want = x if np.all(np.asarray(strength) == 0) else styled
        assert np.abs(got.numpy() - want).max() < 1e-3, strength
    per_image = np.array([0.0, 0.5, 1.0], np.float32)
    got = fn(images=tf.constant(x), strength=tf.constant(per_image))["stylized"].numpy()
    np.testing.assert_allclose(got[0], x[0], atol=1e-3)
    np.testing.assert_allclose(got[1], 0.5 * x[1] + 0.5 * styled[1], atol=1e-3)
    np.testing.assert_allclose(got[2], styled[2], atol=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize(
    "signature, inputs, message",
    [
        ("serving_default", {"images": np.zeros((20, 20, 3), "float32")}, "must have rank 4"),
        ("serving_default", {"images": np.zeros((1, 1, 20, 20, 3), "float32")}, "must have rank 4"),
        ("serving_default", {"images": np.zeros((1, 20, 20, 4), "float32")}, "3 channels"),
        ("serving_default", {"images": np.zeros((1, 8, 40, 3), "float32")}, ">= 16 px"),
        ("stylize_with_strength",
         {"images": np.zeros((2, 20, 20, 3), "float32"), "strength": np.float32(1.5)},
         "strength must be in \\[0, 1\\]"),
        ("stylize_with_strength",
         {"images": np.zeros((2, 20, 20, 3), "float32"), "strength": np.zeros(3, "float32")},
         "one per image"),
        ("stylize_with_strength",
         {"images": np.zeros((2, 20, 20, 3), "float32"), "strength": np.zeros((1, 1), "float32")},
         "scalar, \\[1\\] or \\[batch\\]"),
        ("serve_image_bytes", {"image_bytes": np.array([b"not an image"])},
         "Unknown image file format"),
    ],
)
def test_saved_model_bad_inputs_fail_with_clear_messages(saved, signature, inputs, message):
    fn = tf.saved_model.load(str(saved)).signatures[signature]
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        fn(**{k: tf.constant(v) for k, v in inputs.items()})


@pytest.mark.slow
def test_bytes_signature_returns_pngs_of_the_keras_output(tiny, saved):
    png = tf.io.encode_png(_photos((40, 52))[0].astype("uint8")).numpy()
    jpeg = tf.io.encode_jpeg(_photos((36, 48))[1].astype("uint8"), quality=90).numpy()
    small = tf.io.encode_png(np.zeros((8, 8, 3), "uint8")).numpy()
    fn = tf.saved_model.load(str(saved)).signatures["serve_image_bytes"]
    out = fn(image_bytes=tf.constant([png, jpeg]))["png_bytes"].numpy()
    assert out.shape == (2,)
    for encoded, result in zip([png, jpeg], out):
        assert result[:8] == b"\x89PNG\r\n\x1a\n"
        decoded = tf.io.decode_image(encoded, channels=3).numpy().astype("float32")
        want = np.clip(np.rint(tiny(decoded[np.newaxis]).numpy()[0]), 0, 255)
        got = tf.io.decode_png(result).numpy().astype("float32")
        assert got.shape == decoded.shape
        assert np.abs(got - want).max() <= 1.0
    with pytest.raises(tf.errors.InvalidArgumentError, match=">= 16 px"):
        fn(image_bytes=tf.constant([small]))


@pytest.mark.slow
def test_bytes_signature_speaks_tf_serving_rest_json(saved):
    # What TF Serving does with {"instances": [{"b64": ...}]}: decode the base64 into a
    # DT_STRING [batch] tensor; an output named *_bytes goes back as {"b64": ...}.
    request = {"instances": [{"b64": base64.b64encode(
        tf.io.encode_png(_photos(24)[2].astype("uint8")).numpy()).decode()}]}
    body = json.loads(json.dumps(request))
    batch = [base64.b64decode(item["b64"]) for item in body["instances"]]
    fn = tf.saved_model.load(str(saved)).signatures["serve_image_bytes"]
    (name, tensor), = fn(image_bytes=tf.constant(batch)).items()
    assert name.endswith("_bytes")  # TF Serving base64-encodes only outputs named *_bytes
    response = {"predictions": [{"b64": base64.b64encode(v).decode()} for v in tensor.numpy()]}
    image = tf.io.decode_png(base64.b64decode(response["predictions"][0]["b64"])).numpy()
    assert image.shape == (24, 24, 3)


@pytest.mark.slow
def test_saved_model_runner(tiny, saved):
    runner = ex.load_saved_model_runner(saved)
    assert runner.input_size is None and not runner.fixed_size
    x = _images((1, 33, 17, 3), seed=9)
    assert np.abs(runner(x) - tiny(x).numpy()).max() < 1e-3
    with pytest.raises(OptionError, match="\\[N, H, W, 3\\]"):
        runner(x[0])
    with pytest.raises(ImageSizeError, match="minimum of 16"):
        runner(_images((1, 8, 30, 3)))


@pytest.mark.slow
def test_saved_model_force_replaces_and_leaves_no_temporaries(tiny, tmp_path):
    out = tmp_path / "model" / "1"
    out.parent.mkdir()
    ex.save_saved_model(tiny, out)
    with pytest.raises(OutputError, match="already exists"):
        ex.save_saved_model(tiny, out)
    (out / "marker").write_text("old export")
    other = StyleTransformer("mobile", TINY, seed=11)
    ex.save_saved_model(other, out, force=True)
    assert not (out / "marker").exists()
    assert sorted(os.listdir(out.parent)) == ["1"]  # no .tmp / .old directories left
    x = _images((1, 20, 20, 3))
    assert np.abs(ex.load_saved_model_runner(out)(x) - other(x).numpy()).max() < 1e-3


# --------------------------------------------------------------------------- TFLite


@pytest.mark.slow
@pytest.mark.parametrize("quantization", ex.QUANTIZATIONS)
def test_tflite_builtin_ops_float_interface_and_psnr(tiny, flatbuffers, tmp_path, quantization):
    from ai_edge_litert.interpreter import Interpreter

    flatbuffer = flatbuffers(quantization)
    ops = ex.tflite_ops(flatbuffer)
    assert ops and set(ops) <= _builtin_names(), set(ops) - _builtin_names()
    interpreter = Interpreter(model_content=flatbuffer)
    op_names = {op["op_name"] for op in interpreter._get_ops_details()}
    assert op_names <= _builtin_names() and not any("Flex" in n for n in op_names), op_names
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert list(inp["shape"]) == [1, SIZE, SIZE, 3] and inp["dtype"] == np.float32
    assert list(out["shape"]) == [1, SIZE, SIZE, 3] and out["dtype"] == np.float32

    interpreter.allocate_tensors()
    dtypes = {t["index"]: t["dtype"] for t in interpreter.get_tensor_details()}
    conv_outputs = {
        dtypes[i] for op in interpreter._get_ops_details()
        if op["op_name"] in ("CONV_2D", "DEPTHWISE_CONV_2D") for i in op["outputs"]
    }
    if quantization == "int8":  # full integer: int8 activations between QUANTIZE/DEQUANTIZE
        assert conv_outputs == {np.int8}
        assert ops[0] == "QUANTIZE" and ops[-1] == "DEQUANTIZE"
    else:
        assert conv_outputs == {np.float32}
    if quantization == "float16":
        assert np.float16 in set(dtypes.values()) and "DEQUANTIZE" in ops
    if quantization == "dynamic":
        assert np.int8 in set(dtypes.values())

    path = ex.save_tflite(flatbuffer, tmp_path / f"{quantization}.tflite")
    runner = ex.load_tflite_runner(path, num_threads=1)
    photos = _photos(SIZE)
    got, want = runner(photos), tiny(photos).numpy()
    worst = min(_psnr(g, w) for g, w in zip(got, want))
    assert worst > PSNR_FLOOR_TINY[quantization], f"{quantization}: {worst:.1f} dB"


@pytest.mark.slow
def test_tflite_fixed_size_resize_tensor_input_does_not_work(tiny, flatbuffers, tmp_path):
    # Documented in docs/SERVING.md: a fixed-size model "resizes" without an error but
    # keeps returning the converted size, so the runner refuses other sizes.
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffers("none"))
    interpreter.resize_tensor_input(0, [1, 96, 80, 3])
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], _images((1, 96, 80, 3)))
    interpreter.invoke()
    out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    assert out.shape == (1, SIZE, SIZE, 3)

    runner = ex.load_tflite_runner(ex.save_tflite(flatbuffers("none"), tmp_path / "m.tflite"))
    assert runner.input_size == (SIZE, SIZE) and runner.fixed_size
    with pytest.raises(ImageSizeError, match=f"takes {SIZE}x{SIZE} images"):
        runner(_images((1, 96, 80, 3)))
    x = _images((2, SIZE, SIZE, 3))  # a batch runs one image at a time
    assert np.abs(runner(x) - tiny(x).numpy()).max() < 1e-2


@pytest.mark.slow
def test_tflite_dynamic_size(tiny, tmp_path):
    path = ex.save_tflite(ex.convert_tflite(tiny, "none", None), tmp_path / "any.tflite")
    runner = ex.load_tflite_runner(path, num_threads=1)
    assert runner.input_size is None and not runner.fixed_size
    for shape in [(1, 48, 40, 3), (1, 16, 16, 3), (1, 33, 70, 3), (1, 48, 40, 3)]:
        x = _images(shape, seed=shape[2])
        got = runner(x)
        assert got.shape == shape
        assert np.abs(got - tiny(x).numpy()).max() < 1e-2


@pytest.mark.slow
def test_mobile_float16_at_384_is_well_under_1_mb():
    # File size depends on the architecture, not on the weights' values.
    model = StyleTransformer("mobile", seed=0)
    flatbuffer = ex.convert_tflite(model, "float16", 384)
    assert len(flatbuffer) < 400_000, len(flatbuffer)


# --------------------------------------------------------------------------- CLI and scripts


@pytest.mark.slow
def test_cli_export_end_to_end(tiny, tiny_keras_file, tmp_path, capsys):
    sm, lite = tmp_path / "serving" / "1", tmp_path / "m.tflite"
    sm.parent.mkdir()
    argv = ["export", str(tiny_keras_file), "--saved-model", str(sm), "--tflite", str(lite),
            "--quantize", "float16", "--size", "48x32", "--json", "--quiet"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["saved_model"] == str(sm) and result["tflite"] == str(lite)
    assert result["input_size"] == [32, 48] and result["quantization"] == "float16"
    assert result["signatures"] == list(ex.SIGNATURES)
    assert result["tflite_bytes"] == lite.stat().st_size
    runner = ex.load_tflite_runner(lite)
    assert runner.input_size == (32, 48)
    x = _images((1, 32, 48, 3))
    assert _psnr(runner(x), tiny(x).numpy()) > PSNR_FLOOR_TINY["float16"]

    assert main(argv) == 2  # exists: refused without --force, nothing rewritten
    assert "already exists" in _one_error_line(capsys)
    assert main(argv + ["--force"]) == 0


def _script(name):
    return load_script(f"export/{name}.py", f"_export_{name}")


def test_scripts_bad_arguments_exit_2(tmp_path, capsys):
    assert _script("tflite").QUANTIZATIONS == ex.QUANTIZATIONS
    assert _script("tflite").main(["m.keras", "o.tflite", "--quantize", "int4"]) == 2
    assert "invalid choice" in capsys.readouterr().err
    assert _script("tflite").main([str(tmp_path / "m.keras"), str(tmp_path / "o.tflite")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert _script("saved_model").main([str(tmp_path / "m.keras"), str(tmp_path / "d")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert _script("saved_model").main([]) == 2


@pytest.mark.slow
def test_scripts_end_to_end(tiny, tiny_keras_file, tmp_path):
    assert _script("saved_model").main([str(tiny_keras_file), str(tmp_path / "sm")]) == 0
    assert (tmp_path / "sm" / "saved_model.pb").is_file()
    out = tmp_path / "int8.tflite"
    argv = [str(tiny_keras_file), str(out), "--quantize", "int8", "--size", "32",
            "--calibration", str(ROOT / "examples" / "images")]
    assert _script("tflite").main(argv) == 0
    runner = ex.load_tflite_runner(out)
    photos = _photos(32)
    worst = min(_psnr(g, w) for g, w in zip(runner(photos), tiny(photos).numpy()))
    assert worst > PSNR_FLOOR_TINY["int8"], worst


# --------------------------------------------------------------------------- trained model


def test_the_shipped_networks_are_there():
    """The README, the export docs and the tests below name them; a missing one is a defect."""
    missing = [str(p) for p in TRAINED if not p.is_file()]
    assert not missing, f"shipped networks missing: {missing}"


@pytest.fixture(scope="module", params=TRAINED, ids=lambda p: p.stem)
def trained(request):
    return ex.load_keras_model(request.param)  # a missing file: ModelLoadError naming it


@pytest.mark.slow
def test_trained_saved_model_matches_keras(trained, tmp_path):
    runner = ex.load_saved_model_runner(ex.save_saved_model(trained, tmp_path / "1"))
    photos = _photos(256)
    assert np.abs(runner(photos) - trained(photos).numpy()).max() < 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("quantization", ex.QUANTIZATIONS)
def test_trained_tflite_psnr_at_384(trained, tmp_path, quantization):
    flatbuffer = ex.convert_tflite(trained, quantization, 384, PHOTOS)
    if quantization == "float16":  # 2 bytes a weight (float32 would be 4) and the graph
        assert len(flatbuffer) < 2.2 * trained.count_params() + 100_000, len(flatbuffer)
    assert set(ex.tflite_ops(flatbuffer)) <= _builtin_names()
    runner = ex.load_tflite_runner(ex.save_tflite(flatbuffer, tmp_path / "m.tflite"))
    photos = _photos(384)
    worst = min(_psnr(g, w) for g, w in zip(runner(photos), trained(photos).numpy()))
    assert worst > PSNR_FLOOR_TRAINED[trained.architecture][quantization], f"{quantization}: {worst:.1f} dB"
