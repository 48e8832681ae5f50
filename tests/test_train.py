"""Training fast style networks: tiny backbone, tiny network, 16-32 px generated photos.

The subprocess tests (two logical CPUs, kill -9, SIGTERM) run ``tf-style`` or Python in a
child process because device configuration and signals are per process.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Dict

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import helpers
from helpers import photo_folder as _data
from helpers import stripes as _painting
from helpers import weights as _weights
from tf_style import backbones as bb
from tf_style import cli
from tf_style import image as im
from tf_style.apply import load_stylizer
from tf_style.config import StylizeConfig
from tf_style.criterion import StyleTargets
from tf_style.errors import DataError, OptionError, OutputError
from tf_style.losses import gram_matrix
from tf_style.train import TrainConfig, make_dataset, scan_data, train

TINY = dict(
    size=16, batch=2, architecture="mobile", width=0.25, **helpers.TINY_LAYERS, sample_every=0, log_every=1,
)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return _data(tmp_path_factory.mktemp("data"))


def _painting2(size=32):
    """Another painting: diagonal bands in other colours (other Grams than ``_painting``)."""
    yy, xx = np.mgrid[0:size, 0:size]
    bands = (np.cos((xx + yy) / 2.5)[..., None] * 100 + 130) * np.array([0.4, 0.9, 0.5])
    return bands.clip(0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny, data):
    out = tmp_path_factory.mktemp("run") / "run"
    result = train(_painting(), data, out, backbone=tiny, steps=3, checkpoint_every=2, **TINY)
    return out, result


# --------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    "field, value",
    [("size", 8), ("batch", 0), ("steps", 0), ("learning_rate", 0.0), ("style_weight", -1.0),
     ("tv_weight", float("nan")), ("architecture", "resnet"), ("width", 0), ("backbone", "vgg"),
     ("checkpoint_every", 0), ("seed", -1), ("size", 2.5), ("content_layers", ()),
     ("final_learning_rate", 0.0), ("final_learning_rate", "fast"), ("loss_margin", -1),
     ("loss_margin", 121), ("loss_margin", 2.5), ("shift_weight", -1.0), ("shift_weight", "strong")],
)
def test_config_errors_name_the_field_and_value(field, value):
    with pytest.raises(OptionError) as info:
        TrainConfig(**{field: value})
    message = str(info.value)
    assert message.startswith(f"{field}:") and repr(value) in message


def test_config_defaults_and_cli_help_agree():
    d = TrainConfig()
    assert d.content_layers == bb.DEFAULT_CONTENT_LAYERS and d.style_layers == bb.DEFAULT_STYLE_LAYERS
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices["train"]
    helps = {a.dest: a.help for a in sub._actions}
    for field in ("size", "batch", "steps", "learning_rate", "content_weight", "style_weight",
                  "tv_weight", "width", "checkpoint_every", "sample_every", "log_every", "seed", "loss_margin",
                  "shift_weight"):
        assert f"default {getattr(d, field):g}" in helps[field], (field, helps[field])
    assert f"default {d.architecture}" in helps["architecture"]
    assert f"default {d.backbone}" in helps["backbone"]
    assert f"{d.pooling} (default)" in helps["pooling"] and f"{d.dtype} (default)" in helps["dtype"]
    assert f"{d.padding} (default)" in helps["padding"]
    assert f"{d.network_dtype} (default)" in helps["network_dtype"]


def test_shift_weight_is_for_per_style_networks():
    with pytest.raises(OptionError, match=r"^shift_weight: per-style networks only.*got 10"):
        TrainConfig(architecture="arbitrary", width=1, shift_weight=10)
    assert TrainConfig(architecture="johnson", shift_weight=10).shift_weight == 10.0


def test_shift_term_joins_the_loss_with_the_steps_move(tiny):
    """With ``shift_weight`` the job's loss adds ``shift_weight * shift_term`` at the move of
    the run's step (another move at another step), and the picture it compares with is the
    one the perceptual terms saw."""
    from tf_style import train as tr

    photos = tf.constant(np.stack([helpers.data_photo(32, 32, s) for s in range(2)]).astype(np.float32))
    cfg = TrainConfig(**{**TINY, "size": 32, "shift_weight": 50.0, "seed": 3})
    plain_cfg = cfg.with_options(shift_weight=0.0)
    backbone, loss = tr._criterion(cfg, tiny, None, lambda m: None)
    targets = loss.style_targets(backbone(tf.constant(_painting(16)[None].astype(np.float32))))
    step = tf.Variable(7, dtype=tf.int64)
    job, plain_job = tr._StyleJob(cfg, backbone, loss, targets, step=step), tr._StyleJob(plain_cfg, backbone, loss, targets)
    plain_job.model.set_weights(job.model.get_weights())
    total, terms = job.loss(job.prepare(photos))
    plain_total, plain = plain_job.loss(plain_job.prepare(photos))
    styled = job.model(photos, training=True)
    expected = tr.shift_term(lambda x: job.model(x, training=True), photos, styled, tr.shift_at(3, 7))
    assert float(terms["shift"]) == pytest.approx(float(expected), rel=1e-5) and float(expected) > 0
    assert float(total) == pytest.approx(float(plain_total) + 50.0 * float(expected), rel=1e-5)
    assert "shift" not in plain
    moves = {tuple(tr.shift_at(3, s).numpy()) for s in range(7, 12)}
    assert len(moves) > 1  # the move changes from step to step
    assert tuple(tr.shift_at(3, 7).numpy()) == tuple(tr.shift_at(3, 7).numpy())


def test_train_with_shift_weight_logs_the_term(tmp_path, tiny, data):
    result = train(_painting(), data, tmp_path / "run", backbone=tiny, steps=2, checkpoint_every=2,
                   **{**TINY, "size": 32, "shift_weight": 10.0})
    assert all("shift" in h and h["shift"] >= 0 for h in result.history)
    assert result.config.shift_weight == 10.0


@pytest.mark.parametrize("architecture", ["mobile", pytest.param("arbitrary", marks=pytest.mark.slow)])
def test_loss_margin_keeps_the_crops_edges_out_of_the_perceptual_loss(tiny, architecture):
    """With ``loss_margin`` the perceptual loss reads the picture and the photo inside the
    margin only (so the network gains nothing by painting a crop's edges): the terms equal the
    criterion's on the inner crops and differ from the whole crops'."""
    from tf_style import train as tr

    photos = tf.constant(np.stack([helpers.data_photo(32, 32, s) for s in range(2)]).astype(np.float32))

    def job_for(margin):
        cfg = TrainConfig(**{**TINY, "size": 32, "architecture": architecture, "loss_margin": margin,
                             **({"width": 1} if architecture == "arbitrary" else {})})
        backbone, loss = tr._criterion(cfg, tiny, None, lambda m: None)
        if architecture == "arbitrary":
            job = tr._ArbitraryJob(cfg, backbone, loss, networks_pair=tr.arbitrary.split(tr.arbitrary.shipped_stylizer()))
            paintings = tf.constant(np.stack([_painting(16)] * 2).astype(np.float32))
            context = job.prepare((photos, paintings))
            styled = job.transformer([photos, context[2]], training=True)
            targets = context[4]
        else:
            targets = loss.style_targets(backbone(tf.constant(_painting(16)[None].astype(np.float32))))
            job = tr._StyleJob(cfg, backbone, loss, targets)
            context = job.prepare(photos)
            styled = job.model(photos, training=True)
        return job, context, styled, loss, targets

    margin = 5
    plain_job, plain_context, _, _, _ = job_for(0)
    _, plain = plain_job.loss(plain_context)
    job, context, styled, loss, targets = job_for(margin)
    _, terms = job.loss(context)
    inner = lambda x: x[:, margin:-margin, margin:-margin]
    _, expected = loss(job.backbone(inner(styled)), inner(styled), loss.content_targets(job.backbone(inner(photos))),
                       targets)
    for k in ("content", "style", "tv"):
        assert float(terms[k]) == pytest.approx(float(expected[k]), rel=1e-4, abs=1e-7), k
    assert float(terms["style"]) != pytest.approx(float(plain["style"]), rel=1e-3)


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(style_layer_weights=(1.0, 2.0)), "style_layer_weights: expected 5 values (one per style layer), got 2: 1,2"),
        (dict(style_layer_weights="1,x,1,1,1"), "style_layer_weights: expected a number, got 'x'"),
        (dict(style_layer_weights=(1, -1, 1, 1, 1)), "style_layer_weights: expected a finite number >= 0, got -1"),
        (dict(style_blend=(0, 0)), "style_blend: the weights must not all be 0, got 0,0"),
        (dict(style_blend="1,nan"), "style_blend: expected a finite number >= 0, got 'nan'"),
        (dict(style_blend=""), "style_blend: expected comma-separated numbers, got ''"),
        (dict(architecture="arbitrary", style_blend=(1, 1)),
         "style_blend: architecture 'arbitrary' trains on one painting per example (blend paintings when "
         "stylizing), got 1,1"),
    ],
)
def test_style_layer_weights_and_blend_are_checked_as_the_optimizer_checks_them(options, message):
    with pytest.raises(OptionError) as info:
        TrainConfig(**options)
    assert str(info.value) == message
    if "architecture" not in options:  # one validator in config: the optimizer's message is the same
        with pytest.raises(OptionError) as same:
            StylizeConfig(**options)
        assert str(same.value) == message
    good = TrainConfig(style_layer_weights="0,1,0,0,2", style_blend=[3, 1])
    assert good.style_layer_weights == (0.0, 1.0, 0.0, 0.0, 2.0) and good.style_blend == (3.0, 1.0)
    assert good.blend_weights(2) == (0.75, 0.25) and TrainConfig.from_dict(good.to_dict()) == good
    assert json.loads(json.dumps(good.to_dict()))["style_blend"] == [3.0, 1.0]


def test_learning_rate_falls_along_a_half_cosine():
    cfg = TrainConfig(steps=10, learning_rate=1e-3, final_learning_rate=1e-5)
    rates = [cfg.learning_rate_at(s) for s in range(11)]
    assert rates[0] == 1e-3 and abs(rates[10] - 1e-5) < 1e-12
    assert abs(rates[5] - (1e-5 + 0.5 * (1e-3 - 1e-5))) < 1e-12
    assert all(a > b for a, b in zip(rates, rates[1:]))
    assert cfg.learning_rate_at(25) == rates[10]  # past the end: stays at the final rate
    assert TrainConfig(learning_rate=3e-4).learning_rate_at(123) == 3e-4  # None: constant


def _logged(run: Path, tag: str) -> Dict[int, float]:
    from tensorflow.python.summary.summary_iterator import summary_iterator

    values = {}
    for path in sorted((run / "logs").glob("events*")):
        for event in summary_iterator(str(path)):
            for v in event.summary.value:
                if v.tag == tag:
                    values[event.step] = float(tf.make_ndarray(v.tensor))
    return values


@pytest.mark.slow
def test_the_optimizer_follows_the_schedule_also_after_resume(tmp_path, tiny, data):
    out = tmp_path / "run"
    opts = dict(TINY, learning_rate=1e-2, final_learning_rate=1e-4, steps=6)
    train(_painting(), data, out, backbone=tiny, **{**opts, "steps": 3})
    # Resumed with the whole run's length: the remaining steps continue on the 6-step curve.
    train(_painting(), data, out, backbone=tiny, resume=True, **opts)
    first, whole = TrainConfig(**{**opts, "steps": 3}), TrainConfig(**opts)
    logged = _logged(out, "learning_rate")
    assert sorted(logged) == [1, 2, 3, 4, 5, 6]
    for step, rate in logged.items():  # the rate the optimizer used for step `step` (1-based)
        cfg = first if step <= 3 else whole
        assert abs(rate - cfg.learning_rate_at(step - 1)) < 1e-9, (step, rate)
    assert logged[6] < logged[4] / 2


# --------------------------------------------------------------------------- data


def test_scan_is_recursive_case_insensitive_and_skips_broken(tmp_path):
    _data(tmp_path / "a" / "b", n=2)
    Image.fromarray(helpers.data_photo(20, 20, 7)).save(tmp_path / "UPPER.JPG")
    Image.fromarray(helpers.data_photo(20, 20, 8)).save(tmp_path / "x.WebP", format="WEBP")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not an image")
    Image.fromarray(helpers.data_photo(20, 20, 9)).save(tmp_path / "tiff_inside.png", format="TIFF")
    _data(tmp_path / "run" / "samples", n=1)  # the run folder is excluded
    scan = scan_data(tmp_path, exclude=[tmp_path / "run"])
    names = sorted(Path(p).name for p in scan.files)
    assert names == ["UPPER.JPG", "photo0.png", "photo1.png", "x.WebP"]
    skipped = {Path(p).name: why for p, why in scan.skipped}
    assert set(skipped) == {"broken.png", "empty.jpg", "tiff_inside.png"}
    assert "TIFF" in skipped["tiff_inside.png"]


def test_bad_data_folders_raise_data_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        scan_data(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images found"):
        scan_data(tmp_path / "empty")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.jpg").write_bytes(b"not a jpeg")
    (broken / "b.png").write_bytes(b"")
    with pytest.raises(DataError, match="none of the 2 image files is readable"):
        scan_data(broken)


def _stream(files, start, count, seed=0):
    ds = make_dataset(files, 16, 2, seed=seed, start=start)
    return [(x.numpy(), i.numpy()) for x, i in ds.take(count)]


@pytest.mark.slow  # 25 s: keeps the quick subset under 5 minutes
def test_data_stream_is_a_function_of_seed_and_position(data):
    files = scan_data(data).files  # 5 files: positions 6.. cross an epoch boundary
    full = _stream(files, 0, 7)
    tail = _stream(files, 6, 4)
    for (xa, ia), (xb, ib) in zip(full[3:], tail):
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_allclose(xa, xb, atol=1e-3)
    assert [list(i) for _, i in full[:3]] == [[0, 1], [2, 3], [4, 5]]
    x, _ = full[0]
    assert x.shape == (2, 16, 16, 3) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 255
    other = _stream(files, 0, 3, seed=1)
    assert not all(np.allclose(a[0], b[0]) for a, b in zip(full, other))
    # every file appears once per epoch (5 files: positions 0-4, then 5-9)
    first_epoch = np.concatenate([x for x, _ in full[:3]])[:5]
    assert len({float(img.mean()) for img in first_epoch}) == 5


# --------------------------------------------------------------------------- training


def test_loss_falls_and_run_folder_is_complete(tmp_path, tiny, data):
    out = tmp_path / "run"
    r = train(_painting(), data, out, backbone=tiny, steps=30, checkpoint_every=10, seed=3,
              **{**TINY, "sample_every": 15})
    totals = [h["total"] for h in r.history]
    assert len(totals) == 30 and all(np.isfinite(totals))
    first, last = np.mean(totals[:8]), np.mean(totals[-8:])
    assert last < 0.8 * first, (first, last)
    assert r.step == 30 and not r.interrupted and r.model_path == out / "model.keras"
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_000015.png", "step_000030.png"]
    assert Image.open(out / "samples" / "step_000030.png").size == (32, 26)  # photo0, long side 2 * 16
    assert tf.train.latest_checkpoint(str(out / "checkpoints")).endswith("ckpt-30")
    assert list((out / "logs").iterdir())
    saved = json.loads((out / "run.json").read_text())
    assert saved["config"]["architecture"] == "mobile" and saved["images"] == 5
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temp files left


@pytest.mark.slow  # 49 s: keeps the quick subset under 5 minutes
def test_resume_continues_at_the_step_and_matches_an_uninterrupted_run(tmp_path, tiny, data):
    full = train(_painting(), data, tmp_path / "full", backbone=tiny, steps=8, checkpoint_every=100, **TINY)
    part = train(_painting(), data, tmp_path / "part", backbone=tiny, steps=4, checkpoint_every=100, **TINY)
    assert part.step == 4
    rest = train(_painting(), data, tmp_path / "part", backbone=tiny, resume=True, steps=8, **TINY)
    assert rest.start_step == 4 and rest.step == 8
    np.testing.assert_allclose(
        [h["total"] for h in rest.history], [h["total"] for h in full.history[4:]], rtol=1e-4
    )
    a = load_stylizer(tmp_path / "full" / "model.keras").model
    b = load_stylizer(tmp_path / "part" / "model.keras").model
    for wa, wb in zip(_weights(a), _weights(b)):
        np.testing.assert_allclose(wa, wb, rtol=1e-4, atol=1e-5)


def test_resume_keeps_saved_options_and_rejects_another_architecture(tiny_run, tiny, data):
    out, first = tiny_run
    with pytest.raises(OptionError, match=r"^architecture: .*trained with architecture 'mobile'.*'johnson'"):
        train(_painting(), data, out, backbone=tiny, resume=True, architecture="johnson")
    with pytest.raises(OptionError, match=r"^width: "):
        train(_painting(), data, out, backbone=tiny, resume=True, width=0.5)
    # Nothing to do (already at 3 steps): the saved size/architecture are used, no error.
    again = train(_painting(), data, out, backbone=tiny, resume=True)
    assert again.start_step == again.step == 3 and again.config.size == 16


def test_resume_keeps_the_backbone_auto_chose(tiny_run, tiny, data, monkeypatch):
    out, _ = tiny_run
    run_file = out / "run.json"
    saved = json.loads(run_file.read_text())
    run_file.write_text(json.dumps({**saved, "backbone": "vgg16-hed"}))  # as if auto had picked it
    seen = []
    monkeypatch.setattr(bb, "resolve_name", lambda name, log=None: seen.append(name) or name)
    monkeypatch.setattr(bb, "load_backbone", lambda arch, layers, log=None, **kw: tiny)
    train(_painting(), data, out, resume=True, backbone="auto")
    assert seen == ["vgg16-hed"]


def test_training_loads_its_loss_network_with_the_pooling_and_dtype_asked_for(tiny_run, tiny, data, monkeypatch):
    out, _ = tiny_run
    calls = []
    monkeypatch.setattr(bb, "resolve_name", lambda name, log=None: name)
    monkeypatch.setattr(bb, "load_backbone", lambda arch, layers, log=None, **kw: calls.append(kw) or tiny)
    train(_painting(), data, out.parent / "pooled", backbone="vgg16-hed", pooling="max", dtype="bfloat16",
          padding="reflect", steps=1, **{k: v for k, v in TINY.items() if k != "steps"})
    assert calls == [{"pooling": "max", "padding": "reflect", "dtype": "bfloat16"}]
    with pytest.raises(OptionError, match=r"^pooling: .*'mean'"):
        TrainConfig(pooling="mean")
    with pytest.raises(OptionError, match=r"^padding: .*'edge'"):
        TrainConfig(padding="edge")
    with pytest.raises(OptionError, match=r"^dtype: .*'float16'"):
        TrainConfig(dtype="float16")


@pytest.mark.slow
def test_style_layer_weights_reach_the_loss(tmp_path, tiny, data):
    """Weight 0 on every style layer but one (weight 2 there): the style term is twice that
    layer's own, as a run whose only style layer it is measures it (same seed, same data)."""
    weighted = train(_painting(), data, tmp_path / "weighted", backbone=tiny, steps=1,
                     style_layer_weights=(0, 2, 0), **TINY)
    single = train(_painting(), data, tmp_path / "single", backbone=tiny, steps=1,
                   **{**TINY, "style_layers": ("block2_conv1",)})
    w, s = weighted.history[0], single.history[0]
    assert w["style"] > 0 and w["style"] == pytest.approx(2 * s["style"], rel=1e-5)
    assert w["content"] == pytest.approx(s["content"], rel=1e-6)
    saved = json.loads((tmp_path / "weighted" / "run.json").read_text())
    assert saved["config"]["style_layer_weights"] == [0, 2, 0]
    assert weighted.to_dict()["style_layer_weights"] == [0, 2, 0]


class _Built(Exception):
    """Raised by a patched ``StyleTargets.at`` to stop a run once its targets are built."""


@pytest.mark.slow
def test_blended_paintings_give_the_blended_targets(tmp_path, tiny, data, monkeypatch):
    """Two paintings blended 1:3 give training the 1:3 mean of their Grams (computed here from
    the tiny backbone); blend (0, 1) trains exactly as the second painting alone."""
    at = StyleTargets.at

    def built(self, side):
        raise _Built(side, at(self, side))

    with monkeypatch.context() as patch:
        patch.setattr(StyleTargets, "at", built)
        with pytest.raises(_Built) as info:
            train([_painting(), _painting2()], data, tmp_path / "mixed", backbone=tiny, style_blend=(1, 3), **TINY)
    side, targets = info.value.args
    assert side == TINY["size"]
    expected = [{k: gram_matrix(v) for k, v in tiny(tf.constant(im.to_array(im.resize_long_side(
        im.read_image(p), side))[None])).items()} for p in (_painting(), _painting2())]
    for layer in TINY["style_layers"]:
        assert not np.allclose(expected[0][layer], expected[1][layer], rtol=0.05)  # two styles, not one
        np.testing.assert_allclose(targets[layer], 0.25 * expected[0][layer] + 0.75 * expected[1][layer],
                                   rtol=1e-5, atol=1e-6)

    second = train([_painting(), _painting2()], data, tmp_path / "second", backbone=tiny, steps=1,
                   style_blend=(0, 1), **TINY)
    alone = train(_painting2(), data, tmp_path / "alone", backbone=tiny, steps=1, **TINY)
    assert second.history[0] == pytest.approx(alone.history[0], rel=1e-6)
    saved = json.loads((tmp_path / "second" / "run.json").read_text())
    assert saved["style"] == ["<ndarray>", "<ndarray>"] and saved["config"]["style_blend"] == [0, 1]
    assert second.to_dict()["style_blend"] == [0, 1]
    with pytest.raises(OptionError, match=r"^style_blend: expected 2 weights \(one per style image\), got 3"):
        train([_painting(), _painting2()], data, tmp_path / "bad", backbone=tiny, style_blend=(1, 2, 3), **TINY)
    assert not (tmp_path / "bad").exists()


def test_resume_refuses_another_blend_or_layer_weights(tiny_run, tiny, data):
    out, _ = tiny_run  # trained with neither: equal layers, one painting
    with pytest.raises(OptionError, match=r"^style_layer_weights: the run in .* was trained with "
                                          r"style_layer_weights None; resuming needs the same, got \(1\.0, 0\.0, 0\.0\)"):
        train(_painting(), data, out, backbone=tiny, resume=True, style_layer_weights=(1, 0, 0))
    with pytest.raises(OptionError, match=r"^style_blend: the run in .* was trained with style_blend None"):
        train([_painting(), _painting2()], data, out, backbone=tiny, resume=True, style_blend=(1, 1))


def test_existing_run_needs_resume(tiny_run, tiny, data, capsys):
    out, _ = tiny_run
    with pytest.raises(OutputError, match="--resume"):
        train(_painting(), data, out, backbone=tiny, **TINY)
    rc = cli.main(["train", "--style", "x.jpg", "--data", str(data), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "--resume" in err


def test_keras_round_trip_is_exact(tiny_run):
    out, result = tiny_run
    stylizer = load_stylizer(out / "model.keras")
    from tf_style.networks import StyleTransformer

    rebuilt = StyleTransformer("mobile", 0.25)
    tf.train.Checkpoint(model=rebuilt).restore(result.checkpoint).expect_partial()
    for a, b in zip(_weights(stylizer.model), _weights(rebuilt)):
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).uniform(0, 255, (1, 19, 23, 3)).astype(np.float32)
    np.testing.assert_array_equal(stylizer.model(x).numpy(), rebuilt(x).numpy())
    np.testing.assert_allclose(stylizer(x), rebuilt(x).numpy(), atol=1e-3)
    assert stylizer.model.architecture == "mobile" and stylizer.model.width == 0.25


@pytest.mark.slow
def test_bfloat16_network_trains_and_saves_a_float32_network_that_resumes_in_float32(tmp_path, tiny, data):
    out = tmp_path / "run"
    r = train(_painting(), data, out, backbone=tiny, steps=12, checkpoint_every=6, seed=3,
              network_dtype="bfloat16", **TINY)
    totals = [h["total"] for h in r.history]
    assert np.mean(totals[-4:]) < 0.9 * np.mean(totals[:4]), totals
    model = load_stylizer(out / "model.keras").model
    assert {layer.compute_dtype for layer in model.layers if layer.weights} == {"float32"}
    # The saved float32 network holds the trained weights: a bfloat16 network with them paints
    # the same picture to within bfloat16's rounding.
    from tf_style.networks import StyleTransformer
    from tf_style.precision import dtype_policy

    with dtype_policy("bfloat16"):
        low = StyleTransformer("mobile", 0.25)
    tf.train.Checkpoint(model=low).restore(r.checkpoint).expect_partial()
    assert any(layer.compute_dtype == "bfloat16" for layer in low.layers if layer.weights)
    x = np.random.default_rng(0).uniform(0, 255, (1, 24, 24, 3)).astype(np.float32)
    diff = np.abs(low(x).numpy() - model(x).numpy())
    assert 0 < diff.mean() < 4, diff.mean()
    # The checkpoint does not depend on the precision: the run goes on in float32.
    more = train(_painting(), data, out, backbone=tiny, resume=True, steps=14, network_dtype="float32")
    assert more.start_step == 12 and more.step == 14
    assert json.loads((out / "run.json").read_text())["config"]["network_dtype"] == "float32"


def test_network_dtype_is_checked_with_its_name():
    with pytest.raises(OptionError, match=r"^network_dtype: expected auto, float32 or bfloat16, got 'float16'"):
        TrainConfig(network_dtype="float16")
    with pytest.raises(OptionError, match=r"^network_dtype: per-style networks only .*'bfloat16'"):
        TrainConfig(architecture="arbitrary", network_dtype="bfloat16")


def test_broken_data_is_skipped_and_counted(tmp_path, tiny):
    data = _data(tmp_path / "data", n=3)
    png = (data / "photo0.png").read_bytes()
    (data / "a_truncated.png").write_bytes(png[: len(png) // 2])  # header fine, pixels missing
    (data / "b_garbage.jpg").write_bytes(b"garbage")
    r = train(_painting(), data, tmp_path / "run", backbone=tiny, steps=6, **TINY)
    assert [Path(p).name for p, _ in r.skipped] == ["b_garbage.jpg"]
    assert r.images == 4 and r.step == 6
    assert r.dropped_examples >= 2  # a_truncated.png once per epoch of 4, 12 examples used


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: None, "does not exist"),
        (lambda d: d.mkdir(), "no images found"),
        (lambda d: (d.mkdir(), (d / "x.jpg").write_bytes(b"nope")), "none of the 1 image files is readable"),
    ],
)
def test_cli_bad_data_exits_2_with_one_line(tmp_path, capsys, make, message):
    d = tmp_path / "data"
    make(d)
    style = tmp_path / "style.png"
    Image.fromarray(_painting()).save(style)
    rc = cli.main(["train", "--style", str(style), "--data", str(d), "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and err.startswith("tf-style: error: ") and message in err
    assert not (tmp_path / "run").exists()


def test_cli_bad_option_names_the_flag(tmp_path, capsys, data):
    rc = cli.main(["train", "--style", "s.png", "--data", str(data), "--out", str(tmp_path / "r"),
                   "--lr", "-1"])
    err = capsys.readouterr().err
    assert rc == 2 and "--learning-rate: expected a finite number > 0, got -1.0" in err
    rc = cli.main(["train", "--style", "s.png", "--data", str(data), "--out", str(tmp_path / "r"),
                   "--final-lr", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "--final-learning-rate: expected a finite number > 0, got 0.0" in err
    rc = cli.main(["train", "--style", "s.png", "--data", str(data), "--out", str(tmp_path / "r"),
                   "--upsample", "bilinar"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "--upsample: expected one of bilinear, nearest, got 'bilinar'" in err
    assert "did you mean 'bilinear'" in err
    assert not (tmp_path / "r").exists()


@pytest.fixture
def tiny_cli(monkeypatch, tiny):
    """``tf-style train --backbone vgg16-hed`` gets the tiny backbone (a CLI run in seconds)."""
    monkeypatch.setattr(bb, "resolve_name", lambda name, log=None: name)
    monkeypatch.setattr(bb, "load_backbone", lambda arch, layers, log=None, **kw: tiny)


def _two_styles(tmp_path):
    paths = [tmp_path / "a.png", tmp_path / "b.png"]
    for path, pixels in zip(paths, (_painting(), _painting2())):
        Image.fromarray(pixels).save(path)
    return [str(p) for p in paths]


@pytest.mark.slow
def test_cli_trains_a_blend_of_two_styles_and_resumes_with_it(tmp_path, capsys, data, tiny_cli):
    styles, run = _two_styles(tmp_path), tmp_path / "run"
    common = ["train", "--data", str(data), "--out", str(run), "--backbone", "vgg16-hed", "--size", "16",
              "--batch", "2", "--architecture", "mobile", "--width", "0.25", "--content-layers", "block2_conv1",
              "--style-layers", "block1_conv1,block2_conv1,block3_conv1", "--sample-every", "0", "--json", "--quiet"]
    rc = cli.main([*common, "--style", *styles, "--style-blend", "3,1", "--style-layer-weights", "1,0,1",
                   "--steps", "2"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    result = json.loads(captured.out)
    assert result["step"] == 2 and result["style_blend"] == [3, 1] and result["style_layer_weights"] == [1, 0, 1]
    saved = json.loads((run / "run.json").read_text())
    assert saved["style"] == styles and saved["config"]["style_blend"] == [3, 1]
    # Resumed without them, the saved options stay; another blend is refused (one line, exit 2).
    rc = cli.main(["train", "--style", styles[0], "--style", styles[1], "--data", str(data), "--out", str(run),
                   "--resume", "--steps", "3", "--json", "--quiet"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    resumed = json.loads(captured.out)
    assert (resumed["start_step"], resumed["step"], resumed["style_blend"]) == (2, 3, [3, 1])
    rc = cli.main(["train", "--style", *styles, "--data", str(data), "--out", str(run), "--resume",
                   "--style-blend", "1,1", "--steps", "4", "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1, err
    assert "--style-blend: the run in" in err and "trained with style_blend (3.0, 1.0)" in err and "(1.0, 1.0)" in err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--style-blend", "1,2,3"], "--style-blend: expected 2 weights (one per style image), got 3"),
        (["--style-blend", "0,0"], "--style-blend: the weights must not all be 0, got 0,0"),
        (["--style-blend", "1,x"], "--style-blend: expected a number, got 'x'"),
        (["--style-layer-weights", "1,1"], "--style-layer-weights: expected 5 values (one per style layer), got 2: 1,1"),
    ],
)
def test_cli_bad_blend_or_layer_weights_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, data, tiny_cli,
                                                                               extra, message):
    # A tiny run if the value were taken: the test then fails at once instead of training for long.
    rc = cli.main(["train", "--style", *_two_styles(tmp_path), "--data", str(data), "--out", str(tmp_path / "run"),
                   "--backbone", "vgg16-hed", "--size", "16", "--batch", "2", "--architecture", "mobile",
                   "--width", "0.25", "--content-layers", "block2_conv1", "--steps", "1", "--sample-every", "0",
                   "--quiet", *extra])
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and err.startswith("tf-style: error: ") and message in err, err
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- subprocesses


def _env():
    env = dict(os.environ, TF_STYLE_OFFLINE="1", TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    return env


_MIRRORED = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    sys.path.insert(0, sys.argv[3])
    from helpers import TINY_BACKBONE_LAYERS
    from helpers import stripes as _painting
    from test_train import TINY
    from tf_style import backbones as bb
    from tf_style.train import train
    tiny = bb.tiny_backbone(TINY_BACKBONE_LAYERS)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    r = train(_painting(), sys.argv[1], sys.argv[2], backbone=tiny, strategy=strategy, steps=4,
              content_weight=0.0, **TINY)
    print(json.dumps({"replicas": r.replicas, "step": r.step, "totals": [h["total"] for h in r.history]}))
    """
)


@pytest.mark.slow
def test_mirrored_strategy_on_two_logical_cpus(tmp_path, tiny, data):
    script = tmp_path / "mirrored.py"
    script.write_text(_MIRRORED)
    proc = subprocess.run(
        [sys.executable, str(script), str(data), str(tmp_path / "mirrored"), str(Path(__file__).parent)],
        capture_output=True, text=True, env=_env(), timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["replicas"] == 2 and got["step"] == 4
    # PerceptualLoss normalizes the content term by the energy of the batch it sees, i.e. per
    # replica; the style and TV terms are plain means, so without content the two-replica run
    # must reproduce the single-device one (same data, same init, gradients all-reduced).
    single = train(_painting(), data, tmp_path / "single", backbone=tiny, steps=4, content_weight=0.0, **TINY)
    np.testing.assert_allclose(got["totals"], [h["total"] for h in single.history], rtol=1e-4)
    a = load_stylizer(tmp_path / "mirrored" / "model.keras").model
    b = load_stylizer(tmp_path / "single" / "model.keras").model
    assert any(not np.allclose(w, w0) for w, w0 in zip(_weights(a), _weights(type(a)("mobile", 0.25, seed=0))))
    for wa, wb in zip(_weights(a), _weights(b)):
        np.testing.assert_allclose(wa, wb, rtol=1e-3, atol=1e-4)


def _latest_step(run: Path) -> int:
    latest = tf.train.latest_checkpoint(str(run / "checkpoints"))
    return int(re.search(r"ckpt-(\d+)$", latest).group(1)) if latest else -1


def _train_cmd(data, run, style, *extra):
    return ["tf-style", "train", "--style", str(style), "--data", str(data), "--out", str(run),
            "--backbone", "vgg16-hed", "--architecture", "mobile", "--width", "0.25", "--size", "32",
            "--batch", "1", "--checkpoint-every", "2", "--sample-every", "0", *extra]


def _wait_for_checkpoint(proc, run, at_least, timeout=240):
    deadline = time.monotonic() + timeout
    while _latest_step(run) < at_least:
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        assert time.monotonic() < deadline, "no checkpoint in time"
        time.sleep(0.2)


@pytest.mark.slow
def test_kill_9_then_resume_continues_from_the_last_checkpoint(tmp_path, data):
    style = tmp_path / "style.png"
    Image.fromarray(_painting(64)).save(style)
    run = tmp_path / "run"
    proc = subprocess.Popen(_train_cmd(data, run, style, "--steps", "100000", "--quiet"),
                            stderr=subprocess.PIPE, text=True, env=_env())
    try:
        _wait_for_checkpoint(proc, run, 4)
    finally:
        proc.kill()  # SIGKILL: no chance to save anything
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    saved = _latest_step(run)
    assert saved >= 4 and not (run / "model.keras").exists()
    # the options are the run's saved ones; only the new total is given
    done = subprocess.run(
        ["tf-style", "train", "--style", str(style), "--data", str(data), "--out", str(run),
         "--resume", "--steps", str(saved + 3), "--json", "--quiet"],
        capture_output=True, text=True, env=_env(), timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["start_step"] == saved and result["step"] == saved + 3
    assert result["architecture"] == "mobile" and result["size"] == 32 and result["backbone"] == "vgg16-hed"
    assert (run / "model.keras").is_file()


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_at_the_current_step(tmp_path, data):
    style = tmp_path / "style.png"
    Image.fromarray(_painting(64)).save(style)
    run = tmp_path / "run"
    proc = subprocess.Popen(_train_cmd(data, run, style, "--steps", "100000", "--checkpoint-every", "1000",
                                       "--sample-every", "1", "--json", "--quiet"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    deadline = time.monotonic() + 240
    while not (run / "samples" / "step_000002.png").exists():  # the loop is running
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        assert time.monotonic() < deadline, "training did not start in time"
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    result = json.loads(out)
    assert result["interrupted"] and result["step"] >= 2 and result["model"] is None
    assert _latest_step(run) == result["step"]


@pytest.mark.slow
def test_cli_train_plot_writes_the_loss_curve(tmp_path, data):
    style = tmp_path / "style.png"
    Image.fromarray(_painting(64)).save(style)
    png = tmp_path / "loss.png"
    rc = cli.main(["train", "--style", str(style), "--data", str(data), "--out", str(tmp_path / "run"),
                   "--size", "32", "--batch", "1", "--steps", "3", "--log-every", "1",
                   "--architecture", "mobile", "--width", "0.25", "--backbone", "vgg16-hed",
                   "--plot", str(png), "--quiet"])
    assert rc == 0
    with Image.open(png) as plot:
        assert plot.size == (800, 500)
        assert len(set(plot.convert("L").getdata())) > 10  # curves and axes, not a blank canvas


# --------------------------------------------------------------------------- distillation


def test_teacher_options_are_checked_with_their_names(tmp_path):
    for bad in ("resnet", "model.h5", ""):
        with pytest.raises(OptionError, match=r"^teacher: expected 'arbitrary' or a \.keras file"):
            TrainConfig(teacher=bad)
    with pytest.raises(OptionError, match=r"^teacher: distills into a per-style network"):
        TrainConfig(teacher="arbitrary", architecture="arbitrary")
    with pytest.raises(OptionError, match=r"^teacher_weight: "):
        TrainConfig(teacher="arbitrary", teacher_weight=-1)
    with pytest.raises(OptionError, match="content_weight and style_weight"):
        TrainConfig(content_weight=0, style_weight=0)
    pure = TrainConfig(teacher="arbitrary", content_weight=0, style_weight=0)  # pure distillation
    assert pure.teacher_weight == 10.0 and TrainConfig.from_dict(pure.to_dict()) == pure


@pytest.mark.slow
def test_init_starts_a_new_run_from_a_trained_network(tiny_run, tmp_path, tiny, data):
    out, first = tiny_run
    trained = load_stylizer(out / "model.keras").model
    run = tmp_path / "fine"
    # steps=1 with learning rate ~0: the new run's network is the trained one, not a fresh one.
    r = train(_painting(), data, run, backbone=tiny, steps=1, learning_rate=1e-12, init=str(out / "model.keras"),
              **TINY)
    tuned = load_stylizer(r.model_path).model
    for a, b in zip(_weights(trained), _weights(tuned)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    fresh = load_stylizer(train(_painting(), data, tmp_path / "fresh", backbone=tiny, steps=1, learning_rate=1e-12,
                                **TINY).model_path).model
    assert max(np.abs(a - b).max() for a, b in zip(_weights(trained), _weights(fresh))) > 1e-3
    # Resuming reads the checkpoint, not the file it started from.
    more = train(_painting(), data, run, backbone=tiny, resume=True, steps=2, init=str(tmp_path / "gone.keras"))
    assert more.start_step == 1


def test_upsample_option_is_checked_recorded_and_kept_on_resume(tiny_run, tiny, data):
    assert TrainConfig().upsample == "nearest" and TrainConfig(upsample="bilinear").upsample == "bilinear"
    with pytest.raises(OptionError, match=r"^upsample: expected one of bilinear, nearest, got 'bicubic'"):
        TrainConfig(upsample="bicubic")
    with pytest.raises(OptionError, match=r"^upsample: per-style networks only \(architecture 'arbitrary'"):
        TrainConfig(architecture="arbitrary", upsample="nearest")
    assert TrainConfig(architecture="arbitrary").upsample is None
    # train(architecture="arbitrary") starts from TrainConfig(), whose upsample is resolved.
    assert TrainConfig().with_options(architecture="arbitrary").upsample is None
    assert TrainConfig(upsample="bilinear").with_options(architecture="mobile").upsample == "bilinear"
    with pytest.raises(OptionError, match=r"^upsample: per-style networks only"):
        TrainConfig().with_options(architecture="arbitrary", upsample="nearest")
    # run.json of a run from before the option: its network upsampled nearest.
    old = TrainConfig(upsample="bilinear").to_dict()
    del old["upsample"]
    assert TrainConfig.from_dict(old).upsample == "nearest"
    out, _ = tiny_run  # trained with the default
    assert json.loads((out / "run.json").read_text())["config"]["upsample"] == "nearest"
    assert load_stylizer(out / "model.keras").model.upsample == "nearest"
    with pytest.raises(OptionError, match=r"^upsample: the run in .* was trained with upsample 'nearest'; "
                                          r"resuming needs the same, got 'bilinear'"):
        train(_painting(), data, out, backbone=tiny, resume=True, upsample="bilinear")


@pytest.mark.slow
def test_init_from_a_nearest_network_trains_it_bilinear(tmp_path, tiny, data):
    from tf_style.networks import StyleTransformer

    old = StyleTransformer("mobile", 0.25, upsample="nearest", seed=5)
    old.save(tmp_path / "old.keras")
    lines = []
    r = train(_painting(), data, tmp_path / "run", backbone=tiny, steps=1, learning_rate=1e-12,
              init=str(tmp_path / "old.keras"), upsample="bilinear", log=lines.append, **TINY)
    tuned = load_stylizer(r.model_path).model
    assert tuned.upsample == "bilinear"
    for a, b in zip(_weights(old), _weights(tuned)):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert any("it upsampled nearest; this run bilinear" in line for line in lines), lines


def test_bad_init_is_refused_before_anything_is_written(tiny_run, tmp_path, tiny, data, capsys, tiny_cli):
    out, _ = tiny_run
    with pytest.raises(OptionError, match=r"^init: expected a trained network's \.keras file, got 'x\.h5'"):
        TrainConfig(init="x.h5")
    with pytest.raises(OptionError, match=r"^init: .*architecture 'mobile'; this run trains architecture 'johnson'"):
        train(_painting(), data, tmp_path / "a", backbone=tiny, init=str(out / "model.keras"),
              **{**TINY, "architecture": "johnson"})
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"not a zip")
    Image.fromarray(_painting()).save(tmp_path / "s.png")
    rc, _, err = helpers.run_cli(["train", "--style", tmp_path / "s.png", "--data", data, "--out", tmp_path / "b",
                                  "--init", broken, "--architecture", "mobile", "--backbone", "vgg16-hed"], capsys)
    assert rc == 2, err
    helpers.one_error_line(err, [r"init: .*broken\.keras is not a readable \.keras network"])
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.slow
def test_distillation_learns_the_teachers_pictures(tmp_path, tiny, data):
    """A mobile network distilled from a trained one (no loss network at all) comes close to
    the teacher's pictures; a missing or wrong teacher file is a ModelLoadError naming it."""
    from tf_style.errors import ModelLoadError

    teacher_run = train(_painting(), data, tmp_path / "teacher", backbone=tiny, steps=30, seed=1, **TINY)
    teacher = load_stylizer(teacher_run.model_path).model
    student = train(_painting(), data, tmp_path / "student", backbone=tiny, steps=60, seed=2,
                    teacher=str(teacher_run.model_path), teacher_weight=1.0, content_weight=0.0,
                    style_weight=0.0, tv_weight=0.0, learning_rate=3e-3, **TINY)
    gaps = [h["teacher"] for h in student.history]
    assert all(h["content"] == 0 and h["style"] == 0 for h in student.history)
    assert np.mean(gaps[-8:]) < 0.45 * np.mean(gaps[:4]), (gaps[:4], gaps[-8:])  # measured 0.32
    photos = np.stack([helpers.data_photo(16, 16, s).astype(np.float32) for s in range(4)])
    learned = np.asarray(load_stylizer(student.model_path).model(photos))
    fresh = np.asarray(load_stylizer(train(_painting(), data, tmp_path / "fresh", backbone=tiny, steps=1, seed=2,
                                           **TINY).model_path).model(photos))
    target = np.asarray(teacher(photos))
    assert np.abs(learned - target).mean() < 0.6 * np.abs(fresh - target).mean()  # measured 0.51

    with pytest.raises(ModelLoadError, match="^teacher: .*missing.keras does not exist"):
        train(_painting(), data, tmp_path / "x", backbone=tiny, steps=1, teacher=str(tmp_path / "missing.keras"),
              **TINY)
    (tmp_path / "junk.keras").write_bytes(b"not a zip")
    with pytest.raises(ModelLoadError, match="^teacher: .*junk.keras is not a readable"):
        train(_painting(), data, tmp_path / "y", backbone=tiny, steps=1, teacher=str(tmp_path / "junk.keras"),
              **TINY)
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


@pytest.mark.slow
def test_arbitrary_teacher_adds_its_term_to_the_perceptual_loss(tmp_path, tiny, data):
    r = train(_painting(), data, tmp_path / "run", backbone=tiny, steps=6, teacher="arbitrary", **TINY)
    terms = r.history[-1]
    assert terms["teacher"] > 0 and terms["style"] > 0
    expected = (r.config.content_weight * terms["content"] + r.config.style_weight * terms["style"]
                + r.config.tv_weight * terms["tv"] + r.config.teacher_weight * terms["teacher"])
    assert terms["total"] == pytest.approx(expected, rel=1e-4)
    assert "distilled from arbitrary" in json.dumps(r.to_dict()) or r.config.teacher == "arbitrary"


@pytest.mark.slow  # loads the shipped arbitrary-style networks
def test_arbitrary_teacher_of_a_blend_uses_the_blended_vector():
    from tf_style.train import load_teacher

    photos = tf.constant(np.stack([helpers.data_photo(24, 24, s) for s in range(2)]).astype(np.float32))
    blended = load_teacher("arbitrary", [_painting(64), _painting2(64)], lambda m: None, blend=(0, 1))(photos)
    alone = load_teacher("arbitrary", _painting2(64), lambda m: None)(photos)
    other = load_teacher("arbitrary", [_painting(64), _painting2(64)], lambda m: None, blend=(1, 1))(photos)
    np.testing.assert_allclose(blended, alone, atol=1e-3)
    assert np.abs(np.asarray(other) - np.asarray(alone)).mean() > 1.0
