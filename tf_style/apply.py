"""Applying a trained fast style network: one forward pass per photo.

Example:
    >>> from tf_style.apply import load_stylizer
    >>> stylizer = load_stylizer("models/starry_night_mobile.keras")  # doctest: +SKIP
    >>> stylizer.stylize("tubingen.jpg", size=512, strength=0.8).save("out.png")  # doctest: +SKIP

Model files are dispatched on their kind (:func:`model_kind`): a ``.keras`` file
(loaded with ``safe_mode=True``; tf_style's layers are registered by
``tf_style.networks``), a SavedModel folder or a ``.tflite`` file (both as written by
``tf-style export``, run by :mod:`tf_style.export`'s runners). Each kind has one
loader in ``_LOADERS`` returning a callable ``[N, H, W, 3] float32 -> same``.

Arbitrary-style models (:mod:`tf_style.arbitrary`: the word ``"arbitrary"`` for the shipped
networks, a one-file ``.keras``, or their SavedModel / TFLite pair folder from
``tf-style export``) load as an :class:`ArbitraryStylizer`, whose ``stylize`` also takes
the painting (``style=``); run by :mod:`tf_style.export_arbitrary`'s runners.

    >>> s = load_stylizer("arbitrary")  # doctest: +SKIP
    >>> s.stylize("tubingen.jpg", style="the_scream.jpg", strength=0.8, size=512)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
import zipfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from tf_style import image as im
from tf_style import networks
from tf_style.errors import ModelLoadError, OptionError, OutputError, unsafe_model_hint

__all__ = [
    "ArbitraryStylizer",
    "FastStylizer",
    "load_stylizer",
    "model_kind",
    "plan_outputs",
    "apply_files",
]

PathLike = Union[str, os.PathLike]
#: A loaded network: float32 ``[1, H, W, 3]`` in [0, 255] -> the same shape and range.
Forward = Callable[[np.ndarray], np.ndarray]


def _oneline(text: object) -> str:
    return " ".join(str(text).split())


#: The model name meaning the shipped arbitrary-style networks (= export_arbitrary.ARBITRARY_WORD).
ARBITRARY_WORD = "arbitrary"
#: The two files of an arbitrary-style TFLite pair folder (= export_arbitrary's names).
_TFLITE_PAIR = ("style_predict.tflite", "style_transfer.tflite")


def model_kind(path: PathLike) -> str:
    """``"keras"``, ``"savedmodel"`` or ``"tflite"``, from the path; :class:`ModelLoadError` otherwise.

    A folder holding ``style_predict.tflite`` and ``style_transfer.tflite`` (an arbitrary-style
    TFLite pair) is ``"tflite"``.

    >>> model_kind("models/starry.keras")  # doctest: +SKIP
    'keras'
    """
    p = Path(os.fspath(path))
    if not p.exists():
        raise ModelLoadError(f"{p}: no such model file or folder")
    if p.is_dir():
        if (p / "saved_model.pb").is_file() or (p / "saved_model.pbtxt").is_file():
            return "savedmodel"
        if all((p / name).is_file() for name in _TFLITE_PAIR):
            return "tflite"
        raise ModelLoadError(f"{p}: a folder but not a SavedModel (no saved_model.pb in it) nor a "
                             f"TFLite pair ({' and '.join(_TFLITE_PAIR)})")
    suffix = p.suffix.lower()
    if suffix == ".keras":
        return "keras"
    if suffix == ".tflite":
        return "tflite"
    raise ModelLoadError(
        f"{p}: unknown model kind {suffix or '(no extension)'!r}; expected a .keras file, "
        f"a SavedModel folder or a .tflite file"
    )


def _probe(forward: Forward, source: str) -> None:
    """Fail at load time, not on the first photo, when the model is not a style network."""
    side = 32
    try:
        out = np.asarray(forward(np.zeros((1, side, side, 3), np.float32)))
    except Exception as err:  # noqa: BLE001 - whatever the foreign model raises
        raise ModelLoadError(
            f"{source}: not a style network (running it on a 1x{side}x{side}x3 image failed: "
            f"{type(err).__name__}: {_oneline(err)[:200]})"
        ) from None
    if out.shape != (1, side, side, 3):
        raise ModelLoadError(
            f"{source}: not a style network (it maps a 1x{side}x{side}x3 image to shape {out.shape})"
        )


def _load_keras(path: Path, trust_code: bool = False) -> Tuple[Forward, Optional[keras.Model]]:
    if not path.is_file():
        raise ModelLoadError(f"{path}: not a file")
    if not zipfile.is_zipfile(path):
        raise ModelLoadError(f"{path}: not a Keras model file (a .keras file is a zip archive; this one is not)")
    import tf_style.arbitrary  # noqa: F401  (registers the arbitrary-style layers; loads no weights)

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=not trust_code)
    except Exception as err:  # noqa: BLE001 - corrupt archives raise many types
        text = _oneline(err)
        raise ModelLoadError(
            f"{path}: cannot load the Keras model ({type(err).__name__}: {text[:300]})"
            f"{unsafe_model_hint(text, trust_code)}"
        ) from None
    if not isinstance(model, keras.Model):
        raise ModelLoadError(f"{path}: holds a {type(model).__name__}, not a Keras model")
    # One trace for every image size and batch: no retracing per photo.
    fn = tf.function(
        lambda x: model(x, training=False),
        input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
    )
    return (lambda x: fn(tf.constant(x)).numpy()), model


def _load_savedmodel(path: Path) -> Tuple[Forward, Optional[keras.Model]]:
    try:
        from tf_style.export import load_saved_model_runner
    except ImportError:  # pragma: no cover - an installation without the export module
        raise ModelLoadError(f"{path}: SavedModel models are not supported yet; use the .keras file") from None
    return load_saved_model_runner(path), None


def _load_tflite(path: Path) -> Tuple[Forward, Optional[keras.Model]]:
    try:
        from tf_style.export import load_tflite_runner
    except ImportError:  # pragma: no cover - an installation without the export module
        raise ModelLoadError(f"{path}: TFLite models are not supported yet; use the .keras file") from None
    return load_tflite_runner(path), None


#: kind -> loader(path) -> (forward, keras model or None). Extend here for new kinds.
#: The SavedModel and TFLite runners live in tf_style.export (imported on use), and check
#: their files' signatures themselves.
_LOADERS: Dict[str, Callable[[Path], Tuple[Forward, Optional[keras.Model]]]] = {
    "keras": _load_keras,
    "savedmodel": _load_savedmodel,
    "tflite": _load_tflite,
}


def _check_size(size: object) -> Optional[int]:
    if size is None:
        return None
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not networks.MIN_SIZE <= size <= 16384:
        raise OptionError(f"size: expected an integer between {networks.MIN_SIZE} and 16384, got {size!r}")
    return int(size)


def _read_photo(image: im.ImageLike, size: Optional[int]) -> Tuple[Image.Image, np.ndarray]:
    """The photo, resized to a long side of ``size`` (None: as it is) and checked, and its array."""
    photo = im.read_image(image)
    if size is not None:
        photo = im.resize_long_side(photo, size)
    name = os.fsdecode(image) if isinstance(image, (str, os.PathLike)) else "image"
    im.check_min_size(photo, networks.MIN_SIZE, name=name)
    return photo, im.to_array(photo)


def _check_strength(strength: object) -> float:
    if isinstance(strength, np.ndarray) and strength.ndim == 0:
        strength = strength.item()
    if isinstance(strength, bool) or not isinstance(strength, (int, float, np.integer, np.floating)):
        raise OptionError(f"strength: expected a number in [0, 1], got {strength!r}")
    value = float(strength)
    if not 0.0 <= value <= 1.0:
        raise OptionError(f"strength: expected a number in [0, 1], got {strength!r}")
    return value


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
        photo, arr = _read_photo(image, _check_size(size))
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
    ``runner`` is the :class:`tf_style.export_arbitrary.ArbitraryRunner` underneath.

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
        from tf_style.export_arbitrary import style_key

        key = style_key(style)
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
        photo, arr = _read_photo(image, _check_size(size))
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


def _load_arbitrary(p: Path, kind: str, model: Optional[keras.Model]) -> ArbitraryStylizer:
    from tf_style import export_arbitrary as ea

    if kind == "keras":
        runner = ea.KerasArbitraryRunner(model, source=str(p))
    elif kind == "savedmodel":
        runner = ea.SavedModelArbitraryRunner(p)
    else:
        runner = ea.TFLiteArbitraryRunner(p)
    return ArbitraryStylizer(runner, source=str(p), kind=kind)


def _is_arbitrary_saved_model(p: Path) -> bool:
    from tf_style.export_arbitrary import is_arbitrary_saved_model

    return is_arbitrary_saved_model(p)


def load_stylizer(path: PathLike, *, trust_code: bool = False) -> Stylizer:
    """Load a trained network: a ``.keras`` file, a SavedModel folder or a ``.tflite`` file.

    SavedModel folders and ``.tflite`` files are those written by ``tf-style export``
    (run through :mod:`tf_style.export`'s runners); a TFLite model converted for a fixed
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
    p = Path(os.fspath(path))
    if os.fspath(path) == ARBITRARY_WORD and not p.exists():
        from tf_style import arbitrary as ar
        from tf_style.export_arbitrary import KerasArbitraryRunner

        return ArbitraryStylizer(KerasArbitraryRunner(ar.shipped_stylizer(), source=ARBITRARY_WORD),
                                 source=ARBITRARY_WORD, kind="keras")
    kind = model_kind(p)
    if kind == "tflite" and p.is_dir() or kind == "savedmodel" and _is_arbitrary_saved_model(p):
        return _load_arbitrary(p, kind, None)
    forward, model = _load_keras(p, trust_code) if kind == "keras" else _LOADERS[kind](p)
    from tf_style.arbitrary import STYLIZER_NAME

    if model is not None and model.name == STYLIZER_NAME:
        return _load_arbitrary(p, kind, model)
    if model is not None:  # any Keras model loads; make sure this one maps images to images
        _probe(forward, str(p))
    return FastStylizer(forward, source=str(p), kind=kind, model=model)


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
    size = _check_size(size)
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
