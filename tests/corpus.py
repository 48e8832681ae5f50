"""A corpus of awkward and broken image files, generated in a folder (no binary blobs).

:func:`build` writes every case of ``tests/README.md`` and returns them as :class:`Case`
records that say what a reader must make of each: ``upright`` (width, height) for the
valid-but-unusual ones, or ``problem`` (a regex the error must match) for broken ones.
``test_corpus.py`` drives every entry point over the same list.
"""

from __future__ import annotations

import dataclasses
import io
import os
import struct
import zlib
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
from PIL import Image

#: Stored size of every valid picture; EXIF 6/8 make it 48x64 once upright.
W, H = 64, 48
RED, WHITE = (255, 0, 0), (255, 255, 255)


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    path: Path
    #: (width, height) once read and turned upright; None for a broken input.
    upright: Optional[Tuple[int, int]] = None
    #: regex that the error names the problem with; None for a valid input.
    problem: Optional[str] = None
    #: ``tf.io.decode_image`` knows the format (serving bytes, training pipeline).
    tf_format: bool = True
    #: an image, but below every entry point's minimum size (16 px).
    too_small: bool = False
    #: the upright RGB pixels (float32 [h, w, 3]) a correct reader gives, for valid inputs.
    expected: Optional[np.ndarray] = dataclasses.field(default=None, compare=False, repr=False)

    @property
    def valid(self) -> bool:
        return self.problem is None and not self.too_small

    def __str__(self) -> str:  # pytest ids
        return self.name


def marker_picture() -> Image.Image:
    """White 64x48 with a red block in the top-left corner: orientation and colour show."""
    picture = Image.new("RGB", (W, H), WHITE)
    picture.paste(RED, (0, 0, 20, 14))
    return picture


def _png(picture: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    picture.save(buf, "PNG", **kw)
    return buf.getvalue()


def _patch_ihdr(png: bytes, width: int, height: int) -> bytes:
    data = struct.pack(">II", width, height) + png[24:29]
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + data) & 0xFFFFFFFF)
    return png[:16] + data + crc + png[33:]


def _noise(size=(96, 96)) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def build(root: Path) -> List[Case]:
    """Write the corpus under ``root`` (created) and return its cases."""
    root.mkdir(parents=True, exist_ok=True)
    cases: List[Case] = []
    marker = marker_picture()

    def valid(name: str, expected: Image.Image = marker, tf_format: bool = True) -> None:
        pixels = np.asarray(expected.convert("RGB"), dtype=np.float32)
        cases.append(Case(name, root / name, upright=expected.size, tf_format=tf_format,
                          expected=pixels))

    def broken(name: str, problem: str, tf_format: bool = True) -> None:
        cases.append(Case(name, root / name, problem=problem, tf_format=tf_format))

    # -- valid but unusual
    grey16 = (np.asarray(marker.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(grey16).save(root / "grey16.png")  # mode I;16
    valid("grey16.png", marker.convert("L"))
    marker.convert("CMYK").save(root / "cmyk.jpg", quality=95)
    valid("cmyk.jpg")
    # The red block is the transparent colour: on white it must vanish.
    palette = marker.convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    palette.save(root / "palette_transparent.png", transparency=palette.getpixel((0, 0)))
    valid("palette_transparent.png", Image.new("RGB", (W, H), WHITE))
    # Grey with the block half transparent: 76 (red's grey) over white gives 165.5.
    la = marker.convert("LA")
    alpha = Image.new("L", (W, H), 255)
    alpha.paste(128, (0, 0, 20, 14))
    la.putalpha(alpha)
    la.save(root / "la.png")
    over_white = Image.composite(marker.convert("L"), Image.new("L", (W, H), 255), alpha)
    valid("la.png", over_white)
    frames = [marker, Image.new("RGB", (W, H), (0, 0, 255))]
    frames[0].save(root / "animated.gif", save_all=True, append_images=frames[1:], duration=100)
    valid("animated.gif")
    frames[0].save(root / "pages.tiff", save_all=True, append_images=frames[1:])
    valid("pages.tiff", tf_format=False)
    for orientation in (6, 8):
        exif = Image.Exif()
        exif[0x0112] = orientation
        marker.save(root / f"exif{orientation}.jpg", exif=exif.tobytes(), quality=95)
        turn = Image.Transpose.ROTATE_270 if orientation == 6 else Image.Transpose.ROTATE_90
        valid(f"exif{orientation}.jpg", marker.transpose(turn))
    odd = root / "dossier ünï cødé"
    odd.mkdir()
    marker.save(odd / "photo 東京 ä.jpg", quality=95)
    valid("dossier ünï cødé/photo 東京 ä.jpg")

    # -- broken
    (root / "empty.jpg").write_bytes(b"")
    broken("empty.jpg", r"empty")
    (root / "text.jpg").write_text("hello, this is not a picture\n" * 20)
    broken("text.jpg", r"not an image")
    buf = io.BytesIO()
    _noise().save(buf, "JPEG", quality=90)
    (root / "truncated.jpg").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    broken("truncated.jpg", r"corrupt or truncated")
    data = _png(_noise())
    (root / "truncated.png").write_bytes(data[: len(data) // 2])
    broken("truncated.png", r"corrupt or truncated")
    bad_crc = bytearray(_png(_noise((16, 16))))
    bad_crc[29] ^= 0xFF  # the IHDR CRC
    (root / "bad_crc.png").write_bytes(bytes(bad_crc))
    broken("bad_crc.png", r"corrupt or truncated")
    (root / "bomb.png").write_bytes(_patch_ihdr(_png(Image.new("RGB", (4, 4))), 100_000, 100_000))
    broken("bomb.png", r"too large|100000")
    Image.new("RGB", (1, 1), RED).save(root / "one_pixel.png")
    cases.append(Case("one_pixel.png", root / "one_pixel.png", upright=(1, 1), too_small=True))
    (root / "directory.jpg").mkdir()
    broken("directory.jpg", r"director", tf_format=False)
    os.symlink("loop_b.jpg", root / "loop_a.jpg")
    os.symlink("loop_a.jpg", root / "loop_b.jpg")
    broken("loop_a.jpg", r"symbolic link|symlink|loop", tf_format=False)
    return cases
