"""Reading, converting, resizing and saving images; colour-space helpers.

Everything here works on Pillow images and numpy arrays only: this module sits at
the bottom of the import stack and must not import TensorFlow.

Pixel convention (see docs/CONTRIBUTING.md): RGB, float32, values in [0, 255],
shape [H, W, 3] for a single image in numpy.

Example::

    >>> from tf_style.image import read_image, resize_long_side, to_array
    >>> arr = to_array(resize_long_side(read_image("photo.jpg"), 512))  # doctest: +SKIP
"""

from __future__ import annotations

import errno
import os
import pathlib
import stat
import warnings
from typing import Sequence, Union

import numpy as np
from PIL import Image, ImageOps

from tf_style.config import check_int
from tf_style.errors import ImageReadError, ImageSizeError, OptionError, OutputError, TfStyleError
# The atomic writes live in tf_style.fsio; these names stay importable from here.
from tf_style.fsio import atomic_file, atomic_path, write_error_reason  # noqa: F401
from tf_style.fsio import fsync_dir as _fsync_dir  # noqa: F401
from tf_style.fsio import umask as _umask  # noqa: F401

ImageLike = Union[str, os.PathLike, Image.Image, np.ndarray]
"""What :func:`read_image` accepts: a path, a Pillow image or a uint8 numpy array."""

PathLike = Union[str, os.PathLike]

DEFAULT_MAX_PIXELS = 178_956_970
"""Default pixel limit; equals Pillow's own hard limit (2 x ``Image.MAX_IMAGE_PIXELS``)."""

# Formats read_image decodes. Restricting Image.open to these keeps Pillow's rarely used
# decoders (and their bugs) away from untrusted files. JPEG also covers MPO (phone photos).
_READ_FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF", "PPM", "AVIF")

# Extension -> Pillow format for save_image.
_SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}

_ORIENTATION_TAG = 0x0112

# NTSC RGB -> YIQ (rows: Y, I, Q). Y's weights sum to 1, so Y of an RGB image in
# [0, 255] is in [0, 255] too.
_RGB_TO_YIQ = np.array(
    [
        [0.299, 0.587, 0.114],
        [0.595716, -0.274453, -0.321263],
        [0.211456, -0.522591, 0.311135],
    ],
    dtype=np.float64,
)
# Exact inverse rather than the rounded textbook one, so a round trip is lossless.
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


# --------------------------------------------------------------------------- reading


def _oneline(text: object) -> str:
    return " ".join(str(text).split())


def _describe_os_error(err: OSError, name: str) -> str:
    code = err.errno
    if code == errno.ENOENT:
        if os.path.islink(name):
            return "broken symbolic link (its target does not exist)"
        return "no such file"
    if code == errno.ELOOP:
        return "too many levels of symbolic links (symlink loop)"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if code == errno.EISDIR:
        return "is a directory, not an image file"
    if code == errno.ENOTDIR:
        return "a component of the path is not a directory"
    return _oneline(err.strerror or err)


def _read_formats() -> tuple[str, ...]:
    # Formats missing from this Pillow build (e.g. AVIF before Pillow 11.3) would make
    # Image.open raise KeyError, so keep only the registered ones.
    Image.init()
    return tuple(f for f in _READ_FORMATS if f in Image.OPEN)


def _sniff(prefix: bytes) -> str | None:
    """Name the format a file's magic bytes claim, to tell "corrupt" from "not an image"."""
    if prefix.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if prefix.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if prefix[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if prefix[:4] == b"RIFF" and prefix[8:12] == b"WEBP":
        return "WebP"
    if prefix[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if prefix[:2] == b"BM":
        return "BMP"
    return None


def _check_pixels(size: tuple[int, int], max_pixels: int, name: str) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise ImageReadError(f"{name}: image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise ImageSizeError(
            f"{name}: image is {width}x{height} ({width * height} pixels), more than the limit "
            f"of {max_pixels} pixels (decompression bomb?); raise max_pixels to allow it"
        )


def _scale_to_uint8(image: Image.Image) -> np.ndarray:
    """Map a high-bit-depth greyscale image (I;16*, I, F) onto 0..255 without clipping."""
    mode = image.mode
    arr = np.asarray(image)
    if mode.startswith("I;16"):
        # Full 16-bit range: 65535 -> 255 (Pillow's own convert("L") clips at 255 instead).
        scaled = arr.astype(np.float64) / 257.0
    elif mode == "I":
        # 32-bit ints usually carry 8- or 16-bit data (older Pillow opens 16-bit PNGs as I).
        scaled = np.clip(arr.astype(np.float64), 0, None)
        peak = float(scaled.max())
        if peak > 65535:
            scaled *= 255.0 / peak
        elif peak > 255:
            scaled /= 257.0
    elif mode == "F":
        scaled = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        scaled = np.clip(scaled, 0, None)
        peak = float(scaled.max())
        if peak <= 1.0:  # float images are conventionally in [0, 1]
            scaled *= 255.0
        elif peak > 255.0:
            scaled *= 255.0 / peak
    else:  # pragma: no cover - callers only pass the modes above
        raise ValueError(mode)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _composite_on_white(rgba: Image.Image) -> Image.Image:
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def _to_rgb(image: Image.Image) -> Image.Image:
    """Return a new, loaded RGB image; never the object passed in."""
    image.load()
    if image.getexif().get(_ORIENTATION_TAG, 1) in range(2, 9):
        image = ImageOps.exif_transpose(image)
    mode = image.mode
    transparency = image.info.get("transparency")

    if mode.startswith("I;16") or mode in ("I", "F"):
        grey = Image.fromarray(_scale_to_uint8(image))
        if transparency is not None and mode != "F":
            # A tRNS chunk in a 16-bit greyscale PNG names the one transparent grey value.
            alpha = np.where(np.asarray(image) == transparency, 0, 255).astype(np.uint8)
            rgba = grey.convert("RGB")
            rgba.putalpha(Image.fromarray(alpha))
            return _composite_on_white(rgba)
        return grey.convert("RGB")
    if mode == "La":  # premultiplied; Pillow converts it only to LA
        image, mode = image.convert("LA"), "LA"
    if mode in ("RGBA", "LA", "PA", "RGBa") or transparency is not None:
        return _composite_on_white(image.convert("RGBA"))
    if mode == "RGB":
        return image.copy()
    return image.convert("RGB")


def _read_path(source: PathLike, max_pixels: int) -> Image.Image:
    path = os.fspath(source)
    name = os.fsdecode(path)
    try:
        info = os.stat(path)
    except OSError as err:
        raise ImageReadError(f"{name}: {_describe_os_error(err, name)}") from None
    except ValueError as err:  # e.g. an embedded NUL byte
        raise ImageReadError(f"{name}: invalid path ({_oneline(err)})") from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageReadError(f"{name}: is a directory, not an image file")
    if not stat.S_ISREG(info.st_mode):
        # Opening a FIFO or a device could block forever or read without end.
        raise ImageReadError(f"{name}: not a regular file")
    if info.st_size == 0:
        raise ImageReadError(f"{name}: empty file (0 bytes)")

    try:
        fp = open(path, "rb")
    except OSError as err:
        raise ImageReadError(f"{name}: {_describe_os_error(err, name)}") from None

    with fp, warnings.catch_warnings():
        # Pillow warns above Image.MAX_IMAGE_PIXELS; max_pixels is the limit that counts
        # here, checked below, and images past Pillow's hard limit raise DecompressionBombError.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            with Image.open(fp, formats=_read_formats()) as opened:
                _check_pixels(opened.size, max_pixels, name)
                return _to_rgb(opened)  # loads fully, so truncated files fail here
        except TfStyleError:
            raise
        except Image.DecompressionBombError as err:
            raise ImageSizeError(f"{name}: image is too large: {_oneline(err)}") from None
        except Image.UnidentifiedImageError:
            # Pillow also says "unidentified" when a known format's header is broken
            # (e.g. a bad IHDR checksum), so look at the magic bytes ourselves.
            fp.seek(0)
            claimed = _sniff(fp.read(16))
            if claimed is not None:
                raise ImageReadError(
                    f"{name}: corrupt or truncated {claimed} file (its header cannot be parsed)"
                ) from None
            raise ImageReadError(
                f"{name}: not an image in a supported format "
                f"({', '.join(_read_formats())})"
            ) from None
        except MemoryError:
            raise ImageReadError(f"{name}: not enough memory to decode the image") from None
        except Exception as err:  # noqa: BLE001 - untrusted data: Pillow raises many types
            raise ImageReadError(
                f"{name}: corrupt or truncated image ({type(err).__name__}: {_oneline(err)})"
            ) from None


def _from_array(array: np.ndarray, max_pixels: int) -> Image.Image:
    ok_shape = array.ndim == 2 or (array.ndim == 3 and array.shape[2] in (3, 4))
    if array.dtype != np.uint8 or not ok_shape:
        raise ImageReadError(
            f"numpy array: expected an HxWx3 uint8 array (or HxW grey / HxWx4 RGBA uint8), "
            f"got shape {array.shape} dtype {array.dtype}"
        )
    height, width = array.shape[:2]
    _check_pixels((width, height), max_pixels, f"numpy array of shape {array.shape}")
    return _to_rgb(Image.fromarray(np.ascontiguousarray(array)))


def read_image(source: ImageLike, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Read ``source`` into a new, fully decoded RGB Pillow image.

    ``source`` is a path (JPEG, PNG, WebP, BMP, TIFF first page, GIF first frame, PPM,
    AVIF where Pillow supports it), a Pillow image, or a uint8 numpy array (HxWx3, HxW
    grey or HxWx4 RGBA). EXIF orientation is applied; alpha is composited on white;
    16-bit and float images are scaled to 8 bits. Images with more than ``max_pixels``
    pixels raise :class:`ImageSizeError` before any pixel is decoded (Pillow's own hard
    limit, ``2 * Image.MAX_IMAGE_PIXELS``, still applies above the default). Every other
    problem raises :class:`ImageReadError` naming the file.

    >>> read_image(np.zeros((4, 6, 3), np.uint8)).size
    (6, 4)
    """
    max_pixels = check_int("max_pixels", max_pixels)
    if isinstance(source, np.ndarray):
        return _from_array(source, max_pixels)
    if isinstance(source, Image.Image):
        name = f"{source.format or 'in-memory'} image"
        if getattr(source, "filename", ""):
            name = os.fsdecode(source.filename)
        _check_pixels(source.size, max_pixels, name)
        try:
            return _to_rgb(source)
        except TfStyleError:
            raise
        except Exception as err:  # noqa: BLE001 - a lazily loaded image can still be corrupt
            raise ImageReadError(
                f"{name}: cannot decode image ({type(err).__name__}: {_oneline(err)})"
            ) from None
    if isinstance(source, (str, os.PathLike)):
        return _read_path(source, max_pixels)
    raise ImageReadError(
        f"cannot read an image from a {type(source).__name__} object; "
        "expected a path, a PIL image or a numpy array"
    )


# --------------------------------------------------------------------------- sizes


def check_min_size(image: Image.Image, min_side: int, *, name: str) -> None:
    """Raise :class:`ImageSizeError` if either side of ``image`` is below ``min_side`` px.

    >>> check_min_size(Image.new("RGB", (32, 32)), 16, name="content")
    """
    width, height = image.size
    if width < min_side or height < min_side:
        raise ImageSizeError(
            f"{name}: image is {width}x{height}, smaller than the minimum of "
            f"{min_side} px on each side"
        )


def resize_long_side(image: Image.Image, long_side: int) -> Image.Image:
    """Resize (Lanczos) so the longer side is ``long_side`` px, keeping the aspect ratio.

    >>> resize_long_side(Image.new("RGB", (400, 100)), 200).size
    (200, 50)
    """
    long_side = check_int("long_side", long_side)
    width, height = image.size
    if width >= height:
        size = (long_side, max(1, round(height * long_side / width)))
    else:
        size = (max(1, round(width * long_side / height)), long_side)
    return resize_to(image, size)


def resize_to(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize (Lanczos) to exactly ``size`` = (width, height); returns a new image.

    >>> resize_to(Image.new("RGB", (40, 10)), (8, 8)).size
    (8, 8)
    """
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise OptionError(f"size must be a (width, height) pair, got {size!r}")
    width = check_int("size width", size[0])
    height = check_int("size height", size[1])
    if image.size == (width, height):
        return image.copy()
    return image.resize((width, height), Image.Resampling.LANCZOS)


# --------------------------------------------------------------------------- arrays


def to_array(image: Image.Image) -> np.ndarray:
    """Return ``image`` as a new float32 HxWx3 array with values in [0, 255].

    >>> to_array(Image.new("RGB", (3, 2), (255, 0, 0))).shape
    (2, 3, 3)
    """
    if image.mode != "RGB":
        image = _to_rgb(image)
    return np.array(image, dtype=np.float32)


def to_pil(array: np.ndarray) -> Image.Image:
    """Return an RGB image from an HxWx3 (or 1xHxWx3) array.

    uint8 is taken as is; other real dtypes are clipped to [0, 255] and rounded (NaN -> 0).
    Array-likes such as eager tensors work too.

    >>> to_pil(np.full((2, 3, 3), 300.0)).getpixel((0, 0))
    (255, 255, 255)
    """
    arr = np.asarray(array)
    if arr.ndim == 4 and arr.shape[0] == 1:
        arr = arr[0]
    numeric = arr.dtype.kind in "fiu"
    if not numeric or arr.ndim != 3 or arr.shape[2] != 3 or 0 in arr.shape:
        raise OptionError(
            f"array must be an HxWx3 array of numbers in [0, 255], "
            f"got shape {arr.shape} dtype {arr.dtype}"
        )
    if arr.dtype != np.uint8:
        arr = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=255.0, neginf=0.0)
        arr = np.rint(np.clip(arr, 0.0, 255.0)).astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(arr))


# --------------------------------------------------------------------------- saving


def _real(path: PathLike) -> str:
    # realpath (not Path.resolve) because it tolerates symlink loops on every Python.
    return os.path.normcase(os.path.realpath(os.fspath(path)))


def _same_file(a: PathLike, b: PathLike) -> bool:
    if _real(a) == _real(b):
        return True
    try:
        return os.path.samefile(a, b)  # also catches hard links
    except (OSError, ValueError):
        return False


def sha256_file(path: PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (weight files are tens of MB).

    Example:
        >>> sha256_file("weights.npz")  # doctest: +SKIP
        '0411364e...'
    """
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_output_path(path: PathLike, *, inputs: Sequence[PathLike] = ()) -> pathlib.Path:
    """Raise :class:`OutputError` unless :func:`save_image` could write ``path``.

    Checks the extension (.png, .jpg, .jpeg, .webp), that ``path`` is not a directory,
    that its parent exists and is a writable directory, and that it is not the same file
    as any of ``inputs`` (non-path entries are ignored). Call it before long work so a
    bad output path fails at once. Returns ``path`` as a :class:`pathlib.Path`.

    >>> check_output_path("out.gif")
    Traceback (most recent call last):
    ...
    tf_style.errors.OutputError: cannot write out.gif: extension '.gif'; use one of .png, .jpg, .jpeg, .webp
    """
    out = pathlib.Path(os.fspath(path))
    if out.suffix.lower() not in _SAVE_FORMATS:
        got = f"extension '{out.suffix}'" if out.suffix else "no extension"
        raise OutputError(f"cannot write {out}: {got}; use one of .png, .jpg, .jpeg, .webp")
    if out.is_dir():
        raise OutputError(f"cannot write {out}: it is a directory")
    parent = out.parent
    if not parent.exists():
        raise OutputError(f"cannot write {out}: directory {parent} does not exist")
    if not parent.is_dir():
        raise OutputError(f"cannot write {out}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {out}: directory {parent} is not writable")
    for source in inputs:
        if isinstance(source, (str, os.PathLike)) and _same_file(out, source):
            raise OutputError(
                f"cannot write {out}: it is the same file as the input {os.fsdecode(source)}"
            )
    return out


def save_image(
    image: Image.Image | np.ndarray,
    path: PathLike,
    *,
    inputs: Sequence[PathLike] = (),
    quality: int = 95,
) -> pathlib.Path:
    """Write ``image`` to ``path`` atomically; the extension picks the format.

    .png, .jpg/.jpeg and .webp are accepted. The image goes to a temporary file in the
    same directory, is fsynced, then renamed over ``path``, so a failure never leaves a
    partial file and never touches a previous file at ``path``. Raises
    :class:`OutputError` for an unsupported extension, a directory, a missing or
    unwritable parent, or a path that is the same file as one of ``inputs``.

    >>> save_image(np.zeros((4, 4, 3), np.float32), "out.png", inputs=["in.jpg"])  # doctest: +SKIP
    PosixPath('out.png')
    """
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise OptionError(f"quality must be an integer from 1 to 100, got {quality!r}")
    out = check_output_path(path, inputs=inputs)
    fmt = _SAVE_FORMATS[out.suffix.lower()]

    if not isinstance(image, Image.Image):
        image = to_pil(image)
    keep = ("RGB", "L") if fmt == "JPEG" else ("RGB", "RGBA", "L")
    if image.mode not in keep:
        image = _to_rgb(image)
    options: dict[str, object] = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}

    try:
        with atomic_file(out, "wb") as f:
            image.save(f, format=fmt, **options)
    except Exception as err:  # noqa: BLE001 - any failure becomes one OutputError
        raise OutputError(f"cannot write {out}: {write_error_reason(err)}") from None
    return out


# --------------------------------------------------------------------------- colour


def _last_axis_3(arr: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim < 1 or arr.shape[-1] != 3 or arr.dtype.kind not in "fiu":
        raise OptionError(
            f"{what} must be a numeric array with 3 channels last, "
            f"got shape {arr.shape} dtype {arr.dtype}"
        )
    return arr.astype(np.float64)


def rgb_to_yiq(arr: np.ndarray) -> np.ndarray:
    """Convert RGB (..., 3) to NTSC YIQ as float32; Y is in [0, 255] for RGB in [0, 255].

    >>> bool(np.allclose(rgb_to_yiq(np.full((1, 1, 3), 255.0)), [255.0, 0.0, 0.0], atol=1e-3))
    True
    """
    return (_last_axis_3(arr, "arr") @ _RGB_TO_YIQ.T).astype(np.float32)


def yiq_to_rgb(arr: np.ndarray) -> np.ndarray:
    """Convert YIQ (..., 3) back to RGB as float32, not clipped (the inverse of rgb_to_yiq).

    >>> yiq_to_rgb(np.array([[[128.0, 0.0, 0.0]]]))[0, 0].round(3).tolist()
    [128.0, 128.0, 128.0]
    """
    return (_last_axis_3(arr, "arr") @ _YIQ_TO_RGB.T).astype(np.float32)


def luminance_image(arr: np.ndarray) -> np.ndarray:
    """Return the luminance (Y) of an RGB array replicated to 3 channels (a grey RGB image).

    Used to feed luminance-only images to the network when colour is preserved.

    >>> [round(float(v), 2) for v in luminance_image(np.array([[[255.0, 0.0, 0.0]]]))[0, 0]]
    [76.25, 76.25, 76.25]
    """
    y = _last_axis_3(arr, "arr") @ _RGB_TO_YIQ[0]
    return np.repeat(y[..., None], 3, axis=-1).astype(np.float32)


def match_luminance_transfer(styled: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Combine the luminance of ``styled`` with the colour (I, Q) of ``content``.

    This is the "preserve colour" step of luminance-only transfer (Gatys et al. 2016).
    Both are RGB arrays in [0, 255] of the same shape; returns float32 RGB in [0, 255].

    >>> out = match_luminance_transfer(np.full((2, 2, 3), 200.0), np.zeros((2, 2, 3)))
    >>> float(out.min()), float(out.max())
    (200.0, 200.0)
    """
    styled_yiq = rgb_to_yiq(styled)
    content_yiq = rgb_to_yiq(content)
    if styled_yiq.shape != content_yiq.shape:
        raise OptionError(
            f"styled and content must have the same shape, got {styled_yiq.shape} "
            f"and {content_yiq.shape}"
        )
    combined = np.concatenate([styled_yiq[..., :1], content_yiq[..., 1:]], axis=-1)
    return np.clip(yiq_to_rgb(combined), 0.0, 255.0).astype(np.float32)


__all__ = [
    "DEFAULT_MAX_PIXELS",
    "sha256_file",
    "write_error_reason",
    "atomic_path",
    "ImageLike",
    "check_min_size",
    "check_output_path",
    "luminance_image",
    "match_luminance_transfer",
    "read_image",
    "resize_long_side",
    "resize_to",
    "rgb_to_yiq",
    "save_image",
    "to_array",
    "to_pil",
    "yiq_to_rgb",
]
