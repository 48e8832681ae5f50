"""A full disk while writing: a clear error, the earlier output or checkpoint intact.

Two real (not mocked) ways to make writes fail:

* a small tmpfs filled to the brim (``ENOSPC``), when this process may mount one (root
  with CAP_SYS_ADMIN, as in CI containers); skipped otherwise;
* ``RLIMIT_FSIZE`` in a subprocess (``EFBIG`` on any write past the limit), which works
  for every user.

Mocked write failures for each writer are in test_image.py, test_train.py and
test_export.py.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import helpers
from helpers import ERROR_PREFIX, EXAMPLES
from helpers import run_cli as _main
from tf_style import backbones as bb
from tf_style.errors import OutputError
from tf_style.train import train


@contextlib.contextmanager
def _tmpfs(folder: Path, options: str):
    """``folder`` as a tmpfs mounted with ``options`` for the block; skips where mounting is
    not allowed."""
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def disk(tmp_path):
    """A 4 MiB tmpfs at ``tmp_path / "disk"``; ``fill(disk)`` then leaves ``slack`` bytes free."""
    mount = tmp_path / "disk"
    mount.mkdir()
    with _tmpfs(mount, "size=4m"):
        yield mount


def fill(folder: Path, slack: int = 0) -> Path:
    """Take all free space on ``folder``'s file system except ``slack`` bytes."""
    filler = folder / f".filler-{uuid.uuid4().hex[:6]}"
    st = os.statvfs(folder)
    free = st.f_bavail * st.f_frsize
    with open(filler, "wb") as f:
        try:
            f.write(b"\0" * max(0, free - slack))
            f.flush()
        except OSError:
            pass  # full already: that is the point
    return filler


def _one_line(rc, err, *words):
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(ERROR_PREFIX), err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def _files(folder: Path):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if ".filler" not in p.name)


def _photo(tmp_path, w=96, h=72):
    path = tmp_path / "photo.png"
    helpers.noise_picture(w, h).save(path)
    return path


# --------------------------------------------------------------------------- tmpfs, in process


def test_full_disk_apply_keeps_the_previous_picture(disk, model_path, tmp_path, capsys):
    photo, out = _photo(tmp_path), disk / "out.png"
    rc, _, err = _main(["apply", model_path, photo, "-o", out, "--quiet"], capsys)
    assert rc == 0, err
    before = out.read_bytes()
    fill(disk, slack=1024)  # the new noisy PNG (~20 KB) cannot fit
    rc, _, err = _main(["apply", model_path, photo, "-o", out, "--quiet", "--strength", "0.5"], capsys)
    line = _one_line(rc, err, str(out))
    assert "No space left on device" in line
    assert out.read_bytes() == before
    assert _files(disk) == ["out.png"]  # no temporary file left behind


def test_full_disk_stylize_keeps_the_previous_picture(disk, tmp_path, capsys):
    out = disk / "out.png"
    out.write_bytes(b"previous picture")
    fill(disk, slack=1024)
    rc, _, err = _main(["stylize", EXAMPLES / "tubingen.jpg", EXAMPLES / "starry_night.jpg", "-o", out,
                        "--size", "64", "--iterations", "1", "--pyramid", "1", "--backbone", "vgg16-hed",
                        "--quiet"], capsys)
    assert "No space left on device" in _one_line(rc, err, str(out))
    assert out.read_bytes() == b"previous picture"
    assert _files(disk) == ["out.png"]


@pytest.mark.slow  # 44 s: keeps the quick subset under 5 minutes
@pytest.mark.parametrize("kind", ["saved_model", "tflite"])
def test_full_disk_export_keeps_the_previous_export(disk, model_path, kind, capsys):
    out = disk / ("sm" if kind == "saved_model" else "m.tflite")
    flag = "--saved-model" if kind == "saved_model" else "--tflite"
    rc, _, err = _main(["export", model_path, flag, out, "--quiet"], capsys)
    assert rc == 0, err
    before = {p: p.read_bytes() for p in ([out] if out.is_file() else sorted(out.rglob("*.pb")))}
    fill(disk, slack=4096)
    rc, _, err = _main(["export", model_path, flag, out, "--force", "--quiet"], capsys)
    assert "No space left on device" in _one_line(rc, err, str(out))
    assert {p: p.read_bytes() for p in before} == before
    if kind == "saved_model":  # still loads and runs
        served = tf.saved_model.load(str(out)).signatures["serving_default"]
        assert served(images=tf.zeros([1, 16, 16, 3]))["stylized"].shape == (1, 16, 16, 3)
    names = _files(disk)
    assert not [n for n in names if ".tmp" in n or ".old" in n], names


@pytest.mark.slow
def test_full_disk_train_keeps_the_last_checkpoint(disk, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(1)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(data / f"p{i}.png")
    painting = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    tiny = bb.tiny_backbone(("block1_conv1", "block2_conv1", "block3_conv1"))
    opts = dict(size=16, batch=2, architecture="mobile", width=0.25, content_layers=("block2_conv1",),
                style_layers=("block1_conv1", "block2_conv1"), sample_every=0, checkpoint_every=2)
    run = disk / "run"
    train(painting, data, run, backbone=tiny, steps=2, **opts)
    # Room for the run description, not for a checkpoint (~100 KB with Adam's slots).
    filler = fill(disk, slack=16 * 1024)
    with pytest.raises(OutputError, match=r"No space left on device") as info:
        train(painting, data, run, backbone=tiny, resume=True, steps=4, **opts)
    assert "checkpoint" in str(info.value) and str(run) in str(info.value)
    assert tf.train.latest_checkpoint(str(run / "checkpoints")).endswith("ckpt-2")
    leftovers = [n for n in _files(run) if "ckpt-4" in n or "_temp" in n or ".tmp" in n]
    assert leftovers == []
    filler.unlink()  # space again: the run resumes from step 2 and finishes
    result = train(painting, data, run, backbone=tiny, resume=True, steps=4, **opts)
    assert result.start_step == 2 and result.step == 4 and result.model_path.is_file()


# --------------------------------------------------------------------------- RLIMIT_FSIZE, subprocess

_LIMITED = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # write() then fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
from tf_style.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_file_size_limit_apply_and_export(model_path, tmp_path):
    photo = _photo(tmp_path, 256, 192)  # noise: its PNG is ~150 KB
    out = tmp_path / "out.png"
    out.write_bytes(b"previous")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    code = _LIMITED.format(limit=64 * 1024)
    for argv, target in (
        (["apply", str(model_path), str(photo), "-o", str(out), "--quiet"], out),
        (["export", str(model_path), "--tflite", str(tmp_path / "m.tflite"), "--quiet"],
         tmp_path / "m.tflite"),
    ):
        done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                              env=env, timeout=300)
        assert done.returncode == 2, done.stderr
        lines = [ln for ln in done.stderr.splitlines() if ln.startswith("tf-style")]
        assert len(lines) == 1 and lines[0].startswith(ERROR_PREFIX), done.stderr
        assert "File too large" in lines[0], lines[0]
    assert out.read_bytes() == b"previous"
    assert not (tmp_path / "m.tflite").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png", "photo.png"]


# --------------------------------------------------------------------------- unwritable output


@pytest.fixture(params=["read-only mount", "chmod 555"])
def locked(request, tmp_path):
    """A folder nobody may write to: a read-only tmpfs (stops root too) or a chmod 555
    folder (stops other users; skipped as root, who ignores permissions)."""
    folder = tmp_path / "locked ü"
    folder.mkdir()
    if request.param == "chmod 555":
        if os.geteuid() == 0:
            pytest.skip("root ignores permission bits; the read-only mount covers root")
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    with _tmpfs(folder, "ro,size=1m"):
        yield folder


def test_unwritable_output_folder_every_writer(locked, model_path, tmp_path, capsys):
    photo, style = _photo(tmp_path), EXAMPLES / "starry_night.jpg"
    data = tmp_path / "data"
    data.mkdir()
    Image.open(photo).save(data / "a.png")
    commands = {
        "stylize": (["stylize", photo, style, "-o", locked / "out.png", "--size", "64",
                     "--backbone", "vgg16-hed"], locked / "out.png"),
        "apply": (["apply", model_path, photo, "-o", locked / "out.png"], locked / "out.png"),
        "train": (["train", "--style", style, "--data", data, "--out", locked / "run",
                   "--steps", "1", "--size", "32", "--backbone", "vgg16-hed"], locked / "run"),
        "train nested": (["train", "--style", style, "--data", data, "--out", locked / "a" / "run",
                          "--steps", "1", "--size", "32", "--backbone", "vgg16-hed"], locked / "a"),
        "export saved model": (["export", model_path, "--saved-model", locked / "sm"], locked / "sm"),
        "export tflite": (["export", model_path, "--tflite", locked / "m.tflite"], locked / "m.tflite"),
    }
    for what, (argv, target) in commands.items():
        rc, _, err = _main(argv, capsys)
        line = _one_line(rc, err, str(locked))
        assert "not writable" in line, (what, line)
        assert not target.exists(), what
    assert list(locked.iterdir()) == []


@pytest.mark.slow
def test_nothing_written_outside_the_requested_outputs(model_path, tmp_path):
    """Each command, run in an empty folder with an empty TMPDIR, leaves exactly its output
    there (the TFLite conversion's temporary SavedModel is removed from TMPDIR)."""
    work, tmp, out = tmp_path / "cwd", tmp_path / "tmp", tmp_path / "out"
    for folder in (work, tmp, out):
        folder.mkdir()
    photo = _photo(tmp_path)
    env = dict(os.environ, TMPDIR=str(tmp), TF_CPP_MIN_LOG_LEVEL="3")
    commands = [
        (["apply", model_path, photo, "-o", out / "a.png"], ["a.png"]),
        (["export", model_path, "--tflite", out / "m.tflite", "--size", "32"], ["a.png", "m.tflite"]),
        (["export", model_path, "--saved-model", out / "sm"], ["a.png", "m.tflite", "sm"]),
    ]
    for argv, expected in commands:
        done = subprocess.run([sys.executable, "-m", "tf_style", *map(str, argv), "--quiet"], cwd=work,
                              env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert sorted(p.name for p in out.iterdir()) == expected
        assert list(work.iterdir()) == [] and list(tmp.iterdir()) == [], (argv, list(tmp.iterdir()))
