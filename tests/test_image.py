"""Tests for tf_style.image. Every input file is generated here, in tmp_path."""

from __future__ import annotations

import io
import os
import stat
import struct
import threading
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile

from tf_style import image as tsi
from tf_style.errors import ImageReadError, ImageSizeError, OptionError, OutputError, TfStyleError
from tf_style.image import (
    check_min_size,
    check_output_path,
    luminance_image,
    match_luminance_transfer,
    read_image,
    resize_long_side,
    resize_to,
    rgb_to_yiq,
    save_image,
    to_array,
    to_pil,
    yiq_to_rgb,
)

RED, GREEN, BLUE, WHITE, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)


# --------------------------------------------------------------------------- helpers


def _save(tmp_path, name, im, **kw):
    path = tmp_path / name
    im.save(path, **kw)
    return path


def _png_bytes(im):
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def _noise(size=(48, 32), seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def _close(pixel, expected, tol):
    return all(abs(int(a) - int(b)) <= tol for a, b in zip(pixel, expected))


def _patch_ihdr(png: bytes, width: int, height: int) -> bytes:
    """Rewrite the IHDR width/height of a PNG and fix its CRC, so only the size lies."""
    assert png[12:16] == b"IHDR"
    data = struct.pack(">II", width, height) + png[24:29]
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + data) & 0xFFFFFFFF)
    return png[:16] + data + crc + png[33:]


# --------------------------------------------------------------------------- modes


def test_mode_l(tmp_path):
    out = read_image(_save(tmp_path, "l.png", Image.new("L", (8, 6), 77)))
    assert out.mode == "RGB" and out.size == (8, 6)
    assert out.getpixel((3, 3)) == (77, 77, 77)


def test_mode_la_alpha_composited_on_white(tmp_path):
    im = Image.new("LA", (4, 4), (0, 0))  # black, fully transparent
    im.putpixel((1, 1), (10, 255))
    out = read_image(_save(tmp_path, "la.png", im))
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == WHITE
    assert out.getpixel((1, 1)) == (10, 10, 10)


def test_mode_rgba_composited_on_white(tmp_path):
    im = Image.new("RGBA", (4, 4), (255, 0, 0, 0))  # red, fully transparent
    im.putpixel((1, 0), (0, 0, 255, 255))
    im.putpixel((2, 0), (0, 0, 0, 128))
    out = read_image(_save(tmp_path, "rgba.png", im))
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == WHITE
    assert out.getpixel((1, 0)) == BLUE
    assert _close(out.getpixel((2, 0)), (127, 127, 127), 1)


def test_mode_p_with_transparency(tmp_path):
    im = Image.new("P", (4, 4), 0)
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * (254 * 3))
    im.putpixel((2, 2), 1)
    out = read_image(_save(tmp_path, "p.png", im, transparency=0))
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == WHITE  # transparent red -> white
    assert out.getpixel((2, 2)) == BLUE


def test_mode_p_without_transparency(tmp_path):
    im = Image.new("P", (4, 4), 0)
    im.putpalette([0, 255, 0] + [0] * (255 * 3))
    out = read_image(_save(tmp_path, "p.png", im))
    assert out.getpixel((0, 0)) == GREEN


def test_mode_cmyk(tmp_path):
    im = Image.new("CMYK", (4, 4), (0, 0, 0, 0))
    im.putpixel((1, 1), (255, 0, 0, 0))
    out = read_image(_save(tmp_path, "cmyk.tif", im))
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == WHITE
    assert out.getpixel((1, 1)) == (0, 255, 255)


def test_mode_cmyk_jpeg(tmp_path):
    out = read_image(_save(tmp_path, "cmyk.jpg", Image.new("CMYK", (16, 16), (0, 0, 0, 0))))
    assert out.mode == "RGB"
    assert _close(out.getpixel((8, 8)), WHITE, 3)


def test_mode_16bit_png_scaled_not_clipped(tmp_path):
    arr = np.zeros((4, 4), np.uint16)
    arr[0, 0] = 65535
    arr[0, 1] = 128 * 257
    arr[0, 2] = 257
    im = Image.fromarray(arr)
    assert im.mode == "I;16"
    path = _save(tmp_path, "g16.png", im)
    with Image.open(path) as check:
        assert check.mode.startswith("I")  # really stored as 16-bit
    out = read_image(path)
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == WHITE
    assert out.getpixel((1, 0)) == (128, 128, 128)  # clipping would give 255
    assert out.getpixel((2, 0)) == (1, 1, 1)
    assert out.getpixel((3, 3)) == BLACK


@pytest.mark.parametrize("mode", ["I;16", "I;16B"])
def test_mode_16bit_pil_input(mode):
    im = Image.new(mode, (2, 2), 65535)
    im.putpixel((0, 0), 128 * 257)
    out = read_image(im)
    assert out.getpixel((1, 1)) == WHITE
    assert out.getpixel((0, 0)) == (128, 128, 128)


def test_mode_i_32bit_holding_16bit_values():
    im = Image.fromarray(np.array([[65535, 128 * 257]], dtype=np.int32))
    assert im.mode == "I"
    out = read_image(im)
    assert out.getpixel((0, 0)) == WHITE and out.getpixel((1, 0)) == (128, 128, 128)


def test_mode_f_float_tiff(tmp_path):
    im = Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32))
    assert im.mode == "F"
    out = read_image(_save(tmp_path, "f.tif", im))
    assert [out.getpixel((x, 0))[0] for x in range(3)] == [0, 128, 255]


def test_mode_1bit(tmp_path):
    im = Image.new("1", (8, 8), 0)
    im.putpixel((3, 3), 1)
    out = read_image(_save(tmp_path, "one.png", im))
    assert out.mode == "RGB"
    assert out.getpixel((0, 0)) == BLACK
    assert out.getpixel((3, 3)) == WHITE


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    "name, tol",
    [("a.jpg", 6), ("a.jpeg", 6), ("a.png", 0), ("a.webp", 8), ("a.bmp", 0), ("a.tif", 0)],
)
def test_formats(tmp_path, name, tol):
    colour = (200, 40, 90)
    path = _save(tmp_path, name, Image.new("RGB", (20, 12), colour))
    out = read_image(path)
    assert out.mode == "RGB" and out.size == (20, 12)
    assert _close(out.getpixel((10, 6)), colour, tol)


def test_tiff_multipage_reads_first_page(tmp_path):
    pages = [Image.new("RGB", (8, 8), RED), Image.new("RGB", (8, 8), GREEN)]
    path = tmp_path / "multi.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    with Image.open(path) as check:
        assert check.n_frames == 2
    assert read_image(path).getpixel((4, 4)) == RED


def test_gif_animated_reads_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), GREEN), Image.new("RGB", (8, 8), BLUE)]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)
    with Image.open(path) as check:
        assert check.n_frames == 2
    out = read_image(path)
    assert out.mode == "RGB"
    assert out.getpixel((4, 4)) == GREEN


def test_result_does_not_depend_on_open_file(tmp_path):
    pages = [Image.new("RGB", (8, 8), RED), Image.new("RGB", (8, 8), GREEN)]
    path = tmp_path / "multi.tif"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    out = read_image(path)
    os.remove(path)  # the returned image must already hold its pixels
    assert out.copy().getpixel((0, 0)) == RED


def test_supported_format_list_excludes_exotic_decoders(tmp_path):
    path = _save(tmp_path, "a.pcx", Image.new("RGB", (8, 8), RED))
    with pytest.raises(ImageReadError, match="not an image in a supported format"):
        read_image(path)


# --------------------------------------------------------------------------- EXIF


def _exif_jpeg(tmp_path, orientation):
    # Stored 40 wide x 20 tall, white, with a red marker in the top-left corner.
    im = Image.new("RGB", (40, 20), WHITE)
    im.paste(RED, (0, 0, 12, 8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _save(tmp_path, f"o{orientation}.jpg", im, exif=exif.tobytes(), quality=95)


def test_exif_orientation_6_rotates_clockwise(tmp_path):
    out = read_image(_exif_jpeg(tmp_path, 6))
    assert out.size == (20, 40)
    # Rotating 90 degrees clockwise moves the top-left corner to the top-right.
    assert _close(out.getpixel((17, 2)), RED, 40)
    assert _close(out.getpixel((2, 2)), WHITE, 40)
    assert _close(out.getpixel((2, 37)), WHITE, 40)


def test_exif_orientation_8_rotates_counterclockwise(tmp_path):
    out = read_image(_exif_jpeg(tmp_path, 8))
    assert out.size == (20, 40)
    # Rotating 90 degrees counter-clockwise moves the top-left corner to the bottom-left.
    assert _close(out.getpixel((2, 37)), RED, 40)
    assert _close(out.getpixel((2, 2)), WHITE, 40)
    assert _close(out.getpixel((17, 2)), WHITE, 40)


def test_exif_orientation_applied_to_pil_input_without_mutating_it(tmp_path):
    with Image.open(_exif_jpeg(tmp_path, 6)) as im:
        out = read_image(im)
        assert im.size == (40, 20)
    assert out.size == (20, 40)


# --------------------------------------------------------------------------- errors


def _read_error(source, match, cls=ImageReadError, **kw):
    with pytest.raises(cls, match=match) as info:
        read_image(source, **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_file(tmp_path):
    path = tmp_path / "nope.jpg"
    message = _read_error(path, "no such file")
    assert str(path) in message


def test_directory(tmp_path):
    message = _read_error(tmp_path, "is a directory")
    assert str(tmp_path) in message


def test_empty_file(tmp_path):
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    assert str(path) in _read_error(path, r"empty file \(0 bytes\)")


def test_text_file_named_jpg(tmp_path):
    path = tmp_path / "notes.jpg"
    path.write_text("hello, this is not a picture\n" * 20)
    assert str(path) in _read_error(path, "not an image")


def test_truncated_jpeg(tmp_path):
    buf = io.BytesIO()
    _noise((64, 64)).save(buf, "JPEG", quality=90)
    data = buf.getvalue()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    assert str(path) in _read_error(path, "corrupt or truncated")


def test_truncated_png(tmp_path):
    data = _png_bytes(_noise((64, 64)))
    path = tmp_path / "cut.png"
    path.write_bytes(data[: len(data) // 2])
    assert str(path) in _read_error(path, "corrupt or truncated")


def test_png_bad_header_crc(tmp_path):
    data = bytearray(_png_bytes(_noise((16, 16))))
    data[29] ^= 0xFF  # first byte of the IHDR CRC
    path = tmp_path / "crc.png"
    path.write_bytes(bytes(data))
    assert str(path) in _read_error(path, "corrupt or truncated")


def test_png_corrupt_image_data(tmp_path):
    data = bytearray(_png_bytes(_noise((64, 64))))
    start = data.index(b"IDAT") + 4
    data[start + 10 : start + 60] = b"\x00" * 50  # breaks the zlib stream
    path = tmp_path / "idat.png"
    path.write_bytes(bytes(data))
    assert str(path) in _read_error(path, "corrupt or truncated")


def test_decompression_bomb_header_beyond_pillow_limit(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_patch_ihdr(_png_bytes(Image.new("RGB", (4, 4))), 100_000, 100_000))
    assert str(path) in _read_error(path, "too large", cls=ImageSizeError)


def test_decompression_bomb_checked_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "bomb.png"
    path.write_bytes(_patch_ihdr(_png_bytes(Image.new("RGB", (4, 4))), 5000, 5000))
    loads = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(
        ImageFile.ImageFile, "load", lambda self: loads.append(1) or real_load(self)
    )
    message = _read_error(path, "5000x5000", cls=ImageSizeError, max_pixels=1_000_000)
    assert "1000000" in message and str(path) in message
    assert loads == []  # refused from the header alone, no pixel buffer allocated


def test_pillow_bomb_limits(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    warned = _save(tmp_path, "warn.png", Image.new("RGB", (12, 12), RED))  # 144 px: Pillow warns
    refused = _save(tmp_path, "err.png", Image.new("RGB", (15, 15), RED))  # 225 px: Pillow errors
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Pillow's warning neither escapes nor fails the read
        assert read_image(warned).getpixel((0, 0)) == RED
    assert str(refused) in _read_error(refused, "too large", cls=ImageSizeError)


def test_max_pixels_applies_to_arrays_and_pil_images():
    with pytest.raises(ImageSizeError):
        read_image(np.zeros((10, 10, 3), np.uint8), max_pixels=99)
    with pytest.raises(ImageSizeError):
        read_image(Image.new("RGB", (10, 10)), max_pixels=99)
    assert read_image(np.zeros((10, 10, 3), np.uint8), max_pixels=100).size == (10, 10)


@pytest.mark.parametrize("bad", [0, -5, 1.5, True, None])
def test_bad_max_pixels(bad):
    with pytest.raises(OptionError, match="max_pixels"):
        read_image(np.zeros((4, 4, 3), np.uint8), max_pixels=bad)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlink_loop(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    os.symlink(b, a)
    os.symlink(a, b)
    assert str(a) in _read_error(a, "symlink loop")


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_broken_symlink(tmp_path):
    link = tmp_path / "link.png"
    os.symlink(tmp_path / "gone.png", link)
    _read_error(link, "broken symbolic link")


def test_permission_denied_reported(tmp_path, monkeypatch):
    path = _save(tmp_path, "ok.png", Image.new("RGB", (4, 4)))

    def deny(file, *args, **kwargs):
        raise PermissionError(13, "Permission denied", os.fspath(file))

    monkeypatch.setattr(tsi, "open", deny, raising=False)
    assert str(path) in _read_error(path, "permission denied")


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read any file"
)
def test_permission_denied_real(tmp_path):
    path = _save(tmp_path, "locked.png", Image.new("RGB", (4, 4)))
    path.chmod(0)
    try:
        _read_error(path, "permission denied")
    finally:
        path.chmod(stat.S_IRUSR | stat.S_IWUSR)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    result = []

    def target():
        try:
            read_image(fifo)
        except Exception as err:  # noqa: BLE001
            result.append(err)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(10)
    assert result and isinstance(result[0], ImageReadError), "read_image blocked on a FIFO"
    assert "not a regular file" in str(result[0])


@pytest.mark.parametrize(
    "exc",
    [OSError("boom"), SyntaxError("boom"), ValueError("boom"), struct.error("boom"),
     EOFError("boom"), IndexError("boom"), ZeroDivisionError("boom"), MemoryError("boom")],
    ids=lambda e: type(e).__name__,
)
def test_no_raw_decoder_exception_escapes(tmp_path, monkeypatch, exc):
    path = _save(tmp_path, "ok.png", Image.new("RGB", (4, 4)))

    def failing_load(self):
        raise exc

    monkeypatch.setattr(ImageFile.ImageFile, "load", failing_load)
    message = _read_error(path, ".")
    assert str(path) in message


@pytest.mark.parametrize("bad", [b"abc", 42, None, [1, 2, 3]])
def test_unsupported_source_type(bad):
    with pytest.raises(ImageReadError, match="cannot read an image from"):
        read_image(bad)


def test_pil_input_that_fails_to_decode(tmp_path):
    data = _png_bytes(_noise((64, 64)))
    im = Image.open(io.BytesIO(data[: len(data) // 2]))  # lazy: not decoded yet
    with pytest.raises(ImageReadError, match="cannot decode"):
        read_image(im)


# --------------------------------------------------------------------------- numpy and PIL inputs


def test_numpy_rgb_uint8():
    arr = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    out = read_image(arr)
    assert out.mode == "RGB" and out.size == (7, 5)
    np.testing.assert_array_equal(np.asarray(out), arr)


def test_numpy_grey_uint8():
    arr = np.full((3, 4), 90, np.uint8)
    out = read_image(arr)
    assert out.mode == "RGB" and out.size == (4, 3) and out.getpixel((0, 0)) == (90, 90, 90)


def test_numpy_rgba_uint8_composited_on_white():
    arr = np.zeros((2, 2, 4), np.uint8)
    arr[0, 0] = (0, 255, 0, 255)
    out = read_image(arr)
    assert out.getpixel((0, 0)) == GREEN and out.getpixel((1, 1)) == WHITE


def test_numpy_non_contiguous_view():
    arr = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)[:, ::2]
    np.testing.assert_array_equal(np.asarray(read_image(arr)), arr)


@pytest.mark.parametrize(
    "arr, text",
    [
        (np.zeros((4, 4, 3), np.float32), "float32"),
        (np.zeros((4, 4, 3), np.uint16), "uint16"),
        (np.zeros((4, 4, 2), np.uint8), r"\(4, 4, 2\)"),
        (np.zeros((2, 4, 4, 3), np.uint8), r"\(2, 4, 4, 3\)"),
        (np.zeros((4,), np.uint8), r"\(4,\)"),
    ],
)
def test_numpy_bad_dtype_or_shape(arr, text):
    _read_error(arr, text)


def test_numpy_empty_array():
    _read_error(np.zeros((0, 4, 3), np.uint8), "no pixels")


def test_pil_input_rgba_not_mutated():
    im = Image.new("RGBA", (3, 3), (0, 0, 0, 0))
    out = read_image(im)
    assert out.getpixel((0, 0)) == WHITE
    assert im.mode == "RGBA" and im.getpixel((0, 0)) == (0, 0, 0, 0)


def test_pil_input_rgb_returns_a_copy():
    im = Image.new("RGB", (3, 3), RED)
    out = read_image(im)
    assert out is not im
    out.putpixel((0, 0), BLUE)
    assert im.getpixel((0, 0)) == RED


def test_errors_are_tfstyle_errors():
    assert issubclass(ImageSizeError, ImageReadError)
    assert issubclass(ImageReadError, TfStyleError) and issubclass(OutputError, TfStyleError)


# --------------------------------------------------------------------------- sizes and arrays


def test_check_min_size():
    check_min_size(Image.new("RGB", (16, 20)), 16, name="content")
    with pytest.raises(ImageSizeError) as info:
        check_min_size(Image.new("RGB", (40, 15)), 16, name="style.jpg")
    assert str(info.value) == (
        "style.jpg: image is 40x15, smaller than the minimum of 16 px on each side"
    )
    with pytest.raises(ImageSizeError):
        check_min_size(Image.new("RGB", (15, 40)), 16, name="x")


@pytest.mark.parametrize(
    "size, long_side, expected",
    [((400, 100), 200, (200, 50)), ((100, 400), 200, (50, 200)), ((30, 30), 64, (64, 64)),
     ((1000, 1), 10, (10, 1)), ((3, 900), 90, (1, 90)), ((333, 222), 100, (100, 67))],
)
def test_resize_long_side(size, long_side, expected):
    out = resize_long_side(_noise(size), long_side)
    assert out.size == expected and out.mode == "RGB"


def test_resize_uses_lanczos():
    im = _noise((40, 30))
    expected = im.resize((20, 15), Image.Resampling.LANCZOS)
    assert resize_long_side(im, 20).tobytes() == expected.tobytes()
    assert resize_to(im, (10, 12)).tobytes() == im.resize((10, 12), Image.Resampling.LANCZOS).tobytes()
    assert resize_to(im, (7, 9)).size == (7, 9)


@pytest.mark.parametrize("bad", [0, -1, 2.5, None])
def test_resize_bad_sizes(bad):
    with pytest.raises(OptionError):
        resize_long_side(Image.new("RGB", (4, 4)), bad)
    with pytest.raises(OptionError):
        resize_to(Image.new("RGB", (4, 4)), (bad, 4))


def test_to_array():
    arr = to_array(Image.new("RGB", (3, 2), (255, 10, 0)))
    assert arr.dtype == np.float32 and arr.shape == (2, 3, 3)
    np.testing.assert_array_equal(arr[1, 2], [255.0, 10.0, 0.0])
    assert to_array(Image.new("L", (2, 2), 9)).shape == (2, 2, 3)


def test_to_pil_clips_and_rounds_floats():
    arr = np.array([[[254.6, -3.0, 300.0], [1.4, np.nan, 127.5]]], dtype=np.float32)
    out = to_pil(arr)
    assert out.mode == "RGB" and out.size == (2, 1)
    assert out.getpixel((0, 0)) == (255, 0, 255)
    assert out.getpixel((1, 0)) == (1, 0, 128)


def test_to_pil_uint8_and_batch_of_one():
    arr = np.random.default_rng(2).integers(0, 256, (1, 4, 5, 3), dtype=np.uint8)
    np.testing.assert_array_equal(np.asarray(to_pil(arr)), arr[0])
    np.testing.assert_array_equal(np.asarray(to_pil(arr[0])), arr[0])


@pytest.mark.parametrize("shape", [(4, 4), (4, 4, 4), (2, 4, 4, 3), (0, 4, 3)])
def test_to_pil_bad_shape(shape):
    with pytest.raises(OptionError, match="HxWx3"):
        to_pil(np.zeros(shape, np.float32))


def test_to_array_to_pil_round_trip():
    im = _noise((9, 7))
    assert to_pil(to_array(im)).tobytes() == im.tobytes()


# --------------------------------------------------------------------------- saving


def test_save_and_read_png_round_trip(tmp_path):
    im = _noise((24, 16))
    out = save_image(im, tmp_path / "out.png")
    assert out == tmp_path / "out.png"
    assert read_image(out).tobytes() == im.tobytes()
    assert sorted(os.listdir(tmp_path)) == ["out.png"]


def test_save_numpy_float_array(tmp_path):
    arr = np.full((6, 8, 3), 100.4, np.float32)
    path = save_image(arr, str(tmp_path / "arr.png"))
    assert read_image(path).getpixel((0, 0)) == (100, 100, 100)


@pytest.mark.parametrize("name, fmt", [("o.jpg", "JPEG"), ("o.JPEG", "JPEG"), ("o.webp", "WEBP")])
def test_save_lossy_formats(tmp_path, name, fmt):
    path = save_image(Image.new("RGB", (16, 16), (10, 200, 30)), tmp_path / name, quality=90)
    with Image.open(path) as check:
        assert check.format == fmt
    assert _close(read_image(path).getpixel((8, 8)), (10, 200, 30), 6)


def test_save_rgba_as_jpeg(tmp_path):
    path = save_image(Image.new("RGBA", (8, 8), (0, 0, 0, 0)), tmp_path / "a.jpg")
    assert _close(read_image(path).getpixel((4, 4)), WHITE, 3)


def test_saved_file_has_normal_permissions(tmp_path):
    path = save_image(Image.new("RGB", (4, 4)), tmp_path / "perm.png")
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


@pytest.mark.parametrize("name", ["out.bmp", "out.gif", "out"])
def test_save_bad_extension(tmp_path, name):
    with pytest.raises(OutputError) as info:
        save_image(Image.new("RGB", (4, 4)), tmp_path / name)
    message = str(info.value)
    assert ".png" in message and ".jpg" in message and ".webp" in message
    assert (name.rsplit(".", 1)[1] if "." in name else "no extension") in message
    assert not (tmp_path / name).exists()


@pytest.mark.parametrize("bad", [0, 101, 9.5])
def test_save_bad_quality(tmp_path, bad):
    with pytest.raises(OptionError, match="quality"):
        save_image(Image.new("RGB", (4, 4)), tmp_path / "q.jpg", quality=bad)


def test_save_refuses_output_equal_to_input(tmp_path):
    src = _save(tmp_path, "in.png", _noise((8, 8)))
    before = src.read_bytes()
    variants = [src, str(src), tmp_path / "sub" / ".." / "in.png"]
    (tmp_path / "sub").mkdir()
    for out in variants:
        with pytest.raises(OutputError, match="same file as the input"):
            save_image(Image.new("RGB", (4, 4)), out, inputs=[tmp_path / "other.png", src])
    assert src.read_bytes() == before


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_save_refuses_symlink_or_hardlink_to_input(tmp_path):
    src = _save(tmp_path, "in.png", _noise((8, 8)))
    before = src.read_bytes()
    os.symlink(src, tmp_path / "sym.png")
    os.link(src, tmp_path / "hard.png")
    for out in ("sym.png", "hard.png"):
        with pytest.raises(OutputError, match="same file"):
            save_image(Image.new("RGB", (4, 4)), tmp_path / out, inputs=[src])
    assert src.read_bytes() == before


def test_save_refuses_output_equal_to_not_yet_existing_input(tmp_path):
    (tmp_path / "sub").mkdir()
    with pytest.raises(OutputError, match="same file"):
        save_image(Image.new("RGB", (4, 4)), tmp_path / "sub" / ".." / "x.png",
                   inputs=[tmp_path / "x.png"])
    assert not (tmp_path / "x.png").exists()


def test_check_output_path_is_the_same_check_without_writing(tmp_path):
    src = _save(tmp_path, "in.png", _noise((8, 8)))
    assert check_output_path(str(tmp_path / "new.jpg"), inputs=[src]) == tmp_path / "new.jpg"
    assert not (tmp_path / "new.jpg").exists()
    for bad, text in [(src, "same file"), (tmp_path / "x.tiff", "extension '.tiff'"),
                      (tmp_path, "extension|directory"), (tmp_path / "no" / "x.png", "does not exist")]:
        with pytest.raises(OutputError, match=text):
            check_output_path(bad, inputs=[src])
    # Non-path inputs (e.g. an in-memory image) are ignored rather than crashing.
    check_output_path(tmp_path / "ok.png", inputs=[Image.new("RGB", (2, 2)), src])


def test_save_allows_different_input(tmp_path):
    src = _save(tmp_path, "in.png", _noise((8, 8)))
    assert save_image(Image.new("RGB", (4, 4)), tmp_path / "out.png", inputs=[src]).exists()


def test_save_to_existing_directory(tmp_path):
    target = tmp_path / "dir.png"
    target.mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        save_image(Image.new("RGB", (4, 4)), target)


def test_save_parent_missing(tmp_path):
    out = tmp_path / "missing" / "out.png"
    with pytest.raises(OutputError) as info:
        save_image(Image.new("RGB", (4, 4)), out)
    assert str(info.value).startswith(f"cannot write {out}: ")
    assert "does not exist" in str(info.value)


def test_save_parent_is_a_file(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    out = blocker / "out.png"
    with pytest.raises(OutputError) as info:
        save_image(Image.new("RGB", (4, 4)), out)
    assert str(info.value).startswith(f"cannot write {out}: ")
    assert blocker.read_text() == "x"


def test_save_failure_mid_write_is_atomic(tmp_path, monkeypatch):
    out = tmp_path / "out.png"
    out.write_bytes(b"previous contents")

    def broken_save(self, fp, *args, **kwargs):
        fp.write(b"partial garbage")  # something reached the disk before the failure
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OutputError) as info:
        save_image(Image.new("RGB", (4, 4)), out)
    assert str(info.value).startswith(f"cannot write {out}: ")
    assert "No space left" in str(info.value)
    assert out.read_bytes() == b"previous contents"
    assert os.listdir(tmp_path) == ["out.png"]  # temp file removed


def test_save_failure_at_rename_cleans_up(tmp_path, monkeypatch):
    out = tmp_path / "out.png"

    def broken_replace(src, dst):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(tsi.os, "replace", broken_replace)
    with pytest.raises(OutputError, match="cross-device"):
        save_image(Image.new("RGB", (4, 4)), out)
    assert os.listdir(tmp_path) == []


def test_save_overwrites_previous_output(tmp_path):
    out = tmp_path / "out.png"
    out.write_bytes(b"old")
    save_image(Image.new("RGB", (4, 4), BLUE), out)
    assert read_image(out).getpixel((0, 0)) == BLUE


# --------------------------------------------------------------------------- colour


def test_yiq_round_trip_and_grey_has_no_chroma():
    rgb = np.random.default_rng(3).uniform(0, 255, (6, 5, 3)).astype(np.float32)
    yiq = rgb_to_yiq(rgb)
    assert yiq.dtype == np.float32 and yiq.shape == rgb.shape
    np.testing.assert_allclose(yiq_to_rgb(yiq), rgb, atol=1e-3)
    grey = rgb_to_yiq(np.full((2, 2, 3), 99.0))
    np.testing.assert_allclose(grey[..., 0], 99.0, atol=1e-3)
    np.testing.assert_allclose(grey[..., 1:], 0.0, atol=1e-3)
    np.testing.assert_allclose(rgb_to_yiq(np.array([[[255.0, 0, 0]]]))[0, 0, 0], 0.299 * 255, rtol=1e-5)


def test_luminance_image():
    rgb = np.random.default_rng(4).uniform(0, 255, (4, 4, 3))
    lum = luminance_image(rgb)
    assert lum.dtype == np.float32 and lum.shape == (4, 4, 3)
    np.testing.assert_allclose(lum[..., 0], lum[..., 2])
    np.testing.assert_allclose(lum[..., 0], rgb @ [0.299, 0.587, 0.114], rtol=1e-5)
    assert lum.min() >= 0 and lum.max() <= 255


def test_match_luminance_transfer_keeps_styled_y_and_content_chroma():
    rng = np.random.default_rng(5)
    styled = rng.uniform(60, 190, (8, 8, 3))
    content = np.empty((8, 8, 3))
    content[:] = (150.0, 110.0, 90.0)  # a mild orange: no clipping after recombination
    out = match_luminance_transfer(styled, content)
    assert out.dtype == np.float32 and out.shape == (8, 8, 3)
    out_yiq, styled_yiq, content_yiq = rgb_to_yiq(out), rgb_to_yiq(styled), rgb_to_yiq(content)
    np.testing.assert_allclose(out_yiq[..., 0], styled_yiq[..., 0], atol=1e-2)
    np.testing.assert_allclose(out_yiq[..., 1:], content_yiq[..., 1:], atol=1e-2)


def test_match_luminance_transfer_clips_and_checks_shapes():
    content = np.zeros((2, 2, 3))
    content[:] = (255.0, 0.0, 0.0)
    out = match_luminance_transfer(np.full((2, 2, 3), 250.0), content)
    assert out.min() >= 0.0 and out.max() <= 255.0
    assert out.max() == 255.0  # saturated red at high luminance clips
    with pytest.raises(OptionError, match="same shape"):
        match_luminance_transfer(np.zeros((2, 2, 3)), np.zeros((3, 2, 3)))
    with pytest.raises(OptionError):
        rgb_to_yiq(np.zeros((2, 2, 4)))


# --------------------------------------------------------------------------- fuzz


def _seed_files():
    base = _noise((16, 12), seed=7)
    seeds = []
    for fmt, kw in [("PNG", {}), ("JPEG", {"quality": 80}), ("GIF", {}), ("WEBP", {}),
                    ("BMP", {}), ("TIFF", {})]:
        buf = io.BytesIO()
        base.save(buf, fmt, **kw)
        seeds.append(buf.getvalue())
    return seeds


_SEEDS = _seed_files()


@st.composite
def _fuzz_bytes(draw):
    if draw(st.integers(0, 4)) == 0:
        return draw(st.binary(min_size=0, max_size=512))
    data = bytearray(draw(st.sampled_from(_SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        pos = draw(st.integers(0, len(data) - 1))
        data[pos] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Pillow's "Corrupt EXIF data" etc.
@settings(
    max_examples=150,
    deadline=3000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=_fuzz_bytes(), suffix=st.sampled_from([".png", ".jpg", ".bin"]))
def test_fuzz_read_image_returns_rgb_or_image_read_error(tmp_path, data, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        out = read_image(path, max_pixels=1_000_000)
    except ImageReadError as err:
        assert "\n" not in str(err)
        return
    assert isinstance(out, Image.Image) and out.mode == "RGB"
    assert out.width >= 1 and out.height >= 1
    out.tobytes()  # the pixels really are there


def test_atomic_path_replaces_on_success_and_leaves_nothing_on_failure(tmp_path):
    from tf_style.image import atomic_path

    target = tmp_path / "run.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            Path(tmp).write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]
    with atomic_path(target) as tmp:
        Path(tmp).write_text("new")
    assert target.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]
