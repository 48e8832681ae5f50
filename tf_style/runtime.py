"""Loading and running every artifact kind: ``.keras`` files, SavedModel folders, TFLite files.

The one place a trained network is opened and run, below :mod:`tf_style.apply` (photos in,
pictures out), :mod:`tf_style.export` (which only writes artifacts), training (a teacher
network) and the benches. Pixels are float32 RGB in [0, 255], NHWC, everywhere.

* :func:`load_keras`: the one ``.keras`` loader (Keras safe mode unless ``trust_code``; the
  custom layers of :mod:`tf_style.networks` and :mod:`tf_style.arbitrary` registered; one set
  of checks and messages). :func:`load_keras_model` adds the per-style network's input check,
  :func:`load_arbitrary` the arbitrary model's.
* Per-style runners (:class:`StyleRunner`): ``runner(images [N, H, W, 3]) -> same shape``,
  ``input_size`` (None, or the (height, width) a TFLite model was converted for: callers
  resize), ``fixed_size``, ``kind``, ``source``, ``model`` (the Keras model, else None):
  :class:`KerasRunner`, :class:`SavedModelRunner`, :class:`TFLiteRunner`.
* Arbitrary-style runners (:class:`ArbitraryRunner`, photo + painting): ``predict_style``,
  ``transfer``, ``style_vector`` and ``runner(content, painting, strength)``, the same
  ``input_size``/``kind``/``source``: :class:`KerasArbitraryRunner`,
  :class:`SavedModelArbitraryRunner`, :class:`TFLiteArbitraryRunner`.
* :func:`model_kind` names an artifact from its path; :func:`load_runner` opens any of them
  (what ``tf-style apply`` loads), :func:`load_arbitrary_runner` any arbitrary-style one.

Example:
    >>> from tf_style import runtime
    >>> runner = runtime.load_runner("starry_night.tflite")  # doctest: +SKIP
    >>> runner.input_size, runner(photo[None]).shape  # doctest: +SKIP
    ((384, 384), (1, 384, 384, 3))
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from numbers import Integral
from pathlib import Path
from typing import Any, Optional, Tuple, Union

import keras
import numpy as np
import tensorflow as tf

from tf_style import arbitrary as ar
from tf_style import config
from tf_style import networks  # noqa: F401  (registers the per-style layers for load_model)
from tf_style.errors import ImageSizeError, ModelLoadError, OptionError, unsafe_model_hint

__all__ = [
    "ARBITRARY_WORD",
    "PREDICT_TFLITE",
    "TRANSFER_TFLITE",
    "STYLE_SIZE",
    "TFLITE_STYLE_SIZE",
    "MIN_SIZE",
    "model_kind",
    "load_keras",
    "load_keras_model",
    "check_image_model",
    "load_arbitrary",
    "is_arbitrary_file",
    "is_arbitrary_saved_model",
    "is_tflite_pair",
    "StyleRunner",
    "KerasRunner",
    "SavedModelRunner",
    "TFLiteRunner",
    "ArbitraryRunner",
    "KerasArbitraryRunner",
    "SavedModelArbitraryRunner",
    "TFLiteArbitraryRunner",
    "load_runner",
    "load_saved_model_runner",
    "load_tflite_runner",
    "load_arbitrary_runner",
    "style_input",
    "style_key",
]

PathLike = Union[str, os.PathLike]

ARBITRARY_WORD = config.ARBITRARY
"""The model name that means the shipped arbitrary-style networks (:func:`tf_style.arbitrary.shipped_stylizer`)."""
PREDICT_TFLITE = "style_predict.tflite"
TRANSFER_TFLITE = "style_transfer.tflite"
"""The two files of an arbitrary-style TFLite pair folder."""
STYLE_SIZE = config.ARBITRARY_STYLE_SIZE
"""Shorter side a painting is resized to before the predictor (as ``arbitrary.predict_style``)."""
TFLITE_STYLE_SIZE = (STYLE_SIZE, STYLE_SIZE)
"""Input (height, width) of ``style_predict.tflite``: paintings are resized and centre-cropped."""
MIN_SIZE = networks.MIN_SIZE
"""Smallest height/width the per-style artifacts take."""

TFLITE_IDENTIFIER = b"TFL3"  # flatbuffer file identifier, bytes 4..8 of a .tflite


def _one_line(error: object, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- kinds


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
        if is_tflite_pair(p):
            return "tflite"
        raise ModelLoadError(f"{p}: a folder but not a SavedModel (no saved_model.pb in it) nor a "
                             f"TFLite pair ({PREDICT_TFLITE} and {TRANSFER_TFLITE})")
    suffix = p.suffix.lower()
    if suffix == ".keras":
        return "keras"
    if suffix == ".tflite":
        return "tflite"
    raise ModelLoadError(
        f"{p}: unknown model kind {suffix or '(no extension)'!r}; expected a .keras file, "
        f"a SavedModel folder or a .tflite file"
    )


def is_tflite_pair(path: PathLike) -> bool:
    """Whether ``path`` is a folder holding ``style_predict.tflite`` and ``style_transfer.tflite``."""
    p = Path(os.fspath(path))
    return p.is_dir() and (p / PREDICT_TFLITE).is_file() and (p / TRANSFER_TFLITE).is_file()


def is_arbitrary_file(model: PathLike) -> bool:
    """Whether ``model`` names an arbitrary-style model: the word ``"arbitrary"`` (and no such
    file), or a ``.keras`` whose top model is named ``arbitrary_stylizer``. Reads the archive's
    ``config.json`` only (loads nothing); an unreadable file is False (loading it reports why).
    """
    p = os.fspath(model)
    if p == ARBITRARY_WORD and not os.path.exists(p):
        return True
    try:
        with zipfile.ZipFile(p) as archive:
            config = json.loads(archive.read("config.json"))
        return config.get("config", {}).get("name") == ar.STYLIZER_NAME
    except Exception:  # noqa: BLE001 - not a zip, no config, bad JSON
        return False


def is_arbitrary_saved_model(path: PathLike) -> bool:
    """Whether the SavedModel folder ``path`` has the arbitrary model's signatures (reads
    ``saved_model.pb`` only, loads nothing)."""
    from tensorflow.core.protobuf import saved_model_pb2

    pb = Path(os.fspath(path)) / "saved_model.pb"
    try:
        proto = saved_model_pb2.SavedModel.FromString(pb.read_bytes())
    except Exception:  # noqa: BLE001 - unreadable: the runner reports it
        return False
    names = {n for graph in proto.meta_graphs for n in graph.signature_def}
    return {"predict_style", "transfer"} <= names


# --------------------------------------------------------------------------- .keras


def load_keras(path: PathLike, *, trust_code: bool = False) -> keras.Model:
    """The one ``.keras`` loader: any Keras model, in safe mode unless ``trust_code``.

    ``trust_code=True`` lifts safe mode: a ``Lambda`` layer's Python code then runs. Use it
    only for a model from a source you trust. tf-style's layers (per-style and arbitrary
    networks) are registered first; nothing is compiled.

    Raises:
        ModelLoadError: not a ``.keras`` path, missing, not a file, not a zip archive, corrupt,
            unsafe (the message says how to allow it), or not holding a Keras model.

    Example:
        >>> load_keras("models/starry_night_mobile.keras").name  # doctest: +SKIP
        'style_transformer'
    """
    p = Path(os.fspath(path))
    if p.suffix.lower() != ".keras":
        raise ModelLoadError(f"{p}: expected a .keras model file")
    if not p.exists():
        raise ModelLoadError(f"{p}: no such file")
    if not p.is_file():
        raise ModelLoadError(f"{p}: not a file")
    if not zipfile.is_zipfile(p):
        raise ModelLoadError(f"{p}: cannot load the model: not a Keras model file (a .keras file is a "
                             f"zip archive; this one is not)")
    try:
        model = keras.saving.load_model(p, compile=False, safe_mode=not trust_code)
    except Exception as err:  # noqa: BLE001 - zip, h5, json and config errors alike
        raise ModelLoadError(
            f"{p}: cannot load the Keras model ({type(err).__name__}: {_one_line(err)})"
            f"{unsafe_model_hint(str(err), trust_code)}"
        ) from None
    if not isinstance(model, keras.Model):
        raise ModelLoadError(f"{p}: holds a {type(model).__name__}, not a Keras model")
    return model


def check_image_model(model: Any) -> keras.Model:
    """``model`` if it is a Keras model with one ``[batch, height, width, 3]`` input, else
    :class:`OptionError` (what export and the per-style runners take)."""
    if not isinstance(model, keras.Model):
        raise OptionError(f"model must be a keras.Model, got {type(model).__name__}")
    shapes = [tuple(t.shape) for t in model.inputs]
    if len(shapes) != 1 or len(shapes[0]) != 4 or shapes[0][-1] != 3:
        raise OptionError(
            f"model {model.name!r} must take one [batch, height, width, 3] image input, "
            f"got inputs {shapes}"
        )
    return model


def load_keras_model(path: PathLike, *, trust_code: bool = False) -> keras.Model:
    """A per-style ``.keras`` network (:func:`load_keras`, then one image input checked).

    Raises:
        ModelLoadError: as :func:`load_keras`, or a model that does not take one image.

    Example:
        >>> model = load_keras_model("models/starry_night_mobile.keras")  # doctest: +SKIP
    """
    model = load_keras(path, trust_code=trust_code)
    try:
        return check_image_model(model)
    except OptionError as err:
        raise ModelLoadError(f"{os.fspath(path)}: {err}") from None


def load_arbitrary(model: Union[PathLike, keras.Model], *, trust_code: bool = False) -> keras.Model:
    """The one-file arbitrary model from ``"arbitrary"``, a ``.keras`` path or a Keras model.

    Raises :class:`ModelLoadError` when it is not one (e.g. a per-style network).

    >>> load_arbitrary("arbitrary").name  # doctest: +SKIP
    'arbitrary_stylizer'
    """
    if isinstance(model, keras.Model):
        ar.split(model, source=model.name)
        return model
    name = os.fspath(model)
    if name == ARBITRARY_WORD and not os.path.exists(name):
        return ar.shipped_stylizer()
    loaded = load_keras(model, trust_code=trust_code)
    if ar.is_arbitrary(loaded):
        ar.split(loaded, source=name)
        return loaded
    try:
        check_image_model(loaded)
    except OptionError as err:
        raise ModelLoadError(f"{name}: {err}") from None
    raise ModelLoadError(f"{name}: a per-style network, not an arbitrary-style model "
                         f"(expected {ARBITRARY_WORD!r} or a .keras made by arbitrary.combine)")


# --------------------------------------------------------------------------- per-style runners


def check_batch(images: Any) -> np.ndarray:
    """``images`` as a contiguous float32 ``[N, H, W, 3]`` array, each side >= ``MIN_SIZE``."""
    arr = np.asarray(images)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype.kind not in "fiu" or arr.shape[0] < 1:
        raise OptionError(
            f"images must be a float32 [N, H, W, 3] array in 0..255, got shape {arr.shape} "
            f"dtype {arr.dtype}"
        )
    if min(arr.shape[1:3]) < MIN_SIZE:
        raise ImageSizeError(
            f"images are {arr.shape[2]}x{arr.shape[1]}, smaller than the minimum of "
            f"{MIN_SIZE} px on each side"
        )
    return np.ascontiguousarray(arr, dtype=np.float32)


class StyleRunner:
    """A per-style artifact: ``runner(images)`` float32 [N, H, W, 3] in 0..255 -> same shape.

    ``input_size`` is None (any size) or the (height, width) the model takes (callers resize
    there and back); ``kind`` is ``"keras"``, ``"savedmodel"`` or ``"tflite"``; ``model`` the
    Keras model (None for the other kinds).
    """

    kind = "?"
    input_size: Optional[Tuple[int, int]] = None
    model: Optional[keras.Model] = None
    source = "model"

    @property
    def fixed_size(self) -> bool:
        """True when the model takes only ``input_size`` (callers resize)."""
        return self.input_size is not None

    def __call__(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class KerasRunner(StyleRunner):
    """A Keras per-style network, one trace for every image size and batch (no retracing)."""

    kind = "keras"

    def __init__(self, model: keras.Model, source: str = "model") -> None:
        self.model = model
        self.source = source
        self._fn = tf.function(
            lambda x: model(x, training=False),
            input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)],
        )

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self._fn(tf.constant(np.asarray(images, np.float32))).numpy()


def _load_saved_model(p: Path):
    """A SavedModel folder loaded, or one :class:`ModelLoadError` line saying why not."""
    if not p.exists():
        raise ModelLoadError(f"{p}: no such SavedModel directory")
    if not p.is_dir() or not (p / "saved_model.pb").is_file():
        raise ModelLoadError(f"{p}: not a SavedModel directory (no saved_model.pb)")
    try:
        return tf.saved_model.load(str(p))
    except Exception as err:  # noqa: BLE001 - TensorFlow raises many kinds for a bad folder
        raise ModelLoadError(f"{p}: cannot load the SavedModel: {type(err).__name__}: "
                             f"{_one_line(err)}") from None


class SavedModelRunner(StyleRunner):
    """Applies a SavedModel from :func:`tf_style.export.save_saved_model` (its ``serving_default``).

    ``runner(images)``: float32 [N, H, W, 3] in 0..255 -> same shape and range. Any size
    >= ``MIN_SIZE`` (``input_size`` is None, ``fixed_size`` False).
    """

    kind = "savedmodel"

    def __init__(self, path: PathLike):
        self.path = Path(os.fspath(path))
        p = self.path
        self.source = str(p)
        self._loaded = _load_saved_model(p)
        signature = self._loaded.signatures.get("serving_default")
        if signature is None:
            raise ModelLoadError(f"{p}: the SavedModel has no serving_default signature")
        inputs = signature.structured_input_signature[1]
        outputs = signature.structured_outputs
        if set(inputs) != {"images"} or set(outputs) != {"stylized"}:
            raise ModelLoadError(
                f"{p}: serving_default takes {sorted(inputs)} and returns {sorted(outputs)}; "
                "expected images -> stylized (a SavedModel from tf-style export)"
            )
        self._fn = signature

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = check_batch(images)
        return self._fn(images=tf.constant(x))["stylized"].numpy()


def _interpreter_class():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - TF's own (deprecated) copy
        Interpreter = tf.lite.Interpreter
    return Interpreter


def _tflite_interpreter(path: Path, num_threads: int):
    """A LiteRT interpreter for ``path`` after the file's TFL3 identifier is checked."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as err:
        raise ModelLoadError(f"{path}: cannot read: {err.strerror or err}") from None
    if head[4:8] != TFLITE_IDENTIFIER:
        raise ModelLoadError(f"{path}: not a TFLite model (no TFL3 identifier)")
    try:
        return _interpreter_class()(model_path=str(path), num_threads=int(num_threads))
    except Exception as err:  # noqa: BLE001 - corrupt flatbuffers raise ValueError/RuntimeError
        raise ModelLoadError(f"{path}: cannot load the TFLite model: {type(err).__name__}: "
                             f"{_one_line(err)}") from None


def _check_threads(num_threads: Any) -> int:
    threads_ok = isinstance(num_threads, Integral) and not isinstance(num_threads, bool)
    if not threads_ok or num_threads < 1:
        raise OptionError(f"num_threads={num_threads!r} must be an integer >= 1")
    return int(num_threads)


class TFLiteRunner(StyleRunner):
    """Applies a .tflite from :func:`tf_style.export.convert_tflite` with the LiteRT interpreter.

    ``runner(images)``: float32 [N, H, W, 3] in 0..255 -> same shape and range, one image
    at a time. A fixed-size model (``fixed_size`` True, ``input_size`` = (height, width))
    takes only that size: callers resize (e.g. ``tf_style.image.resize_to``) before and
    after; other sizes raise :class:`ImageSizeError`. A dynamic-size model (``input_size``
    None) is resized to each new input size. Not thread-safe: one runner per thread.
    """

    kind = "tflite"

    def __init__(self, path: PathLike, num_threads: int = 2):
        self.path = Path(os.fspath(path))
        p = self.path
        self.source = str(p)
        num_threads = _check_threads(num_threads)
        if not p.is_file():
            problem = "not a file" if p.exists() else "no such TFLite file"
            raise ModelLoadError(f"{p}: {problem}")
        self._interpreter = _tflite_interpreter(p, num_threads)
        try:
            inputs = self._interpreter.get_input_details()
            outputs = self._interpreter.get_output_details()
            if len(inputs) != 1 or len(outputs) != 1:
                raise ModelLoadError(f"{p}: expected one input and one output, got "
                                     f"{len(inputs)} and {len(outputs)}")
            signature = [int(s) for s in inputs[0]["shape_signature"]]
            if len(signature) != 4 or signature[0] not in (1, -1) or signature[3] != 3:
                raise ModelLoadError(f"{p}: input shape {signature} is not [1, H, W, 3]")
            h, w = signature[1], signature[2]
            self.input_size: Optional[Tuple[int, int]] = None if -1 in (h, w) else (h, w)
            self._input = inputs[0]
            self._output_index = outputs[0]["index"]
            self._current = self.input_size
            if self.input_size is None:
                # A dynamic model's placeholder size is 1x1, too small to prepare.
                self._resize((64, 64))
            else:
                self._interpreter.allocate_tensors()
        except ModelLoadError:
            raise
        except Exception as err:  # noqa: BLE001 - corrupt flatbuffers raise ValueError/RuntimeError
            raise ModelLoadError(f"{p}: cannot load the TFLite model: {type(err).__name__}: "
                                 f"{_one_line(err)}") from None

    def _resize(self, size: Tuple[int, int]) -> None:
        if size == self._current:
            return
        self._current = None  # unknown until allocate_tensors succeeds
        self._interpreter.resize_tensor_input(self._input["index"], [1, *size, 3], strict=True)
        self._interpreter.allocate_tensors()
        self._current = size

    def _quantize(self, x: np.ndarray, details: dict) -> np.ndarray:
        dtype = details["dtype"]
        if dtype == np.float32:
            return x
        scale, zero = details["quantization"]
        info = np.iinfo(dtype)
        return np.clip(np.rint(x / scale + zero), info.min, info.max).astype(dtype)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = check_batch(images)
        size = (x.shape[1], x.shape[2])
        if self.input_size is not None and size != self.input_size:
            h, w = self.input_size
            raise ImageSizeError(
                f"{self.path.name} takes {w}x{h} images (fixed when it was converted), got "
                f"{size[1]}x{size[0]}; resize to {w}x{h} first, or convert for that size"
            )
        self._resize(size)
        results = []
        for one in x:
            pixels = self._quantize(one[np.newaxis], self._input)
            self._interpreter.set_tensor(self._input["index"], pixels)
            self._interpreter.invoke()
            out = self._interpreter.get_tensor(self._output_index)
            details = self._interpreter.get_output_details()[0]
            if details["dtype"] != np.float32:
                scale, zero = details["quantization"]
                out = (out.astype(np.float32) - zero) * scale
            results.append(np.array(out, dtype=np.float32))
        return np.concatenate(results)


def load_saved_model_runner(path: PathLike) -> SavedModelRunner:
    """A :class:`SavedModelRunner` for the SavedModel directory at ``path``.

    Raises:
        ModelLoadError: missing, not a SavedModel, corrupt, or not a tf-style export.

    Example:
        >>> runner = load_saved_model_runner("serving/starry_night/1")  # doctest: +SKIP
        >>> styled = runner(photo[np.newaxis])  # doctest: +SKIP
    """
    return SavedModelRunner(path)


def load_tflite_runner(path: PathLike, num_threads: int = 2) -> TFLiteRunner:
    """A :class:`TFLiteRunner` for the .tflite file at ``path`` on ``num_threads`` threads.

    Raises:
        ModelLoadError: missing, not a TFLite file, corrupt, or not [1, H, W, 3] -> same.

    Example:
        >>> runner = load_tflite_runner("starry_night.tflite")  # doctest: +SKIP
        >>> runner.input_size  # doctest: +SKIP
        (384, 384)
    """
    return TFLiteRunner(path, num_threads)


# --------------------------------------------------------------------------- arbitrary-style runners


def _center_square(arr: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Shorter side to ``min(size)`` (Lanczos) then the centre ``size`` crop (TFLite example)."""
    h, w = size
    arr = ar._short_side_to(arr, max(h, w))
    top, left = (arr.shape[0] - h) // 2, (arr.shape[1] - w) // 2
    return arr[top: top + h, left: left + w]


def style_input(painting: Any, size: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """A painting as the predictor takes it: [1, h, w, 3] float32.

    ``size=None`` (Keras, SavedModel): shorter side ``STYLE_SIZE`` px, whole picture (as
    :func:`tf_style.arbitrary.predict_style`); a fixed (height, width) (``style_predict.tflite``):
    shorter side to that size, then the centre crop, as TensorFlow's TFLite example does.
    """
    arr = ar._as_float255(painting, "style image")
    arr = ar._short_side_to(arr, STYLE_SIZE) if size is None else _center_square(arr, size)
    return np.ascontiguousarray(arr[np.newaxis], np.float32)


def style_key(painting: Any) -> Optional[str]:
    """A cache key for a painting: path + size + mtime, or the SHA-256 of an array's bytes."""
    if isinstance(painting, (str, os.PathLike)):
        try:
            st = os.stat(painting)
        except OSError:
            return None
        return f"path:{os.path.realpath(painting)}:{st.st_size}:{st.st_mtime_ns}"
    if isinstance(painting, np.ndarray):
        arr = np.ascontiguousarray(painting)
        return f"array:{arr.shape}:{arr.dtype}:{hashlib.sha256(arr.tobytes()).hexdigest()}"
    return None


def _check_content(content: Any) -> np.ndarray:
    x = check_batch(content)
    if x.shape[0] != 1:
        raise OptionError(f"content: expected one image [1, H, W, 3], got batch {x.shape[0]}")
    return x


def _check_vector(vector: Any) -> np.ndarray:
    v = np.asarray(vector, np.float32)
    if v.shape != (1, ar.STYLE_DIM) or not np.all(np.isfinite(v)):
        raise OptionError(f"style_vector: expected finite [1, {ar.STYLE_DIM}], got shape {v.shape}")
    return v


class ArbitraryRunner:
    """One arbitrary-style artefact, float32 [0, 255] in and out, one image at a time.

    * ``style_input_size``: None (takes a painting of any size, shorter side 256 first) or
      (height, width) the predictor takes (:func:`style_input` prepares both);
    * ``input_size``: None, or the (height, width) the transformer was converted for;
    * ``predict_style(style [1, h, w, 3]) -> [1, 100]``, ``transfer(content [1, H, W, 3],
      vector [1, 100]) -> [1, H, W, 3]``;
    * ``runner(content, painting, strength=1.0)``: the whole pipeline on arrays (painting
      HxWx3 or a path), the paper's vector interpolation for ``strength`` < 1.
    """

    kind = "?"
    style_input_size: Optional[Tuple[int, int]] = None
    input_size: Optional[Tuple[int, int]] = None
    model: Optional[keras.Model] = None

    def predict_style(self, style: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def transfer(self, content: np.ndarray, vector: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    @property
    def fixed_size(self) -> bool:
        return self.input_size is not None

    def style_vector(self, painting: Any) -> np.ndarray:
        """[1, 100] vector of a painting (path, PIL image, HxWx3 array)."""
        return self.predict_style(style_input(painting, self.style_input_size))

    def __call__(self, content: np.ndarray, painting: Any, strength: float = 1.0) -> np.ndarray:
        content = _check_content(content)
        vector = self.style_vector(painting)
        if strength < 1.0:
            own = self.style_vector(content[0])
            vector = strength * vector + (1.0 - strength) * own
        return self.transfer(content, vector)


class KerasArbitraryRunner(ArbitraryRunner):
    """The Keras networks (``"arbitrary"`` or a one-file ``.keras``), one trace each."""

    kind = "keras"

    def __init__(self, model: keras.Model, source: str = "model") -> None:
        self.source = source
        self.model = model
        predictor, transformer = ar.split(model, source=source)
        image = tf.TensorSpec([None, None, None, 3], tf.float32)

        @tf.function(input_signature=[image], autograph=False)
        def predict(style):
            return predictor(style, training=False)

        @tf.function(input_signature=[image, tf.TensorSpec([None, ar.STYLE_DIM], tf.float32)],
                     autograph=False)
        def transfer(content, vector):
            return transformer([content, vector], training=False)

        # One trace each for every size: no retracing per photo.
        self._predict, self._transfer = predict, transfer

    def predict_style(self, style: np.ndarray) -> np.ndarray:
        return self._predict(tf.constant(np.asarray(style, np.float32))).numpy()

    def transfer(self, content: np.ndarray, vector: np.ndarray) -> np.ndarray:
        return self._transfer(tf.constant(_check_content(content)), tf.constant(_check_vector(vector))).numpy()


class SavedModelArbitraryRunner(ArbitraryRunner):
    """A SavedModel from :func:`tf_style.export_arbitrary.save_arbitrary_saved_model`: its
    ``predict_style`` (paintings resized in the graph) and ``transfer`` signatures."""

    kind = "savedmodel"

    def __init__(self, path: PathLike) -> None:
        p = Path(os.fspath(path))
        self.source = str(p)
        self._loaded = _load_saved_model(p)
        sigs = self._loaded.signatures
        if "predict_style" not in sigs or "transfer" not in sigs:
            raise ModelLoadError(f"{p}: not an arbitrary-style SavedModel (no predict_style and transfer "
                                 f"signatures; it has {sorted(sigs)})")
        self._predict, self._transfer = sigs["predict_style"], sigs["transfer"]

    def style_vector(self, painting: Any) -> np.ndarray:
        # The graph resizes: feed the painting as it is.
        arr = ar._as_float255(painting, "style image")
        return self.predict_style(arr[np.newaxis])

    def predict_style(self, style: np.ndarray) -> np.ndarray:
        return self._predict(style=tf.constant(np.asarray(style, np.float32)))["style_vector"].numpy()

    def transfer(self, content: np.ndarray, vector: np.ndarray) -> np.ndarray:
        return self._transfer(content=tf.constant(_check_content(content)),
                              style_vector=tf.constant(_check_vector(vector)))["stylized"].numpy()


class TFLiteArbitraryRunner(ArbitraryRunner):
    """A TFLite pair from :func:`tf_style.export_arbitrary.save_arbitrary_tflite` in LiteRT.
    Not thread-safe."""

    kind = "tflite"
    style_input_size = TFLITE_STYLE_SIZE

    def __init__(self, path: PathLike, num_threads: int = 2) -> None:
        p = Path(os.fspath(path))
        self.source = str(p)
        if not is_tflite_pair(p):
            raise ModelLoadError(f"{p}: not a TFLite pair (a folder with {PREDICT_TFLITE} and {TRANSFER_TFLITE})")
        self._predict = self._interpreter(p / PREDICT_TFLITE, num_threads)
        self._transfer = self._interpreter(p / TRANSFER_TFLITE, num_threads)
        self._check()

    @staticmethod
    def _interpreter(path: Path, num_threads: int):
        interpreter = _tflite_interpreter(path, num_threads)
        try:
            return interpreter, interpreter.get_signature_runner()
        except Exception as err:  # noqa: BLE001 - corrupt flatbuffers raise ValueError/RuntimeError
            raise ModelLoadError(f"{path}: cannot load the TFLite model: {type(err).__name__}: "
                                 f"{_one_line(err)}") from None

    def _check(self) -> None:
        p = Path(self.source)
        sig = self._predict[1].get_input_details()
        if set(sig) != {"style_image"}:
            raise ModelLoadError(f"{p / PREDICT_TFLITE}: inputs {sorted(sig)}, expected style_image")
        shape = [int(s) for s in sig["style_image"]["shape_signature"]]
        if len(shape) != 4 or -1 in shape[1:3]:
            raise ModelLoadError(f"{p / PREDICT_TFLITE}: input shape {shape} is not [1, h, w, 3]")
        self.style_input_size = (shape[1], shape[2])
        sig = self._transfer[1].get_input_details()
        if set(sig) != {"content_image", "style_vector"}:
            raise ModelLoadError(f"{p / TRANSFER_TFLITE}: inputs {sorted(sig)}, expected content_image "
                                 "and style_vector")
        shape = [int(s) for s in sig["content_image"]["shape_signature"]]
        self.input_size = None if -1 in shape[1:3] else (shape[1], shape[2])

    def predict_style(self, style: np.ndarray) -> np.ndarray:
        style = np.ascontiguousarray(style, np.float32)
        if tuple(style.shape[1:3]) != self.style_input_size:
            raise ImageSizeError(f"{PREDICT_TFLITE} takes {self.style_input_size[1]}x{self.style_input_size[0]} "
                                 f"paintings, got {style.shape[2]}x{style.shape[1]}; use style_input()")
        return np.asarray(self._predict[1](style_image=style)["style_vector"], np.float32)

    def transfer(self, content: np.ndarray, vector: np.ndarray) -> np.ndarray:
        content = _check_content(content)
        if self.input_size is not None and tuple(content.shape[1:3]) != self.input_size:
            h, w = self.input_size
            raise ImageSizeError(f"{TRANSFER_TFLITE} takes {w}x{h} photos (fixed when it was converted), "
                                 f"got {content.shape[2]}x{content.shape[1]}; resize first")
        # The signature runner resizes a dynamic input to each new size itself.
        out = self._transfer[1](content_image=content, style_vector=_check_vector(vector))["stylized"]
        return np.asarray(out, np.float32)


def load_arbitrary_runner(model: Union[PathLike, keras.Model], *, trust_code: bool = False,
                          num_threads: int = 2) -> ArbitraryRunner:
    """A runner for any arbitrary-style artefact: ``"arbitrary"``, a one-file ``.keras``, a
    SavedModel folder or a TFLite pair folder. For benches: ``runner(content, painting)``.

    >>> runner = load_arbitrary_runner("arb_tflite")  # doctest: +SKIP
    >>> out = runner(photo[None], "examples/images/the_scream.jpg", strength=0.8)  # doctest: +SKIP
    """
    if isinstance(model, keras.Model):
        return KerasArbitraryRunner(load_arbitrary(model), source=model.name)
    p = Path(os.fspath(model))
    if os.fspath(model) == ARBITRARY_WORD and not p.exists():
        return KerasArbitraryRunner(ar.shipped_stylizer(), source=ARBITRARY_WORD)
    if not p.exists():
        raise ModelLoadError(f"{p}: no such model file or folder")
    if p.is_dir():
        if is_tflite_pair(p):
            return TFLiteArbitraryRunner(p, num_threads)
        return SavedModelArbitraryRunner(p)
    return KerasArbitraryRunner(load_arbitrary(p, trust_code=trust_code), source=str(p))


# --------------------------------------------------------------------------- any artifact


def _probe(runner: StyleRunner) -> None:
    """Fail at load time, not on the first photo, when a Keras model is not a style network."""
    side = 32
    try:
        out = np.asarray(runner(np.zeros((1, side, side, 3), np.float32)))
    except Exception as err:  # noqa: BLE001 - whatever the foreign model raises
        raise ModelLoadError(
            f"{runner.source}: not a style network (running it on a 1x{side}x{side}x3 image failed: "
            f"{type(err).__name__}: {_one_line(err, 200)})"
        ) from None
    if out.shape != (1, side, side, 3):
        raise ModelLoadError(
            f"{runner.source}: not a style network (it maps a 1x{side}x{side}x3 image to shape {out.shape})"
        )


def load_runner(path: PathLike, *, trust_code: bool = False,
                num_threads: int = 2) -> Union[StyleRunner, ArbitraryRunner]:
    """A runner for any artifact (:func:`model_kind`): a per-style :class:`StyleRunner` or, for
    ``"arbitrary"``, a one-file arbitrary ``.keras`` and their SavedModel / TFLite pair
    folders, an :class:`ArbitraryRunner`. A per-style ``.keras`` is run once on a 32x32 image
    so that a model that is not a style network fails here.

    Raises :class:`ModelLoadError` for a missing, corrupt, unsafe or unknown model.

    >>> load_runner("starry_night.tflite").kind  # doctest: +SKIP
    'tflite'
    """
    p = Path(os.fspath(path))
    source = str(p)
    if os.fspath(path) == ARBITRARY_WORD and not p.exists():
        return KerasArbitraryRunner(ar.shipped_stylizer(), source=ARBITRARY_WORD)
    kind = model_kind(p)
    if kind == "tflite" and p.is_dir():
        return TFLiteArbitraryRunner(p, num_threads)
    if kind == "savedmodel":
        if is_arbitrary_saved_model(p):
            return SavedModelArbitraryRunner(p)
        return SavedModelRunner(p)
    if kind == "tflite":
        return TFLiteRunner(p, num_threads)
    model = load_keras(p, trust_code=trust_code)
    if ar.is_arbitrary(model):
        return KerasArbitraryRunner(model, source=source)
    runner = KerasRunner(model, source=source)  # any Keras model loads; make sure this one maps images to images
    _probe(runner)
    return runner
