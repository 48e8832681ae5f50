"""Test helpers shared by the test modules: generated pictures, the tiny layers, CLI runs and checks.

No binary test files are committed: every picture is made here. Fixtures (the tiny backbone,
a tiny saved network) are in ``conftest.py``; the Keras model checks in ``harness.py``.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
import types
from pathlib import Path
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image

#: The example pictures shipped with the repository (Tuebingen, The Starry Night, ...).
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "images"
#: The repository root.
ROOT = EXAMPLES.parents[1]
#: The shipped per-style networks, ``models/NAME.keras``, and their paintings,
#: ``examples/images/PAINTING.jpg`` (models/README.md).
SHIPPED_NETWORKS = types.MappingProxyType({
    "starry_night_mobile": "starry_night", "the_scream_mobile": "the_scream",
    "starry_night_johnson": "starry_night", "the_scream_johnson": "the_scream",
})
#: What every CLI error line starts with.
ERROR_PREFIX = "tf-style: error: "

#: The tiny backbone's three layers (``conftest.tiny``), and the content/style split the tests use.
TINY_BACKBONE_LAYERS: Tuple[str, ...] = ("block1_conv1", "block2_conv1", "block3_conv1")
TINY_LAYERS = types.MappingProxyType(dict(content_layers=("block2_conv1",), style_layers=TINY_BACKBONE_LAYERS))


# --------------------------------------------------------------------------- pictures


def photo(
    w: int = 48,
    h: int = 40,
    seed: int = 0,
    *,
    blue: Union[float, Callable[[np.ndarray], np.ndarray]] = 128.0,
    contrast: float = 0.8,
    noise: float = 50.0,
) -> np.ndarray:
    """A smooth colour gradient with uniform noise: an HxWx3 uint8 "photo".

    Red rises left to right, green top to bottom; ``blue`` is a number or a function of the
    column index; ``contrast`` scales the gradient and ``noise`` is the noise's range.

    >>> photo(32, 24).shape, photo(32, 24).dtype
    ((24, 32, 3), dtype('uint8'))
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    third = blue(xx) if callable(blue) else np.full_like(xx, blue)
    base = np.stack([xx * 255 / w, yy * 255 / h, third], -1)
    return (base * contrast + rng.uniform(0, noise, size=(h, w, 3))).clip(0, 255).astype(np.uint8)


def painting(w: int = 40, h: int = 40, seed: int = 1, *, noise: float = 10.0) -> np.ndarray:
    """Coloured vertical stripes with normal noise (``noise``: its spread; 0 for clean stripes).

    An HxWx3 uint8 "painting" with a clear texture.
    """
    rng = np.random.default_rng(seed)
    stripes = (np.sin(np.arange(w) / 1.5)[None, :, None] * 120 + 128) * np.array([1.0, 0.3, 0.6])
    return (np.broadcast_to(stripes, (h, w, 3)) + rng.normal(0, noise, (h, w, 3))).clip(0, 255).astype(np.uint8)


def data_photo(w: int, h: int, seed: int) -> np.ndarray:
    """A training photo: a :func:`photo` whose blue and noise change with ``seed`` (a varied data set)."""
    return photo(w, h, seed, blue=60.0 * (seed % 4), contrast=0.7, noise=70.0)


def photo_folder(folder: Path, n: int = 5, sizes=((24, 30), (20, 20), (32, 28), (16, 40), (30, 30))) -> Path:
    """``folder`` with ``n`` PNG :func:`data_photo` files ``photo{i}.png`` of the (height, width) ``sizes`` in turn."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        h, w = sizes[i % len(sizes)]
        Image.fromarray(data_photo(w, h, i)).save(folder / f"photo{i}.png")
    return folder


def stripes(size: int = 32) -> np.ndarray:
    """A :func:`painting` without noise, ``size`` px square: the style of the training tests."""
    return painting(size, size, noise=0.0)


def noise(shape: Sequence[int], seed: int = 0) -> np.ndarray:
    """Uniform float32 pixels in [0, 255) of any ``shape`` (a batch ``[N, H, W, 3]`` for networks)."""
    return np.random.default_rng(seed).uniform(0, 255, tuple(shape)).astype("float32")


def noise_picture(w: int, h: int, seed: int = 0) -> Image.Image:
    """A ``w`` x ``h`` RGB picture of uniform uint8 noise (compresses badly: large files)."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def picture_files(folder: Path) -> Tuple[str, str]:
    """A 64x48 :func:`photo` and a :func:`painting` written as PNG files in ``folder``: (photo, painting)."""
    content, style = folder / "photo.png", folder / "painting.png"
    Image.fromarray(photo(64, 48)).save(content)
    Image.fromarray(painting()).save(style)
    return str(content), str(style)


def region(image: Image.Image, box: Tuple[int, int, int, int]) -> np.ndarray:
    """The pixels of ``image`` inside ``box`` = (left, top, right, bottom), as an array."""
    return np.asarray(image.crop(box))


def psnr(a, b, peak: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB of two pictures (``inf`` when they are equal)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(peak**2 / mse))


def weights(model) -> list:
    """A model's weights as numpy arrays (to compare two models or one before and after)."""
    return [np.asarray(w) for w in model.get_weights()]


def save_tiny_network(path: Path) -> Path:
    """A tiny untrained per-style network (mobile, width 0.25, seed 5) saved as ``.keras`` at ``path``."""
    from tf_style.networks import StyleTransformer

    StyleTransformer("mobile", 0.25, seed=5).save(path)
    return path


# --------------------------------------------------------------------------- the command line


def load_script(relative: str, name: Optional[str] = None) -> types.ModuleType:
    """A repository script (``scripts/``, ``bench/``, ``export/``: not a package) as a module.

    Registered in ``sys.modules`` under ``name`` (default: the file's stem) before it runs,
    because dataclasses look their module up while it loads.
    """
    path = ROOT / relative
    name = name or path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def run_cli(argv, capsys) -> Tuple[int, str, str]:
    """Run ``tf-style`` in-process; returns (exit status, stdout, stderr)."""
    from tf_style.cli import main

    capsys.readouterr()  # drop anything printed before
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def one_error_line(stderr: str, needles: Sequence[str] = (), *, prefix: str = ERROR_PREFIX) -> str:
    """The CLI's one error line: no traceback, exactly one line, ``prefix``, each regex of ``needles``."""
    assert "Traceback" not in stderr, stderr
    assert stderr.endswith("\n") and stderr.count("\n") == 1, f"expected one line, got:\n{stderr}"
    line = stderr.rstrip("\n")
    assert line.startswith(prefix), line
    for needle in needles:
        assert re.search(needle, line), f"{needle!r} not in {line!r}"
    return line


def bad_input_folder(folder: Path, styles: Sequence[str] = ("starry_night.jpg", "the_scream.jpg")) -> Path:
    """``folder`` (made) with the inputs of the CLI's bad-input tests, good and broken.

    ``content.jpg`` (Tuebingen), ``style.jpg`` and ``style2.jpg`` (the two example ``styles``),
    ``empty.jpg`` (0 bytes), ``notes.jpg`` (text), ``truncated.jpg`` (a JPEG's first 1000 bytes)
    and ``tiny.png`` (8x8).
    """
    folder.mkdir()
    tubingen = EXAMPLES / "tubingen.jpg"
    shutil.copyfile(tubingen, folder / "content.jpg")
    for name, style in zip(("style.jpg", "style2.jpg"), styles):
        shutil.copyfile(EXAMPLES / style, folder / name)
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("shopping list: milk, eggs\n")
    (folder / "truncated.jpg").write_bytes(tubingen.read_bytes()[:1000])
    Image.new("RGB", (8, 8), (10, 200, 10)).save(folder / "tiny.png")
    return folder


def snapshot(folder: Path) -> Dict[str, Optional[bytes]]:
    """Every entry under ``folder``: file bytes (symlinks followed), None for folders."""
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None) for p in sorted(folder.rglob("*"))}
