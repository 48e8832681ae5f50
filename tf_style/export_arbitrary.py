"""Export and run the arbitrary-style networks (:mod:`tf_style.arbitrary`): SavedModel and TFLite.

The sibling of :mod:`tf_style.export` for the two-input model (photo + painting). Pixels
follow the library's convention everywhere: float32 RGB in [0, 255], NHWC.

SavedModel signatures (``ARBITRARY_SIGNATURES``), batch, height and width dynamic:

* ``serving_default(content, style)`` -> ``{"stylized"}``: ``content`` [N, H, W, 3]
  (H, W >= 16), ``style`` [N or 1, h, w, 3] (one painting for every photo, or one each);
  full strength.
* ``stylize_with_strength(content, style, strength)`` -> ``{"stylized"}``: ``strength``
  a scalar, [1] or [N] in [0, 1] interpolates the style vectors as the paper does,
  ``s * v_style + (1 - s) * v_content`` (``v_content``: the photo's own vector).
* ``predict_style(style)`` -> ``{"style_vector"}`` [N, 100]: cache it per painting.
* ``transfer(content, style_vector)`` -> ``{"stylized"}``: ``style_vector`` [N or 1, 100].
* ``serve_image_bytes(image_bytes, style_bytes)`` -> ``{"png_bytes"}``: encoded photos
  [N] and paintings [N or 1] (tf.string), one PNG per photo at its upright size; decoded
  as :func:`tf_style.tfimage.decode_image_bytes` (header checked against ``max_pixels``).

Inside the graph a painting (and, for a strength, the photo) is resized so its shorter side
is ``style_size`` (256) px with ``tf.image.resize(method="lanczos3", antialias=True)``; the
Python path (:func:`tf_style.arbitrary.predict_style`) uses Pillow's Lanczos. The two agree
to about 0.1-0.3 grey levels, see docs/ARBITRARY.md.

TFLite (as TensorFlow's style-transfer example ships it): two files in one folder,
``style_predict.tflite`` (float32 [1, 256, 256, 3] -> [1, 100]) and
``style_transfer.tflite`` (``content_image`` float32 [1, H, W, 3] and ``style_vector``
[1, 100] -> [1, H, W, 3]), builtin ops only, for ``none``, ``float16``, ``dynamic`` and
``int8`` (full integer, float interface).

This module only writes artifacts. Loading and running them is :mod:`tf_style.runtime`'s
(:class:`~tf_style.runtime.ArbitraryRunner`: ``predict_style``, ``transfer`` and
``__call__(content, style, strength=1.0)``; :func:`~tf_style.runtime.load_arbitrary_runner`
opens any kind); those names stay importable from here.

Example:
    >>> from tf_style import export_arbitrary as ea
    >>> model = ea.load_arbitrary("arbitrary")  # doctest: +SKIP
    >>> ea.save_arbitrary_saved_model(model, "serving/arbitrary/1")  # doctest: +SKIP
    >>> ea.save_arbitrary_tflite(ea.convert_arbitrary_tflite(model, "float16"), "arb_tflite")  # doctest: +SKIP
    >>> runner = ea.load_arbitrary_runner("arb_tflite")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from numbers import Integral
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import keras
import numpy as np
import tensorflow as tf

from tf_style import arbitrary as ar
from tf_style import export as ex
from tf_style import runtime as rt
from tf_style import tfimage
from tf_style.errors import OptionError, OutputError
# Loading and running artifacts live in tf_style.runtime; the names stay importable from here.
from tf_style.runtime import (  # noqa: F401
    ARBITRARY_WORD,
    PREDICT_TFLITE,
    STYLE_SIZE,
    TFLITE_STYLE_SIZE,
    TRANSFER_TFLITE,
    ArbitraryRunner,
    KerasArbitraryRunner,
    SavedModelArbitraryRunner,
    TFLiteArbitraryRunner,
    is_arbitrary_file,
    is_arbitrary_saved_model,
    is_tflite_pair,
    load_arbitrary,
    load_arbitrary_runner,
    style_input,
    style_key,
)

__all__ = [
    "ARBITRARY_SIGNATURES",
    "ARBITRARY_WORD",
    "PREDICT_TFLITE",
    "TRANSFER_TFLITE",
    "STYLE_SIZE",
    "TFLITE_STYLE_SIZE",
    "DEFAULT_PAINTINGS",
    "ArbitraryRunner",
    "KerasArbitraryRunner",
    "SavedModelArbitraryRunner",
    "TFLiteArbitraryRunner",
    "load_arbitrary",
    "load_export_model",
    "is_arbitrary_file",
    "is_arbitrary_saved_model",
    "is_tflite_pair",
    "save_arbitrary_saved_model",
    "convert_arbitrary_tflite",
    "save_arbitrary_tflite",
    "check_tflite_dir",
    "load_arbitrary_runner",
    "style_input",
]

PathLike = Union[str, os.PathLike]

ARBITRARY_SIGNATURES = ("serving_default", "stylize_with_strength", "predict_style", "transfer",
                        "serve_image_bytes")
"""Signatures of a SavedModel written by :func:`save_arbitrary_saved_model`."""
_ROOT = Path(__file__).resolve().parents[1]
#: Paintings added to the int8 calibration of the style vectors (when they exist: a source
#: checkout; an installed package calibrates on the --calibration images alone).
DEFAULT_PAINTINGS = tuple(str(_ROOT / "examples" / "images" / n) for n in ("starry_night.jpg", "the_scream.jpg"))


# --------------------------------------------------------------------------- loading


def load_export_model(model: PathLike, *, trust_code: bool = False) -> Tuple[keras.Model, bool]:
    """``(model, is_arbitrary)`` for ``"arbitrary"`` (the shipped networks) or a ``.keras`` path.

    Loaded by :func:`tf_style.runtime.load_keras`; per-style networks are checked as
    :func:`tf_style.runtime.load_keras_model` does, arbitrary ones by
    :func:`tf_style.arbitrary.split`. Raises :class:`ModelLoadError`.

    >>> model, arbitrary = load_export_model("arbitrary")  # doctest: +SKIP
    """
    if is_arbitrary_file(model):
        return load_arbitrary(model, trust_code=trust_code), True
    return rt.load_keras_model(model, trust_code=trust_code), False


# --------------------------------------------------------------------------- SavedModel


def _short_side_graph(images: tf.Tensor, side: int) -> tf.Tensor:
    """[N, h, w, 3] -> shorter side ``side``, Lanczos-3 with antialiasing (as Pillow's LANCZOS)."""
    shape = tf.shape(images)
    h, w = tf.cast(shape[1], tf.float64), tf.cast(shape[2], tf.float64)
    scale = side / tf.minimum(h, w)
    size = tf.cast(tf.maximum(tf.round(tf.stack([h * scale, w * scale])), 1.0), tf.int32)
    resized = tf.image.resize(images, size, method="lanczos3", antialias=True)
    return tf.clip_by_value(resized, 0.0, 255.0)


def _style_checked(style: tf.Tensor, name: str) -> tf.Tensor:
    """The content's run-time checks (rank 4, RGB, >= 16 px) for a painting too."""
    return ex._images_checked(style, name)


def _broadcast_batch(x: tf.Tensor, batch: tf.Tensor, name: str) -> tf.Tensor:
    """``x`` with batch 1 or ``batch`` -> batch ``batch`` (one painting for all photos)."""
    n = tf.shape(x)[0]
    check = tf.debugging.Assert(tf.logical_or(tf.equal(n, 1), tf.equal(n, batch)),
                                [f"{name} must hold 1 entry or one per photo; photos:", batch, name, n])
    with tf.control_dependencies([check]):
        reps = tf.concat([[batch // n], tf.ones([tf.rank(x) - 1], tf.int32)], 0)
        return tf.tile(x, reps)


def _arbitrary_endpoints(model: keras.Model, max_pixels: int, style_size: int):
    predictor, transformer = ar.split(model)

    # One trace of each network, shared by every signature (tracing them per call site
    # made the export 3-4x slower).
    image = lambda name: tf.TensorSpec([None, None, None, 3], tf.float32, name=name)  # noqa: E731
    vector_spec = tf.TensorSpec([None, ar.STYLE_DIM], tf.float32, name="style_vector")

    @tf.function(input_signature=[image("style")], autograph=False)
    def vectors(style):  # [N, h, w, 3] -> [N, 100], resized as the Python path
        return predictor(_short_side_graph(style, style_size), training=False)

    @tf.function(input_signature=[image("content"), vector_spec], autograph=False)
    def run(content, vector):
        return transformer([content, vector], training=False)

    def predict_style(style):
        return {"style_vector": vectors(_style_checked(style, "style"))}

    def transfer(content, style_vector):
        content = ex._images_checked(content, "content")
        vector = tf.ensure_shape(tf.convert_to_tensor(style_vector, tf.float32), [None, ar.STYLE_DIM])
        return {"stylized": run(content, _broadcast_batch(vector, tf.shape(content)[0], "style_vector"))}

    def serving_default(content, style):
        content = ex._images_checked(content, "content")
        vector = vectors(_style_checked(style, "style"))
        return {"stylized": run(content, _broadcast_batch(vector, tf.shape(content)[0], "style"))}

    def stylize_with_strength(content, style, strength):
        content = ex._images_checked(content, "content")
        batch = tf.shape(content)[0]
        vector = _broadcast_batch(vectors(_style_checked(style, "style")), batch, "style")
        flat = tf.reshape(tf.convert_to_tensor(strength, tf.float32), [-1])
        checks = [
            tf.debugging.assert_rank_in(strength, [0, 1], message="strength must be a scalar, [1] or [batch]"),
            tf.debugging.assert_greater_equal(flat, 0.0, message="strength must be in [0, 1]"),
            tf.debugging.assert_less_equal(flat, 1.0, message="strength must be in [0, 1]"),
        ]
        with tf.control_dependencies(checks):
            s = _broadcast_batch(flat[:, tf.newaxis], batch, "strength")
        own = vectors(content)
        return {"stylized": run(content, s * vector + (1.0 - s) * own)}

    def serve_image_bytes(image_bytes, style_bytes):
        batch = tf.shape(image_bytes)[0]
        styles = _broadcast_batch(style_bytes, batch, "style_bytes")

        def one(pair):
            data, painting = pair
            photo = tfimage.decode_image_bytes(data, max_pixels=max_pixels, name="image_bytes")
            photo = ex._images_checked(tf.cast(photo[tf.newaxis], tf.float32), "decoded image")
            art = tfimage.decode_image_bytes(painting, max_pixels=max_pixels, name="style_bytes")
            vector = vectors(tf.cast(art[tf.newaxis], tf.float32))
            out = run(photo, vector)
            return tf.io.encode_png(tf.cast(tf.clip_by_value(tf.round(out[0]), 0.0, 255.0), tf.uint8))

        png = tf.map_fn(one, (image_bytes, styles), fn_output_signature=tf.TensorSpec([], tf.string),
                        parallel_iterations=1)
        return {"png_bytes": png}

    return [
        ("serving_default", serving_default, [image("content"), image("style")]),
        ("stylize_with_strength", stylize_with_strength,
         [image("content"), image("style"), tf.TensorSpec(None, tf.float32, name="strength")]),
        ("predict_style", predict_style, [image("style")]),
        ("transfer", transfer,
         [image("content"), vector_spec]),
        ("serve_image_bytes", serve_image_bytes,
         [tf.TensorSpec([None], tf.string, name="image_bytes"),
          tf.TensorSpec([None], tf.string, name="style_bytes")]),
    ]


def save_arbitrary_saved_model(
    model: keras.Model,
    path: PathLike,
    *,
    force: bool = False,
    max_pixels: int = tfimage.DEFAULT_MAX_DECODE_PIXELS,
    style_size: int = STYLE_SIZE,
) -> Path:
    """Write the arbitrary model as a SavedModel with ``ARBITRARY_SIGNATURES``; returns the path.

    Atomic and with the same ``force`` rules as :func:`tf_style.export.save_saved_model`.

    >>> save_arbitrary_saved_model(load_arbitrary("arbitrary"), "serving/arbitrary/1")  # doctest: +SKIP
    PosixPath('serving/arbitrary/1')
    """
    model = load_arbitrary(model)
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, Integral) or max_pixels < ex.MIN_SIZE ** 2:
        raise OptionError(f"max_pixels: expected an integer >= {ex.MIN_SIZE ** 2}, got {max_pixels!r}")
    style_size = ar._check_size(style_size, "style_size", ar.MIN_STYLE_SIZE)
    return ex._write_saved_model(model, _arbitrary_endpoints(model, int(max_pixels), style_size), path, force)


# --------------------------------------------------------------------------- TFLite


def _calibration_sets(model: keras.Model, photos: Sequence[Any], paintings: Sequence[Any],
                      content_size: Tuple[int, int], count: int, seed: int):
    """Representative inputs: (predictor [1, 256, 256, 3] list, transformer dict list)."""
    predictor, _ = ar.split(model)
    styles = [style_input(p, TFLITE_STYLE_SIZE) for p in list(paintings) + list(photos)]
    rng = np.random.default_rng(seed)
    # Painting crops at random scales too: the predictor sees whole paintings and details.
    extra = ex._calibration_crops(list(paintings) + list(photos), TFLITE_STYLE_SIZE,
                                  max(0, count - len(styles)) or 1, seed)
    style_samples = (styles + extra)[:max(count, len(styles))]
    vectors = [np.asarray(predictor(s, training=False), np.float32) for s in style_samples]
    contents = ex._calibration_crops(list(photos), content_size, count, seed)
    pairs = []
    for k, content in enumerate(contents):
        v = vectors[k % len(vectors)]
        # Strengths below 1 blend in the photo's own vector: calibrate on such blends too.
        own = np.asarray(predictor(style_input(content[0], TFLITE_STYLE_SIZE), training=False), np.float32)
        s = np.float32(rng.uniform(0.0, 1.0)) if k % 2 else np.float32(1.0)
        pairs.append({"content_image": content.astype(np.float32),
                      "style_vector": (s * v + (1 - s) * own).astype(np.float32)})
    return style_samples, pairs


def _convert(fn, signature: List[tf.TensorSpec], model: keras.Model, quantization: str,
             representative, what: str) -> bytes:
    def write(tmp: str) -> None:
        archive = keras.export.ExportArchive()
        archive.track(model)
        archive.add_endpoint("serving_default", fn, input_signature=signature)
        archive.write_out(tmp, verbose=False)

    return ex.saved_model_to_tflite(write, quantization, representative, f"the {what}")


def convert_arbitrary_tflite(
    model: keras.Model,
    quantization: str = "none",
    input_size: Union[int, Tuple[int, int], None] = ex.DEFAULT_TFLITE_SIZE,
    representative_images: Optional[Sequence[Any]] = None,
    *,
    paintings: Optional[Sequence[Any]] = None,
    calibration_samples: int = ex.CALIBRATION_SAMPLES,
    seed: int = 0,
) -> Tuple[bytes, bytes]:
    """``(style_predict, style_transfer)`` TFLite flatbuffers, builtin ops only.

    The predictor takes float32 [1, 256, 256, 3]; the transformer ``content_image`` float32
    [1, H, W, 3] at ``input_size`` (int, (height, width), or None: dynamic) and
    ``style_vector`` [1, 100]. ``"int8"`` is full integer with a float interface,
    calibrated on ``representative_images`` (photos: content crops, and their own style
    vectors) and ``paintings`` (default ``DEFAULT_PAINTINGS`` where they exist, plus the
    photos: the predictor's inputs and the style vectors, half of them blended with the
    photo's own vector as a strength < 1 does).

    >>> predict, transfer = convert_arbitrary_tflite(load_arbitrary("arbitrary"), "float16")  # doctest: +SKIP
    """
    model = load_arbitrary(model)
    quantization = ex.check_quantization(quantization)
    size = ex.check_input_size(input_size)
    if isinstance(calibration_samples, bool) or not isinstance(calibration_samples, Integral) \
            or calibration_samples < 1:
        raise OptionError(f"calibration_samples={calibration_samples!r} must be an integer >= 1")
    style_samples: List[np.ndarray] = []
    pairs: List[Dict[str, np.ndarray]] = []
    if quantization == "int8":
        if representative_images is None or isinstance(representative_images, (str, bytes)) \
                or len(representative_images) == 0:
            raise OptionError("quantization='int8' needs representative_images: a list of real photos")
        if paintings is None:
            paintings = [p for p in DEFAULT_PAINTINGS if os.path.isfile(p)]
        style_samples, pairs = _calibration_sets(model, representative_images, paintings,
                                                 size or ex.DEFAULT_TFLITE_SIZE, int(calibration_samples), seed)
    predictor, transformer = ar.split(model)

    def predict(style_image):
        return {"style_vector": predictor(style_image, training=False)}

    def transfer(content_image, style_vector):
        return {"stylized": transformer([content_image, style_vector], training=False)}

    def style_data():
        return ({"style_image": s} for s in style_samples)

    def pair_data():
        return iter(pairs)

    predict_fb = _convert(predict, [tf.TensorSpec([1, *TFLITE_STYLE_SIZE, 3], tf.float32, name="style_image")],
                          predictor, quantization, style_data, "style predictor")
    shape = [1, None, None, 3] if size is None else [1, *size, 3]
    transfer_fb = _convert(transfer, [tf.TensorSpec(shape, tf.float32, name="content_image"),
                                      tf.TensorSpec([1, ar.STYLE_DIM], tf.float32, name="style_vector")],
                           transformer, quantization, pair_data, "style transformer")
    return predict_fb, transfer_fb


def check_tflite_dir(path: PathLike, *, force: bool = False) -> Path:
    """Raise :class:`OutputError` unless the TFLite pair could be written to folder ``path``.

    An existing folder is replaced only with ``force`` and only when it is empty or holds
    a TFLite pair (never another folder).
    """
    out = Path(os.fspath(path))
    parent = out.parent
    if not parent.is_dir():
        raise OutputError(f"cannot write {out}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {out}: directory {parent} is not writable")
    if not (out.exists() or out.is_symlink()):
        return out
    if not force:
        raise OutputError(f"{out} already exists; use force=True (--force) to replace it")
    if out.is_symlink() or not out.is_dir() or (os.listdir(out) and not is_tflite_pair(out)):
        raise OutputError(f"cannot replace {out}: only an empty folder or a folder with "
                          f"{PREDICT_TFLITE} and {TRANSFER_TFLITE} is replaced, even with force")
    return out


def save_arbitrary_tflite(pair: Tuple[bytes, bytes], path: PathLike, *, force: bool = False) -> Path:
    """Write ``(predict, transfer)`` flatbuffers as ``path/style_predict.tflite`` and
    ``path/style_transfer.tflite``, atomically (a temporary folder renamed); returns ``path``.

    >>> save_arbitrary_tflite(convert_arbitrary_tflite(load_arbitrary("arbitrary")), "arb")  # doctest: +SKIP
    PosixPath('arb')
    """
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        raise OptionError("pair must be (style_predict, style_transfer) flatbuffers")
    out = check_tflite_dir(path, force=force)

    def fill(tmp: Path) -> None:
        for name, flatbuffer in zip((PREDICT_TFLITE, TRANSFER_TFLITE), pair):
            ex.save_tflite(flatbuffer, tmp / name)

    return ex.write_dir_atomically(out, fill, lambda: check_tflite_dir(out, force=force))
