"""Studies through the public API: weight/layer sweeps and style sheets laid out as labelled grids.

Example:
    >>> from tf_style import studies
    >>> r = studies.sweep("tubingen.jpg", "starry_night.jpg", ratios=(1, 0.1), size=256)  # doctest: +SKIP
    >>> r.image.save("sweep.png")  # doctest: +SKIP

A sweep loads ONE backbone (for the union of every layer it needs) and builds the
style Gram targets once per pyramid level for the whole grid: the Gram matrix of a
layer does not depend on the loss weights nor on which other layers are used, so
every tile reads the same cached targets and only the loss (weights, layer subset)
changes from tile to tile.

This module imports no TensorFlow at import time (only when a sweep or sheet runs),
so the CLI can validate options before loading a model. The grids are :mod:`tf_style.viz`'s.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from typing import Callable, List, Mapping, Optional, Sequence, Tuple, Union

from PIL import Image

from tf_style import image as im
from tf_style.config import MIN_IMAGE_SIDE, SWEEP_RATIOS, StylizeConfig
from tf_style.errors import OptionError
from tf_style.viz import Grid, make_grid

__all__ = [
    "DEFAULT_RATIOS",
    "GATYS_LAYER_SETS",
    "parse_ratios",
    "parse_layer_sets",
    "ratio_weights",
    "short_layer_name",
    "SweepTile",
    "SweepResult",
    "sweep",
    "SheetResult",
    "sheet",
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


class _GridResult:
    """What a sweep and a sheet share: the grid picture and the head of the JSON summary."""

    grid: Grid
    backbone: Optional[str]

    @property
    def image(self) -> Image.Image:
        return self.grid.image

    def _summary(self, output: Optional[PathLike]) -> dict:
        return {
            "output": None if output is None else os.fsdecode(output),
            "size": list(self.image.size),
            "backbone": self.backbone,
        }


@dataclasses.dataclass
class SweepResult(_GridResult):
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

    def to_dict(self, output: Optional[PathLike] = None) -> dict:
        """A JSON-ready summary (what ``tf-style sweep --json`` prints)."""
        return {
            **self._summary(output),
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
        loaded = bb.load_backbone(arch, union, pooling=config.pooling, padding=config.padding,
                                  weights=config.weights, dtype=config.dtype, log=log)
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


def _config(config: Optional[StylizeConfig], options: Mapping[str, object]) -> StylizeConfig:
    config = config or StylizeConfig()
    return config.with_options(**options) if options else config


def _read_inputs(
    content: im.ImageLike,
    styles: Sequence[im.ImageLike],
    output: Optional[PathLike],
    *,
    models: Sequence[PathLike] = (),
    numbered: bool = True,
) -> Tuple[List[PathLike], Image.Image, List[Image.Image]]:
    """``(input files, photo, paintings)``, read and checked before any model loads.

    The output may not be any input file; every picture has at least ``MIN_IMAGE_SIDE`` px
    (a painting given as an array is named ``style k`` in the error, or ``style`` if not ``numbered``).
    """
    inputs = [s for s in [content, *styles, *models] if isinstance(s, (str, os.PathLike))]
    if output is not None:
        im.check_output_path(output, inputs=inputs)
    content_img = im.read_image(content)
    im.check_min_size(content_img, MIN_IMAGE_SIDE, name=_source_name(content, "content"))
    style_imgs = [im.read_image(s) for s in styles]
    for k, (s, img) in enumerate(zip(styles, style_imgs)):
        im.check_min_size(img, MIN_IMAGE_SIDE, name=_source_name(s, f"style {k + 1}" if numbered else "style"))
    return inputs, content_img, style_imgs


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
    config = _config(config, options)
    ratios = parse_ratios(ratios, "ratios")
    _check_count("ratios", ratios)
    sets_given = layer_sets is not None
    sets = parse_layer_sets(layer_sets, "layers") if sets_given else (config.style_layers,)
    _check_count("layers", sets, 16)
    if sets_given and config.style_layer_weights is not None:
        raise OptionError("style_layer_weights: cannot be combined with layer sets (one weight per layer of each set)")
    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    inputs, content_img, style_imgs = _read_inputs(content, styles, output)

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
class SheetResult(_GridResult):
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

    def to_dict(self, output: Optional[PathLike] = None) -> dict:
        """A JSON-ready summary (what ``tf-style sheet --json`` prints)."""
        return {
            **self._summary(output),
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
    config = _config(config, options)
    styles = list(styles) if isinstance(styles, (list, tuple)) else [styles]
    models = list(models)
    if not styles and not models:
        raise OptionError("styles: expected at least one style image or model, got none")
    inputs, content_img, style_imgs = _read_inputs(content, styles, output, models=models, numbered=False)
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
