"""Export and serving of the arbitrary-style networks (tf_style.export_arbitrary, apply, CLI).

The shipped networks (MobileNetV2 predictor + transformer) at small content sizes. Writing
the SavedModel (40 s idle, 3 min loaded here) and each TFLite pair (20-30 s) are slow, so tests that
make one are marked slow; the quick ones run the Keras path, the loaders' refusals and the
CLI's errors. Tolerances: see the constants (measured values in comments).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from helpers import psnr as _psnr
from tf_style import arbitrary as ar
from tf_style import cli
from tf_style import export as ex
from tf_style import export_arbitrary as ea
from tf_style import image as im
from tf_style.apply import ArbitraryStylizer, FastStylizer, load_stylizer
from tf_style.errors import ModelLoadError, OptionError, OutputError

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "examples" / "images"
SCREAM = str(IMAGES / "the_scream.jpg")
STARRY = str(IMAGES / "starry_night.jpg")
PHOTOS = [str(IMAGES / n) for n in ("tubingen.jpg", "chelsea.png")]
SIZES = [(64, 48), (96, 80)]  # (width, height) of the content in the SavedModel checks
TFLITE_SIZE = (48, 64)  # (height, width) the TFLite transformer is converted for here

# SavedModel vs the Keras networks (float32 pixels in [0, 255]), measured max |diff| 0.0002-0.0003
# at 64x48 and 96x80 (the in-graph Lanczos resize of the painting agrees with Pillow's to 0.003
# grey levels, style vectors to 6e-7).
SAVED_MODEL_ATOL = 0.02
# PSNR (dB) of each TFLite pair against the Keras networks, worst of 2 photos x 2 paintings,
# content at 64x48, both files (TFLite vector + TFLite transfer), the same 256x256 centre square
# fed to both predictors; measured (AMD EPYC): none 125.2, float16 46.1, int8 25.4 (8 calibration
# samples). At 384x384 (docs/ARBITRARY.md): 116.8, 46.4, 27.5.
PSNR_FLOOR = {"none": 80.0, "float16": 40.0, "int8": 18.0}


def _content(w: int, h: int, path: str = PHOTOS[0]) -> np.ndarray:
    return im.to_array(im.resize_to(im.read_image(path), (w, h)))[np.newaxis]


@pytest.fixture(scope="module")
def model():
    return ea.load_arbitrary(ea.ARBITRARY_WORD)


@pytest.fixture(scope="module")
def keras_runner(model):
    return ea.load_arbitrary_runner(model)


@pytest.fixture(scope="module")
def one_file(tmp_path_factory, model):
    path = tmp_path_factory.mktemp("arb") / "arbitrary.keras"
    model.save(path)
    return path


@pytest.fixture(scope="module")
def per_style(model_path):
    """A per-style network (conftest's tiny one), where the arbitrary pair is expected."""
    return model_path


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory, model):
    return ea.save_arbitrary_saved_model(model, tmp_path_factory.mktemp("sm") / "1")


# --------------------------------------------------------------------------- Keras


def test_keras_runner_is_stylize_arbitrary(keras_runner):
    content = _content(64, 48)
    for strength in (1.0, 0.4):
        out = keras_runner(content, SCREAM, strength)[0]
        ref = ar.stylize_arbitrary(content[0], SCREAM, strength=strength)
        assert np.abs(out - ref).max() <= 0.5 + 1e-3  # only the uint8 rounding of the reference


def test_one_file_keras_through_load_stylizer_and_cache(one_file, keras_runner):
    stylizer = load_stylizer(one_file)
    assert isinstance(stylizer, ArbitraryStylizer) and stylizer.kind == "keras" and stylizer.arbitrary
    photo = Image.fromarray(_content(64, 48)[0].astype(np.uint8))
    out = np.asarray(stylizer.stylize(photo, style=SCREAM), np.float32)
    ref = keras_runner(_content(64, 48), SCREAM)[0]
    assert out.shape == (48, 64, 3) and np.abs(out - ref).max() <= 0.5 + 1e-3
    sized = stylizer.stylize(PHOTOS[1], style=SCREAM, size=40, strength=0.5, preserve_color=True)
    assert max(sized.size) == 40
    assert len(stylizer._vectors) == 1  # the painting's vector was computed once
    with pytest.raises(OptionError, match="style"):
        stylizer.stylize(photo)


def test_per_style_refuses_style_and_arbitrary_loader_refuses_it(per_style):
    stylizer = load_stylizer(per_style)
    assert isinstance(stylizer, FastStylizer) and not stylizer.arbitrary
    with pytest.raises(OptionError, match="per-style"):
        stylizer.stylize(Image.new("RGB", (32, 32)), style=SCREAM)
    with pytest.raises(ModelLoadError, match="not an arbitrary-style model"):
        ea.load_arbitrary(per_style)
    assert ea.is_arbitrary_file(ea.ARBITRARY_WORD) and not ea.is_arbitrary_file(per_style)


def test_runner_loaders_refuse_bad_artefacts(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="saved_model.pb"):
        ea.load_arbitrary_runner(tmp_path / "empty")
    with pytest.raises(ModelLoadError, match="no such"):
        ea.load_arbitrary_runner(tmp_path / "missing.keras")
    pair = tmp_path / "pair"
    pair.mkdir()
    (pair / ea.PREDICT_TFLITE).write_bytes(b"garbage garbage")
    (pair / ea.TRANSFER_TFLITE).write_bytes(b"garbage garbage")
    with pytest.raises(ModelLoadError, match="TFL3"):
        ea.load_arbitrary_runner(pair)
    with pytest.raises(ModelLoadError, match="TFL3"):
        load_stylizer(pair)
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ModelLoadError):
        ea.load_arbitrary(bad)


def test_tflite_dir_rules(tmp_path):
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x")
    with pytest.raises(OutputError, match="already exists"):
        ea.check_tflite_dir(tmp_path / "other")
    with pytest.raises(OutputError, match="only an empty folder"):
        ea.check_tflite_dir(tmp_path / "other", force=True)
    with pytest.raises(OutputError, match="does not exist"):
        ea.check_tflite_dir(tmp_path / "no" / "dir")
    with pytest.raises(OptionError, match="int8"):
        ea.convert_arbitrary_tflite(ea.load_arbitrary("arbitrary"), "int8")


# --------------------------------------------------------------------------- SavedModel


@pytest.mark.slow
def test_saved_model_signatures_match_keras(saved_model, keras_runner):
    loaded = tf.saved_model.load(str(saved_model))
    assert set(loaded.signatures) == set(ea.ARBITRARY_SIGNATURES)
    sigs = loaded.signatures
    style = ar._as_float255(SCREAM, "s")[np.newaxis]
    vector = keras_runner.style_vector(SCREAM)
    for w, h in SIZES:
        content = _content(w, h)
        ref = keras_runner.transfer(content, vector)
        out = sigs["serving_default"](content=tf.constant(content), style=tf.constant(style))["stylized"]
        assert out.shape == (1, h, w, 3) and np.abs(out.numpy() - ref).max() < SAVED_MODEL_ATOL
        v = sigs["predict_style"](style=tf.constant(style))["style_vector"].numpy()
        assert v.shape == (1, ar.STYLE_DIM) and np.abs(v - vector).max() < 1e-4
        out2 = sigs["transfer"](content=tf.constant(content), style_vector=tf.constant(v))["stylized"]
        assert np.abs(out2.numpy() - out.numpy()).max() < 1e-3
        for s in (0.0, 0.5):
            mixed = s * vector + (1 - s) * keras_runner.style_vector(content[0])
            got = sigs["stylize_with_strength"](content=tf.constant(content), style=tf.constant(style),
                                                strength=tf.constant(s))["stylized"].numpy()
            assert np.abs(got - keras_runner.transfer(content, mixed)).max() < SAVED_MODEL_ATOL
    # One painting for a batch of two photos.
    two = np.concatenate([_content(64, 48), _content(64, 48, PHOTOS[1])])
    out = sigs["serving_default"](content=tf.constant(two), style=tf.constant(style))["stylized"].numpy()
    assert np.abs(out[1] - keras_runner.transfer(two[1:], vector)[0]).max() < SAVED_MODEL_ATOL


@pytest.mark.slow
def test_saved_model_bytes_to_png(saved_model, keras_runner):
    sig = tf.saved_model.load(str(saved_model)).signatures["serve_image_bytes"]
    photo = Image.fromarray(_content(64, 48)[0].astype(np.uint8))
    buf = io.BytesIO()
    photo.save(buf, "PNG")
    painting = im.read_image(SCREAM).resize((150, 190))
    art = io.BytesIO()
    painting.save(art, "PNG")  # lossless: TF and Pillow decode the same pixels
    art = art.getvalue()
    png = sig(image_bytes=tf.constant([buf.getvalue()]), style_bytes=tf.constant([art]))["png_bytes"].numpy()
    out = np.asarray(Image.open(io.BytesIO(png[0])), np.float32)
    ref = keras_runner(_content(64, 48), np.asarray(painting))[0]
    assert out.shape == (48, 64, 3) and np.abs(out - ref).max() <= 0.5 + SAVED_MODEL_ATOL
    # A JPEG painting: TF's and Pillow's JPEG decoders differ slightly (measured max 2.7 levels).
    jpeg = sig(image_bytes=tf.constant([buf.getvalue()]), style_bytes=tf.constant([Path(SCREAM).read_bytes()]))
    out = np.asarray(Image.open(io.BytesIO(jpeg["png_bytes"].numpy()[0])), np.float32)
    assert np.abs(out - keras_runner(_content(64, 48), SCREAM)[0]).mean() < 1.0
    huge = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + (100000).to_bytes(4, "big") * 2 + b"\x08\x02\0\0\0"
    with pytest.raises(tf.errors.InvalidArgumentError, match="more than"):
        sig(image_bytes=tf.constant([huge]), style_bytes=tf.constant([art]))


@pytest.mark.slow
def test_saved_model_apply_cli(saved_model, tmp_path, capsys):
    out = tmp_path / "out.png"
    rc = cli.main(["apply", str(saved_model), PHOTOS[0], "--style", SCREAM, "-o", str(out), "--size", "64",
                   "--strength", "0.8", "--json", "--quiet"])
    assert rc == 0 and Image.open(out).size == (64, 48)
    assert json.loads(capsys.readouterr().out)["style"] == SCREAM
    stylizer = load_stylizer(saved_model)
    assert isinstance(stylizer, ArbitraryStylizer) and stylizer.kind == "savedmodel"
    with pytest.raises(OptionError, match="style"):
        stylizer.stylize(PHOTOS[0], size=32)


# --------------------------------------------------------------------------- TFLite


def _tflite(tmp_path_factory, model, quantization):
    pair = ea.convert_arbitrary_tflite(model, quantization, TFLITE_SIZE,
                                       PHOTOS if quantization == "int8" else None, calibration_samples=8)
    for flatbuffer in pair:
        assert all(not op.startswith("custom:") for op in ex.tflite_ops(flatbuffer))
    return ea.save_arbitrary_tflite(pair, tmp_path_factory.mktemp(quantization) / "pair")


@pytest.mark.slow
@pytest.mark.parametrize("quantization", ["none", "float16", "int8"])
def test_tflite_pair_psnr(tmp_path_factory, model, keras_runner, quantization):
    path = _tflite(tmp_path_factory, model, quantization)
    runner = ea.load_arbitrary_runner(path)
    assert runner.kind == "tflite" and runner.input_size == TFLITE_SIZE
    assert runner.style_input_size == ea.TFLITE_STYLE_SIZE
    worst = np.inf
    for photo in PHOTOS:
        content = _content(TFLITE_SIZE[1], TFLITE_SIZE[0], photo)
        for painting in (SCREAM, STARRY):
            square = ea.style_input(painting, ea.TFLITE_STYLE_SIZE)
            ref = keras_runner.transfer(content, keras_runner.predict_style(square))
            got = runner.transfer(content, runner.predict_style(square))
            worst = min(worst, _psnr(got, ref))
    assert worst > PSNR_FLOOR[quantization], worst
    if quantization == "none":  # apply runs the pair at any photo size (resized there and back)
        out = tmp_path_factory.mktemp("apply") / "out.png"
        assert cli.main(["apply", str(path), PHOTOS[1], "--style", STARRY, "-o", str(out),
                         "--size", "80", "--quiet"]) == 0
        w, h = im.read_image(PHOTOS[1]).size
        assert Image.open(out).size == (80, round(h * 80 / w))


@pytest.mark.slow
def test_tflite_dynamic_size(tmp_path, model, keras_runner):
    pair = ea.convert_arbitrary_tflite(model, "none", None)
    path = ea.save_arbitrary_tflite(pair, tmp_path / "any")
    runner = ea.load_arbitrary_runner(path)
    assert runner.input_size is None
    vector = keras_runner.style_vector(SCREAM)
    for w, h in [(64, 48), (50, 70)]:  # 50x70: not a multiple of 4 (the reflection pad)
        content = _content(w, h)
        assert _psnr(runner.transfer(content, vector), keras_runner.transfer(content, vector)) > PSNR_FLOOR["none"]


# --------------------------------------------------------------------------- CLI errors


def _cli_error(argv, capsys) -> str:
    rc = cli.main(argv)
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and err.startswith("tf-style: error: "), (rc, err)
    return err


def test_cli_apply_errors(tmp_path, capsys, per_style):
    out = tmp_path / "out.png"
    assert "--style" in _cli_error(["apply", "arbitrary", PHOTOS[0], "-o", str(out)], capsys)
    assert "per-style" in _cli_error(["apply", str(per_style), PHOTOS[0], "--style", SCREAM, "-o", str(out)],
                                     capsys)
    assert "no such file" in _cli_error(["apply", "arbitrary", PHOTOS[0], "--style", str(tmp_path / "x.jpg"),
                                         "-o", str(out)], capsys)
    assert "size" in _cli_error(["apply", "arbitrary", PHOTOS[0], "--style", SCREAM, "--size", "4",
                                 "-o", str(out)], capsys)
    (tmp_path / "corrupt.keras").write_bytes(b"not a zip")
    _cli_error(["apply", str(tmp_path / "corrupt.keras"), PHOTOS[0], "--style", SCREAM, "-o", str(out)], capsys)
    assert not out.exists()


def test_cli_apply_arbitrary_and_one_file(tmp_path, capsys, one_file):
    for model in ("arbitrary", str(one_file)):
        out = tmp_path / f"{Path(model).stem}.png"
        assert cli.main(["apply", model, PHOTOS[0], "--style", SCREAM, "-o", str(out), "--size", "48",
                         "--strength", "0.5", "--preserve-color", "--quiet"]) == 0
        assert Image.open(out).size == (48, 36)


def test_cli_export_errors_write_nothing(tmp_path, capsys, one_file):
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "keep.txt").write_text("x")
    before = sorted(p.name for p in tmp_path.iterdir())
    assert "already exists" in _cli_error(["export", "arbitrary", "--tflite", str(existing)], capsys)
    assert "already exists" in _cli_error(["export", str(one_file), "--saved-model", str(existing)], capsys)
    assert "--size" in _cli_error(["export", "arbitrary", "--tflite", str(tmp_path / "t"), "--size", "abc"],
                                  capsys)
    assert "--calibration" in _cli_error(["export", "arbitrary", "--tflite", str(tmp_path / "t"),
                                          "--quantize", "int8"], capsys)
    _cli_error(["export", str(tmp_path / "missing.keras"), "--tflite", str(tmp_path / "t")], capsys)
    (tmp_path / "corrupt.keras").write_bytes(b"PK\x03\x04 broken")
    _cli_error(["export", str(tmp_path / "corrupt.keras"), "--saved-model", str(tmp_path / "sm")], capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(before + ["corrupt.keras"])


@pytest.mark.slow
def test_cli_export_tflite_float16_then_apply(tmp_path, capsys):
    pair = tmp_path / "pair"
    rc = cli.main(["export", "arbitrary", "--tflite", str(pair), "--quantize", "float16", "--size", "64x48",
                   "--json", "--quiet"])
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert result["arbitrary"] and result["input_size"] == [48, 64]
    assert sorted(p.name for p in pair.iterdir()) == [ea.PREDICT_TFLITE, ea.TRANSFER_TFLITE]
    _cli_error(["export", "arbitrary", "--tflite", str(pair)], capsys)  # exists, no --force
    out = tmp_path / "out.png"
    assert cli.main(["apply", str(pair), PHOTOS[0], "--style", SCREAM, "-o", str(out), "--quiet"]) == 0
    assert Image.open(out).size == im.read_image(PHOTOS[0]).size
