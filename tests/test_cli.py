"""Tests of the ``tf-style`` command line.

Most tests call ``tf_style.cli.main(argv)`` in-process; a few start real processes
(``python -m tf_style``, the ``tf-style`` console script, signals). Runs use the real
offline backbone ``vgg16-hed`` at 64 px with 1-3 evaluations, so each takes a few
seconds; those are marked ``slow`` (CONTRIBUTING: the real backbone only in slow tests).
Bad inputs fail before any model loads and are fast.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Dict, NamedTuple, Optional
from unittest import mock

import numpy as np
import pytest
from PIL import Image

import tf_style
from helpers import ERROR_PREFIX, EXAMPLES, bad_input_folder
from helpers import one_error_line as _check_one_error_line
from helpers import run_cli as _main
from helpers import snapshot as _snapshot
from tf_style import system
from tf_style import image as im
from tf_style import cli
from tf_style.cli import main
from tf_style.config import StylizeConfig

TUBINGEN = EXAMPLES / "tubingen.jpg"  # 1024x768
STARRY = EXAMPLES / "starry_night.jpg"
SCREAM = EXAMPLES / "the_scream.jpg"

#: A tiny, real run: 64 px output (64x48 for Tuebingen), one pyramid level, offline backbone.
TINY = ["--size", "64", "--iterations", "2", "--pyramid", "1", "--backbone", "vgg16-hed"]


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as picture:
        picture.load()
        assert picture.mode == "RGB", picture.mode
        return np.asarray(picture, dtype=np.float32)


def _content_at(size) -> np.ndarray:
    return im.to_array(im.resize_to(im.read_image(TUBINGEN), size))


# ---------------------------------------------------------------------------- the main job


@pytest.mark.slow
def test_stylize_json_reports_the_run_and_writes_the_picture(tmp_path, capsys):
    out = tmp_path / "out.png"
    argv = ["stylize", TUBINGEN, STARRY, "-o", out, *TINY, "--iterations", "3", "--json", "--quiet"]
    rc, stdout, stderr = _main(argv, capsys)

    assert rc == 0, stderr
    assert stdout.endswith("\n") and stdout.count("\n") == 1, stdout
    data = json.loads(stdout)  # the whole of stdout is one JSON document...
    assert isinstance(data, dict)  # ...and it is an object
    assert {"output", "size", "backbone", "weights", "optimizer", "iterations", "seconds", "loss"} <= set(data)
    assert data["output"] == str(out)
    assert data["size"] == [64, 48]  # 1024x768 photo, long side 64
    assert data["backbone"] == "vgg16-hed"
    assert "hed" in data["weights"].lower()
    assert data["optimizer"] == "lbfgs"
    assert data["dtype"] in ("float32", "bfloat16")  # auto, resolved for this machine
    assert data["padding"] == "reflect"  # the default
    assert data["iterations"] == 3
    assert isinstance(data["seconds"], (int, float)) and data["seconds"] >= 0

    loss = data["loss"]
    keys = ("initial_total", "final_total", "final_content", "final_style", "final_tv")
    assert set(keys) <= set(loss)
    assert all(isinstance(loss[k], float) and math.isfinite(loss[k]) for k in keys), loss
    assert loss["final_total"] < loss["initial_total"], loss
    # The reported terms are those of the returned picture: they add up to its total
    # with the default weights (alpha, beta, tv).
    d = StylizeConfig()
    weighted = (d.content_weight * loss["final_content"] + d.style_weight * loss["final_style"]
                + d.tv_weight * loss["final_tv"])
    assert weighted == pytest.approx(loss["final_total"], rel=1e-4)

    picture = _rgb(out)
    assert picture.shape == (48, 64, 3)
    # It is the optimized picture, not the (resized) photo it started from.
    assert np.abs(picture - _content_at((64, 48))).mean() > 0.5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no temp files left


@pytest.mark.slow
@pytest.mark.parametrize("quiet", [True, False], ids=["quiet", "verbose"])
def test_without_json_stdout_stays_empty(tmp_path, capsys, quiet):
    out = tmp_path / "out.png"
    argv = ["stylize", TUBINGEN, STARRY, "-o", out, *TINY, "--iterations", "1"]
    rc, stdout, stderr = _main(argv + (["--quiet"] if quiet else []), capsys)
    assert rc == 0, stderr
    assert stdout == ""
    assert out.is_file()
    ours = [line for line in stderr.splitlines() if line.startswith("tf-style:")]
    if quiet:
        assert ours == []
    else:  # the log goes to stderr: one "wrote" line naming the output and its size
        assert any(str(out) in line and "64x48" in line for line in ours), stderr


class Run(NamedTuple):
    data: dict
    picture: np.ndarray
    saves: int  # calls of tf_style.image.save_image during the run


@pytest.fixture(scope="module")
def json_run(tmp_path_factory):
    """``json_run(*options, styles=...)``: a cached tiny ``--json --quiet`` run of Tuebingen."""
    cache: Dict[tuple, Run] = {}

    def run(*options: str, styles=(STARRY,)) -> Run:
        key = (options, tuple(styles))
        if key not in cache:
            out = tmp_path_factory.mktemp("run") / "out.png"
            argv = ["stylize", TUBINGEN, *styles, "-o", out, *TINY, "--json", "--quiet", *options]
            stdout, stderr = io.StringIO(), io.StringIO()
            with mock.patch.object(im, "save_image", wraps=im.save_image) as spy, \
                    contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                rc = main([str(a) for a in argv])
            assert rc == 0, (argv, stderr.getvalue())
            assert stdout.getvalue().count("\n") == 1, stdout.getvalue()
            data = json.loads(stdout.getvalue())
            assert data["size"] == [64, 48] and data["output"] == str(out)
            picture = _rgb(out)
            assert picture.shape == (48, 64, 3)
            assert sorted(p.name for p in out.parent.iterdir()) == ["out.png"]
            cache[key] = Run(data, picture, spy.call_count)
        return cache[key]

    return run


NOISE = ("--init", "noise", "--seed", "1")


def _check_adam(run: Run, json_run) -> None:
    assert run.data["optimizer"] == "adam"
    assert run.data["loss"]["final_total"] < run.data["loss"]["initial_total"]


def _check_preserve_color(run: Run, json_run) -> None:
    photo_iq = im.rgb_to_yiq(_content_at((64, 48)))[..., 1:]
    assert np.abs(photo_iq).mean() > 3  # the photo has colour, so the check below means something
    out_iq = im.rgb_to_yiq(run.picture)[..., 1:]
    assert np.abs(out_iq - photo_iq).mean() < 1.5  # the photo's colours, not the painting's
    # The network saw luminance only: a different loss from the plain run's.
    plain = json_run().data["loss"]["initial_total"]
    assert abs(run.data["loss"]["initial_total"] - plain) > 0.005 * plain


def _check_noise(run: Run, json_run) -> None:
    plain = json_run()
    # Noise starts with a content loss the photo does not have; with style weight 30 the
    # style term dominates both starts (measured 16.2 against 13.6 at 64 px).
    assert run.data["loss"]["initial_total"] > 1.1 * plain.data["loss"]["initial_total"]
    assert run.data["loss"]["final_content"] > 1e-3  # far from the photo, unlike content init
    assert np.abs(run.picture - plain.picture).mean() > 20


def _check_max_pooling(run: Run, json_run) -> None:
    plain = json_run().data["loss"]["initial_total"]
    assert abs(run.data["loss"]["initial_total"] - plain) > 0.01 * plain


def _check_alias(run: Run, json_run) -> None:
    # conv4_2 is Caffe's name for block4_conv2, the default content layer: same numbers.
    same = json_run(*NOISE).data["loss"]
    assert run.data["loss"] == pytest.approx(same, rel=1e-5)


def _check_save_every(run: Run, json_run) -> None:
    assert json_run().saves == 1  # without --save-every: only the final picture
    assert run.saves == run.data["iterations"] + 1 == 3


@pytest.mark.slow
@pytest.mark.parametrize(
    "options, check",
    [
        pytest.param(("--optimizer", "adam"), _check_adam, id="adam"),
        pytest.param(("--preserve-color",), _check_preserve_color, id="preserve-color"),
        pytest.param(NOISE, _check_noise, id="init-noise"),
        pytest.param(("--pooling", "max"), _check_max_pooling, id="pooling-max"),
        pytest.param(("--content-layers", "conv4_2", *NOISE), _check_alias, id="content-layer-alias"),
        pytest.param(("--save-every", "1"), _check_save_every, id="save-every"),
    ],
)
def test_stylize_options(json_run, options, check):
    run = json_run(*options)
    assert run.data["iterations"] == 2
    check(run, json_run)


@pytest.mark.slow
def test_two_styles_are_blended(json_run):
    single = json_run().data["loss"]["initial_total"]
    blended = json_run("--style-blend", "0.7,0.3", styles=(STARRY, SCREAM))
    assert abs(blended.data["loss"]["initial_total"] - single) > 0.005 * single
    # Weights are normalized, and a 0 weight drops that style: same as Starry Night alone.
    only_first = json_run("--style-blend", "2,0", styles=(STARRY, SCREAM))
    assert only_first.data["loss"]["initial_total"] == pytest.approx(single, rel=1e-5)


# ---------------------------------------------------------------------------- bad inputs


def _png_claiming(path: Path, width: int, height: int) -> None:
    """A valid small PNG whose IHDR (with a correct CRC) claims width x height."""
    Image.new("RGB", (20, 20), (200, 40, 40)).save(path)
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))


@pytest.fixture
def work(tmp_path, monkeypatch):
    """A folder of inputs (good copies and broken files); KERAS_HOME is an empty cache."""
    keras_home = tmp_path / "keras_home"
    (keras_home / "models").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.setenv("TF_STYLE_OFFLINE", "1")
    w = bad_input_folder(tmp_path / "work", (STARRY.name, SCREAM.name))
    (w / "photos").mkdir()
    (w / "outdir.png").mkdir()
    _png_claiming(w / "bomb.png", 100000, 100000)
    os.symlink(w / "content.jpg", w / "link.jpg")
    return w


# argparse rejects these before our code runs; see test_argparse_errors_use_the_tf_style_prefix.
ARGPARSE_LEVEL = {"iterations-not-a-number", "optimizer-unknown", "output-option-missing"}


def _case(case_id, options=(), needles=(), *, inputs=("{content}", "{style}"), out="{out}", marks=()):
    return pytest.param(list(inputs), list(options), out, list(needles), id=case_id, marks=marks)


TWO_STYLES = ("{content}", "{style}", "{style2}")
BAD_INPUTS = [
    # files
    _case("content-missing", (), [r"missing\.jpg", "no such file"], inputs=("{work}/missing.jpg", "{style}")),
    _case("content-is-a-directory", (), ["photos", "directory"], inputs=("{work}/photos", "{style}")),
    _case("content-empty", (), [r"empty\.jpg", "empty"], inputs=("{work}/empty.jpg", "{style}")),
    _case("content-text-named-jpg", (), [r"notes\.jpg", "not an image"], inputs=("{work}/notes.jpg", "{style}")),
    _case("content-truncated-jpeg", (), [r"truncated\.jpg", "truncated"], inputs=("{work}/truncated.jpg", "{style}")),
    _case("content-too-small", (), [r"tiny\.png", r"\b8x8\b", r"\b16\b"], inputs=("{work}/tiny.png", "{style}")),
    _case("content-header-claims-100000x100000", (), [r"bomb\.png", r"too large|100000x100000"],
          inputs=("{work}/bomb.png", "{style}")),
    _case("style-missing", (), [r"nostyle\.jpg", "no such file"], inputs=("{content}", "{work}/nostyle.jpg")),
    # option values
    _case("size-too-small", ("--size", "10"), ["--size", r"\b10\b"]),
    _case("size-too-large", ("--size", "100000"), ["--size", r"\b100000\b"]),
    _case("iterations-zero", ("--iterations", "0"), ["--iterations", r"\b0\b"]),
    _case("tile-too-small", ("--tile", "10"), ["--tile", r"\b10\b", r"\b64\b"]),
    _case("tile-iterations-zero", ("--tile-iterations", "0"), ["--tile-iterations", r"\b0\b"]),
    _case("dtype-unknown", ("--dtype", "float16"), ["--dtype", r"float16"]),
    _case("iterations-negative", ("--iterations", "-3"), ["--iterations", r"-3\b"]),
    _case("iterations-not-a-number", ("--iterations", "abc"), ["--iterations", r"\babc\b"]),
    _case("optimizer-unknown", ("--optimizer", "sgd"), ["--optimizer", r"\bsgd\b"]),
    _case("style-weight-negative", ("--style-weight", "-1"), ["--style-weight", r"-1(\.0)?\b"]),
    _case("content-weight-nan", ("--content-weight", "nan"), ["--content-weight", r"\bnan\b"]),
    _case("style-blend-not-numbers", ("--style-blend", "a,b"), ["--style-blend", r"'a"], inputs=TWO_STYLES),
    _case("style-blend-count-mismatch", ("--style-blend", "1"), ["--style-blend", r"\b2\b", r"\b1(\.0)?\b"],
          inputs=TWO_STYLES),
    _case("content-layer-unknown", ("--content-layers", "block9_conv9"),
          ["--content-layers", "block9_conv9", "did you mean"]),
    _case("backbone-unknown", ("--backbone", "vgg91"), ["--backbone", "vgg91"]),
    _case("pooling-unknown", ("--pooling", "mean"), ["--pooling", r"\bmean\b"]),
    _case("padding-unknown", ("--padding", "edge"), ["--padding", r"\bedge\b", "zeros, reflect"]),
    _case("weights-file-missing", ("--weights", "/nonexistent.h5", "--backbone", "vgg19"),
          ["--weights", r"/nonexistent\.h5"]),
    _case("style-scale-zero", ("--style-scale", "0"), ["--style-scale", r"\b0(\.0)?\b"]),
    _case("save-every-negative", ("--save-every", "-1"), ["--save-every", r"-1\b"]),
    _case("init-file-missing", ("--init", "/nonexistent.png"), ["--init", r"/nonexistent\.png"]),
    _case("output-option-missing", (), [r"-o\b|--output"], out=None),
    # outputs
    _case("output-is-the-content", (), [r"content\.jpg", "same file"], out="{content}"),
    _case("output-is-a-style", (), [r"style\.jpg", "same file"], out="{style}"),
    _case("output-is-a-link-to-the-content", (), [r"link\.jpg", "same file"], out="{work}/link.jpg"),
    _case("output-is-the-init-image", ("--init", "{style2}"), [r"style2\.jpg", "same file"], out="{style2}",
          marks=pytest.mark.slow),
    _case("output-gif", (), [r"out\.gif", r"\.gif"], out="{work}/out.gif"),
    _case("output-txt", (), [r"out\.txt", r"\.txt"], out="{work}/out.txt"),
    _case("output-folder-missing", (), ["no_such_dir", "does not exist"], out="{work}/no_such_dir/out.png"),
    _case("output-is-a-directory", (), [r"outdir\.png", "directory"], out="{work}/outdir.png"),
    # environment
    _case("backbone-vgg16-not-cached", ("--backbone", "vgg16"),
          ["vgg16", "not available", "--weights", "--backbone vgg16-hed"]),
    _case("memory-refused", ("--size", "8192", "--tile", "0"), ["smaller --size", r"\b8192x6144\b", "--tile"],
          marks=pytest.mark.slow),
]


def _fill(template: str, work: Path) -> str:
    return template.format(
        work=work, content=work / "content.jpg", style=work / "style.jpg", style2=work / "style2.jpg",
        out=work / "out.png",
    )


def _bad_argv(work: Path, inputs, options, out):
    argv = ["stylize", *(_fill(i, work) for i in inputs)]
    if out is not None:
        argv += ["-o", _fill(out, work)]
    return argv + TINY + ["--quiet", *(_fill(o, work) for o in options)]


@pytest.mark.parametrize("inputs, options, out, needles", BAD_INPUTS)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(work, capsys, monkeypatch, request,
                                                         inputs, options, out, needles):
    if request.node.callspec.id == "memory-refused":
        # Deterministic on any machine: 8 GiB available, while 8192x6144 needs far more.
        from tf_style import transfer

        monkeypatch.setattr(system, "available_memory", lambda: 8 * 2**30)
    argv = _bad_argv(work, inputs, options, out)
    prefix = "tf-style" if request.node.callspec.id in ARGPARSE_LEVEL else ERROR_PREFIX
    before = _snapshot(work)

    rc, stdout, stderr = _main(argv, capsys)
    assert rc == 2, stderr
    assert stdout == ""
    line = _check_one_error_line(stderr, needles, prefix=prefix)
    assert _snapshot(work) == before  # no output, no temp file, inputs untouched

    if out == "{out}":  # an existing output file is left byte-identical
        existing = work / "out.png"
        existing.write_bytes(b"an earlier result, not to be touched")
        before = _snapshot(work)
        rc, stdout, stderr = _main(argv, capsys)
        assert (rc, stdout, stderr.rstrip("\n")) == (2, "", line)
        assert _snapshot(work) == before


@pytest.mark.parametrize("case_id", sorted(ARGPARSE_LEVEL))
def test_argparse_errors_use_the_tf_style_prefix(work, capsys, case_id):
    [case] = [c for c in BAD_INPUTS if c.id == case_id]
    inputs, options, out, needles = case.values
    rc, stdout, stderr = _main(_bad_argv(work, inputs, options, out), capsys)
    assert rc == 2 and stdout == ""
    _check_one_error_line(stderr, needles)


# ---------------------------------------------------------------------------- info


@pytest.fixture
def empty_keras_home(tmp_path, monkeypatch):
    home = tmp_path / "keras_home"
    (home / "models").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


def test_info_lists_backbones_and_availability(empty_keras_home, capsys):
    rc, stdout, stderr = _main(["info"], capsys)
    assert rc == 0, stderr
    rows = dict(re.findall(r"^\s+(vgg19|vgg16|vgg16-hed)\s+(yes|no)\b", stdout, re.M))
    # vgg19: the quantized offline copy shipped with tf-style, named as such
    assert rows == {"vgg19": "yes", "vgg16": "no", "vgg16-hed": "yes"}, stdout
    assert re.search(r"^\s+vgg19\s+yes imagenet-q8 \(.*8-bit quantized", stdout, re.M), stdout
    assert re.search(rf"^tf_style\s+{re.escape(tf_style.__version__)}$", stdout, re.M), stdout


def test_info_json(empty_keras_home, capsys):
    rc, stdout, stderr = _main(["info", "--json"], capsys)
    assert rc == 0, stderr
    info = json.loads(stdout)
    assert info["tf_style"] == tf_style.__version__
    backbones = {b["name"]: b for b in info["backbones"]}
    assert [b["name"] for b in info["backbones"]] == ["vgg19", "vgg16", "vgg16-hed"]
    assert backbones["vgg16-hed"]["available"] is True
    assert "hed" in backbones["vgg16-hed"]["weights"].lower()
    # nothing cached in this KERAS_HOME: vgg19 runs from the quantized offline copy
    assert backbones["vgg19"]["available"] is True and backbones["vgg19"]["exact"] is False
    assert backbones["vgg19"]["weights"].startswith("imagenet-q8 (")
    assert backbones["vgg16"]["available"] is False


@pytest.mark.parametrize("user, expected", [(None, "true"), ("false", "false")])
def test_the_command_picks_tensorflows_bfc_cpu_allocator_unless_the_user_chose(
        empty_keras_home, capsys, monkeypatch, user, expected):
    # Read by TensorFlow when it first runs an op, so main() sets it before any work;
    # a user's own setting wins.
    monkeypatch.setenv("TF_CPU_ALLOCATOR_USE_BFC", "placeholder")  # restored afterwards
    if user is None:
        monkeypatch.delenv("TF_CPU_ALLOCATOR_USE_BFC")
    else:
        monkeypatch.setenv("TF_CPU_ALLOCATOR_USE_BFC", user)
    rc, _, stderr = _main(["info"], capsys)
    assert rc == 0, stderr
    assert os.environ["TF_CPU_ALLOCATOR_USE_BFC"] == expected


# ---------------------------------------------------------------------------- real processes


def _env(**changes: Optional[str]) -> Dict[str, str]:
    env = dict(os.environ, TF_STYLE_OFFLINE="1")
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _console_script() -> Optional[str]:
    beside = Path(sys.executable).with_name("tf-style")
    return str(beside) if beside.is_file() else shutil.which("tf-style")


def test_python_m_tf_style_version():
    proc = subprocess.run([sys.executable, "-m", "tf_style", "--version"], capture_output=True,
                          text=True, env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == tf_style.__version__


@pytest.mark.parametrize(
    "code",
    [
        "import tf_style, sys; assert 'tensorflow' not in sys.modules",
        # Bad files are reported before TensorFlow is imported (they fail in milliseconds).
        "import sys, tf_style.cli as c; rc = c.main(['stylize', 'missing.jpg', 'style.jpg', '-o', 'o.png']); "
        "assert rc == 2, rc; assert 'tensorflow' not in sys.modules, "
        "'tensorflow was imported before a missing input file was reported'",
    ],
    ids=["import", "cli-bad-file"],
)
def test_no_tensorflow_import(tmp_path, code):
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_env(), cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_console_script_missing_file(tmp_path):
    script = _console_script()
    assert script, "the tf-style console script is not installed"
    # Not setting TF_CPP_MIN_LOG_LEVEL: the user's view.
    proc = subprocess.run([script, "stylize", "missing.jpg", str(STARRY), "-o", "out.png"],
                          capture_output=True, text=True, env=_env(TF_CPP_MIN_LOG_LEVEL=None),
                          cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == ""
    # Exactly one line: no traceback, no TensorFlow start-up chatter.
    _check_one_error_line(proc.stderr, [r"missing\.jpg", "no such file"])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_swallowed_interrupt_is_raised_again_at_the_next_step(tmp_path, capsys, monkeypatch):
    # Python drops a KeyboardInterrupt raised inside a __del__; the signal's flag must still
    # stop the run at the next evaluation, keeping a complete picture.
    def requested_from_the_start(self):
        self.requested = True

    monkeypatch.setattr(cli._Stop, "__init__", requested_from_the_start)
    out = tmp_path / "out.png"
    rc, stdout, stderr = _main(["stylize", TUBINGEN, STARRY, "-o", out, *TINY, "--iterations", "50"], capsys)
    assert rc == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    with Image.open(out) as picture:
        picture.load()
        assert picture.size == (64, 48)


def test_stop_flag_raises_only_once_requested():
    stop = cli._Stop()
    stop.check()  # nothing requested: no exception
    with pytest.raises(KeyboardInterrupt):
        stop.handler(signal.SIGTERM, None)
    with pytest.raises(KeyboardInterrupt):
        stop.check()


@pytest.mark.slow
@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_signal_keeps_the_last_complete_picture(tmp_path, signame):
    script = _console_script()
    assert script, "the tf-style console script is not installed"
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    out = pictures / "out.png"
    log = tmp_path / "stderr.txt"
    argv = [script, "stylize", str(TUBINGEN), str(STARRY), "--size", "128", "--iterations", "200",
            "--pyramid", "1", "--save-every", "2", "--backbone", "vgg16-hed", "-o", str(out)]
    with open(log, "wb") as err:
        # A shell's background job inherits SIGINT ignored (and so would this run, which then
        # rightly keeps ignoring it): start it as a terminal would, with the default action.
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                env=_env(), preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            deadline = time.monotonic() + 120
            while not out.exists():  # the first intermediate picture
                assert proc.poll() is None, f"exited early ({proc.returncode}):\n{log.read_text()}"
                assert time.monotonic() < deadline, f"no picture after 120 s:\n{log.read_text()}"
                time.sleep(0.1)
            proc.send_signal(getattr(signal, signame))
            try:
                rc = proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pytest.fail(f"still running 20 s after {signame}:\n{log.read_text()[-2000:]}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    stderr = log.read_text()
    assert rc == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert "interrupted" in stderr, stderr
    with Image.open(out) as picture:
        picture.load()  # complete and decodable
        assert picture.size == (128, 96) and picture.mode == "RGB"
    leftovers = [p.name for p in pictures.iterdir() if p.name.startswith(".") or p.name.endswith(".tmp")]
    assert leftovers == []
    assert [p.name for p in pictures.iterdir()] == ["out.png"]
