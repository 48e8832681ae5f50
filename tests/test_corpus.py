"""One corpus of awkward and broken files (tests/corpus.py) through every entry point.

Entry points: ``read_image`` and ``tf_style.stylize`` (Python API), ``tf-style stylize``
(both methods),
``tf-style apply``, ``tf-style train`` (its style image and its data reader, which decodes
in TensorFlow), ``tf-style export`` (int8 calibration photos) and the SavedModel
``serve_image_bytes`` signature. For each case the expected outcome is asserted:
valid-but-unusual files give upright pictures with the right colours; broken ones give
the entry point's error naming the file and the problem, and no output file.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import corpus
import tf_style
import helpers
from helpers import ERROR_PREFIX, EXAMPLES
from helpers import run_cli as _main
from tf_style import export as ex
from tf_style import tfimage
from tf_style.errors import ImageSizeError, OptionError, TfStyleError
from tf_style.image import read_image
from tf_style.train import scan_data

STYLE = EXAMPLES / "starry_night.jpg"

NAMES = [
    "grey16.png", "cmyk.jpg", "palette_transparent.png", "la.png", "animated.gif", "pages.tiff",
    "exif6.jpg", "exif8.jpg", "dossier ünï cødé/photo 東京 ä.jpg",
    "empty.jpg", "text.jpg", "truncated.jpg", "truncated.png", "bad_crc.png", "bomb.png",
    "one_pixel.png", "directory.jpg", "loop_a.jpg",
]
VALID = NAMES[:9]
UNUSABLE = NAMES[9:]


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    built = {c.name: c for c in corpus.build(tmp_path_factory.mktemp("corpus") / "files")}
    assert sorted(built) == sorted(NAMES)  # the list above is the corpus, no more, no less
    return built


def _blocks(pixels: np.ndarray, k: int = 4) -> np.ndarray:
    """Means of k x k blocks: orientation and colours, not JPEG ringing at edges."""
    h, w = pixels.shape[0] // k * k, pixels.shape[1] // k * k
    return pixels[:h, :w].reshape(h // k, k, w // k, k, -1).mean(axis=(1, 3))


def assert_looks_like(pixels, case: corpus.Case, tol: float = 24.0) -> None:
    pixels = np.asarray(pixels, dtype=np.float32)
    assert pixels.shape == case.expected.shape, (case.name, pixels.shape, case.expected.shape)
    err = np.abs(_blocks(pixels) - _blocks(case.expected)).max()
    assert err <= tol, (case.name, err)


def assert_one_line_error(rc, err, case: corpus.Case, out_path: Path) -> None:
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(ERROR_PREFIX), err
    assert "Traceback" not in err
    assert case.path.name in lines[0], lines[0]  # names the file (non-ASCII included)
    if case.problem:
        assert re.search(case.problem, lines[0], re.IGNORECASE), lines[0]
    else:  # too small
        assert re.search(r"\b1x1\b", lines[0]), lines[0]
    assert not out_path.exists()


def _leftovers(folder: Path, keep=()) -> list:
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


# --------------------------------------------------------------------------- Python API


@pytest.mark.parametrize("name", NAMES)
def test_read_image(cases, name):
    case = cases[name]
    if case.problem is None:
        picture = read_image(case.path)
        assert picture.mode == "RGB" and picture.size == case.upright
        if case.expected is not None:
            assert_looks_like(picture, case)
        return
    with pytest.raises(TfStyleError) as info:
        read_image(case.path)
    assert str(case.path) in str(info.value)
    assert re.search(case.problem, str(info.value), re.IGNORECASE), info.value


@pytest.mark.parametrize("name", NAMES)
def test_api_stylize(cases, tiny, name, tmp_path):
    case, out = cases[name], tmp_path / "out.png"
    options = dict(size=48, iterations=1, pyramid=1, content_layers=("block2_conv1",),
                   style_layers=("block1_conv1", "block2_conv1"), output=out, backbone=tiny)
    if case.valid:
        result = tf_style.stylize(case.path, STYLE, **options)
        w, h = case.upright
        assert result.image.size == ((48, 36) if w > h else (36, 48))
        assert Image.open(out).size == result.image.size
        return
    for content, style in ((case.path, STYLE), (EXAMPLES / "tubingen.jpg", case.path)):
        with pytest.raises(TfStyleError) as info:
            tf_style.stylize(content, style, **options)
        assert case.path.name in str(info.value)
        if case.too_small:
            assert isinstance(info.value, ImageSizeError)
        assert not out.exists()


# --------------------------------------------------------------------------- stylize


@pytest.mark.parametrize("name", UNUSABLE)
@pytest.mark.parametrize("slot", ["content", "style"])
def test_cli_stylize_refuses(cases, name, slot, tmp_path, capsys):
    case, out = cases[name], tmp_path / "out.png"
    inputs = [case.path, STYLE] if slot == "content" else [EXAMPLES / "tubingen.jpg", case.path]
    rc, _, err = _main(["stylize", *inputs, "-o", out, "--size", "64", "--backbone", "vgg16-hed"], capsys)
    assert_one_line_error(rc, err, case, out)
    assert _leftovers(tmp_path) == []


@pytest.mark.slow
@pytest.mark.parametrize("name", VALID)
def test_cli_stylize_accepts(cases, name, tmp_path, capsys):
    case = cases[name]
    out = tmp_path / "sortie ü" / "résultat 1.png"  # output path with spaces and non-ASCII too
    out.parent.mkdir()
    rc, _, err = _main(["stylize", case.path, STYLE, "-o", out, "--size", "64", "--iterations", "1",
                        "--pyramid", "1", "--backbone", "vgg16-hed", "--quiet"], capsys)
    assert rc == 0, err
    w, h = case.upright
    assert Image.open(out).size == ((64, 48) if w > h else (48, 64))


@pytest.mark.parametrize("name", UNUSABLE)
@pytest.mark.parametrize("slot", ["content", "style"])
def test_cli_stylize_arbitrary_refuses(cases, name, slot, tmp_path, capsys):
    case, out = cases[name], tmp_path / "out.png"
    inputs = [case.path, STYLE] if slot == "content" else [EXAMPLES / "tubingen.jpg", case.path]
    rc, _, err = _main(["stylize", *inputs, "-o", out, "--size", "64", "--method", "arbitrary"], capsys)
    assert_one_line_error(rc, err, case, out)
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("name", VALID)
@pytest.mark.parametrize("slot", ["content", "style"])
def test_cli_stylize_arbitrary_accepts(cases, name, slot, tmp_path, capsys):
    case = cases[name]
    out = tmp_path / "sortie ü" / "résultat 1.png"
    out.parent.mkdir()
    inputs = [case.path, STYLE] if slot == "content" else [EXAMPLES / "tubingen.jpg", case.path]
    rc, _, err = _main(["stylize", *inputs, "-o", out, "--size", "64", "--method", "arbitrary", "--quiet"],
                       capsys)
    assert rc == 0, err
    w, h = case.upright if slot == "content" else (4, 3)
    assert Image.open(out).size == ((64, 48) if w > h else (48, 64))


# --------------------------------------------------------------------------- apply


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """conftest's tiny network, in a folder and file with non-ASCII names."""
    return helpers.save_tiny_network(tmp_path_factory.mktemp("model ü") / "tiny 模型.keras")


@pytest.mark.parametrize("name", NAMES)
def test_cli_apply(cases, model_path, name, tmp_path, capsys):
    case, out = cases[name], tmp_path / "out ü.png"
    rc, _, err = _main(["apply", model_path, case.path, "-o", out, "--strength", "0", "--quiet"], capsys)
    if case.valid:
        assert rc == 0, err
        with Image.open(out) as picture:  # strength 0 is the photo itself: exact colours
            assert_looks_like(picture.convert("RGB"), case)
        return
    assert_one_line_error(rc, err, case, out)


# --------------------------------------------------------------------------- train


def test_train_reader_scan(cases):
    """Header checks keep the files TensorFlow can decode and say why each other is skipped."""
    root = cases["cmyk.jpg"].path.parent
    scan = scan_data(root)
    names = {Path(f).name for f in scan.files}
    # .gif/.tiff are not training extensions; truncated files pass the header check and
    # are dropped by the pipeline (test_train_reader_decodes).
    assert names == {"grey16.png", "cmyk.jpg", "palette_transparent.png", "la.png", "exif6.jpg",
                     "exif8.jpg", "photo 東京 ä.jpg", "truncated.jpg", "truncated.png"}
    why = {Path(p).name: reason for p, reason in scan.skipped}
    assert set(why) == {"empty.jpg", "text.jpg", "bad_crc.png", "bomb.png", "one_pixel.png",
                        "loop_a.jpg", "loop_b.jpg"}
    assert "smaller than 16 px" in why["one_pixel.png"]
    assert "100000" in why["bomb.png"] or "pixels" in why["bomb.png"]


@pytest.mark.parametrize("name", [n for n in NAMES if n.endswith((".jpg", ".png"))
                                  and n not in ("directory.jpg", "loop_a.jpg")])
def test_train_reader_decodes(cases, name):
    """What the tf.data pipeline decodes: upright, on white, or an error it drops."""
    case = cases[name]
    data = tf.io.read_file(str(case.path))
    if case.problem is None:
        pixels = tfimage.decode_image_bytes(data).numpy()
        assert pixels.shape[:2] == case.upright[::-1]
        if case.expected is not None:
            assert_looks_like(pixels, case)
        return
    with pytest.raises(tf.errors.InvalidArgumentError):
        tfimage.decode_image_bytes(data).numpy()


@pytest.mark.parametrize("name", UNUSABLE)
def test_cli_train_refuses_bad_style(cases, name, tmp_path, capsys):
    case, run = cases[name], tmp_path / "run"
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(EXAMPLES / "tubingen.jpg", data)
    rc, _, err = _main(["train", "--style", case.path, "--data", data, "--out", run, "--steps", "1",
                        "--size", "32", "--backbone", "vgg16-hed"], capsys)
    assert_one_line_error(rc, err, case, run)


@pytest.mark.slow
def test_cli_train_over_the_corpus(cases, tmp_path, capsys):
    root = cases["cmyk.jpg"].path.parent
    run = tmp_path / "run ü"
    rc, out, err = _main(["train", "--style", STYLE, "--data", root, "--out", run, "--steps", "3",
                          "--size", "32", "--batch", "2", "--architecture", "mobile", "--width", "0.25",
                          "--backbone", "vgg16-hed", "--style-size", "64", "--sample-every", "0",
                          "--json", "--quiet"], capsys)
    assert rc == 0, err
    report = json.loads(out)
    assert report["step"] == 3
    skipped = {Path(s["path"]).name for s in report["skipped"]}
    assert {"empty.jpg", "text.jpg", "bad_crc.png", "bomb.png", "one_pixel.png"} <= skipped
    # The two truncated files are dropped when decoded; every other example trains.
    assert report["dropped_examples"] >= 1
    assert (run / "model.keras").is_file()


# --------------------------------------------------------------------------- export


@pytest.mark.parametrize("name", UNUSABLE)
def test_cli_export_refuses_bad_calibration_photo(cases, model_path, name, tmp_path, capsys):
    case, out = cases[name], tmp_path / "m.tflite"
    rc, _, err = _main(["export", model_path, "--tflite", out, "--quantize", "int8", "--size", "32",
                        "--calibration", EXAMPLES / "tubingen.jpg", case.path], capsys)
    assert_one_line_error(rc, err, case, out)
    assert _leftovers(tmp_path) == []


@pytest.mark.slow
def test_cli_export_calibrates_on_every_valid_file(cases, model_path, tmp_path, capsys):
    out = tmp_path / "modèle 1.tflite"
    valid = [cases[n].path for n in VALID]
    rc, _, err = _main(["export", model_path, "--tflite", out, "--quantize", "int8", "--size", "32",
                        "--calibration", *valid, "--quiet"], capsys)
    assert rc == 0, err
    runner = ex.load_tflite_runner(out)
    photo = np.asarray(read_image(valid[0]).resize((32, 32)), np.float32)[None]
    assert runner(photo).shape == (1, 32, 32, 3)


# --------------------------------------------------------------------------- SavedModel bytes


@pytest.fixture(scope="module")
def identity_serving(tmp_path_factory):
    """A SavedModel of an identity network: serve_image_bytes then shows the decode itself."""
    images = keras.Input((None, None, 3))
    model = keras.Model(images, keras.layers.Identity()(images))
    path = ex.save_saved_model(model, tmp_path_factory.mktemp("serving") / "1")
    return tf.saved_model.load(str(path)).signatures["serve_image_bytes"]


@pytest.mark.parametrize("name", [n for n in NAMES if n not in ("directory.jpg", "loop_a.jpg")])
def test_serving_bytes_signature(cases, identity_serving, name):
    case = cases[name]
    data = tf.constant([case.path.read_bytes()])
    if case.valid and case.tf_format:
        png = identity_serving(image_bytes=data)["png_bytes"].numpy()[0]
        assert_looks_like(tf.io.decode_png(png).numpy(), case)
        return
    expected = {
        "pages.tiff": r"Unknown image file format",
        "bomb.png": r"claims more than 16777216 pixels",
        "one_pixel.png": r"height and width must be >= 16",
    }.get(name, r".")
    with pytest.raises(tf.errors.InvalidArgumentError, match=expected):
        identity_serving(image_bytes=data)


def test_serving_bytes_bomb_in_every_header_format(identity_serving):
    """The size check reads PNG, GIF, BMP, WebP and JPEG headers, before any decoding."""
    import io
    import struct

    def encoded(fmt, size=(40, 30), **kw):
        buf = io.BytesIO()
        Image.new("RGB", size).save(buf, fmt, **kw)
        return bytearray(buf.getvalue())

    bombs = []
    gif = encoded("GIF")
    gif[6:10] = struct.pack("<HH", 65000, 65000)
    bombs.append(gif)
    bmp = encoded("BMP")
    bmp[18:26] = struct.pack("<ii", 30000, -30000)  # top-down rows: negative height
    bombs.append(bmp)
    webp = encoded("WEBP", lossless=True)
    bits = (16383) | (16383 << 14)
    webp[21:25] = struct.pack("<I", bits | (int.from_bytes(webp[21:25], "little") & ~0x0FFFFFFF))
    bombs.append(webp)
    jpeg = encoded("JPEG")
    sof = jpeg.index(b"\xff\xc0")
    jpeg[sof + 5 : sof + 9] = struct.pack(">HH", 60000, 60000)
    bombs.append(jpeg)
    for data in bombs:
        hw = tfimage.header_size(bytes(data)).numpy()
        assert hw[0] * hw[1] > 16777216, hw
        with pytest.raises(tf.errors.InvalidArgumentError, match="claims more than"):
            identity_serving(image_bytes=tf.constant([bytes(data)]))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_in_graph_matches_pillow(orientation, tmp_path):
    import io

    from PIL import ImageOps

    rng = np.random.default_rng(orientation)
    picture = Image.fromarray(rng.integers(0, 256, (20, 40, 3), dtype=np.uint8)).resize((80, 40))
    for endian in ("<", ">"):
        exif = Image.Exif()
        exif.endian = endian
        exif[0x0112] = orientation
        buf = io.BytesIO()
        picture.save(buf, "JPEG", exif=exif.tobytes(), quality=95)
        data = buf.getvalue()
        assert int(tfimage.exif_orientation(data)) == orientation
        want = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))), np.float32)
        got = tfimage.decode_image_bytes(data).numpy().astype(np.float32)
        assert got.shape == want.shape
        assert np.abs(got - want).mean() < 3.0


def test_serving_max_pixels_is_configurable(tmp_path, capsys):
    images = keras.Input((None, None, 3))
    model = keras.Model(images, keras.layers.Identity()(images))
    path = ex.save_saved_model(model, tmp_path / "1", max_pixels=1024)
    serve = tf.saved_model.load(str(path)).signatures["serve_image_bytes"]
    small, large = (tf.io.encode_png(tf.zeros([h, h, 3], tf.uint8)) for h in (32, 33))
    assert serve(image_bytes=tf.stack([small]))["png_bytes"].shape == (1,)  # 32 x 32 = 1024
    with pytest.raises(tf.errors.InvalidArgumentError, match="claims more than 1024 pixels"):
        serve(image_bytes=tf.stack([large]))
    for bad in (0, 255, True, 2.5):
        with pytest.raises(OptionError, match="max_pixels"):
            ex.save_saved_model(model, tmp_path / "2", max_pixels=bad)
    assert not (tmp_path / "2").exists()
