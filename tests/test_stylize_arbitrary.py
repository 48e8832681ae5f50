"""``tf-style stylize --method arbitrary`` and ``tf_style.stylize(method="arbitrary")``.

One forward pass of the shipped arbitrary-style networks (``tf_style/assets/arbitrary``),
end to end on small pictures (Tuebingen at 96 px): the output, the JSON report, what
``--strength``, ``--style-blend``, ``--style-scale`` and ``--preserve-color`` do to the
picture (measured), the Python API, and every bad input: one line on stderr, exit 2, no
file written. After the networks are built (about 3 s, once per process) a run takes
well under a second, so only the real-process acceptance run is marked slow.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, NamedTuple
from unittest import mock

import numpy as np
import pytest
from PIL import Image

import tf_style
from helpers import ERROR_PREFIX, EXAMPLES, bad_input_folder
from helpers import one_error_line as _check_one_error_line
from helpers import snapshot as _snapshot
from tf_style import system
from tf_style import arbitrary as arb
from tf_style import cli
from tf_style import image as im
from tf_style import one_pass
from tf_style.cli import main
from tf_style.config import ArbitraryConfig
from tf_style.errors import ImageReadError, ImageSizeError, OptionError

TUBINGEN = EXAMPLES / "tubingen.jpg"  # 1024x768
STARRY = EXAMPLES / "starry_night.jpg"
SCREAM = EXAMPLES / "the_scream.jpg"
SIZE = 96  # Tuebingen -> 96x72


def _photo(size: int = SIZE) -> np.ndarray:
    """The photo as the command sees it: resized (Lanczos) to the output long side."""
    return im.to_array(im.resize_long_side(im.read_image(TUBINGEN), size))


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as picture:
        picture.load()
        assert picture.mode == "RGB" and picture.format == "PNG"
        return np.asarray(picture, dtype=np.float32)


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)).mean())


class Run(NamedTuple):
    data: dict
    picture: np.ndarray
    stderr: str


@pytest.fixture(scope="module")
def arun(tmp_path_factory):
    """``arun(*options, styles=...)``: a cached ``--method arbitrary --json --quiet`` run at 96 px."""
    cache: Dict[tuple, Run] = {}

    def run(*options: str, styles=(SCREAM,), quiet: bool = True) -> Run:
        key = (options, tuple(styles), quiet)
        if key not in cache:
            out = tmp_path_factory.mktemp("run") / "out.png"
            argv = ["stylize", TUBINGEN, *styles, "-o", out, "--method", "arbitrary", "--size", str(SIZE),
                    "--json", *(["--quiet"] if quiet else []), *options]
            stdout, stderr = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                rc = main([str(a) for a in argv])
            assert rc == 0, (argv, stderr.getvalue())
            assert stdout.getvalue().endswith("\n") and stdout.getvalue().count("\n") == 1, stdout.getvalue()
            data = json.loads(stdout.getvalue())
            assert data["output"] == str(out)
            assert sorted(p.name for p in out.parent.iterdir()) == ["out.png"]  # no temp file left
            cache[key] = Run(data, _rgb(out), stderr.getvalue())
        return cache[key]

    return run


# ----------------------------------------------------------------------------- the command


def test_the_picture_and_its_json_report(arun):
    run = arun()
    data = run.data
    assert data["method"] == "arbitrary"
    assert data["size"] == [96, 72] and run.picture.shape == (72, 96, 3)
    assert data["content_size"] == [1024, 768]
    assert "magenta-arbitrary" in data["backbone"]
    assert "style_predict.npz" in data["weights"] and "style_transform.npz" in data["weights"]
    from tf_style.backbones import resolve_dtype

    assert data["dtype"] == resolve_dtype("auto")  # bfloat16 where native, else float32
    assert (data["strength"], data["style_blend"], data["style_scale"], data["style_side"]) == (1.0, [1.0], 1.0, 256)
    assert data["preserve_color"] is False and data["interrupted"] is False and data["iterations"] == 0
    timings = data["timings"]
    assert set(timings) == {"read", "import", "load", "predict", "transfer", "save", "total"}
    assert all(isinstance(v, (int, float)) and v >= 0 for v in timings.values()), timings
    parts = sum(v for k, v in timings.items() if k != "total")
    assert timings["total"] == pytest.approx(parts, abs=0.02)  # the stages cover the whole call
    assert data["seconds"] == pytest.approx(timings["total"], abs=0.002)
    assert timings["predict"] > 0 and timings["transfer"] > 0
    # It is a painting, not the photo: far from it in colour and texture.
    assert _mad(run.picture, _photo()) > 15


def test_the_command_is_the_library_call(arun):
    """The CLI layer is thin: its picture is stylize_arbitrary's on the resized photo."""
    run = arun("--strength", "0.5", "--dtype", "float32")
    expected = arb.stylize_arbitrary(_photo(), SCREAM, strength=0.5)
    assert np.abs(run.picture - expected.astype(np.float32)).max() <= 1.0


def test_without_json_stdout_stays_empty_and_the_log_names_the_output(tmp_path, capsys):
    out = tmp_path / "out.png"
    capsys.readouterr()
    rc = main([str(a) for a in ["stylize", TUBINGEN, SCREAM, "-o", out, "--method", "arbitrary",
                                "--size", str(SIZE)]])
    stdout, stderr = capsys.readouterr()
    assert rc == 0, stderr
    assert stdout == ""
    ours = [line for line in stderr.splitlines() if line.startswith("tf-style:")]
    assert any("predict" in line and "transfer" in line for line in ours), stderr
    assert any(str(out) in line and "96x72" in line for line in ours), stderr


def test_dtype_float32_and_bfloat16_give_the_same_picture(arun):
    f32, bf16 = arun("--dtype", "float32"), arun("--dtype", "bfloat16")
    assert (f32.data["dtype"], bf16.data["dtype"]) == ("float32", "bfloat16")
    diff = np.abs(f32.picture - bf16.picture)
    # measured 0.5-1.2/255 mean (transformer only; the predictor stays float32)
    assert diff.mean() < 2.0 and diff.max() > 0


def test_strength_moves_from_the_photos_own_style_to_the_paintings(arun):
    photo = _photo()
    runs = {s: arun("--strength", s) for s in ("0", "0.5", "1")}
    assert [runs[s].data["strength"] for s in ("0", "0.5", "1")] == [0.0, 0.5, 1.0]
    dist = {s: _mad(r.picture, photo) for s, r in runs.items()}
    assert dist["0"] < dist["0.5"] < dist["1"], dist
    assert _mad(runs["0"].picture, runs["1"].picture) > 5, dist
    assert np.array_equal(runs["1"].picture, arun().picture)  # 1 is the default


def test_a_blend_of_two_paintings_lies_between_them(arun):
    scream, starry = arun().picture, arun(styles=(STARRY,)).picture
    blend = arun("--style-blend", "1,1", styles=(SCREAM, STARRY))
    assert blend.data["style_blend"] == [0.5, 0.5]
    apart = _mad(scream, starry)
    assert _mad(blend.picture, scream) < apart and _mad(blend.picture, starry) < apart
    assert min(_mad(blend.picture, scream), _mad(blend.picture, starry)) > 0.1 * apart  # neither one alone
    # Weights are normalized, and a 0 weight drops that painting: the Scream alone.
    only = arun("--style-blend", "2,0", styles=(SCREAM, STARRY))
    assert only.data["style_blend"] == [1.0, 0.0]
    assert np.array_equal(only.picture, scream)
    # Without --style-blend, equal weights.
    assert np.array_equal(arun(styles=(SCREAM, STARRY)).picture, blend.picture)


def test_style_vectors_blend_linearly():
    v_scream = arb.predict_style(SCREAM)
    v_starry = arb.predict_style(STARRY)
    mixed = arb.style_vector([SCREAM, STARRY], blend=[3, 1])
    np.testing.assert_allclose(mixed, 0.75 * v_scream + 0.25 * v_starry, rtol=1e-5, atol=1e-5)
    # A stored vector can stand for its painting.
    np.testing.assert_allclose(arb.style_vector([v_scream, STARRY], blend=[3, 1]), mixed, atol=1e-6)
    photo = _photo()
    half = arb.style_vector(SCREAM, photo, strength=0.5)
    np.testing.assert_allclose(half, 0.5 * v_scream + 0.5 * arb.predict_style(photo), rtol=1e-5, atol=1e-5)
    with pytest.raises(OptionError, match="content"):
        arb.style_vector(SCREAM, strength=0.5)  # the photo's own vector is needed
    with pytest.raises(OptionError, match="blend"):
        arb.style_vector([SCREAM, STARRY], blend=[1])


def test_preserve_color_keeps_the_photos_chroma(arun):
    photo_yiq = im.rgb_to_yiq(_photo())
    plain, kept = arun(), arun("--preserve-color")
    assert kept.data["preserve_color"] is True
    plain_yiq, kept_yiq = im.rgb_to_yiq(plain.picture), im.rgb_to_yiq(kept.picture)
    # The painting's colours move the chroma (I, Q) far from the photo's; preserve-color
    # brings it back (up to uint8 rounding and clipping), and keeps the painted luminance.
    assert np.abs(plain_yiq[..., 1:] - photo_yiq[..., 1:]).mean() > 8
    assert np.abs(kept_yiq[..., 1:] - photo_yiq[..., 1:]).mean() < 1.5
    assert np.abs(kept_yiq[..., 0] - plain_yiq[..., 0]).mean() < 1.5
    assert np.abs(kept_yiq[..., 0] - photo_yiq[..., 0]).mean() > 8  # still painted


def test_style_scale_changes_the_picture(arun):
    base = arun().picture
    for scale, side in (("0.5", 128), ("2", 512)):
        run = arun("--style-scale", scale, "--dtype", "float32")
        assert run.data["style_side"] == side and run.data["style_scale"] == float(scale)
        assert _mad(run.picture, base) > 1.0, scale
        expected = arb.stylize_arbitrary(_photo(), SCREAM, style_size=side)
        assert np.abs(run.picture - expected.astype(np.float32)).max() <= 1.0


def test_size_resizes_the_photo_first(arun, tmp_path, capsys):
    out = tmp_path / "o.jpg"
    rc = main([str(a) for a in ["stylize", TUBINGEN, SCREAM, "-o", out, "--method", "arbitrary",
                                "--size", "64", "--quiet"]])
    assert rc == 0, capsys.readouterr().err
    assert Image.open(out).size == (64, 48)


# ----------------------------------------------------------------------------- the Python API


def test_api_returns_a_result_like_the_optimizers(tmp_path):
    out = tmp_path / "api.png"
    result = tf_style.stylize(TUBINGEN, [SCREAM, STARRY], method="arbitrary", size=SIZE, strength=0.7,
                              style_blend=(3, 1), output=out, dtype="float32")
    assert isinstance(result, tf_style.ArbitraryResult)
    assert result.image.size == (96, 72) and result.sizes == [(96, 72)]
    assert np.array_equal(np.asarray(result.image, np.float32), _rgb(out))
    assert result.seconds > 0 and result.iterations == 0 and result.history == []
    assert "magenta-arbitrary" in result.backbone and "style_transform.npz" in result.weights_source
    data = result.to_dict(out)
    assert data["method"] == "arbitrary" and data["output"] == str(out)
    assert data["strength"] == 0.7 and data["style_blend"] == [0.75, 0.25]
    expected = arb.stylize_arbitrary(_photo(), [SCREAM, STARRY], blend=[3, 1], strength=0.7)
    assert np.abs(np.asarray(result.image, np.float32) - expected).max() <= 1.0
    # From arrays and PIL images too, without writing anything.
    again = tf_style.stylize(im.read_image(TUBINGEN), np.asarray(im.read_image(SCREAM)), method="arbitrary",
                             size=SIZE)
    assert again.image.size == (96, 72) and again.to_dict()["output"] is None


@pytest.mark.parametrize("options, match", [
    (dict(iterations=5), r"iterations: only used by method 'gatys'"),
    (dict(optimizer="adam"), r"optimizer: only used by method 'gatys'"),
    (dict(backbone="vgg19"), r"backbone: only used by method 'gatys'"),
    (dict(save_every=2), r"save_every: only used by method 'gatys'"),
    (dict(strength=1.5), r"strength: expected a number in \[0, 1\], got 1.5"),
    (dict(strength="0.5"), r"strength: .*'0.5'"),
    (dict(strength=float("nan")), r"strength: .*nan"),
    (dict(style_scale=0.1), r"style_scale: .*0.1"),
    (dict(style_blend=(0, 0)), r"style_blend: .*not all be 0"),
    (dict(style_blend=(1, 2, 3)), r"style_blend: expected 1 weights .* got 3"),
    (dict(size=8), r"size: .*\b8\b"),
    (dict(preserve_color="yes"), r"preserve_color: .*'yes'"),
    (dict(brightness=2), r"unknown option\(s\): brightness"),
    (dict(method="arbitary"), r"method: .*'arbitary'.*did you mean 'arbitrary'"),
])
def test_api_refuses_bad_options(tmp_path, options, match):
    out = tmp_path / "out.png"
    options = {"method": "arbitrary", **options}
    with pytest.raises(OptionError, match=match):
        tf_style.stylize(TUBINGEN, SCREAM, output=out, **options)
    assert not out.exists()


def test_the_optimizers_json_names_its_method_too():
    from tf_style.config import StylizeConfig
    from tf_style.transfer import StylizeResult

    result = StylizeResult(image=Image.new("RGB", (4, 3)), history=[], config=StylizeConfig(), backbone="vgg19",
                           weights_source="imagenet", seconds=1.0, iterations=0, sizes=[(4, 3)])
    assert result.to_dict("o.png")["method"] == "gatys"


def test_api_gatys_refuses_strength():
    with pytest.raises(OptionError, match="strength: only used by method 'arbitrary'"):
        tf_style.stylize(TUBINGEN, SCREAM, strength=0.5)


def test_api_bad_files(tmp_path):
    (tmp_path / "notes.jpg").write_text("not a picture")
    Image.new("RGB", (8, 8)).save(tmp_path / "tiny.png")
    out = tmp_path / "out.png"
    with pytest.raises(ImageReadError, match="notes.jpg"):
        tf_style.stylize(tmp_path / "notes.jpg", SCREAM, method="arbitrary", output=out)
    with pytest.raises(ImageSizeError, match=r"tiny.png.*8x8"):
        tf_style.stylize(TUBINGEN, tmp_path / "tiny.png", method="arbitrary", output=out)
    with pytest.raises(ImageSizeError, match=r"tiny.png.*8x8"):
        tf_style.stylize(tmp_path / "tiny.png", SCREAM, method="arbitrary", output=out)
    assert not out.exists()


def test_prepare_checks_everything_without_loading_a_network(tmp_path):
    with mock.patch.object(arb, "_shipped_models", side_effect=AssertionError("loaded")):
        job = one_pass.prepare(TUBINGEN, [SCREAM, STARRY], ArbitraryConfig(size=64, style_blend=(1, 3)))
    assert job.photo.shape == (48, 64, 3) and job.blend == (0.25, 0.75) and len(job.paintings) == 2


# ----------------------------------------------------------------------------- bad input


@pytest.fixture
def work(tmp_path):
    w = bad_input_folder(tmp_path / "work", (SCREAM.name, STARRY.name))
    Image.new("RGB", (1000, 40), (10, 200, 10)).save(w / "strip.png")
    return w


def _case(case_id, options=(), needles=(), *, inputs=("{content}", "{style}")):
    return pytest.param(list(inputs), list(options), list(needles), id=case_id)


TWO = ("{content}", "{style}", "{style2}")
OPTIMIZER_ONLY = {  # a valid value of each optimizer-only option
    "--iterations": "5", "--pyramid": "2", "--optimizer": "adam", "--learning-rate": "2",
    "--content-weight": "1", "--style-weight": "10", "--tv-weight": "0", "--content-layers": "block4_conv2",
    "--style-layers": "block1_conv1", "--style-layer-weights": "1", "--init": "noise",
    "--backbone": "auto", "--weights": "w.h5", "--pooling": "avg", "--padding": "reflect", "--seed": "0", "--tile": "512",
    "--tile-iterations": "10", "--save-every": "0", "--plot": "p.png",
}
BAD = [
    _case("content-missing", (), [r"missing\.jpg", "no such file"], inputs=("{work}/missing.jpg", "{style}")),
    _case("content-empty", (), [r"empty\.jpg", "empty"], inputs=("{work}/empty.jpg", "{style}")),
    _case("content-not-an-image", (), [r"notes\.jpg", "not an image"], inputs=("{work}/notes.jpg", "{style}")),
    _case("content-truncated", (), [r"truncated\.jpg", "truncated"], inputs=("{work}/truncated.jpg", "{style}")),
    _case("content-too-small", (), [r"tiny\.png", r"\b8x8\b", r"\b16\b"], inputs=("{work}/tiny.png", "{style}")),
    _case("content-too-thin-at-this-size", ("--size", "64"), ["--size", r"\b64x3\b", r"\b16\b"],
          inputs=("{work}/strip.png", "{style}")),
    _case("style-missing", (), [r"nostyle\.jpg", "no such file"], inputs=("{content}", "{work}/nostyle.jpg")),
    _case("style-not-an-image", (), [r"notes\.jpg", "not an image"], inputs=("{content}", "{work}/notes.jpg")),
    _case("style-truncated", (), [r"truncated\.jpg", "truncated"], inputs=("{content}", "{work}/truncated.jpg")),
    _case("style-too-small", (), [r"tiny\.png", r"\b8x8\b"], inputs=("{content}", "{work}/tiny.png")),
    _case("second-style-missing", (), [r"nostyle\.jpg"], inputs=("{content}", "{style}", "{work}/nostyle.jpg")),
    _case("dtype-unknown", ("--dtype", "float16"), ["dtype", "float16"]),
    _case("strength-negative", ("--strength", "-0.1"), ["--strength", r"-0\.1"]),
    _case("strength-above-1", ("--strength", "1.5"), ["--strength", r"1\.5"]),
    _case("strength-nan", ("--strength", "nan"), ["--strength", r"\bnan\b"]),
    _case("strength-text", ("--strength", "strong"), ["--strength", r"'strong'"]),
    _case("blend-count", ("--style-blend", "1,2,3"), ["--style-blend", r"\b2\b", r"\b3\b"], inputs=TWO),
    _case("blend-negative", ("--style-blend", "1,-1"), ["--style-blend", r"-1"], inputs=TWO),
    _case("blend-all-zero", ("--style-blend", "0,0"), ["--style-blend", "not all be 0"], inputs=TWO),
    _case("blend-not-numbers", ("--style-blend", "a,b"), ["--style-blend", r"'a"], inputs=TWO),
    _case("style-scale-zero", ("--style-scale", "0"), ["--style-scale", r"\b0(\.0)?\b"]),
    _case("style-scale-too-small", ("--style-scale", "0.1"), ["--style-scale", r"0\.1", r"0\.125"]),
    _case("style-scale-too-large", ("--style-scale", "100"), ["--style-scale", r"\b100\b"]),
    _case("style-scale-nan", ("--style-scale", "nan"), ["--style-scale", r"\bnan\b"]),
    _case("size-too-small", ("--size", "10"), ["--size", r"\b10\b"]),
    _case("method-unknown", ("--method", "fast"), ["--method", r"'fast'", "gatys", "arbitrary"]),
    _case("output-is-the-style", ("-o", "{style}"), [r"style\.jpg", "same file"]),
    _case("output-gif", ("-o", "{work}/out.gif"), [r"\.gif"]),
    *[_case(f"optimizer-only{flag}", (flag, value), [re.escape(flag), "only used with --method gatys"])
      for flag, value in OPTIMIZER_ONLY.items()],
]


def _fill(template: str, work: Path) -> str:
    return template.format(work=work, content=work / "content.jpg", style=work / "style.jpg",
                           style2=work / "style2.jpg")


@pytest.mark.parametrize("inputs, options, needles", BAD)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(work, capsys, inputs, options, needles):
    argv = ["stylize", *(_fill(i, work) for i in inputs), "-o", str(work / "out.png"), "--method", "arbitrary",
            "--size", "64", "--quiet", *(_fill(o, work) for o in options)]
    if "--method" in options[:1]:  # the case's own --method replaces ours
        argv.remove("arbitrary")
        argv.remove("--method")
    for existing in (None, b"an earlier result, not to be touched"):
        if existing is not None:
            (work / "out.png").write_bytes(existing)
        before = _snapshot(work)
        capsys.readouterr()
        rc = main(argv)
        stdout, stderr = capsys.readouterr()
        assert (rc, stdout) == (2, ""), stderr
        _check_one_error_line(stderr, needles)
        assert _snapshot(work) == before  # no output, no temp file, an earlier output untouched


def test_strength_with_the_optimizer_is_an_error(work, capsys):
    argv = ["stylize", work / "content.jpg", work / "style.jpg", "-o", work / "out.png", "--strength", "0.5"]
    rc = main([str(a) for a in argv])
    _, stderr = capsys.readouterr()
    assert rc == 2
    _check_one_error_line(stderr, ["--strength", "only used with --method arbitrary"])
    assert not (work / "out.png").exists()


def test_optimizer_options_left_out_take_the_config_defaults():
    """They default to None in argparse (to tell "given" from "left out")."""
    args = cli.build_parser().parse_args(["stylize", "c.jpg", "s.jpg", "-o", "o.png"])
    assert args.method == "gatys"
    assert all(getattr(args, dest) is None for dest, _ in cli._OPTIMIZER_ONLY)
    assert args.strength is None


def test_a_pass_too_big_for_the_memory_is_refused(work, capsys, monkeypatch):
    from tf_style import transfer

    monkeypatch.setattr(system, "available_memory", lambda: 8 * 2**30)  # 8 GiB on any machine
    before = _snapshot(work)
    rc = main([str(a) for a in ["stylize", work / "content.jpg", work / "style.jpg", "-o", work / "out.png",
                                "--method", "arbitrary", "--size", "8192", "--quiet"]])
    _, stderr = capsys.readouterr()
    assert rc == 2
    _check_one_error_line(stderr, ["--size", r"\b8192x6144\b", "GiB", "smaller --size"])
    assert _snapshot(work) == before


def test_ctrl_c_during_the_pass_leaves_no_file(work, capsys):
    out = work / "out.png"
    before = _snapshot(work)
    with mock.patch.object(arb, "stylize_with_vector", side_effect=KeyboardInterrupt):
        rc = main([str(a) for a in ["stylize", work / "content.jpg", work / "style.jpg", "-o", out,
                                    "--method", "arbitrary", "--size", "64", "--quiet"]])
    assert rc == cli.EXIT_INTERRUPTED
    assert "interrupted" in capsys.readouterr().err
    assert _snapshot(work) == before


def test_bad_input_fails_before_tensorflow_loads(tmp_path):
    code = ("import sys, tf_style.cli as c; "
            f"rc = c.main(['stylize', {str(TUBINGEN)!r}, 'nostyle.jpg', '-o', 'o.png', '--method', 'arbitrary']); "
            "assert rc == 2, rc; assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().startswith(ERROR_PREFIX) and "nostyle.jpg" in proc.stderr


@pytest.mark.slow
def test_the_issues_acceptance_command(tmp_path):
    """``tf-style stylize tubingen.jpg the_scream.jpg -o out.png --method arbitrary --json``, offline."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent), TF_STYLE_OFFLINE="1",
               KERAS_HOME=str(tmp_path / "empty_keras_home"))
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.run([sys.executable, "-m", "tf_style", "stylize", str(TUBINGEN), str(SCREAM), "-o", "out.png",
                           "--method", "arbitrary", "--json"], capture_output=True, text=True, cwd=work,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["size"] == [512, 384] and data["method"] == "arbitrary"
    assert Image.open(work / "out.png").size == (512, 384)
    assert sorted(p.name for p in work.iterdir()) == ["out.png"]
