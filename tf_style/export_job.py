"""The export front end: what ``tf-style export`` and ``export/saved_model.py`` /
``export/tflite.py`` run, once.

:func:`run_export` takes the command's options as keyword arguments (named after its flags:
``saved_model`` is ``--saved-model``, ``quantize`` is ``--quantize``, ...), checks them all
before anything slow (option combinations before TensorFlow loads, every output path before
the model loads), loads the model (a per-style ``.keras``, a one-file arbitrary ``.keras`` or
``"arbitrary"``), writes the SavedModel and/or the TFLite file (a folder of two files for an
arbitrary-style model) through :mod:`tf_style.export` / :mod:`tf_style.export_arbitrary`,
logs one line per output and returns the command's JSON object. Its :class:`OptionError`
messages name the flags, since this is the command's front end; Python code that exports
one artifact calls the writers directly.

Example:
    >>> from tf_style.export_job import run_export
    >>> run_export("models/starry.keras", tflite="starry.tflite", quantize="float16")  # doctest: +SKIP
    {'model': 'models/starry.keras', 'tflite': 'starry.tflite', 'tflite_bytes': 412345, ...}
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Dict, Optional, Sequence, Union

from tf_style.errors import OptionError

__all__ = ["run_export", "DEFAULT"]

PathLike = Union[str, os.PathLike]

DEFAULT = "default"
"""``size``/``max_pixels`` value meaning the writers' defaults (``tf_style.export.DEFAULT_TFLITE_SIZE``,
``tf_style.tfimage.DEFAULT_MAX_DECODE_PIXELS``), which are known only once TensorFlow loads."""


def run_export(
    model: PathLike,
    *,
    saved_model: Optional[PathLike] = None,
    tflite: Optional[PathLike] = None,
    quantize: str = "none",
    size: Any = DEFAULT,
    calibration: Optional[Sequence[PathLike]] = None,
    force: bool = False,
    max_pixels: Any = DEFAULT,
    trust_model_code: bool = False,
    log: Optional[Callable[[str], None]] = None,
) -> Dict[str, object]:
    """Export ``model`` as a SavedModel (``saved_model``) and/or TFLite (``tflite``).

    ``size``: the TFLite input size, as text (``"N"``, ``"WxH"``, ``"any"``) or an
    ``input_size`` (int, (height, width), None: dynamic); ``calibration``: photos (files or
    folders) for ``quantize="int8"``. Returns ``{"model", "saved_model", "signatures",
    "tflite", "tflite_bytes", "quantization", "input_size", "seconds"}`` (what was written;
    an arbitrary-style model adds ``"arbitrary": True`` and ``"tflite_files"``, and its
    ``tflite_bytes`` is one size per file).

    Raises :class:`OptionError`, :class:`OutputError` or :class:`ModelLoadError` before
    anything is written.
    """
    log = log or (lambda message: None)
    if not saved_model and not tflite:
        raise OptionError("nothing to write: give --saved-model DIR and/or --tflite FILE")
    if not tflite and (quantize != "none" or calibration):
        raise OptionError("--quantize/--calibration: apply to --tflite only")
    if quantize == "int8" and not calibration:
        raise OptionError("--calibration: --quantize int8 needs real photos (files or folders)")
    if quantize != "int8" and calibration:
        raise OptionError("--calibration: only used with --quantize int8")

    from tf_style import export as ex
    from tf_style import export_arbitrary as ea

    start = time.perf_counter()
    quantize = ex.check_quantization(quantize)
    photos = ex.image_files(calibration, option="--calibration") if calibration else None
    if size == DEFAULT:
        size = ex.DEFAULT_TFLITE_SIZE
    elif isinstance(size, str):
        size = ex.parse_input_size(size, option="--size")
    size = ex.check_input_size(size)
    if max_pixels == DEFAULT:
        from tf_style import tfimage

        max_pixels = tfimage.DEFAULT_MAX_DECODE_PIXELS
    # Every output checked before the slow work, so a bad path fails in a second.
    if saved_model:
        ex.check_export_path(saved_model, force=force, directory=True)
    arbitrary = ea.is_arbitrary_file(model)
    if tflite:
        if arbitrary:  # a folder of two files
            ea.check_tflite_dir(tflite, force=force)
        else:
            ex.check_export_path(tflite, force=force)

    result: Dict[str, object] = {"model": os.fspath(model)}
    if arbitrary:
        result["arbitrary"] = True
        loaded = ea.load_arbitrary(model, trust_code=trust_model_code)
        write_sm, signatures = ea.save_arbitrary_saved_model, ea.ARBITRARY_SIGNATURES
    else:
        loaded = ex.load_keras_model(model, trust_code=trust_model_code)
        write_sm, signatures = ex.save_saved_model, ex.SIGNATURES
    if saved_model:
        path = write_sm(loaded, saved_model, force=force, max_pixels=max_pixels)
        result.update(saved_model=str(path), signatures=list(signatures))
        log(f"wrote SavedModel {path} (signatures {', '.join(signatures)})")
    if tflite:
        shown = "any size" if size is None else f"{size[1]}x{size[0]}"
        if arbitrary:
            pair = ea.convert_arbitrary_tflite(loaded, quantize, size, photos)
            path = ea.save_arbitrary_tflite(pair, tflite, force=force)
            result.update(tflite=str(path), tflite_files=[ea.PREDICT_TFLITE, ea.TRANSFER_TFLITE],
                          tflite_bytes=[len(b) for b in pair])
            log(f"wrote {path}/{ea.PREDICT_TFLITE} ({len(pair[0]) / 1e6:.2f} MB) and {ea.TRANSFER_TFLITE} "
                f"({len(pair[1]) / 1e6:.2f} MB), {quantize}, photos {shown}")
        else:
            flatbuffer = ex.convert_tflite(loaded, quantize, size, photos)
            path = ex.save_tflite(flatbuffer, tflite, force=force)
            result.update(tflite=str(path), tflite_bytes=len(flatbuffer))
            log(f"wrote {path} ({len(flatbuffer) / 1e6:.2f} MB, {quantize}, input {shown})")
        result.update(quantization=quantize, input_size=None if size is None else list(size))
    result["seconds"] = round(time.perf_counter() - start, 3)
    return result
