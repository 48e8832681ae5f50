"""Fine-tuning the arbitrary-style networks (`train --architecture arbitrary`).

Tiny backbone, 32 px photo and painting crops, the predictor at 32 px: the shipped networks
are real (about 4 s to build both), so every training test is marked slow; the option and
input checks run before any model is built and stay in the quick subset.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import helpers
from helpers import photo_folder as _data
from helpers import stripes as _painting
from helpers import weights as _weights
from tf_style import arbitrary
from tf_style import backbones as bb
from tf_style import cli
from tf_style.errors import DataError, OptionError
from tf_style.train import (
    PREDICTOR_SIZE, TrainConfig, arbitrary_loss, make_dataset, scan_data, scan_paintings, train,
)

LAYERS = helpers.TINY_LAYERS  # tests/helpers.py
ARB = dict(architecture="arbitrary", size=32, batch=2, predictor_size=32, log_every=1, sample_every=0, **LAYERS)


def _paintings(folder: Path, n=3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        p = np.roll(_painting(48), 5 * i, axis=1)[:, :, [i % 3, (i + 1) % 3, 2]]
        Image.fromarray(np.ascontiguousarray(p)).save(folder / f"painting{i}.png")
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return _data(tmp_path_factory.mktemp("photos"))


@pytest.fixture(scope="module")
def paintings(tmp_path_factory):
    return _paintings(tmp_path_factory.mktemp("paintings"))


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(_weights(a), _weights(b)))


def _fixed_batch(data, paintings):
    """Held-out pairs: a data seed and paintings the runs never use in this order."""
    photos, _ = next(iter(make_dataset(scan_data(data).files, 32, 2, seed=99)))
    styles, _ = next(iter(make_dataset(scan_data(paintings).files, 32, 2, seed=98)))
    return photos.numpy(), styles.numpy()


# --------------------------------------------------------------------------- options (quick)


@pytest.mark.parametrize(
    "options, field",
    [
        (dict(architecture="mobile", train_predictor=True), "train_predictor"),
        (dict(architecture="arbitrary", train_predictor="yes"), "train_predictor"),
        (dict(architecture="arbitrary", width=0.5), "width"),
        (dict(architecture="arbitrary", predictor_size=16), "predictor_size"),
        (dict(architecture="johnson", predictor_size=128), "predictor_size"),
    ],
)
def test_config_rejects_options_that_do_not_fit_the_architecture(options, field):
    with pytest.raises(OptionError) as info:
        TrainConfig(**options)
    assert str(info.value).startswith(f"{field}:") and repr(options[field]) in str(info.value)


def test_config_defaults():
    cfg = TrainConfig(architecture="arbitrary")
    assert cfg.train_predictor is False and cfg.width == 1.0
    # The predictor sees paintings at the size stylize_arbitrary predicts them at.
    assert PREDICTOR_SIZE == inspect.signature(arbitrary.predict_style).parameters["style_size"].default
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["train"]
    helps = {a.dest: a.help for a in sub._actions}
    assert f"default {cfg.predictor_size}" in helps["predictor_size"]


def test_scan_paintings_takes_files_and_folders(tmp_path):
    folder = _paintings(tmp_path / "a" / "b")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    single = tmp_path / "single.png"
    Image.fromarray(_painting(40)).save(single)
    scan = scan_paintings([single, tmp_path / "a", single])
    assert [Path(p).name for p in scan.files] == ["single.png", "painting0.png", "painting1.png", "painting2.png"]
    assert [Path(p).name for p, _ in scan.skipped] == ["broken.png"]
    with pytest.raises(DataError, match=r"broken\.png: not a readable image"):
        scan_paintings(folder / "broken.png")  # named on its own: an error, as --style is
    with pytest.raises(DataError, match="painting file or folder does not exist"):
        scan_paintings([tmp_path / "missing.jpg"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images found"):
        scan_paintings(tmp_path / "empty")
    with pytest.raises(OptionError, match="^style: .*paths"):
        scan_paintings(np.zeros((32, 32, 3), np.uint8))


def _cli(tmp_path, data, *args):
    return cli.main(["train", "--data", str(data), "--out", str(tmp_path / "run"), "--quiet", *args])


@pytest.mark.parametrize(
    "make_args, message",
    [
        (lambda t, p: ["--style", str(t / "empty"), "--architecture", "arbitrary"], "no images found"),
        (lambda t, p: ["--style", str(t / "fake.jpg"), "--architecture", "arbitrary"], "not a readable image"),
        (lambda t, p: ["--style", str(p), "--architecture", "mobile", "--train-predictor"],
         "--train-predictor: only for architecture 'arbitrary'"),
        (lambda t, p: ["--style", str(p), "--architecture", "arbitrary", "--width", "0.5"],
         "--width: means nothing with --architecture arbitrary"),
        (lambda t, p: ["--style", str(p), "--architecture", "arbitrary", "--predictor-size", "8"],
         "--predictor-size: expected an integer between 32 and 4096, got 8"),
        # Several style images are blended for a per-style network (test_train.py); the arbitrary
        # networks pair each photo with one painting, so a blend is refused for them.
        (lambda t, p: ["--style", str(p / "painting0.png"), "--style", str(p / "painting1.png"),
                       "--architecture", "arbitrary", "--style-blend", "1,1"],
         "--style-blend: architecture 'arbitrary' trains on one painting per example (blend paintings when "
         "stylizing), got 1,1"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, data, paintings, make_args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "fake.jpg").write_bytes(b"not a jpeg")
    rc = _cli(tmp_path, data, *make_args(tmp_path, paintings))
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and err.startswith("tf-style: error: ") and message in err, err
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- training (slow)


@pytest.fixture(scope="module")
def arb_run(tmp_path_factory, tiny, data, paintings):
    out = tmp_path_factory.mktemp("arb") / "run"
    result = train([paintings], data, out, backbone=tiny, steps=8, checkpoint_every=4,
                   learning_rate=2e-3, **{**ARB, "sample_every": 4})
    return out, result


@pytest.mark.slow  # 60 s setup + 30 s on a busy 2-core machine (shipped pair, trace, 8 steps)
def test_fine_tuning_lowers_the_loss_on_held_out_pairs(arb_run, tiny, data, paintings):
    out, result = arb_run
    photos, styles = _fixed_batch(data, paintings)
    cfg = result.config
    before = arbitrary_loss(arbitrary.shipped_stylizer(), photos, styles, cfg, backbone=tiny)
    model = keras.saving.load_model(out / "model.keras")
    after = arbitrary_loss(model, photos, styles, cfg, backbone=tiny)
    assert after["total"] < 0.8 * before["total"], (before, after)
    assert result.step == 8 and len(result.history) == 8 and result.paintings == 3 and result.images == 5


@pytest.mark.slow
def test_the_run_folder_holds_the_one_file_model_and_only_the_transformer_changed(arb_run):
    out, result = arb_run
    model = keras.saving.load_model(out / "model.keras")
    assert arbitrary.is_arbitrary(model)
    predictor, transformer = arbitrary.split(model)
    assert _same(predictor, arbitrary.load_style_predictor())  # predictor training is off
    assert not _same(transformer, arbitrary.load_style_transformer())
    # Training used copies: the cached shipped pair is what the weights file says.
    assert _same(arbitrary._shipped_models(False)[1], arbitrary.load_style_transformer())
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_000004.png", "step_000008.png"]
    assert Image.open(out / "samples" / "step_000008.png").size == (64, 51)  # photo0, long side 2 * 32
    assert tf.train.latest_checkpoint(str(out / "checkpoints")).endswith("ckpt-8")
    saved = json.loads((out / "run.json").read_text())
    assert saved["config"]["architecture"] == "arbitrary" and saved["paintings"] == 3
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


@pytest.mark.slow  # 155 s on a busy 2-core machine: three short runs
def test_resume_matches_an_uninterrupted_run(tmp_path, tiny, data, paintings):
    opts = dict(backbone=tiny, learning_rate=1e-3, checkpoint_every=100, **ARB)
    full = train(paintings, data, tmp_path / "full", steps=4, **opts)
    part = train(paintings, data, tmp_path / "part", steps=2, **opts)
    with pytest.raises(OptionError, match=r"^train_predictor: .*trained with train_predictor False"):
        train(paintings, data, tmp_path / "part", backbone=tiny, resume=True, steps=4, train_predictor=True)
    rest = train(paintings, data, tmp_path / "part", backbone=tiny, resume=True, steps=4)
    assert part.step == 2 and rest.start_step == 2 and rest.step == 4 and rest.config.predictor_size == 32
    np.testing.assert_allclose([h["total"] for h in rest.history], [h["total"] for h in full.history[2:]],
                               rtol=1e-4)
    a = keras.saving.load_model(tmp_path / "full" / "model.keras")
    b = keras.saving.load_model(tmp_path / "part" / "model.keras")
    for wa, wb in zip(_weights(a), _weights(b)):
        np.testing.assert_allclose(wa, wb, rtol=1e-4, atol=1e-5)


@pytest.mark.slow  # 40 s on a busy 2-core machine (MobileNetV2's backward pass too)
def test_train_predictor_trains_the_predictor(tmp_path, tiny, data, paintings):
    r = train(paintings, data, tmp_path / "run", backbone=tiny, train_predictor=True, steps=1,
              learning_rate=1e-3, **ARB)
    assert r.to_dict()["train_predictor"] is True
    predictor, transformer = arbitrary.split(keras.saving.load_model(r.model_path))
    assert not _same(predictor, arbitrary.load_style_predictor())
    assert not _same(transformer, arbitrary.load_style_transformer())


@pytest.mark.slow
def test_cli_end_to_end_with_json(tmp_path, capsys, tiny, data, paintings, monkeypatch):
    monkeypatch.setattr(bb, "resolve_name", lambda name, log=None: name)
    monkeypatch.setattr(bb, "load_backbone", lambda arch, layers, log=None, **kw: tiny)
    single = tmp_path / "extra.png"
    Image.fromarray(_painting(40)).save(single)
    rc = cli.main(["train", "--architecture", "arbitrary", "--style", str(paintings), "--style", str(single),
                   "--data", str(data), "--out", str(tmp_path / "run"), "--size", "32", "--batch", "2",
                   "--backbone", "vgg16-hed",
                   "--predictor-size", "32", "--steps", "2", "--sample-every", "0",
                   "--content-layers", "block2_conv1", "--style-layers", "block1_conv1,block2_conv1",
                   "--json", "--quiet"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    result = json.loads(captured.out)
    assert result["architecture"] == "arbitrary" and result["step"] == 2 and result["paintings"] == 4
    assert result["train_predictor"] is False and result["model"] == str(tmp_path / "run" / "model.keras")
    model = keras.saving.load_model(result["model"])
    predictor, transformer = arbitrary.split(model)
    photo = np.random.default_rng(0).uniform(0, 255, (1, 20, 28, 3)).astype(np.float32)
    assert model([photo, photo]).shape == (1, 20, 28, 3)


def test_arbitrary_training_takes_the_gram_loss_only():
    with pytest.raises(OptionError, match=r"^style_loss: architecture 'arbitrary' trains with 'gram' only, got 'sliced'"):
        TrainConfig(architecture="arbitrary", style_loss="sliced")
