"""Decoding untrusted image bytes inside a TensorFlow graph.

The SavedModel ``serve_image_bytes`` signature and the training input pipeline decode
bytes with TensorFlow ops, where :func:`tf_style.image.read_image` (Pillow) cannot run.
:func:`decode_image_bytes` gives them the same promises where a graph can keep them:

* the size claimed by the header is checked *before* decoding, so a few hundred bytes
  claiming 100000x100000 pixels fail fast instead of allocating 30 GB (JPEG, PNG, GIF,
  BMP, WebP headers are read);
* the JPEG EXIF orientation is applied, so phone photos come out upright;
* PNG transparency (palette, LA, RGBA) is composited on white, as ``read_image`` does;
* 16-bit PNGs are scaled to 8 bits; GIFs give their first frame.

Formats are those of ``tf.io.decode_image``: JPEG, PNG, GIF, BMP, WebP. Anything else,
and broken data, raise ``tf.errors.InvalidArgumentError`` with TensorFlow's message.
"""

from __future__ import annotations

import tensorflow as tf

from tf_style.config import DEFAULT_MAX_DECODE_PIXELS

__all__ = ["DEFAULT_MAX_DECODE_PIXELS", "header_size", "exif_orientation", "apply_orientation",
           "decode_image_bytes"]

#: JPEG's APP1 (EXIF) segment sits before the image data, within the first 64 KB.
_EXIF_SEARCH_BYTES = 65536
_MAX_IFD_ENTRIES = 64


def _head(data: tf.Tensor, n: int) -> tf.Tensor:
    """The first ``n`` bytes of ``data`` as int64 [n] (no overflow in 4-byte fields),
    zero-padded when shorter."""
    head = tf.strings.substr(data, 0, n)
    padded = tf.strings.substr(tf.strings.join([head, tf.constant(b"\0" * n)]), 0, n)
    return tf.cast(tf.io.decode_raw(padded, tf.uint8), tf.int64)


def _le(b: tf.Tensor, at: int, n: int) -> tf.Tensor:
    return sum(b[at + k] * (256 ** k) for k in range(n))


def _be(b: tf.Tensor, at: int, n: int) -> tf.Tensor:
    return sum(b[at + k] * (256 ** (n - 1 - k)) for k in range(n))


def _starts(b: tf.Tensor, magic: bytes, at: int = 0) -> tf.Tensor:
    return tf.reduce_all(tf.equal(b[at : at + len(magic)], list(magic)))


def header_size(data: tf.Tensor) -> tf.Tensor:
    """``[height, width]`` int64 that the header of encoded ``data`` claims; -1s if unknown.

    Reads 32 bytes (and, for JPEG, the frame header), never the pixel data.
    """
    b = _head(data, 32)
    unknown = tf.constant([-1, -1], tf.int64)

    def hw(h, w):
        return tf.cast(tf.stack([h, w]), tf.int64)

    def bmp():
        height = _le(b, 22, 4)
        # Negative (two's complement) for rows stored top-down.
        height = tf.where(height >= 2 ** 31, 2 ** 32 - height, height)
        return hw(height, _le(b, 18, 4))

    def webp():
        vp8x = (hw(_le(b, 27, 3) + 1, _le(b, 24, 3) + 1))
        bits = _le(b, 21, 4)
        vp8l = hw((bits // 16384) % 16384 + 1, bits % 16384 + 1)
        vp8 = hw(_le(b, 28, 2) % 16384, _le(b, 26, 2) % 16384)
        return tf.case(
            [(_starts(b, b"VP8X", 12), lambda: vp8x), (_starts(b, b"VP8L", 12), lambda: vp8l),
             (_starts(b, b"VP8 ", 12), lambda: vp8)],
            default=lambda: unknown,
        )

    return tf.case(
        [
            (_starts(b, b"\x89PNG\r\n\x1a\n"), lambda: hw(_be(b, 20, 4), _be(b, 16, 4))),
            (_starts(b, b"GIF8"), lambda: hw(_le(b, 8, 2), _le(b, 6, 2))),
            (_starts(b, b"BM"), bmp),
            (tf.logical_and(_starts(b, b"RIFF"), _starts(b, b"WEBP", 8)), webp),
            (_starts(b, b"\xff\xd8\xff"),
             lambda: tf.cast(tf.image.extract_jpeg_shape(data)[:2], tf.int64)),
        ],
        default=lambda: unknown,
    )


def exif_orientation(data: tf.Tensor) -> tf.Tensor:
    """The EXIF orientation (1..8) of JPEG ``data``; 1 when absent or unreadable."""
    b = _head(data, _EXIF_SEARCH_BYTES + 16)
    n = _EXIF_SEARCH_BYTES
    # "Exif\0\0" right after an APP1 marker and its 2-byte length: FF E1 ll ll E x i f 0 0.
    pattern = [0xFF, 0xE1, None, None, 0x45, 0x78, 0x69, 0x66, 0x00, 0x00]
    hit = tf.ones([n], tf.bool)
    for k, value in enumerate(pattern):
        if value is not None:
            hit = tf.logical_and(hit, tf.equal(b[k : k + n], value))
    found = tf.reduce_any(hit)
    tiff = tf.argmax(tf.cast(hit, tf.int32), output_type=tf.int64) + 10
    size = tf.shape(b, out_type=tf.int64)[0]
    little = tf.equal(tf.gather(b, tf.minimum(tiff, size - 1)), 0x49)  # "II" vs "MM"

    def uint(at, count):
        at = tf.clip_by_value(at, 0, size - count)
        parts = [tf.gather(b, at + k) for k in range(count)]
        le = sum(p * (256 ** k) for k, p in enumerate(parts))
        be = sum(p * (256 ** (count - 1 - k)) for k, p in enumerate(parts))
        return tf.where(little, le, be)

    ifd = tiff + uint(tiff + 4, 4)
    entries = tf.minimum(uint(ifd, 2), _MAX_IFD_ENTRIES)
    starts = ifd + 2 + 12 * tf.range(_MAX_IFD_ENTRIES, dtype=tf.int64)
    tags = tf.stack([uint(s, 2) for s in tf.unstack(starts)])
    values = tf.stack([uint(s + 8, 2) for s in tf.unstack(starts)])
    match = tf.logical_and(tf.equal(tags, 0x0112), tf.range(_MAX_IFD_ENTRIES, dtype=tf.int64) < entries)
    value = tf.reduce_max(tf.where(match, values, 0))
    valid = tf.logical_and(found, tf.logical_and(value >= 1, value <= 8))
    return tf.where(valid, value, tf.constant(1, tf.int64))


def apply_orientation(image: tf.Tensor, orientation: tf.Tensor) -> tf.Tensor:
    """``image`` [H, W, C] turned upright for EXIF ``orientation`` (as PIL's exif_transpose)."""
    transposed = lambda: tf.transpose(image, [1, 0, 2])  # noqa: E731
    branches = [
        lambda: image,  # 1
        lambda: tf.reverse(image, [1]),  # 2: mirrored
        lambda: tf.image.rot90(image, 2),  # 3: upside down
        lambda: tf.reverse(image, [0]),  # 4: flipped
        transposed,  # 5
        lambda: tf.image.rot90(image, 3),  # 6: turn 90 degrees clockwise
        lambda: tf.image.rot90(transposed(), 2),  # 7: transverse
        lambda: tf.image.rot90(image, 1),  # 8: turn 90 degrees counter-clockwise
    ]
    index = tf.clip_by_value(tf.cast(orientation, tf.int32) - 1, 0, 7)
    return tf.switch_case(index, branches)


def decode_image_bytes(
    data: tf.Tensor, *, max_pixels: int = DEFAULT_MAX_DECODE_PIXELS, name: str = "image"
) -> tf.Tensor:
    """Encoded bytes (scalar string) -> upright RGB uint8 ``[H, W, 3]``, as read_image would.

    Raises ``tf.errors.InvalidArgumentError`` (at run time) for data that is not a
    supported image, is broken, or claims more than ``max_pixels`` pixels.

    Example:
        >>> rgb = decode_image_bytes(tf.io.read_file("photo.jpg"))  # doctest: +SKIP
    """
    data = tf.convert_to_tensor(data, tf.string)
    hw = header_size(data)
    pixels = hw[0] * hw[1]
    check = tf.debugging.Assert(
        pixels <= max_pixels,
        [f"{name}: the header claims more than {max_pixels} pixels: height, width =", hw],
        summarize=2,
    )
    with tf.control_dependencies([check]):
        data = tf.identity(data)
    b = _head(data, 8)

    def png():
        rgba = tf.cast(tf.io.decode_png(data, channels=4), tf.float32)
        alpha = rgba[..., 3:] / 255.0
        rgb = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
        return tf.cast(tf.round(rgb), tf.uint8)

    def jpeg():
        rgb = tf.io.decode_jpeg(data, channels=3)
        return apply_orientation(rgb, exif_orientation(data))

    def other():
        return tf.ensure_shape(
            tf.io.decode_image(data, channels=3, expand_animations=False), [None, None, 3]
        )

    image = tf.case(
        [(_starts(b, b"\x89PNG\r\n\x1a\n"), png), (_starts(b, b"\xff\xd8\xff"), jpeg)],
        default=other,
    )
    return tf.ensure_shape(image, [None, None, 3])
