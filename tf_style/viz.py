"""Pictures to look at, below the engines: labelled grids and labels (PIL), loss plots (matplotlib, optional).

No TensorFlow or Keras here (a contract in setup.cfg): the CLI checks ``--plot`` and draws grids
without loading a model, and the studies (:mod:`tf_style.studies`) lay their pictures out with it.

Example:
    >>> from PIL import Image
    >>> from tf_style import viz
    >>> viz.make_grid([[Image.new("RGB", (64, 48))] * 2], [["a", "b"]]).image.size
    (146, 78)
    >>> viz.plot_history([{"total": 3.0, "style": 1.0}, {"total": 1.0, "style": 0.2}], "loss.png")  # doctest: +SKIP
    PosixPath('loss.png')
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tf_style import image as im
from tf_style.errors import OptionError

__all__ = [
    "Grid",
    "make_grid",
    "label_tile",
    "require_matplotlib",
    "level_boundaries",
    "plot_history",
]

PathLike = Union[str, "os.PathLike[str]"]


# --------------------------------------------------------------------------- grids


def _font(size: int):
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1: a scalable font
    except TypeError:  # older Pillow: the fixed bitmap font
        return ImageFont.load_default()


def _text_size(draw: ImageDraw.ImageDraw, text: str, font) -> Tuple[int, int]:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return right - left, bottom - top


def _fit_line(draw, text: str, width: int, size: int, min_size: int):
    """The largest font (<= size) that fits ``text`` in ``width``; else the text shortened."""
    for s in range(size, min_size - 1, -1):
        font = _font(s)
        if _text_size(draw, text, font)[0] <= width:
            return text, font
    font = _font(min_size)
    while len(text) > 1 and _text_size(draw, text + "...", font)[0] > width:
        text = text[:-1]
    return text + "...", font


@dataclasses.dataclass
class Grid:
    """A labelled grid image and where its tiles and labels are.

    Example:
        >>> g = make_grid([[Image.new("RGB", (32, 24))] * 2], [["a", "b"]])
        >>> g.image.size == (g.width, g.height), g.tile_box(0, 1)[0] > g.tile_box(0, 0)[2]
        (True, True)
    """

    image: Image.Image
    rows: int
    cols: int
    cell: Tuple[int, int]
    strip: int
    pad: int

    @property
    def width(self) -> int:
        return self.cols * self.cell[0] + (self.cols + 1) * self.pad

    @property
    def height(self) -> int:
        return self.rows * (self.cell[1] + self.strip) + (self.rows + 1) * self.pad

    def tile_box(self, row: int, col: int) -> Tuple[int, int, int, int]:
        """``(left, top, right, bottom)`` of a tile's cell."""
        x = self.pad + col * (self.cell[0] + self.pad)
        y = self.pad + row * (self.cell[1] + self.strip + self.pad)
        return x, y, x + self.cell[0], y + self.cell[1]

    def label_box(self, row: int, col: int) -> Tuple[int, int, int, int]:
        """``(left, top, right, bottom)`` of the white label strip under a tile."""
        x0, _, x1, y1 = self.tile_box(row, col)
        return x0, y1, x1, y1 + self.strip


def make_grid(
    tiles: Sequence[Sequence[Optional[im.ImageLike]]],
    labels: Optional[Sequence[Sequence[Optional[str]]]] = None,
    *,
    cell: Optional[Tuple[int, int]] = None,
    pad: int = 6,
    font_size: Optional[int] = None,
) -> Grid:
    """Lay out rows of images on white, each with a white label strip and black text under it.

    ``None`` leaves a cell empty. Tiles are scaled to fit ``cell`` (default: the largest
    tile's width and height), keeping their aspect ratio, and centred. A label may have
    several lines (``"\\n"``); a line too wide for the cell gets a smaller font, then is
    shortened.

    Example:
        >>> tile = Image.new("RGB", (64, 48), "red")
        >>> make_grid([[tile, tile, None]], [["one", "two", None]]).image.size
        (216, 78)
    """
    rows = [list(r) for r in tiles]
    if not rows or not any(rows):
        raise OptionError("tiles: expected at least one row with a tile, got none")
    cols = max(len(r) for r in rows)
    images: List[List[Optional[Image.Image]]] = [
        [None if t is None else im.read_image(t) for t in r] + [None] * (cols - len(r)) for r in rows
    ]
    present = [t for r in images for t in r if t is not None]
    if not present:
        raise OptionError("tiles: every cell is empty")
    if labels is not None and (
        len(labels) != len(rows) or any(len(lr) > cols for lr in labels)
    ):
        raise OptionError(f"labels: expected {len(rows)} rows of at most {cols} labels, got {len(labels)} rows")
    if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
        raise OptionError(f"pad: expected an integer >= 0, got {pad!r}")
    cw, ch = cell or (max(t.size[0] for t in present), max(t.size[1] for t in present))
    size = font_size or max(10, min(18, cw // 16))
    texts = [
        [(labels[r][c] if labels is not None and c < len(labels[r]) else None) for c in range(cols)]
        for r in range(len(rows))
    ]
    lines = max((len(t.split("\n")) for r in texts for t in r if t), default=0)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    line_h = _text_size(probe, "Ag", _font(size))[1] + max(2, size // 4)
    strip = lines * line_h + (2 * max(3, size // 3) if lines else 0)

    grid = Grid(image=Image.new("RGB", (1, 1)), rows=len(rows), cols=cols, cell=(cw, ch), strip=strip, pad=pad)
    canvas = Image.new("RGB", (grid.width, grid.height), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for r, row in enumerate(images):
        for c, tile in enumerate(row):
            x0, y0, x1, y1 = grid.tile_box(r, c)
            if tile is not None:
                scale = min(cw / tile.size[0], ch / tile.size[1])
                size_fit = (max(1, round(tile.size[0] * scale)), max(1, round(tile.size[1] * scale)))
                fitted = im.resize_to(tile, size_fit)
                canvas.paste(fitted, (x0 + (cw - size_fit[0]) // 2, y0 + (ch - size_fit[1]) // 2))
            text = texts[r][c]
            if text:
                y = y1 + max(3, size // 3)
                for line in text.split("\n"):
                    shown, font = _fit_line(draw, line, cw - 4, size, 8)
                    tw, _ = _text_size(draw, shown, font)
                    left, top, _, _ = draw.textbbox((0, 0), shown, font=font)
                    draw.text((x0 + (cw - tw) // 2 - left, y - top), shown, fill=(0, 0, 0), font=font)
                    y += line_h
    grid.image = canvas
    return grid


def label_tile(image: im.ImageLike, text: str, *, font_size: Optional[int] = None) -> Image.Image:
    """``image`` with a white strip under it holding ``text`` in black.

    Example:
        >>> label_tile(Image.new("RGB", (64, 48)), "conv1_1").size[1] > 48
        True
    """
    return make_grid([[image]], [[text]], pad=0, font_size=font_size).image


# --------------------------------------------------------------------------- loss plots

_PLOT_HINT = "pip install 'tf-style[plot]'"
_TERM_ORDER = ("total", "content", "style", "tv")


def require_matplotlib(option: str = "--plot") -> None:
    """Raise :class:`OptionError` now (before a long run) when matplotlib is missing.

    >>> require_matplotlib()  # matplotlib installed: nothing happens  # doctest: +SKIP
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise OptionError(f"{option} needs matplotlib: {_PLOT_HINT}") from None


def level_boundaries(levels: Sequence[int]) -> List[float]:
    """x positions (1-based evaluation numbers) where a new pyramid level starts.

    ``levels`` holds the level of each evaluation, e.g. recorded with ``Stylizer.stylize``'s
    ``on_step`` hook.

    >>> level_boundaries([0, 0, 0, 1, 1, 2])
    [3.5, 5.5]
    """
    return [i + 0.5 for i in range(1, len(levels)) if levels[i] != levels[i - 1]]


def plot_history(
    history: Sequence[Mapping[str, float]],
    path: PathLike,
    *,
    title: Optional[str] = None,
    xlabel: str = "iteration",
    weights: Optional[Mapping[str, float]] = None,
    boundaries: Sequence[float] = (),
    size: Tuple[int, int] = (800, 500),
    inputs: Sequence[PathLike] = (),
) -> "os.PathLike[str]":
    """Plot every loss term of ``history`` against iterations (log y) and write it atomically.

    ``history`` is a list of ``{term: value}`` dicts, as in ``StylizeResult.history``
    (one per loss evaluation; ``total`` is the weighted sum, the other terms are
    unweighted) or a training history whose entries carry a ``step`` (then the x axis).
    ``weights`` (e.g. ``{"content": 1, "style": 3, "tv": 1e-5}``) plots each term times
    its weight, so the curves add up to ``total``; a term of weight 0 is left out, as is
    a term with no positive value (a log axis cannot show it). ``boundaries`` draws a
    dotted line at each x (see :func:`level_boundaries`). Needs matplotlib (the ``plot``
    extra); the picture is ``size`` pixels.

    Example:
        >>> plot_history([{"total": 3.0, "style": 1.0}, {"total": 1.0, "style": 0.2}], "loss.png")  # doctest: +SKIP
        PosixPath('loss.png')
    """
    require_matplotlib("plot_history")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = list(history)
    if not rows or not all(isinstance(r, Mapping) for r in rows):
        raise OptionError("history: expected a non-empty list of {term: value} dicts, got "
                          f"{type(history).__name__} of {len(rows)} entries")
    w, h = size
    if not (isinstance(w, int) and isinstance(h, int) and 100 <= w <= 4000 and 100 <= h <= 4000):
        raise OptionError(f"size: expected (width, height) in pixels between 100 and 4000, got {size!r}")
    weights = dict(weights or {})
    for key, value in weights.items():
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise OptionError(f"weights: expected finite numbers >= 0, got {key}={value!r}")
    im.check_output_path(path, inputs=inputs)
    use_step = all("step" in r for r in rows)
    x = np.array([float(r["step"]) for r in rows]) if use_step else np.arange(1, len(rows) + 1, dtype=float)
    keys = [k for k in _TERM_ORDER if any(k in r for r in rows)]
    keys += [k for r in rows for k in r if k not in keys and k != "step"]
    keys = list(dict.fromkeys(keys))

    dpi = 100
    fig = Figure(figsize=(w / dpi, h / dpi), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    floors = []
    for key in keys:
        weight = 1.0 if key == "total" else float(weights.get(key, 1.0))
        if weight == 0:
            continue
        values = np.array([float(r.get(key, np.nan)) for r in rows]) * weight
        keep = np.isfinite(values) & (values > 0)
        if not keep.any():
            continue
        if key == "total":
            name = "total"
        elif key in weights:
            name = f"{key} x {weight:g}"
        else:
            name = key
        ax.plot(x[keep], values[keep], label=name, linewidth=1.8 if key == "total" else 1.2)
        floors.append(np.percentile(values[keep], 5))
    if not floors:
        raise OptionError("history: no loss term has a positive value to plot on a log scale")
    ax.set_yscale("log")
    # A term that starts at 0 (content, from the photo) has a first value orders of magnitude
    # under the rest of its curve; don't let that one point squash every curve.
    ax.set_ylim(bottom=min(floors) / 3)
    for k, bx in enumerate(boundaries):
        ax.axvline(float(bx), color="0.5", linestyle=":", linewidth=1, label="next pyramid level" if k == 0 else None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("loss (log scale)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="best")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return im.save_image(Image.fromarray(np.ascontiguousarray(rgba[..., :3])), path, inputs=inputs)
