"""Grids, labels, sweeps, sheets and loss plots (tf_style.gallery and its CLI commands).

Units run on a tiny stand-in backbone and 48 px images; one CLI smoke test uses the
real vgg16-hed backbone and is marked slow.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import helpers
from PIL import Image

from tf_style import gallery
from tf_style import image as im
from tf_style.cli import main
from tf_style.errors import LayerNameError, ModelLoadError, OptionError
from tf_style.config import StylizeConfig

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "images"
TINY_LAYERS = dict(content_layers=("block2_conv1",), style_layers=("block1_conv1", "block2_conv1", "block3_conv1"))
WHITE = 255


_photo, _painting = helpers.photo, helpers.painting  # tests/helpers.py


@pytest.fixture(scope="module")
def tiny():
    from tf_style import backbones as bb

    return bb.tiny_backbone(("block1_conv1", "block2_conv1", "block3_conv1"))


@pytest.fixture
def spy_stylize(monkeypatch):
    """Records every Stylizer.stylize call (one optimizer run each)."""
    from tf_style import transfer

    calls = []
    real = transfer.Stylizer.stylize

    def spy(self, *a, **k):
        calls.append(self)
        return real(self, *a, **k)

    monkeypatch.setattr(transfer.Stylizer, "stylize", spy)
    return calls


@pytest.fixture
def fake_loader(monkeypatch, tiny):
    """load_backbone replaced by a counter that hands out the tiny backbone."""
    from tf_style import backbones as bb

    calls = []

    def load(name, layers, **kwargs):
        calls.append((name, tuple(layers)))
        return tiny

    monkeypatch.setattr(bb, "load_backbone", load)
    return calls


def _region(image, box):
    return np.asarray(image.crop(box))


# --------------------------------------------------------------------------- grids


def test_grid_has_every_tile_in_its_cell_and_the_right_size():
    colours = [[(255, 0, 0), (0, 255, 0), (0, 0, 255)], [(10, 10, 10), (200, 0, 200), (0, 120, 120)]]
    tiles = [[Image.new("RGB", (32, 24), c) for c in row] for row in colours]
    g = gallery.make_grid(tiles, [["a", "b", "c"], ["d", "e", "f"]], pad=5)
    assert (g.rows, g.cols, g.cell) == (2, 3, (32, 24))
    assert g.image.size == (3 * 32 + 4 * 5, 2 * (24 + g.strip) + 3 * 5)
    for r, row in enumerate(colours):
        for c, colour in enumerate(row):
            cell = _region(g.image, g.tile_box(r, c))
            assert (cell == np.array(colour, np.uint8)).all(), (r, c)


def test_tiles_of_other_sizes_are_fitted_into_the_cell_and_empty_cells_stay_white():
    wide, tall = Image.new("RGB", (64, 16), "red"), Image.new("RGB", (16, 64), "blue")
    g = gallery.make_grid([[wide, tall, None]], cell=(32, 32), pad=2)
    assert g.strip == 0 and g.image.size == (3 * 32 + 4 * 2, 32 + 2 * 2)
    red = _region(g.image, g.tile_box(0, 0))
    assert (red[12:20, :, 0] > 200).all() and (red[:6] == WHITE).all()  # 32x8, centred vertically
    blue = _region(g.image, g.tile_box(0, 1))
    assert (blue[:, 12:20, 2] > 200).all() and (blue[:, :6] == WHITE).all()
    assert (_region(g.image, g.tile_box(0, 2)) == WHITE).all()


def test_labels_are_black_text_on_a_white_strip_and_differ():
    tile = Image.new("RGB", (96, 64), (90, 90, 90))
    g = gallery.make_grid([[tile, tile, tile]], [["alpha/beta 1", "alpha/beta 0.01", None]])
    assert g.strip > 0
    strips = [_region(g.image, g.label_box(0, c)) for c in range(3)]
    for s in strips[:2]:
        assert (s < 100).all(axis=-1).sum() > 20  # dark text pixels
        assert (s == WHITE).all(axis=-1).mean() > 0.5  # on a white strip
    assert not np.array_equal(strips[0], strips[1])
    assert (strips[2] == WHITE).all()  # no label, no ink
    # The tile itself is untouched by its label.
    assert (_region(g.image, g.tile_box(0, 0)) == 90).all()


def test_a_label_too_wide_for_its_cell_stays_inside_it():
    tile = Image.new("RGB", (40, 30), "black")
    g = gallery.make_grid([[tile, tile]], [["x" * 80, None]], pad=4)
    ink = (np.asarray(g.image) < 100).all(axis=-1)
    x0, y0, x1, y1 = g.label_box(0, 0)
    assert ink[y0:y1, x0:x1].any()
    ink[y0:y1, x0:x1] = False
    for r, c in [(0, 0), (0, 1)]:
        bx0, by0, bx1, by1 = g.tile_box(r, c)
        ink[by0:by1, bx0:bx1] = False
    assert not ink.any()


def test_label_tile_adds_a_strip_under_the_image():
    image = Image.new("RGB", (64, 48), (0, 128, 0))
    out = gallery.label_tile(image, "conv1_1")
    assert out.size[0] == 64 and out.size[1] > 48
    assert (np.asarray(out)[:48] == np.asarray(image)).all()
    assert (np.asarray(out)[48:] < 100).all(axis=-1).any()


def test_multi_line_labels_get_a_taller_strip():
    tile = Image.new("RGB", (64, 48))
    one = gallery.make_grid([[tile]], [["a"]])
    two = gallery.make_grid([[tile]], [["a\nconv1_1"]])
    assert two.strip > one.strip


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize("text, expected", [("1,0.1", (1.0, 0.1)), ("1e-2, 0", (0.01, 0.0)), ([3, 0.5], (3.0, 0.5))])
def test_parse_ratios(text, expected):
    assert gallery.parse_ratios(text) == expected


@pytest.mark.parametrize("text", ["", "1,,2", "x", "-1", "inf", "nan", "1;2"])
def test_parse_ratios_rejects(text):
    with pytest.raises(OptionError, match=r"^--ratios: "):
        gallery.parse_ratios(text)


def test_parse_layer_sets_and_the_gatys_preset():
    assert gallery.parse_layer_sets("conv1_1; conv1_1 ,conv2_1") == (("conv1_1",), ("conv1_1", "conv2_1"))
    sets = gallery.parse_layer_sets("gatys")
    assert len(sets) == 5 and sets[0] == ("block1_conv1",) and sets[-1][-1] == "block5_conv1"
    assert all(len(s) == k + 1 for k, s in enumerate(sets))
    for bad in ("a;;b", ";", "a,,b", ""):
        with pytest.raises(OptionError, match=r"^--layers: "):
            gallery.parse_layer_sets(bad)


def test_ratio_weights_and_labels():
    assert gallery.ratio_weights(0.25) == (1.0, 4.0)
    assert gallery.ratio_weights(0) == (0.0, 1.0)
    assert gallery.short_layer_name("block3_conv1") == "conv3_1"
    assert gallery.short_layer_name("weird") == "weird"


def test_cli_default_ratios_match_the_library():
    from tf_style import cli

    assert gallery.parse_ratios(cli._SWEEP_RATIOS) == gallery.DEFAULT_RATIOS


# --------------------------------------------------------------------------- sweeps


def test_sweep_loads_one_backbone_runs_once_per_tile_and_builds_targets_once_per_level(
    fake_loader, spy_stylize, monkeypatch
):
    from tf_style import transfer

    objectives = []
    real_init = transfer.ImageObjective.__init__

    def record(self, *a, **k):
        real_init(self, *a, **k)
        objectives.append(self.shape)

    monkeypatch.setattr(transfer.ImageObjective, "__init__", record)
    r = gallery.sweep(
        _photo(256, 200), _painting(), ratios="1,0.1,0.01",
        layer_sets="block1_conv1;conv1_1,conv2_1,block3_conv1", backbone="vgg16-hed",
        size=256, pyramid=2, iterations=2, tv_weight=0.0, content_layers=("block2_conv1",),
    )
    assert len(fake_loader) == 1 and r.backbone_loads == 1
    name, layers = fake_loader[0]
    assert name == "vgg16-hed" and set(layers) == {"block1_conv1", "block2_conv1", "block3_conv1"}
    assert len(spy_stylize) == 6  # 2 layer sets x 3 ratios, one optimizer run each
    assert len(objectives) == 6 * 2  # two pyramid levels per tile
    assert r.style_target_builds == 2  # once per level for the whole grid, not per tile
    assert [len(row) for row in r.tiles] == [3, 3]
    assert r.tiles[1][0].style_layers == ("block1_conv1", "block2_conv1", "block3_conv1")
    assert (r.tiles[0][2].content_weight, r.tiles[0][2].style_weight) == (1.0, 100.0)
    assert r.grid.rows == 2 and r.grid.cols == 3 and r.grid.cell == (256, 200)
    assert r.image.size == (r.grid.width, r.grid.height)
    assert r.tiles[1][2].label == "alpha/beta 0.01\nconv1_1 ... conv3_1"
    assert r.tiles[0][0].label == "alpha/beta 1\nconv1_1"
    d = r.to_dict("grid.png")
    assert len(d["tiles"]) == 6 and d["style_target_builds"] == 2 and d["backbone_loads"] == 1


def test_a_sweep_tile_equals_a_fresh_run_with_its_weights_and_layers(tiny):
    from tf_style.transfer import stylize

    opts = dict(size=48, pyramid=1, iterations=12, tv_weight=0.0, content_layers=("block2_conv1",))
    r = gallery.sweep(_photo(), _painting(), ratios=(1.0, 0.01), layer_sets=[["block1_conv1"], ["block3_conv1"]],
                      backbone=tiny, **opts)
    for row, layers in [(0, ("block1_conv1",)), (1, ("block3_conv1",))]:
        for col, (cw, sw) in enumerate([(1.0, 1.0), (1.0, 100.0)]):
            fresh = stylize(_photo(), _painting(), backbone=tiny, content_weight=cw, style_weight=sw,
                            style_layers=layers, **opts)
            tile = np.asarray(r.tiles[row][col].image, np.float32)
            assert np.abs(tile - np.asarray(fresh.image, np.float32)).mean() < 0.5, (row, col)
    # The tiles really differ: the weights and layers were applied.
    a, b, c = (np.asarray(r.tiles[i][j].image, np.float32) for i, j in [(0, 0), (0, 1), (1, 1)])
    assert np.abs(a - b).mean() > 2 and np.abs(b - c).mean() > 2


def test_sweep_without_layer_sets_is_one_row_of_the_config_layers(tiny, spy_stylize, tmp_path):
    out = tmp_path / "row.png"
    r = gallery.sweep(_photo(), _painting(), ratios="1,0", backbone=tiny, output=out,
                      size=48, pyramid=1, iterations=2, **TINY_LAYERS)
    assert len(spy_stylize) == 2 and r.backbone_loads == 0
    assert r.tiles[0][1].label == "style only" and r.tiles[0][1].content_weight == 0.0
    assert r.tiles[0][0].style_layers == TINY_LAYERS["style_layers"]
    with Image.open(out) as saved:
        assert saved.size == r.image.size


def test_one_ratio_lays_the_layer_sets_side_by_side(tiny, spy_stylize):
    r = gallery.sweep(_photo(), _painting(), ratios="0", layer_sets="block1_conv1;block1_conv1,block2_conv1;block3_conv1",
                      backbone=tiny, size=48, pyramid=1, iterations=2, init="noise", content_layers=("block2_conv1",))
    assert len(spy_stylize) == 3 and [len(row) for row in r.tiles] == [1, 1, 1]
    assert (r.grid.rows, r.grid.cols) == (1, 3)
    for c in range(3):
        cell = _region(r.image, r.grid.tile_box(0, c))
        assert (cell == np.asarray(r.tiles[c][0].image)).all()


def test_sweep_rejects_unknown_layers_before_running(tiny, spy_stylize):
    with pytest.raises(LayerNameError, match=r"^layers: .*block5_conv1"):
        gallery.sweep(_photo(), _painting(), layer_sets="block1_conv1;block5_conv1", backbone=tiny,
                      size=48, pyramid=1, iterations=2, content_layers=("block2_conv1",))
    with pytest.raises(OptionError, match=r"^ratios: "):
        gallery.sweep(_photo(), _painting(), ratios="1,-2", backbone=tiny, size=48, **TINY_LAYERS)
    assert spy_stylize == []


# --------------------------------------------------------------------------- sheets


def test_sheet_puts_originals_on_top_and_each_result_under_its_style(fake_loader, spy_stylize, monkeypatch):
    import tf_style.apply

    class FakeModel:
        def stylize(self, image, size=None):
            arr = 255 - np.asarray(image)
            return Image.fromarray(arr.astype(np.uint8))

    loaded = []
    monkeypatch.setattr(tf_style.apply, "load_stylizer", lambda p: loaded.append(p) or FakeModel())
    red = np.zeros((40, 40, 3), np.uint8)
    red[..., 0] = 255
    r = gallery.sheet(_photo(), [_painting(), red], models=["m.keras"], backbone="vgg16-hed",
                      size=48, pyramid=1, iterations=2, **TINY_LAYERS)
    assert len(fake_loader) == 1 and len(spy_stylize) == 2 and loaded == ["m.keras"]
    assert (r.grid.rows, r.grid.cols, r.grid.cell) == (2, 4, (48, 40))
    g = r.image
    assert (_region(g, r.grid.tile_box(0, 0)) == _photo()).all()
    assert (_region(g, r.grid.tile_box(1, 0)) == WHITE).all()  # nothing under the photo
    assert (_region(g, r.grid.tile_box(0, 3)) == WHITE).all()  # a model has no style image
    assert (_region(g, r.grid.tile_box(1, 3)) == 255 - _photo()).all()
    assert (_region(g, r.grid.tile_box(1, 1)) == np.asarray(r.results[0].image)).all()
    assert r.labels[0][0].startswith("photo") and r.labels[1][3].startswith("model")
    for c in (1, 2):
        assert (_region(g, r.grid.label_box(1, c)) < 100).all(axis=-1).any()


def test_sheet_arbitrary_row_is_the_arbitrary_network_at_the_same_size(fake_loader, spy_stylize, tmp_path):
    from tf_style.arbitrary import stylize_arbitrary

    r = gallery.sheet(_photo(), [_painting()], arbitrary=True, backbone="vgg16-hed",
                      size=48, pyramid=1, iterations=2, **TINY_LAYERS)
    assert (r.grid.rows, r.grid.cols) == (3, 2) and len(r.arbitrary_images) == 1
    want = stylize_arbitrary(im.resize_to(Image.fromarray(_photo()), r.grid.cell), _painting())
    assert r.arbitrary_images[0].size == r.results[0].image.size
    assert (_region(r.image, r.grid.tile_box(2, 1)) == want).all()
    assert (_region(r.image, r.grid.tile_box(2, 0)) == WHITE).all()
    assert r.labels[2][1].startswith("arbitrary: ")
    assert len(r.to_dict()["arbitrary"]) == 1

def test_sheet_loads_models_before_any_long_run(tiny, spy_stylize, monkeypatch):
    import tf_style.apply

    def broken(path):
        raise ModelLoadError(f"{path}: not a model")

    monkeypatch.setattr(tf_style.apply, "load_stylizer", broken)
    with pytest.raises(ModelLoadError):
        gallery.sheet(_photo(), [_painting()], models=["bad.keras"], backbone=tiny, size=48, **TINY_LAYERS)
    assert spy_stylize == []


# --------------------------------------------------------------------------- plots


def _history(n=30):
    return [{"total": 10.0 / (i + 1), "content": 0.1 * i + 0.01, "style": 5.0 / (i + 1) ** 2, "tv": 0.0}
            for i in range(n)]


def test_plot_history_writes_a_png_of_the_requested_size(tmp_path):
    out = gallery.plot_history(_history(), tmp_path / "loss.png", title="t")
    with Image.open(out) as png:
        assert png.format == "PNG" and png.size == (800, 500)
        arr = np.asarray(png.convert("RGB"))
    assert arr.std() > 10  # something was drawn
    out2 = gallery.plot_history([{"step": float(s), "total": 1.0 / s} for s in (10, 20, 30)],
                                tmp_path / "train.png", size=(640, 400), xlabel="step")
    with Image.open(out2) as png:
        assert png.size == (640, 400)


def test_level_boundaries():
    assert gallery.level_boundaries([0, 0, 1, 1, 1, 2]) == [2.5, 5.5]
    assert gallery.level_boundaries([0, 0, 0]) == []


def test_plot_history_rejects_what_it_cannot_plot(tmp_path):
    with pytest.raises(OptionError, match="history"):
        gallery.plot_history([], tmp_path / "a.png")
    with pytest.raises(OptionError, match="positive"):
        gallery.plot_history([{"tv": 0.0}], tmp_path / "a.png")
    with pytest.raises(OptionError, match="positive"):  # weight 0: nothing left to show
        gallery.plot_history([{"style": 1.0}], tmp_path / "a.png", weights={"style": 0})
    with pytest.raises(OptionError, match="^weights: "):
        gallery.plot_history(_history(), tmp_path / "a.png", weights={"style": -1})
    assert not list(tmp_path.iterdir())


def test_plot_history_without_matplotlib_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(OptionError, match=r"needs matplotlib: pip install 'tf-style\[plot\]'"):
        gallery.plot_history(_history(), tmp_path / "loss.png")


@pytest.fixture
def tiny_cli(monkeypatch, tiny):
    """The CLI's Stylizer, on the tiny backbone (the CLI builds real backbones by name)."""
    from tf_style import transfer

    real = transfer.Stylizer
    made = []

    def stylizer(style, config, log=None):
        made.append(config)
        return real(style, config.with_options(**TINY_LAYERS), backbone=tiny, log=log)

    monkeypatch.setattr(transfer, "Stylizer", stylizer)
    return made


def _inputs(tmp_path):
    content, style = tmp_path / "photo.png", tmp_path / "painting.png"
    Image.fromarray(_photo(64, 48)).save(content)
    Image.fromarray(_painting()).save(style)
    return str(content), str(style)


def test_stylize_plot_writes_the_loss_plot(tmp_path, tiny_cli, capsys, monkeypatch):
    real, seen = gallery.plot_history, []
    monkeypatch.setattr(gallery, "plot_history", lambda h, p, **k: seen.append((len(h), k)) or real(h, p, **k))
    content, style = _inputs(tmp_path)
    out, plot = tmp_path / "out.png", tmp_path / "loss.png"
    rc = main(["stylize", content, style, "-o", str(out), "--size", "256", "--iterations", "3",
               "--pyramid", "2", "--style-weight", "7", "--plot", str(plot), "--quiet"])
    assert rc == 0 and len(tiny_cli) == 1 and out.is_file()
    with Image.open(plot) as png:
        assert png.format == "PNG" and png.size == (800, 500)
    (n, kwargs), = seen
    assert n == 6 + 3 and kwargs["boundaries"] == [6.5]  # 128 px level, then 256 px
    assert kwargs["weights"] == {"content": 1.0, "style": 7.0, "tv": StylizeConfig().tv_weight}


def test_stylize_plot_without_matplotlib_fails_before_the_run(tmp_path, tiny_cli, capsys, monkeypatch):
    content, style = _inputs(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out, plot = tmp_path / "out.png", tmp_path / "loss.png"
    rc = main(["stylize", content, style, "-o", str(out), "--size", "64", "--pyramid", "1", "--plot", str(plot)])
    err = capsys.readouterr().err
    assert rc == 2
    assert err == "tf-style: error: --plot needs matplotlib: pip install 'tf-style[plot]'\n"
    assert tiny_cli == [] and not out.exists() and not plot.exists()


def test_stylize_plot_that_equals_the_output_is_refused(tmp_path, tiny_cli, capsys):
    content, style = _inputs(tmp_path)
    out = tmp_path / "out.png"
    rc = main(["stylize", content, style, "-o", str(out), "--plot", str(out)])
    assert rc == 2 and "same file" in capsys.readouterr().err and tiny_cli == []


# --------------------------------------------------------------------------- CLI


@pytest.mark.parametrize(
    "args, option",
    [
        (["--ratios", "1,x"], "--ratios"),
        (["--ratios", "-0.1"], "--ratios"),
        (["--ratios", ""], "--ratios"),
        (["--ratios", "nan"], "--ratios"),
        (["--layers", "block1_conv1;;block2_conv1"], "--layers"),
        (["--layers", "block1_conv1,"], "--layers"),
        (["--layers", "block1_conv1;block9_conv1"], "--layers"),  # unknown: named before any model loads
    ],
)
def test_bad_sweep_values_exit_2_with_one_line_naming_the_option(tmp_path, capsys, args, option, monkeypatch):
    from tf_style import backbones as bb

    monkeypatch.setattr(bb, "load_backbone", lambda *a, **k: pytest.fail("loaded a backbone"))
    out = tmp_path / "grid.png"
    rc = main(["sweep", str(EXAMPLES / "tubingen.jpg"), str(EXAMPLES / "starry_night.jpg"), "-o", str(out),
               "--backbone", "vgg16-hed", *args])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith(f"tf-style: error: {option}: "), err
    assert not out.exists()


def test_sweep_cli_with_a_stand_in_backbone(tmp_path, fake_loader, spy_stylize, capsys):
    content, style = _inputs(tmp_path)
    out = tmp_path / "grid.jpg"
    rc = main(["sweep", content, style, "-o", str(out), "--backbone", "vgg16-hed", "--size", "64",
               "--iterations", "2", "--pyramid", "1", "--ratios", "1,0.1", "--layers", "conv1_1;conv1_1,conv3_1",
               "--content-layers", "block2_conv1", "--json", "--quiet"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert d["backbone_loads"] == 1 and len(fake_loader) == 1 and len(spy_stylize) == 4
    assert [t["ratio"] for t in d["tiles"]] == [1.0, 0.1, 1.0, 0.1]
    assert d["layer_sets"] == [["block1_conv1"], ["block1_conv1", "block3_conv1"]]
    with Image.open(out) as jpg:
        assert jpg.format == "JPEG" and list(jpg.size) == d["size"]


def test_sheet_cli_with_a_stand_in_backbone(tmp_path, fake_loader, spy_stylize, capsys):
    content, style = _inputs(tmp_path)
    out = tmp_path / "sheet.png"
    rc = main(["sheet", content, style, style, "-o", str(out), "--backbone", "vgg16-hed", "--size", "64",
               "--iterations", "2", "--pyramid", "1", "--content-layers", "block2_conv1",
               "--style-layers", "block1_conv1,block2_conv1", "--json", "--quiet"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert d["backbone_loads"] == 1 and len(fake_loader) == 1 and len(spy_stylize) == 2
    assert len(d["styles"]) == 2 and out.is_file()


@pytest.mark.slow
def test_sweep_cli_smoke_with_the_real_backbone(tmp_path, capsys, monkeypatch):
    from tf_style import backbones as bb

    loads = []
    real = bb.load_backbone
    monkeypatch.setattr(bb, "load_backbone", lambda *a, **k: loads.append(a) or real(*a, **k))
    out = tmp_path / "grid.png"
    rc = main(["sweep", str(EXAMPLES / "tubingen.jpg"), str(EXAMPLES / "starry_night.jpg"), "-o", str(out),
               "--backbone", "vgg16-hed", "--size", "64", "--iterations", "2", "--pyramid", "1",
               "--ratios", "1,0.01", "--json", "--quiet"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert len(loads) == 1 and d["backbone"] == "vgg16-hed" and len(d["tiles"]) == 2
    assert d["style_target_builds"] == 1
    with Image.open(out) as png:
        assert png.size == tuple(d["size"]) and png.size[0] > 2 * 64
