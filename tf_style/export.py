"""Export a style network for serving (SavedModel, TF Serving) and for phones (TFLite).

Modelled on the export modules of tensorflow/models (``official/vision/serving``): the
network is wrapped in ``tf.function`` endpoints with fixed input signatures, written as
a SavedModel with three signatures, or converted to a TFLite flatbuffer that uses
builtin ops only. This module only writes artifacts: :mod:`tf_style.runtime` loads and
runs them (its runners are re-exported here: ``load_saved_model_runner``,
``load_tflite_runner``, ``load_keras_model``).

SavedModel signatures (``SIGNATURES``):

* ``serving_default(images)``: ``images`` float32 [batch, height, width, 3] in 0..255,
  batch, height and width dynamic (height, width >= ``MIN_SIZE``) ->
  ``{"stylized": float32 [batch, height, width, 3]}`` in 0..255 (full strength).
* ``stylize_with_strength(images, strength)``: the same plus ``strength`` float32 in
  [0, 1], a scalar, ``[1]`` or ``[batch]`` (one per image): ``(1 - s) * image + s *
  stylized``, as :func:`tf_style.networks.blend`. TF signatures have no default values,
  so the default (1.0) is the other signature.
* ``serve_image_bytes(image_bytes)``: ``image_bytes`` tf.string [batch] of encoded
  JPEG/PNG/GIF/BMP/WebP (any size each, first frame of a GIF) -> ``{"png_bytes": tf.string
  [batch]}``, one PNG per input at the input's (upright) size. Decoding follows
  :func:`tf_style.tfimage.decode_image_bytes`: EXIF orientation applied, transparency on
  white, and a header claiming more than ``max_pixels`` pixels refused before decoding. The ``_bytes`` suffixes make TF
  Serving's REST API accept ``{"b64": ...}`` and return ``{"b64": ...}``.

TFLite: ``convert_tflite`` gives a float32 [1, H, W, 3] -> [1, H, W, 3] model (also for
``"int8"``: quantize/dequantize ops at both ends keep the float interface). A model
converted for a fixed size only works at that size: ``resize_tensor_input`` to another
size runs but returns an image of the converted size (the crop back to the input size
is a constant). ``input_size=None`` converts with a dynamic height and width instead.

Example:
    >>> from tf_style.export import convert_tflite, save_saved_model, save_tflite
    >>> model = load_keras_model("models/starry_night_mobile.keras")  # doctest: +SKIP
    >>> save_saved_model(model, "serving/starry_night/1")  # doctest: +SKIP
    >>> save_tflite(convert_tflite(model, "float16"), "starry_night.tflite")  # doctest: +SKIP
"""

from __future__ import annotations

import os
import tempfile
from numbers import Integral
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import keras
import numpy as np
import tensorflow as tf

from tf_style import image as im
from tf_style import config, networks, tfimage
from tf_style.fsio import write_bytes_atomic, write_dir_atomically  # re-exported: the one folder write
# Loading and running artifacts live in tf_style.runtime; the names stay importable from here.
from tf_style.runtime import (  # noqa: F401
    TFLITE_IDENTIFIER as _TFLITE_IDENTIFIER,
    SavedModelRunner,
    TFLiteRunner,
    check_image_model as _check_model,
    load_keras_model,
    load_saved_model_runner,
    load_tflite_runner,
)
from tf_style.errors import (
    ConversionError,
    OptionError,
    OutputError,
)

PathLike = Union[str, os.PathLike]

QUANTIZATIONS = config.QUANTIZATIONS
"""TFLite weight/activation precisions accepted by :func:`convert_tflite`."""

SIGNATURES = ("serving_default", "stylize_with_strength", "serve_image_bytes")
"""Signatures (and callable attributes) of a SavedModel written by :func:`save_saved_model`."""

DEFAULT_TFLITE_SIZE = (config.DEFAULT_TFLITE_SIDE, config.DEFAULT_TFLITE_SIDE)
"""Default (height, width) of a converted TFLite model's input."""

MIN_SIZE = networks.MIN_SIZE
"""Smallest height/width the exported models accept."""

CALIBRATION_SAMPLES = 32
"""Default number of representative crops for ``"int8"`` calibration."""



# --------------------------------------------------------------------------- validation


def check_quantization(quantization: Any) -> str:
    """Return ``quantization`` if it is one of ``QUANTIZATIONS``, else raise OptionError.

    >>> check_quantization("float16")
    'float16'
    """
    if not isinstance(quantization, str) or quantization not in QUANTIZATIONS:
        raise OptionError(
            f"quantization={quantization!r} is not one of {', '.join(QUANTIZATIONS)}"
        )
    return quantization


def check_input_size(input_size: Any) -> Optional[Tuple[int, int]]:
    """None, an int (square) or (height, width), each >= MIN_SIZE -> (height, width) or None.

    >>> check_input_size(384)
    (384, 384)
    """
    if input_size is None:
        return None
    if isinstance(input_size, Integral) and not isinstance(input_size, bool):
        input_size = (input_size, input_size)
    ok = isinstance(input_size, (tuple, list)) and len(input_size) == 2
    if ok:
        ok = all(isinstance(s, Integral) and not isinstance(s, bool) for s in input_size)
    if not ok:
        raise OptionError(
            f"input_size={input_size!r} must be None, an integer or a (height, width) pair"
        )
    h, w = int(input_size[0]), int(input_size[1])
    if min(h, w) < MIN_SIZE:
        raise OptionError(f"input_size={input_size!r}: each side must be >= {MIN_SIZE} px")
    return h, w


def parse_input_size(text: str, *, option: str = "size") -> Union[int, Tuple[int, int], None]:
    """``"N"`` (square), ``"WxH"`` (width x height) or ``"any"`` -> an ``input_size``.

    Errors are :class:`OptionError` messages that start with ``option``.

    >>> parse_input_size("512x384")
    (384, 512)
    """
    value = str(text).strip().lower()
    if value == "any":
        return None
    try:
        if "x" in value:
            width, height = (int(v) for v in value.split("x"))
        else:
            width = height = int(value)
    except ValueError:
        raise OptionError(f"{option}: expected N, WxH or any, got {text!r}") from None
    if min(width, height) < MIN_SIZE:
        raise OptionError(f"{option}: each side must be >= {MIN_SIZE} px, got {text!r}")
    return height if "x" not in value else (height, width)


_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")


def image_files(sources: Sequence[PathLike], *, option: str = "images") -> List[str]:
    """Files and the images directly inside folders (by extension, sorted), as paths.

    Files are kept as given (reading them reports a missing or bad file); a folder with
    no image in it, or an empty result, raises OptionError naming ``option``.
    """
    files: List[str] = []
    for source in sources:
        source = os.fspath(source)
        if os.path.isdir(source):
            found = [
                os.path.join(source, name) for name in sorted(os.listdir(source))
                if name.lower().endswith(_IMAGE_SUFFIXES)
                and os.path.isfile(os.path.join(source, name))
            ]
            if not found:
                # A typo'd or empty folder would otherwise calibrate silently on the rest.
                raise OptionError(f"{option}: {source} is a directory with no image files in it")
            files.extend(found)
        else:
            files.append(source)
    if not files:
        shown = ", ".join(os.fspath(s) for s in sources) or "(nothing given)"
        raise OptionError(f"{option}: no images in {shown}")
    return files


def _one_line(error: object, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------- SavedModel


def _images_checked(images: tf.Tensor, name: str = "images") -> tf.Tensor:
    """``images`` after runtime checks of its shape, with messages a client can act on.

    Loaded signatures and TF Serving do not check a fed tensor against the signature's
    shape, so wrong ranks and channel counts would otherwise fail deep inside the net.
    """
    shape = tf.shape(images)
    # The rank from a reduction over the shape's values (never -1), not tf.rank/tf.size:
    # those fold to the signature's static rank 4, at trace time or in Grappler, while
    # TF Serving feeds whatever rank the request has.
    rank = tf.reduce_sum(tf.cast(tf.not_equal(shape, -1), tf.int32))
    rank_check = tf.debugging.assert_equal(
        rank, 4, message=f"{name} must have rank 4: [batch, height, width, 3]"
    )
    with tf.control_dependencies([rank_check]):
        shape = tf.identity(shape)
    checks = [
        tf.debugging.assert_equal(shape[-1], 3, message=f"{name} must have 3 channels (RGB)"),
        tf.debugging.assert_greater_equal(
            tf.reduce_min(shape[1:3]), MIN_SIZE,
            message=f"{name}: height and width must be >= {MIN_SIZE} px",
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(images)


def _serving_endpoints(model: keras.Model, max_pixels: int = tfimage.DEFAULT_MAX_DECODE_PIXELS):
    """(name, function, input_signature) of the three SavedModel signatures."""

    def stylize(images):
        return model(images, training=False)

    def serving_default(images):
        return {"stylized": stylize(_images_checked(images))}

    def stylize_with_strength(images, strength):
        images = _images_checked(images)
        strength = tf.convert_to_tensor(strength, tf.float32)
        flat = tf.reshape(strength, [-1])
        batch = tf.shape(images)[0]
        checks = [
            tf.debugging.assert_rank_in(
                strength, [0, 1], message="strength must be a scalar, [1] or [batch]"
            ),
            tf.debugging.Assert(
                tf.logical_or(tf.equal(tf.size(flat), 1), tf.equal(tf.size(flat), batch)),
                ["strength must hold 1 value or one per image; batch:", batch,
                 "strength values:", tf.size(flat)],
            ),
            tf.debugging.assert_greater_equal(flat, 0.0, message="strength must be in [0, 1]"),
            tf.debugging.assert_less_equal(flat, 1.0, message="strength must be in [0, 1]"),
        ]
        with tf.control_dependencies(checks):
            s = tf.reshape(flat, [-1, 1, 1, 1])
        # (1 - s) * c + s * t, as networks.blend: exact at both ends.
        return {"stylized": (1.0 - s) * images + s * stylize(images)}

    def serve_image_bytes(image_bytes):
        def one(data):
            decoded = tfimage.decode_image_bytes(data, max_pixels=max_pixels, name="image_bytes")
            decoded = _images_checked(decoded[tf.newaxis], "decoded image")
            out = stylize(tf.cast(decoded, tf.float32))
            pixels = tf.cast(tf.clip_by_value(tf.round(out[0]), 0.0, 255.0), tf.uint8)
            return tf.io.encode_png(pixels)

        # One image at a time: each may have its own size; 1 at a time bounds memory.
        png = tf.map_fn(
            one, image_bytes, fn_output_signature=tf.TensorSpec([], tf.string),
            parallel_iterations=1,
        )
        return {"png_bytes": png}

    images = tf.TensorSpec([None, None, None, 3], tf.float32, name="images")
    return [
        ("serving_default", serving_default, [images]),
        ("stylize_with_strength", stylize_with_strength,
         [images, tf.TensorSpec(None, tf.float32, name="strength")]),
        ("serve_image_bytes", serve_image_bytes,
         [tf.TensorSpec([None], tf.string, name="image_bytes")]),
    ]


def _is_replaceable_dir(path: Path) -> bool:
    """Only an empty directory or a SavedModel directory may be replaced with force=True."""
    if path.is_symlink() or not path.is_dir():
        return False
    names = set(os.listdir(path))
    return not names or "saved_model.pb" in names


def check_export_path(path: PathLike, *, force: bool = False, directory: bool = False) -> Path:
    """Raise :class:`OutputError` unless an export could be written to ``path``.

    ``directory=True`` for a SavedModel, False for a .tflite file. Call it before slow
    work so that a bad output fails at once. Returns ``path`` as a Path.

    >>> check_export_path("/no/dir/m.tflite")
    Traceback (most recent call last):
    ...
    tf_style.errors.OutputError: cannot write /no/dir/m.tflite: directory /no/dir does not exist
    """
    out = Path(os.fspath(path))
    _check_output(out, force, directory=directory)
    return out


def _check_output(path: Path, force: bool, *, directory: bool) -> None:
    parent = path.parent
    if not parent.is_dir():
        raise OutputError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: directory {parent} is not writable")
    if not (path.exists() or path.is_symlink()):
        return
    if not force:
        raise OutputError(f"{path} already exists; use force=True (--force) to replace it")
    if directory and not _is_replaceable_dir(path):
        raise OutputError(
            f"cannot replace {path}: only an empty directory or a SavedModel directory "
            "is replaced, even with force"
        )
    if not directory and (path.is_dir() and not path.is_symlink()):
        raise OutputError(f"cannot write {path}: it is a directory")


def save_saved_model(
    model: keras.Model,
    path: PathLike,
    *,
    force: bool = False,
    max_pixels: int = tfimage.DEFAULT_MAX_DECODE_PIXELS,
) -> Path:
    """Write ``model`` as a SavedModel with the signatures in ``SIGNATURES``; returns the path.

    The export is written to a temporary directory next to ``path`` and renamed into
    place, so a failure never leaves a partial export. An existing ``path`` is an
    :class:`OutputError` unless ``force=True``, which replaces an empty directory or a
    SavedModel directory (never another directory). For TF Serving, write to
    ``MODEL_BASE_PATH/<version>`` (e.g. ``serving/starry_night/1``). ``max_pixels`` bounds
    what ``serve_image_bytes`` decodes (checked from the header, before decoding).

    Example:
        >>> save_saved_model(networks.build_transformer("mobile"), "serving/m/1")  # doctest: +SKIP
        PosixPath('serving/mobile/1')
    """
    model = _check_model(model)
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, Integral) or max_pixels < MIN_SIZE ** 2:
        raise OptionError(f"max_pixels: expected an integer >= {MIN_SIZE ** 2}, got {max_pixels!r}")
    return _write_saved_model(model, _serving_endpoints(model, int(max_pixels)), path, force)


def _write_saved_model(model: keras.Model, endpoints, path: PathLike, force: bool) -> Path:
    """Write ``model`` with ``endpoints`` (name, function, input signature) atomically."""
    out = Path(os.fspath(path))
    _check_output(out, force, directory=True)

    def fill(tmp: Path) -> None:
        archive = keras.export.ExportArchive()
        archive.track(model)
        for name, fn, signature in endpoints:
            archive.add_endpoint(name, fn, input_signature=signature)
        archive.write_out(str(tmp), verbose=False)

    return write_dir_atomically(out, fill, lambda: _check_output(out, force, directory=True))


# --------------------------------------------------------------------------- TFLite


def _source_name(source: Any) -> str:
    return os.fsdecode(source) if isinstance(source, (str, os.PathLike)) else f"<{type(source).__name__}>"


def _calibration_crops(
    images: Sequence[Any], size: Tuple[int, int], count: int, seed: int
) -> List[np.ndarray]:
    """``count`` [1, h, w, 3] float32 arrays: each image resized to ``size`` once, then
    random crops at random scales (what a phone sends: whole photos and close-ups)."""
    h, w = size
    rng = np.random.default_rng(seed)
    photos = [im.read_image(source) for source in images]
    for source, photo in zip(images, photos):
        im.check_min_size(photo, MIN_SIZE, name=_source_name(source))
    if not photos:
        raise OptionError("representative_images is empty; int8 needs real photos")
    crops = [im.to_array(im.resize_to(p, (w, h)))[np.newaxis] for p in photos][:count]
    k = 0
    while len(crops) < count:
        photo = photos[k % len(photos)]
        k += 1
        pw, ph = photo.size
        cover = max(w / pw, h / ph)  # the smallest scale at which a crop fits
        scale = cover * rng.uniform(1.0, 2.5)
        sw, sh = max(w, round(pw * scale)), max(h, round(ph * scale))
        arr = im.to_array(im.resize_to(photo, (sw, sh)))
        top, left = rng.integers(0, sh - h + 1), rng.integers(0, sw - w + 1)
        crops.append(arr[np.newaxis, top : top + h, left : left + w])
    return crops


def convert_tflite(
    model: keras.Model,
    quantization: str = "none",
    input_size: Union[int, Tuple[int, int], None] = DEFAULT_TFLITE_SIZE,
    representative_images: Optional[Sequence[Any]] = None,
    *,
    calibration_samples: int = CALIBRATION_SAMPLES,
    seed: int = 0,
) -> bytes:
    """Convert ``model`` to a TFLite flatbuffer with builtin ops only; returns its bytes.

    Input and output are float32 [1, H, W, 3] in 0..255 for every quantization:

    * ``"none"``: float32 weights and math.
    * ``"float16"``: float16 weights (half the size), dequantized to float32 at load.
    * ``"dynamic"``: int8 weights of the larger tensors, float activations.
    * ``"int8"``: full integer (weights and activations, ``TFLITE_BUILTINS_INT8``),
      calibrated on ``calibration_samples`` crops of ``representative_images`` (paths,
      PIL images or arrays of real photos); the float interface adds one QUANTIZE and
      one DEQUANTIZE op.

    ``input_size`` is an int (square) or (height, width); the model then takes exactly
    that size. ``None`` converts with a dynamic height and width: callers call
    ``interpreter.resize_tensor_input`` (the runner does) for each new size.

    Raises:
        OptionError: a bad quantization, size, or no representative images for int8.
        ConversionError: the converter failed (an op without a builtin TFLite kernel).

    Example:
        >>> model = networks.build_transformer("mobile")
        >>> flatbuffer = convert_tflite(model, "float16", 384)  # doctest: +SKIP
    """
    model = _check_model(model)
    quantization = check_quantization(quantization)
    size = check_input_size(input_size)
    if isinstance(calibration_samples, bool) or not isinstance(calibration_samples, Integral) \
            or calibration_samples < 1:
        raise OptionError(f"calibration_samples={calibration_samples!r} must be an integer >= 1")
    samples: List[np.ndarray] = []
    if quantization == "int8":
        if representative_images is None or isinstance(representative_images, (str, bytes)) \
                or len(representative_images) == 0:
            raise OptionError(
                "quantization='int8' needs representative_images: a list of real photos"
            )
        # Dynamic size: calibrate at the default size (activation ranges hardly depend on it).
        samples = _calibration_crops(
            representative_images, size or DEFAULT_TFLITE_SIZE, int(calibration_samples), seed
        )

    shape = [1, None, None, 3] if size is None else [1, *size, 3]

    def write(tmp: str) -> None:
        # Through a SavedModel with a fixed batch of 1: from_concrete_functions lost the
        # weights, and an unknown batch size failed after the upsampling.
        model.export(tmp, format="tf_saved_model", verbose=False,
                     input_signature=[tf.TensorSpec(shape, tf.float32, name="image")])

    return saved_model_to_tflite(write, quantization, lambda: ([s] for s in samples), repr(model.name))


def saved_model_to_tflite(write: Callable[[str], None], quantization: str,
                          representative: Callable[[], Any], what: str) -> bytes:
    """The one TFLite conversion: ``write(folder)`` writes a temporary SavedModel, converted
    with builtin ops only at ``quantization`` (``representative`` feeds int8 calibration);
    errors name ``what``. Used by :func:`convert_tflite` and the arbitrary-style export.
    """
    with tempfile.TemporaryDirectory(prefix="tf_style_tflite_") as tmp:
        try:
            write(tmp)
        except Exception as err:  # noqa: BLE001 - a full or size-limited temp folder
            raise OutputError(
                f"cannot write the temporary SavedModel for the conversion in {tmp}: "
                f"{im.write_error_reason(err)} (TMPDIR chooses that folder)"
            ) from None
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantization != "none":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "float16":
            converter.target_spec.supported_types = [tf.float16]
        elif quantization == "int8":
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.representative_dataset = representative
            converter.inference_input_type = tf.float32
            converter.inference_output_type = tf.float32
        try:
            flatbuffer = converter.convert()
        except Exception as err:  # noqa: BLE001 - converter errors are many types
            raise ConversionError(
                f"cannot convert {what} to TFLite ({quantization}): "
                f"{type(err).__name__}: {_one_line(err)}"
            ) from None
    custom = [op for op in tflite_ops(flatbuffer) if not _is_builtin_name(op)]
    if custom:
        raise ConversionError(
            f"the TFLite model ({what}) uses non-builtin ops: {', '.join(sorted(set(custom)))}"
        )
    return bytes(flatbuffer)


def _is_builtin_name(name: str) -> bool:
    return not name.startswith("custom:")


def tflite_ops(flatbuffer: bytes) -> List[str]:
    """Names of the operators in a TFLite flatbuffer, in execution order.

    Builtin ops have their schema name (``"CONV_2D"``); custom and Flex ops appear as
    ``"custom:<code>"`` (e.g. ``"custom:FlexMirrorPad"``).
    """
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(flatbuffer), 0)
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = []
    for code in model.operatorCodes:
        # builtinCode is the real field; deprecatedBuiltinCode (int8) is 127 beyond it.
        builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
        if builtin == schema.BuiltinOperator.CUSTOM:
            custom = code.customCode
            if isinstance(custom, bytes):
                custom = custom.decode()
            codes.append(f"custom:{custom}")
        else:
            codes.append(names.get(builtin, str(builtin)))
    return [codes[op.opcodeIndex] for graph in model.subgraphs for op in graph.operators]


def save_tflite(flatbuffer: bytes, path: PathLike, *, force: bool = False) -> Path:
    """Write a TFLite flatbuffer to ``path`` atomically; returns the path.

    An existing file is an :class:`OutputError` unless ``force=True``.

    Example:
        >>> save_tflite(convert_tflite(model), "starry_night.tflite")  # doctest: +SKIP
        PosixPath('starry_night.tflite')
    """
    if not isinstance(flatbuffer, (bytes, bytearray)) or flatbuffer[4:8] != _TFLITE_IDENTIFIER:
        raise OptionError("flatbuffer is not a TFLite model (no TFL3 identifier)")
    out = Path(os.fspath(path))
    _check_output(out, force, directory=False)

    def recheck() -> None:  # the file may have appeared since the check above
        if not force and (out.exists() or out.is_symlink()):
            raise OutputError(f"{out} already exists; use force=True (--force) to replace it")

    return write_bytes_atomic(out, bytes(flatbuffer), recheck=recheck)


__all__ = [
    "QUANTIZATIONS",
    "SIGNATURES",
    "DEFAULT_TFLITE_SIZE",
    "MIN_SIZE",
    "CALIBRATION_SAMPLES",
    "ConversionError",
    "check_quantization",
    "check_export_path",
    "check_input_size",
    "parse_input_size",
    "image_files",
    "load_keras_model",
    "save_saved_model",
    "convert_tflite",
    "save_tflite",
    "tflite_ops",
    "SavedModelRunner",
    "TFLiteRunner",
    "load_saved_model_runner",
    "load_tflite_runner",
]
