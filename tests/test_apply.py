"""Applying fast style networks: tiny untrained networks saved to .keras, 16-40 px photos."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from helpers import noise_picture as _photo
from tf_style import cli
from tf_style.apply import FastStylizer, load_stylizer, model_kind, plan_outputs
from tf_style import export
from tf_style.errors import ImageSizeError, ModelLoadError, OptionError, OutputError
from tf_style.image import rgb_to_yiq, to_array


@pytest.fixture(scope="module")
def stylizer(model_path):  # model_path: conftest's tiny network
    return load_stylizer(model_path)


@pytest.mark.parametrize("w, h", [(17, 23), (31, 16), (40, 19)])
def test_odd_sizes_come_back_the_same_size(stylizer, w, h):
    out = stylizer.stylize(_photo(w, h))
    assert out.size == (w, h) and out.mode == "RGB"


def test_size_resizes_the_long_side_first(stylizer):
    assert stylizer.stylize(_photo(40, 20), size=32).size == (32, 16)
    with pytest.raises(OptionError, match="^size: "):
        stylizer.stylize(_photo(40, 20), size=8)
    with pytest.raises(ImageSizeError):
        stylizer.stylize(_photo(40, 10))  # 10 px is below the network's minimum


def test_strength_and_preserve_color(stylizer):
    photo = _photo(24, 20, seed=1)
    full = to_array(stylizer.stylize(photo))
    assert np.abs(full - to_array(photo)).mean() > 5  # the network changes the picture
    np.testing.assert_array_equal(to_array(stylizer.stylize(photo, strength=0.0)), to_array(photo))
    half = to_array(stylizer.stylize(photo, strength=0.5))
    np.testing.assert_allclose(half, (full + to_array(photo)) / 2, atol=1.01)
    # A muted photo, so the photo's colour on the network's luminance stays inside RGB's gamut.
    muted = Image.fromarray(np.random.default_rng(3).integers(110, 150, (20, 24, 3), dtype=np.uint8))
    kept = stylizer.stylize(muted, preserve_color=True)
    yiq_kept, yiq_photo, yiq_full = (rgb_to_yiq(to_array(x)) for x in (kept, muted, stylizer.stylize(muted)))
    # colour (I, Q) from the photo, luminance from the stylized image (up to uint8 rounding/clipping)
    assert np.abs(yiq_kept[..., 1:] - yiq_photo[..., 1:]).mean() < 1.5
    assert np.abs(yiq_kept[..., 0] - yiq_full[..., 0]).mean() < 1.5
    assert np.abs(yiq_full[..., 1:] - yiq_photo[..., 1:]).mean() > 3  # so the check above can fail
    for bad in (-0.1, 1.5, float("nan"), "1", True):
        with pytest.raises(OptionError, match="^strength: "):
            stylizer.stylize(photo, strength=bad)


def test_stylizer_matches_the_keras_model(stylizer, model_path):
    x = np.random.default_rng(2).uniform(0, 255, (2, 21, 18, 3)).astype(np.float32)
    reference = keras.saving.load_model(model_path)(x).numpy()
    np.testing.assert_allclose(stylizer(x), reference, atol=1e-3)
    assert isinstance(stylizer, FastStylizer) and stylizer.kind == "keras"


# --------------------------------------------------------------------------- bad models


def _unsafe_model(path: Path) -> Path:
    inputs = keras.Input((None, None, 3))
    outputs = keras.layers.Lambda(lambda t: t * 1.0)(inputs)
    keras.Model(inputs, outputs).save(path)
    return path


def _not_a_style_net(path: Path) -> Path:
    inputs = keras.Input((None, None, 3))
    outputs = keras.layers.GlobalAveragePooling2D()(inputs)
    keras.Model(inputs, outputs).save(path)
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d / "missing.keras", "no such model file"),
        (lambda d: (d / "corrupt.keras").write_bytes(b"not a zip") and d / "corrupt.keras", "not a Keras model file"),
        (lambda d: (d / "model.h5").write_bytes(b"x") and d / "model.h5", "unknown model kind '.h5'"),
        (lambda d: (d / "folder").mkdir() or d / "folder", "not a SavedModel"),
        (lambda d: (d / "m.tflite").write_bytes(b"12345678") and d / "m.tflite", "not a TFLite model"),
        (lambda d: _unsafe_model(d / "lambda.keras"), "cannot load the Keras model"),
        (lambda d: _not_a_style_net(d / "pool.keras"), "not a style network"),
    ],
)
def test_bad_models_raise_model_load_error(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(ModelLoadError, match=message):
        load_stylizer(path)


def test_lambda_model_needs_explicit_trust(tmp_path, capsys):
    """Safe mode refuses the Lambda's code, says how to allow it; the flag then loads it."""
    from tf_style.cli import main

    path = _unsafe_model(tmp_path / "lambda.keras")
    with pytest.raises(ModelLoadError, match="--trust-model-code"):
        load_stylizer(path)
    with pytest.raises(ModelLoadError, match="trust_code=True"):
        export.load_keras_model(path)
    photo = tmp_path / "p.png"
    _photo(24, 20).save(photo)
    for argv in (["apply", path, photo, "-o", tmp_path / "o.png"],
                 ["export", path, "--tflite", tmp_path / "m.tflite"]):
        capsys.readouterr()
        assert main([str(a) for a in argv]) == 2
        err = capsys.readouterr().err
        assert "--trust-model-code" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "m.tflite").exists()
    # Trusted explicitly: the Lambda (x * 1.0) runs and gives the photo back.
    out = load_stylizer(path, trust_code=True).stylize(_photo(24, 20))
    assert np.array_equal(np.asarray(out), np.asarray(_photo(24, 20)))
    assert main(["apply", str(path), str(photo), "-o", str(tmp_path / "o.png"), "--trust-model-code",
                 "--quiet"]) == 0
    assert export.load_keras_model(path, trust_code=True).name


def test_truncated_keras_file(tmp_path, model_path):
    bad = tmp_path / "truncated.keras"
    bad.write_bytes(model_path.read_bytes()[:2000])
    with pytest.raises(ModelLoadError):
        load_stylizer(bad)


def test_broken_saved_model_folder(tmp_path):
    (tmp_path / "sm").mkdir()
    (tmp_path / "sm" / "saved_model.pb").write_bytes(b"")
    assert model_kind(tmp_path / "sm") == "savedmodel"
    with pytest.raises(ModelLoadError, match="cannot load the SavedModel"):
        load_stylizer(tmp_path / "sm")


@pytest.mark.slow
def test_exported_saved_model_and_tflite_apply_like_the_keras_model(tmp_path, model_path, stylizer):
    from tf_style import export

    model = keras.saving.load_model(model_path)
    export.save_saved_model(model, tmp_path / "sm")
    export.save_tflite(export.convert_tflite(model, "none", input_size=32), tmp_path / "m.tflite")
    photo = _photo(40, 24, seed=4)
    reference = to_array(stylizer.stylize(photo))
    from_saved = load_stylizer(tmp_path / "sm")
    assert from_saved.kind == "savedmodel" and from_saved.model is None
    np.testing.assert_allclose(to_array(from_saved.stylize(photo)), reference, atol=1.01)
    # fixed 32x32 TFLite model: the photo goes there and back, so only the size must match
    from_tflite = load_stylizer(tmp_path / "m.tflite")
    assert from_tflite.kind == "tflite" and from_tflite.stylize(photo).size == (40, 24)


# --------------------------------------------------------------------------- outputs and CLI


def test_plan_outputs(tmp_path):
    assert plan_outputs(["a.jpg"], tmp_path / "o.png") == [tmp_path / "o.png"]
    assert plan_outputs(["x/a.jpg"], tmp_path) == [tmp_path / "a.png"]  # an existing folder
    assert plan_outputs(["a.jpg", "b.webp"], tmp_path / "new") == [tmp_path / "new" / "a.png", tmp_path / "new" / "b.png"]
    with pytest.raises(OutputError, match="rename one"):
        plan_outputs(["x/a.jpg", "y/a.png"], tmp_path / "new")
    (tmp_path / "file.png").write_bytes(b"")
    with pytest.raises(OutputError, match="not a folder"):
        plan_outputs(["a.jpg", "b.jpg"], tmp_path / "file.png")


def _save_photos(folder: Path, n: int):
    paths = []
    for i in range(n):
        p = folder / f"photo{i}.jpg"
        _photo(20 + i, 18, seed=i).save(p)
        paths.append(p)
    return paths


def test_cli_one_image_to_a_file(tmp_path, model_path, capsys):
    (src,) = _save_photos(tmp_path, 1)
    out = tmp_path / "styled.png"
    rc = cli.main(["apply", str(model_path), str(src), "-o", str(out), "--size", "30", "--strength", "0.7",
                   "--preserve-color", "--json", "--quiet"])
    assert rc == 0
    result = json.loads(capsys.readouterr().out)
    assert result["outputs"][0]["output"] == str(out) and result["outputs"][0]["size"] == [30, 27]
    assert Image.open(out).size == (30, 27)


def test_cli_many_images_to_a_new_folder(tmp_path, model_path):
    sources = _save_photos(tmp_path, 3)
    out = tmp_path / "styled" / "deeper"
    assert cli.main(["apply", str(model_path), *map(str, sources), "-o", str(out), "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["photo0.png", "photo1.png", "photo2.png"]
    assert Image.open(out / "photo2.png").size == (22, 18)


@pytest.mark.parametrize("problem", ["model", "image", "strength", "output"])
def test_cli_errors_exit_2_with_one_line_and_no_outputs(tmp_path, model_path, capsys, problem):
    sources = [str(p) for p in _save_photos(tmp_path, 2)]
    model, out, extra = str(model_path), tmp_path / "styled", []
    if problem == "model":
        model = str(tmp_path / "missing.keras")
    elif problem == "image":
        (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
        sources.append(str(tmp_path / "broken.jpg"))
    elif problem == "strength":
        extra = ["--strength", "2"]
    else:
        sources, out = sources[:1], Path(sources[0])  # would overwrite the input
    rc = cli.main(["apply", model, *sources, "-o", str(out), *extra])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and err.startswith("tf-style: error: "), err
    assert not (tmp_path / "styled").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".png") == []
