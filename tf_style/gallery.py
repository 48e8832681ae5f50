"""Pictures to look at: labelled grids, weight/layer sweeps, style sheets and loss plots.

Example:
    >>> from tf_style import gallery
    >>> r = gallery.sweep("tubingen.jpg", "starry_night.jpg", ratios=(1, 0.1), size=256)  # doctest: +SKIP
    >>> r.image.save("sweep.png")  # doctest: +SKIP
    >>> gallery.plot_history(r.tiles[0][0].result.history, "loss.png")  # doctest: +SKIP

A sweep loads ONE backbone (for the union of every layer it needs) and builds the
style Gram targets once per pyramid level for the whole grid: the Gram matrix of a
layer does not depend on the loss weights nor on which other layers are used, so
every tile reads the same cached targets and only the loss (weights, layer subset)
changes from tile to tile.

This module imports no TensorFlow at import time (only when a sweep or sheet runs),
so the CLI can validate options and check for matplotlib before loading a model.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Callable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tf_style import image as im
from tf_style.config import MIN_IMAGE_SIDE, SWEEP_RATIOS, StylizeConfig
from tf_style.errors import OptionError

__all__ = [
    "DEFAULT_RATIOS",
    "GATYS_LAYER_SETS",
    "Grid",
    "make_grid",
    "label_tile",
    "parse_ratios",
    "parse_layer_sets",
    "ratio_weights",
    "short_layer_name",
    "SweepTile",
    "SweepResult",
    "sweep",
    "SheetResult",
    "sheet",
    "require_matplotlib",
    "level_boundaries",
    "plot_history",
]

PathLike = Union[str, "os.PathLike[str]"]
Log = Callable[[str], None]

#: alpha/beta ratios of a sweep's columns (``tf_style.config.SWEEP_RATIOS``).
DEFAULT_RATIOS: Tuple[float, ...] = SWEEP_RATIOS

_CONV1 = ("block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1")
#: Gatys et al.'s Fig. 1 style reconstructions: conv1_1, then conv1_1..conv2_1, ... up to conv5_1.
GATYS_LAYER_SETS: Tuple[Tuple[str, ...], ...] = tuple(_CONV1[: k + 1] for k in range(5))
_LAYER_PRESETS = {"gatys": GATYS_LAYER_SETS}



# --------------------------------------------------------------------------- options


def parse_ratios(text: Union[str, Sequence[float]], option: str = "--ratios") -> Tuple[float, ...]:
    """Parse ``"1,0.1,0.01"`` into content/style ratios (each finite and >= 0; 0 = style only).

    >>> parse_ratios("1,1e-1")
    (1.0, 0.1)
    """
    items = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for item in items:
        raw = item.strip() if isinstance(item, str) else item
        try:
            value = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            value = math.nan
        if isinstance(raw, bool) or not math.isfinite(value) or value < 0 or raw == "":
            raise OptionError(
                f"{option}: expected comma-separated numbers >= 0 (content/style weight ratios), got {text!r}"
            )
        out.append(value)
    if not out:
        raise OptionError(f"{option}: expected at least one ratio, got {text!r}")
    return tuple(out)


def parse_layer_sets(
    text: Union[str, Sequence[Sequence[str]]], option: str = "--layers"
) -> Tuple[Tuple[str, ...], ...]:
    """Parse ``"conv1_1;conv1_1,conv2_1"`` (sets split by ``;``, layers by ``,``).

    ``"gatys"`` is Gatys et al.'s five sets conv1_1 ... conv1_1..conv5_1. Names are
    checked against the backbone later (aliases such as ``relu2_1`` work there).

    >>> parse_layer_sets("block1_conv1; block1_conv1,block2_conv1")
    (('block1_conv1',), ('block1_conv1', 'block2_conv1'))
    """
    if isinstance(text, str):
        key = text.strip().lower()
        if key in _LAYER_PRESETS:
            return _LAYER_PRESETS[key]
        groups: List[Sequence[str]] = [g.split(",") for g in text.split(";")]
    else:
        groups = [[g] if isinstance(g, str) else list(g) for g in text]
    sets = []
    for k, group in enumerate(groups, 1):
        names = tuple(str(n).strip() for n in group)
        if not names or not all(names):
            raise OptionError(
                f"{option}: layer set {k} has an empty name in {text!r}; expected sets of "
                f"comma-separated layer names separated by ';' (or 'gatys')"
            )
        sets.append(names)
    if not sets:
        raise OptionError(f"{option}: expected at least one layer set, got {text!r}")
    return tuple(sets)


def ratio_weights(ratio: float) -> Tuple[float, float]:
    """``(content_weight, style_weight)`` of an alpha/beta ratio: ``(1, 1/ratio)``; 0 = style only.

    >>> ratio_weights(0.25), ratio_weights(0)
    ((1.0, 4.0), (0.0, 1.0))
    """
    if ratio == 0:
        return 0.0, 1.0
    return 1.0, 1.0 / float(ratio)


def short_layer_name(name: str) -> str:
    """``block3_conv1`` -> ``conv3_1`` (the paper's names, shorter in labels)."""
    if name.startswith("block") and "_conv" in name:
        block, _, conv = name[5:].partition("_conv")
        if block.isdigit() and conv.isdigit():
            return f"conv{block}_{conv}"
    return name


def _ratio_label(ratio: float) -> str:
    return "style only" if ratio == 0 else f"alpha/beta {ratio:g}"


def _layers_label(layers: Sequence[str]) -> str:
    """``conv1_1,conv2_1``; Gatys' cumulative sets of three or more as ``conv1_1 ... conv4_1``."""
    names = [short_layer_name(n) for n in layers]
    if len(layers) >= 3 and tuple(layers) in GATYS_LAYER_SETS:
        return f"{names[0]} ... {names[-1]}"
    return ",".join(names)


def _source_name(source: object, fallback: str) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.path.basename(os.fsdecode(source))
    return fallback


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


# --------------------------------------------------------------------------- sweeps


@dataclasses.dataclass
class SweepTile:
    """One picture of a sweep and the weights and layers that made it."""

    ratio: float
    content_weight: float
    style_weight: float
    style_layers: Tuple[str, ...]
    label: str
    result: "object"  # tf_style.transfer.StylizeResult

    @property
    def image(self) -> Image.Image:
        return self.result.image  # type: ignore[attr-defined]


@dataclasses.dataclass
class SweepResult:
    """The grid of a sweep (rows: style-layer sets, columns: ratios) and its figures."""

    grid: Grid
    tiles: List[List[SweepTile]]
    ratios: Tuple[float, ...]
    layer_sets: Tuple[Tuple[str, ...], ...]
    backbone: str
    weights_source: str
    backbone_loads: int
    style_target_builds: int
    seconds: float
    interrupted: bool = False

    @property
    def image(self) -> Image.Image:
        return self.grid.image

    def to_dict(self, output: Optional[PathLike] = None) -> dict:
        """A JSON-ready summary (what ``tf-style sweep --json`` prints)."""
        return {
            "output": None if output is None else os.fsdecode(output),
            "size": list(self.image.size),
            "backbone": self.backbone,
            "weights": self.weights_source,
            "style_loss": self.tiles[0][0].result.config.style_loss if self.tiles and self.tiles[0] else None,  # type: ignore[attr-defined]
            "ratios": list(self.ratios),
            "layer_sets": [list(s) for s in self.layer_sets],
            "backbone_loads": self.backbone_loads,
            "style_target_builds": self.style_target_builds,
            "seconds": round(self.seconds, 3),
            "interrupted": self.interrupted,
            "tiles": [
                {
                    "row": r,
                    "col": c,
                    "ratio": t.ratio,
                    "content_weight": t.content_weight,
                    "style_weight": t.style_weight,
                    "style_layers": list(t.style_layers),
                    "seconds": round(t.result.seconds, 3),  # type: ignore[attr-defined]
                    "iterations": t.result.iterations,  # type: ignore[attr-defined]
                    "final": t.result.final_terms,  # type: ignore[attr-defined]
                }
                for r, row in enumerate(self.tiles)
                for c, t in enumerate(row)
            ],
        }


def _resolve(backbone, arch: Optional[str], names: Sequence[str], option: str) -> Tuple[str, ...]:
    """Canonical layer names for a backbone given by name (``arch``) or as an object."""
    from tf_style import backbones as bb

    if arch is not None:
        return bb.resolve_layers(arch, names, option=option)
    return backbone.check_layers(names, option=option)


def _dedupe(names: Sequence[str]) -> Tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def _prepare_backbone(config: StylizeConfig, backbone, layer_groups: Sequence[Tuple[Sequence[str], str]], log: Log):
    """Resolve every layer group and load the backbone once (or use the one given).

    Returns ``(backbone, [resolved groups], loads)``.
    """
    from tf_style import backbones as bb

    if isinstance(backbone, str):
        config = config.with_options(backbone=backbone)
        backbone = None
    if backbone is None:
        arch = bb.resolve_name(config.backbone, log=log)
        groups = [_resolve(None, arch, names, option) for names, option in layer_groups]
        union = _dedupe([n for g in groups for n in g])
        loaded = bb.load_backbone(arch, union, pooling=config.pooling, weights=config.weights,
                                  dtype=config.dtype, log=log)
        return loaded, groups, 1
    groups = [_resolve(backbone, None, names, option) for names, option in layer_groups]
    return backbone, groups, 0


def _variant(base, styles: Sequence[Image.Image], config: StylizeConfig, log: Log):
    """A fresh Stylizer for one tile that shares ``base``'s backbone and style targets.

    Everything that depends on the loss weights (the loss, the compiled objectives) is the
    tile's own. The targets are ``base``'s (built for the union of the sweep's style
    layers), so whichever tile fills their cache first fills it for every tile; where they
    could differ, the tile keeps its own (still correct, slower; ``style_target_builds``
    shows it).
    """
    from tf_style.transfer import Stylizer

    variant = Stylizer(styles, config, backbone=base.backbone, log=log)
    variant.share_targets(base)
    return variant


def _check_count(name: str, value: object, most: int = 64) -> None:
    if not isinstance(value, tuple) or not 1 <= len(value) <= most:
        raise OptionError(f"{name}: expected 1 to {most} values, got {value!r}")


def sweep(
    content: im.ImageLike,
    style: Union[im.ImageLike, Sequence[im.ImageLike]],
    *,
    ratios: Union[str, Sequence[float]] = DEFAULT_RATIOS,
    layer_sets: Union[str, Sequence[Sequence[str]], None] = None,
    config: Optional[StylizeConfig] = None,
    backbone=None,
    output: Optional[PathLike] = None,
    progress: bool = False,
    log: Optional[Log] = None,
    **options: object,
) -> SweepResult:
    """Stylize ``content`` once per (layer set, ratio) and lay the pictures out in a labelled grid.

    Columns are the alpha/beta ``ratios`` (content_weight / style_weight with
    content_weight 1; 0 = style only); rows are the style-layer sets (default: the
    config's style layers, one row). With a single ratio the layer sets are laid out
    side by side instead (``tiles`` keeps one row per set). ``options`` are :class:`StylizeConfig` fields;
    ``backbone`` is a name or a ready :class:`tf_style.backbones.Backbone`. The
    backbone is loaded once; the style targets are built once per pyramid level.

    Example:
        >>> r = sweep("tubingen.jpg", "starry_night.jpg", ratios="1,0.1", layer_sets="gatys", size=256)  # doctest: +SKIP
        >>> len(r.tiles), len(r.tiles[0]), r.backbone_loads  # doctest: +SKIP
        (5, 2, 1)
    """
    log = log or (lambda message: None)
    start = time.perf_counter()
    config = config or StylizeConfig()
    if options:
        config = config.with_options(**options)
    ratios = parse_ratios(ratios, "ratios")
    _check_count("ratios", ratios)
    sets_given = layer_sets is not None
    sets = parse_layer_sets(layer_sets, "layers") if sets_given else (config.style_layers,)
    _check_count("layers", sets, 16)
    if sets_given and config.style_layer_weights is not None:
        raise OptionError("style_layer_weights: cannot be combined with layer sets (one weight per layer of each set)")
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    inputs = [s for s in [content, *styles] if isinstance(s, (str, os.PathLike))]
    if output is not None:
        im.check_output_path(output, inputs=inputs)
    content_img = im.read_image(content)
    im.check_min_size(content_img, MIN_IMAGE_SIDE, name=_source_name(content, "content"))
    style_imgs = [im.read_image(x) for x in styles]
    for k, (x, img) in enumerate(zip(styles, style_imgs)):
        im.check_min_size(img, MIN_IMAGE_SIDE, name=_source_name(x, f"style {k + 1}"))

    groups = [(config.content_layers, "content_layers")]
    groups += [(s, "layers" if sets_given else "style_layers") for s in sets]
    backbone_obj, resolved, loads = _prepare_backbone(config, backbone, groups, log)
    content_layers, resolved_sets = resolved[0], [_dedupe(s) for s in resolved[1:]]
    union = _dedupe([n for s in resolved_sets for n in s])

    from tf_style.transfer import Stylizer

    base = Stylizer(
        style_imgs,
        config.with_options(content_layers=content_layers, style_layers=union,
                            style_layer_weights=None if sets_given else config.style_layer_weights),
        backbone=backbone_obj,
        log=log,
    )
    builds = 0
    tiles: List[List[SweepTile]] = []
    interrupted = False
    total = len(resolved_sets) * len(ratios)
    for r, layers in enumerate(resolved_sets):
        row: List[SweepTile] = []
        for c, ratio in enumerate(ratios):
            cw, sw = ratio_weights(ratio)
            tile_cfg = config.with_options(
                content_layers=content_layers, style_layers=layers, content_weight=cw, style_weight=sw,
                style_layer_weights=None if sets_given else config.style_layer_weights,
            )
            stylizer = _variant(base, style_imgs, tile_cfg, log)
            result = stylizer.stylize(content_img, progress=progress)
            if stylizer.targets is not base.targets:
                builds += stylizer.style_target_builds
            label = _ratio_label(ratio) + (f"\n{_layers_label(layers)}" if sets_given else "")
            row.append(SweepTile(ratio, cw, sw, layers, label, result))
            log(
                f"tile {r * len(ratios) + c + 1}/{total}: {label.replace(chr(10), ', ')} "
                f"({result.seconds:.1f} s)"
            )
            if result.interrupted:
                interrupted = True
                break
        tiles.append(row)
        if interrupted:
            break
    images = [[t.image for t in row] for row in tiles]
    labels = [[t.label for t in row] for row in tiles]
    if len(ratios) == 1 and len(tiles) > 1:  # one ratio: the layer sets side by side (Gatys' Fig. 1)
        images, labels = [[row[0] for row in images]], [[row[0] for row in labels]]
    grid = make_grid(images, labels)
    if output is not None:
        im.save_image(grid.image, output, inputs=inputs)
    return SweepResult(
        grid=grid,
        tiles=tiles,
        ratios=ratios,
        layer_sets=tuple(resolved_sets),
        backbone=backbone_obj.name,
        weights_source=backbone_obj.weights_source,
        backbone_loads=loads,
        style_target_builds=builds + base.style_target_builds,
        seconds=time.perf_counter() - start,
        interrupted=interrupted,
    )


# --------------------------------------------------------------------------- sheets


@dataclasses.dataclass
class SheetResult:
    """A style sheet: the originals in the first row, the photo in each style under them."""

    grid: Grid
    results: List[object]  # tf_style.transfer.StylizeResult, one per style
    model_images: List[Image.Image]
    labels: List[List[Optional[str]]]
    backbone: Optional[str]
    backbone_loads: int
    seconds: float
    interrupted: bool = False
    #: The arbitrary-style network's picture under each style (``arbitrary=True``), and its seconds.
    arbitrary_images: List[Image.Image] = dataclasses.field(default_factory=list)
    arbitrary_seconds: List[float] = dataclasses.field(default_factory=list)

    @property
    def image(self) -> Image.Image:
        return self.grid.image

    def to_dict(self, output: Optional[PathLike] = None) -> dict:
        return {
            "output": None if output is None else os.fsdecode(output),
            "size": list(self.image.size),
            "backbone": self.backbone,
            "style_loss": self.results[0].config.style_loss if self.results else None,  # type: ignore[attr-defined]
            "backbone_loads": self.backbone_loads,
            "seconds": round(self.seconds, 3),
            "interrupted": self.interrupted,
            "styles": [
                {"seconds": round(r.seconds, 3), "iterations": r.iterations, "final": r.final_terms}  # type: ignore[attr-defined]
                for r in self.results
            ],
            "models": len(self.model_images),
            "arbitrary": [{"seconds": round(t, 3)} for t in self.arbitrary_seconds],
        }


def _load_models(models: Sequence[PathLike]) -> list:
    if not models:
        return []
    try:
        from tf_style.apply import load_stylizer
    except ImportError:
        raise OptionError(
            "models: applying trained networks needs tf_style.apply, which this installation lacks"
        ) from None
    return [load_stylizer(m) for m in models]


def sheet(
    content: im.ImageLike,
    styles: Sequence[im.ImageLike],
    *,
    models: Sequence[PathLike] = (),
    arbitrary: bool = False,
    config: Optional[StylizeConfig] = None,
    backbone=None,
    output: Optional[PathLike] = None,
    progress: bool = False,
    log: Optional[Log] = None,
    **options: object,
) -> SheetResult:
    """The photo stylized with each style (Gatys) and each trained model, with the originals on top.

    Row 1: the photo, then each style image; row 2: under each style, the photo in that
    style; trained ``models`` (``.keras`` files from ``tf-style train``, applied with
    :func:`tf_style.apply.load_stylizer`) get a column each. One backbone serves
    every style. ``arbitrary=True`` adds a row: under each style, the arbitrary-style
    network's picture of the same size (one forward pass, :mod:`tf_style.arbitrary`), for
    comparing the two methods side by side.

    Example:
        >>> r = sheet("chelsea.png", ["starry_night.jpg", "the_scream.jpg"], size=256)  # doctest: +SKIP
        >>> r.image.save("sheet.jpg")  # doctest: +SKIP
    """
    log = log or (lambda message: None)
    start = time.perf_counter()
    config = config or StylizeConfig()
    if options:
        config = config.with_options(**options)
    styles = list(styles) if isinstance(styles, (list, tuple)) else [styles]
    models = list(models)
    if not styles and not models:
        raise OptionError("styles: expected at least one style image or model, got none")
    inputs = [s for s in [content, *styles, *models] if isinstance(s, (str, os.PathLike))]
    if output is not None:
        im.check_output_path(output, inputs=inputs)
    content_img = im.read_image(content)
    im.check_min_size(content_img, MIN_IMAGE_SIDE, name=_source_name(content, "content"))
    style_imgs = [im.read_image(s) for s in styles]
    for s, img in zip(styles, style_imgs):
        im.check_min_size(img, MIN_IMAGE_SIDE, name=_source_name(s, "style"))
    fast = _load_models(models)  # bad model files fail before the long runs

    results = []
    loads = 0
    backbone_name: Optional[str] = None
    interrupted = False
    if styles:
        backbone_obj, (content_layers, style_layers), loads = _prepare_backbone(
            config, backbone, [(config.content_layers, "content_layers"), (config.style_layers, "style_layers")], log
        )
        backbone_name = backbone_obj.name
        cfg = config.with_options(content_layers=content_layers, style_layers=style_layers)
        from tf_style.transfer import Stylizer

        for k, img in enumerate(style_imgs):
            result = Stylizer(img, cfg, backbone=backbone_obj, log=log).stylize(content_img, progress=progress)
            results.append(result)
            log(f"style {k + 1}/{len(styles)}: {_source_name(styles[k], f'style {k + 1}')} ({result.seconds:.1f} s)")
            if result.interrupted:
                interrupted = True
                break
    model_images = [] if interrupted else [f.stylize(content_img, size=config.size) for f in fast]

    out_size = results[0].image.size if results else model_images[0].size
    arbitrary_images: List[Image.Image] = []
    arbitrary_seconds: List[float] = []
    if arbitrary and not interrupted:
        from tf_style.arbitrary import stylize_arbitrary

        photo = im.resize_to(content_img, out_size)
        for img in style_imgs:
            t0 = time.perf_counter()
            arbitrary_images.append(im.to_pil(stylize_arbitrary(photo, img)))
            arbitrary_seconds.append(time.perf_counter() - t0)
    top: List[Optional[Image.Image]] = [content_img] + style_imgs + [None] * len(models)
    bottom: List[Optional[Image.Image]] = [None] + [r.image for r in results]
    bottom += [None] * (len(styles) - len(results)) + model_images
    top_labels: List[Optional[str]] = [f"photo: {_source_name(content, 'photo')}"]
    top_labels += [f"style: {_source_name(s, f'style {k + 1}')}" for k, s in enumerate(styles)]
    top_labels += [None] * len(models)
    bottom_labels: List[Optional[str]] = [None]
    bottom_labels += [f"Gatys: {_source_name(s, f'style {k + 1}')}" for k, s in enumerate(styles[: len(results)])]
    bottom_labels += [None] * (len(styles) - len(results))
    bottom_labels += [f"model: {_source_name(m, f'model {k + 1}')}" for k, m in enumerate(models[: len(model_images)])]
    labels = [top_labels, bottom_labels]
    rows = [top, bottom]
    if arbitrary_images:
        rows.append([None] + list(arbitrary_images))
        labels.append([None] + [f"arbitrary: {_source_name(s, f'style {k + 1}')}" for k, s in enumerate(styles)])
    grid = make_grid(rows, labels, cell=out_size)
    if output is not None:
        im.save_image(grid.image, output, inputs=inputs)
    return SheetResult(
        grid=grid,
        results=results,
        model_images=model_images,
        labels=labels,
        backbone=backbone_name,
        backbone_loads=loads,
        seconds=time.perf_counter() - start,
        interrupted=interrupted,
        arbitrary_images=arbitrary_images,
        arbitrary_seconds=arbitrary_seconds,
    )


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
