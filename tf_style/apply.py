"""Applying a trained fast style network: one forward pass per photo.

Example:
    >>> from tf_style.apply import load_stylizer
    >>> stylizer = load_stylizer("models/starry_night_mobile.keras")  # doctest: +SKIP
    >>> stylizer.stylize("tubingen.jpg", size=512, strength=0.8).save("out.png")  # doctest: +SKIP

Model files are dispatched on their kind (:func:`model_kind`): a ``.keras`` file
(loaded with ``safe_mode=True``), a SavedModel folder or a ``.tflite`` file (both as
written by ``tf-style export``). :mod:`tf_style.runtime` loads and runs every kind
(:func:`tf_style.runtime.load_runner`); this module turns its runners into stylizers
(photos in, pictures out) and applies them to files.

Arbitrary-style models (:mod:`tf_style.arbitrary`: the word ``"arbitrary"`` for the shipped
networks, a one-file ``.keras``, or their SavedModel / TFLite pair folder from
``tf-style export``) load as an :class:`ArbitraryStylizer`, whose ``stylize`` also takes
the painting (``style=``).

    >>> s = load_stylizer("arbitrary")  # doctest: +SKIP
    >>> s.stylize("tubingen.jpg", style="the_scream.jpg", strength=0.8, size=512)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import keras
import numpy as np
from PIL import Image

from tf_style import image as im
from tf_style import networks
from tf_style import runtime as rt
from tf_style.config import check_apply_size, check_strength
from tf_style.errors import ModelLoadError, OptionError, OutputError
from tf_style.runtime import ARBITRARY_WORD, model_kind  # noqa: F401  (re-exported)

__all__ = [
    "ArbitraryStylizer",
    "FastStylizer",
    "load_stylizer",
    "model_kind",
    "plan_outputs",
    "apply_files",
]

PathLike = Union[str, os.PathLike]
#: A loaded network: float32 ``[1, H, W, 3]`` in [0, 255] -> the same shape and range
#: (a :class:`tf_style.runtime.StyleRunner`, or any such callable).
Forward = Callable[[np.ndarray], np.ndarray]


def _read_photo(image: im.ImageLike, size: Optional[int]) -> Tuple[Image.Image, np.ndarray]:
    """The photo, resized to a long side of ``size`` (None: as it is) and checked, and its array."""
    photo = im.read_image(image)
    if size is not None:
        photo = im.resize_long_side(photo, size)
    name = os.fsdecode(image) if isinstance(image, (str, os.PathLike)) else "image"
    im.check_min_size(photo, networks.MIN_SIZE, name=name)
    return photo, im.to_array(photo)


def _check_strength(strength: object) -> float:
    if isinstance(strength, np.ndarray) and strength.ndim == 0:  # a 0-d array, e.g. from a sweep
        strength = strength.item()
    return check_strength(strength)


class FastStylizer:
    """A trained style network, ready to stylize photos of any size.

    Example:
        >>> s = load_stylizer("starry.keras")  # doctest: +SKIP
        >>> s.stylize("photo.jpg", size=512, preserve_color=True).size  # doctest: +SKIP
        (512, 384)
    """

    #: False: one network per style (``stylize`` takes no painting); see :class:`ArbitraryStylizer`.
    arbitrary = False

    def __init__(self, forward: Forward, *, source: str, kind: str, model: Optional[keras.Model] = None) -> None:
        self._forward = forward
        self.source = source
        self.kind = kind
        #: The Keras model for ``.keras`` files (None for other kinds).
        self.model = model

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """The raw network: float32 ``[N, H, W, 3]`` in [0, 255] -> the same shape."""
        return np.asarray(self._forward(np.asarray(images, np.float32)))

    def stylize(
        self,
        image: im.ImageLike,
        *,
        strength: float = 1.0,
        preserve_color: bool = False,
        size: Optional[int] = None,
        style: Optional[im.ImageLike] = None,
    ) -> Image.Image:
        """Stylize one photo; returns an RGB image of the input's (resized) size.

        ``size`` resizes the input first so its long side is ``size`` px; ``strength``
        blends the result with the photo (0: the photo, 1: the network's output);
        ``preserve_color`` keeps the photo's colours (the result's luminance only).
        ``style`` must be None: the network has its painting built in.
        """
        _check_no_style(style, self.source)
        strength = _check_strength(strength)
        photo, arr = _read_photo(image, check_apply_size(size))
        fixed = getattr(self._forward, "input_size", None)
        if fixed is not None:  # a TFLite model converted for one size: resize there and back
            h, w = fixed
            styled = self(im.to_array(im.resize_to(photo, (w, h)))[None])[0]
            out = im.to_array(im.resize_to(im.to_pil(styled), photo.size))
        else:
            out = self(arr[None])[0]
        if out.shape != arr.shape:  # a foreign SavedModel/TFLite could crop or pad
            raise ModelLoadError(f"{self.source}: returned shape {out.shape} for an input of shape {arr.shape}")
        out = np.clip(out, 0.0, 255.0)
        if strength < 1.0:
            out = networks.blend(arr, out, strength)
        if preserve_color:
            out = im.match_luminance_transfer(out, arr)
        return im.to_pil(out)


def _check_no_style(style: object, source: str) -> None:
    if style is not None:
        raise OptionError(f"style: only for arbitrary-style models; {source} is a per-style network "
                          f"(its painting is built in)")


class ArbitraryStylizer:
    """An arbitrary-style model (any painting), ready to stylize photos of any size.

    Same ``stylize`` as :class:`FastStylizer` plus the painting: ``style`` (path, PIL image
    or HxWx3 array) is required; ``strength`` interpolates the style vectors as the paper
    does (0: the photo's own vector, 1: the painting's). A painting's vector is computed once
    per stylizer (cached by path, size and mtime, or by an array's SHA-256).
    ``runner`` is the :class:`tf_style.runtime.ArbitraryRunner` underneath.

    Example:
        >>> s = load_stylizer("arbitrary")  # doctest: +SKIP
        >>> s.stylize("photo.jpg", style="the_scream.jpg", size=512).size  # doctest: +SKIP
        (512, 384)
    """

    arbitrary = True
    model = None

    def __init__(self, runner, *, source: str, kind: str) -> None:
        self.runner = runner
        self.source = source
        self.kind = kind
        #: The one-file Keras model (``"arbitrary"`` and ``.keras``; None for other kinds).
        self.model = getattr(runner, "model", None)
        self._vectors: Dict[str, np.ndarray] = {}

    def style_vector(self, style: im.ImageLike) -> np.ndarray:
        """The painting's [1, 100] style vector (cached)."""
        key = rt.style_key(style)
        if key is not None and key in self._vectors:
            return self._vectors[key]
        vector = np.asarray(self.runner.style_vector(style), np.float32)
        if key is not None:
            self._vectors[key] = vector
        return vector

    def __call__(self, images: np.ndarray, style: im.ImageLike, strength: float = 1.0) -> np.ndarray:
        """The raw pipeline: float32 ``[1, H, W, 3]`` in [0, 255] and a painting -> ``[1, H, W, 3]``."""
        return np.asarray(self.runner(np.asarray(images, np.float32), style, _check_strength(strength)))

    def stylize(
        self,
        image: im.ImageLike,
        *,
        style: Optional[im.ImageLike] = None,
        strength: float = 1.0,
        preserve_color: bool = False,
        size: Optional[int] = None,
    ) -> Image.Image:
        """Stylize one photo in the style of ``style``; an RGB image of the input's (resized) size."""
        if style is None:
            raise OptionError(f"style: {self.source} is an arbitrary-style model; give the painting "
                              f"(style=..., --style PAINTING)")
        strength = _check_strength(strength)
        photo, arr = _read_photo(image, check_apply_size(size))
        vector = self.style_vector(style)
        if strength < 1.0:
            own = np.asarray(self.runner.style_vector(arr), np.float32)
            vector = strength * vector + (1.0 - strength) * own
        fixed = self.runner.input_size
        if fixed is not None:  # a TFLite transformer converted for one size: resize there and back
            h, w = fixed
            styled = self.runner.transfer(im.to_array(im.resize_to(photo, (w, h)))[None], vector)[0]
            out = im.to_array(im.resize_to(im.to_pil(np.clip(styled, 0.0, 255.0)), photo.size))
        else:
            out = self.runner.transfer(arr[None], vector)[0]
        out = np.clip(out, 0.0, 255.0)
        if preserve_color:
            out = im.match_luminance_transfer(out, arr)
        return im.to_pil(out)


Stylizer = Union[FastStylizer, ArbitraryStylizer]


def load_stylizer(path: PathLike, *, trust_code: bool = False) -> Stylizer:
    """Load a trained network: a ``.keras`` file, a SavedModel folder or a ``.tflite`` file.

    SavedModel folders and ``.tflite`` files are those written by ``tf-style export``
    (run through :mod:`tf_style.runtime`'s runners); a TFLite model converted for a fixed
    size gets each photo resized to that size and the result resized back.

    ``.keras`` files load in Keras safe mode: one holding Python code (a ``Lambda``
    layer) is refused unless ``trust_code=True``, which runs that code; use it only for
    models from a source you trust.

    Arbitrary-style models (``"arbitrary"``: the shipped networks; a one-file ``.keras``;
    their SavedModel or TFLite pair folder) give an :class:`ArbitraryStylizer`.

    Raises :class:`ModelLoadError` for a missing, corrupt, unsafe or unknown model, or one
    that does not map an image to an image of the same size.

    Example:
        >>> load_stylizer("models/starry_night_mobile.keras").kind  # doctest: +SKIP
        'keras'
    """
    runner = rt.load_runner(path, trust_code=trust_code)
    if isinstance(runner, rt.ArbitraryRunner):
        return ArbitraryStylizer(runner, source=runner.source, kind=runner.kind)
    return FastStylizer(runner, source=runner.source, kind=runner.kind, model=runner.model)


# --------------------------------------------------------------------------- files


def plan_outputs(inputs: Sequence[PathLike], out: PathLike) -> List[Path]:
    """Output paths for ``inputs``: ``out`` itself for one input (unless it is a folder),
    else ``out/<input stem>.png``. Raises :class:`OutputError` before anything is written
    for clashes (two inputs with the same stem, an output equal to an input).

    >>> [str(p) for p in plan_outputs(["a/x.jpg", "b/y.png"], "styled")]
    ['styled/x.png', 'styled/y.png']
    """
    if not inputs:
        raise OptionError("images: expected at least one image")
    target = Path(os.fspath(out))
    if len(inputs) == 1 and not target.is_dir():
        return [target]
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target}: exists and is not a folder; with several images, -o must name a folder")
    paths = [target / (Path(os.fspath(p)).stem + ".png") for p in inputs]
    seen: Dict[Path, PathLike] = {}
    for src, dst in zip(inputs, paths):
        if dst in seen:
            raise OutputError(
                f"{dst}: both {os.fsdecode(seen[dst])} and {os.fsdecode(src)} would be written there; "
                f"rename one of them"
            )
        seen[dst] = src
    return paths


def apply_files(
    model: Union[PathLike, FastStylizer, ArbitraryStylizer],
    inputs: Sequence[PathLike],
    out: PathLike,
    *,
    size: Optional[int] = None,
    strength: float = 1.0,
    preserve_color: bool = False,
    log: Optional[Callable[[str], None]] = None,
    trust_code: bool = False,
    style: Optional[PathLike] = None,
) -> List[dict]:
    """Stylize image files into ``out`` (see :func:`plan_outputs`); what ``tf-style apply`` does.

    Every option, input image and output path is checked, and the model loaded, before the
    first output is written, so a bad model or image leaves no partial outputs. ``style``
    (a painting) is required for an arbitrary-style model and refused for a per-style one.
    Returns one ``{"input", "output", "size", "seconds"}`` dict per image.
    """
    log = log or (lambda message: None)
    strength = _check_strength(strength)
    size = check_apply_size(size)
    outputs = plan_outputs(inputs, out)
    if style is not None:
        im.read_image(style)  # a missing or broken painting fails before the model loads
    for src in inputs:  # read (decode) every input now: bad files fail before any work
        photo = im.read_image(src)
        if size is not None:
            photo = im.resize_long_side(photo, size)
        im.check_min_size(photo, networks.MIN_SIZE, name=os.fsdecode(src))
    loaded = isinstance(model, (FastStylizer, ArbitraryStylizer))
    stylizer = model if loaded else load_stylizer(model, trust_code=trust_code)
    if not stylizer.arbitrary:
        _check_no_style(style, stylizer.source)
    elif style is None:
        raise OptionError(f"style: {stylizer.source} is an arbitrary-style model; give the painting "
                          f"(--style PAINTING)")
    sources = list(inputs) + ([style] if style is not None else [])
    target = Path(os.fspath(out))
    if len(inputs) > 1 or target.is_dir():
        target.mkdir(parents=True, exist_ok=True)
    for dst in outputs:
        im.check_output_path(dst, inputs=sources)
    extra = {"style": style} if stylizer.arbitrary else {}
    results = []
    for src, dst in zip(inputs, outputs):
        t0 = time.perf_counter()
        picture = stylizer.stylize(src, strength=strength, preserve_color=preserve_color, size=size, **extra)
        im.save_image(picture, dst, inputs=sources)
        seconds = time.perf_counter() - t0
        log(f"wrote {dst} ({picture.size[0]}x{picture.size[1]}) in {seconds:.2f} s")
        results.append({"input": os.fsdecode(src), "output": str(dst), "size": list(picture.size),
                        "seconds": round(seconds, 3)})
    return results
